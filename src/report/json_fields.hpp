// Shared JSON pieces of the reports.
#pragma once

#include <modelkit/task.hpp>

#include "util/json_writer.hpp"

namespace modelkit::report {

void write_resolution(util::JsonWriter& w, const TaskResolution& r);

}  // namespace modelkit::report
