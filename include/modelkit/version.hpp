#pragma once

#include <string>
#include <string_view>

namespace modelkit {

// The library's version, "MAJOR.MINOR.PATCH".
[[nodiscard]] std::string_view version();
// Multi-line report for `modelkit --version`: modelkit, the registry's sources,
// and the ONNX Runtime in use when one is linked.
[[nodiscard]] std::string version_report();

}  // namespace modelkit
