// JSON writers of the quant area's reports (internal: util::JsonWriter is not installed).
#pragma once

#include <modelkit/quantize.hpp>

#include "util/json_writer.hpp"

namespace modelkit::quant {

// {"model", "output", "activation_type", ..., "op_types": {"Conv": {"quantized", "folded",
// "skipped", "skip_reasons": {...}}}, "warnings": [...]} — `nodes` only when include_nodes.
void write_report_json(util::JsonWriter& json, const QuantizeReport& report, bool include_nodes = false);
void write_validation_json(util::JsonWriter& json, const ValidationReport& report);

}  // namespace modelkit::quant
