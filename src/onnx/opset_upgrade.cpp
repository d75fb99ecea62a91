// Opset upgrade with ONNX's C++ version converter: third-party models exported at opset < 10
// (PP-OCR rec/cls, ten-vad) cannot be re-exported by the user, and ONNX Runtime's Q/DQ fusion
// needs opset 10 operators, so they are converted in-process instead of refused.
#include <modelkit/onnx.hpp>

#include "model_proto.hpp"

#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>
#include <onnx/version_converter/convert.h>

#include <exception>
#include <optional>
#include <set>

namespace modelkit::onnx {
namespace fs = std::filesystem;

Result<OpsetUpgrade> upgrade_opset(const fs::path& in, const fs::path& out, std::int64_t target) {
  const std::string what = "'" + in.string() + "'";
  MODELKIT_TRY(auto model, read_model_proto(in));
  MODELKIT_TRY_VOID(load_external_data(model, in.has_parent_path() ? in.parent_path() : fs::path(".")));
  OpsetUpgrade upgrade;
  for (const auto& o : model.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") upgrade.from = o.version();
  // Every default-domain operator must exist at the model's opset: the converter itself reports
  // an unknown one with a bare "unordered_map::at".
  std::set<std::string> op_types;
  for (const auto& node : model.graph().node()) {
    if (!node.domain().empty() && node.domain() != "ai.onnx") continue;
    op_types.insert(node.op_type());
    if (::onnx::OpSchemaRegistry::Schema(node.op_type(), static_cast<int>(upgrade.from), "") == nullptr)
      return failure("cannot convert " + what + " from opset " + std::to_string(upgrade.from) + " to " +
                     std::to_string(target) + ": operator '" + node.op_type() + "' (node '" + node.name() +
                     "') is not an ONNX operator at opset " + std::to_string(upgrade.from));
  }
  // Some adapters (Softmax 12 -> 13) need the input ranks: infer shapes first. A model shape
  // inference cannot follow is still converted where the adapters need no shapes.
  try {
    ::onnx::shape_inference::InferShapes(model);
  } catch (const std::exception&) {
  }
  // The target first; when an adapter on the way fails (Softmax 12 -> 13 needs its input's rank,
  // which a model with dynamic reshapes does not declare), the highest opset below it that still
  // quantizes, recorded as such.
  ::onnx::ModelProto converted;
  std::optional<std::string> first_error;
  for (std::int64_t attempt = target; attempt >= std::max(kMinQuantizableOpset, upgrade.from + 1); --attempt) {
    try {
      converted = ::onnx::version_conversion::ConvertVersion(model, static_cast<int>(attempt));
      upgrade.to = attempt;
      if (first_error) upgrade.note = "opset " + std::to_string(target) + " failed (" + *first_error + ")";
      break;
    } catch (const std::exception& e) {
      // The converter's messages name the operator it has no adapter for, or that failed.
      std::string message = e.what();
      while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
      bool names_an_op = false;
      for (const auto& op : op_types) names_an_op = names_an_op || message.find(op) != std::string::npos;
      if (!names_an_op) message += " (operators in the model: " + [&] {
        std::string list;
        for (const auto& op : op_types) list += (list.empty() ? "" : ", ") + op;
        return list;
      }() + ")";
      if (!first_error) first_error = message;
    }
  }
  if (upgrade.to == 0)
    return failure("cannot convert " + what + " from opset " + std::to_string(upgrade.from) + " to " +
                   std::to_string(target) + " (or any opset from " + std::to_string(kMinQuantizableOpset) +
                   ") with ONNX's version converter: " + first_error.value_or("no opset to try"));
  MODELKIT_TRY_VOID(save_model_proto(converted, out));
  return upgrade;
}

}  // namespace modelkit::onnx
