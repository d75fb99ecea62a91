#pragma once

#include <string>
#include <string_view>

namespace modelkit {

// The library's version, "MAJOR.MINOR.PATCH".
[[nodiscard]] std::string_view version();
// Multi-line report: modelkit and the registry's sources. `modelkit --version` adds the
// ONNX Runtime library and header versions (runtime.hpp), which this area does not link.
[[nodiscard]] std::string version_report();

}  // namespace modelkit
