// ONNX input descriptions for tests that build calibration or random-input requests by hand.
#pragma once

#include <modelkit/onnx.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace modelkit::test {

inline onnx::ValueInfo input(std::string name, ElementType type, std::vector<onnx::Dim> shape) {
  onnx::ValueInfo v;
  v.name = std::move(name);
  v.element_type = type;
  v.has_shape = true;
  v.shape = std::move(shape);
  return v;
}
inline onnx::Dim sym(std::string s) { return onnx::Dim{std::nullopt, std::move(s)}; }
inline onnx::Dim fixed(std::int64_t v) { return onnx::Dim{v, ""}; }

}  // namespace modelkit::test
