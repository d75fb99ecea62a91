// Tensor: a small owned, named, dense tensor (name, element type, int64 shape, raw bytes) that
// moves between the ONNX layer, ONNX Runtime, random inputs and calibration sources (tokenizer
// ids, image pixels). Header-only so areas that make tensors need no ONNX or ORT library.
#pragma once

#include <modelkit/result.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace modelkit {

// Numbering is ONNX's TensorProto.DataType, which ONNX Runtime's ONNXTensorElementDataType shares.
enum class ElementType : std::int32_t {
  undefined = 0,
  float32 = 1,
  uint8 = 2,
  int8 = 3,
  uint16 = 4,
  int16 = 5,
  int32 = 6,
  int64 = 7,
  string = 8,
  boolean = 9,
  float16 = 10,
  float64 = 11,
  uint32 = 12,
  uint64 = 13,
  complex64 = 14,
  complex128 = 15,
  bfloat16 = 16,
  float8e4m3fn = 17,
  float8e4m3fnuz = 18,
  float8e5m2 = 19,
  float8e5m2fnuz = 20,
  uint4 = 21,
  int4 = 22,
  float4e2m1 = 23,
};

struct ElementTypeInfo {
  ElementType type;
  std::string_view name;  // stable, used in JSON ("float32", "int64", "bool", ...)
  int bits;               // storage bits per element; 0 for string
};

inline constexpr std::array<ElementTypeInfo, 24> kElementTypes = {{
    {ElementType::undefined, "undefined", 0},   {ElementType::float32, "float32", 32},
    {ElementType::uint8, "uint8", 8},           {ElementType::int8, "int8", 8},
    {ElementType::uint16, "uint16", 16},        {ElementType::int16, "int16", 16},
    {ElementType::int32, "int32", 32},          {ElementType::int64, "int64", 64},
    {ElementType::string, "string", 0},         {ElementType::boolean, "bool", 8},
    {ElementType::float16, "float16", 16},      {ElementType::float64, "float64", 64},
    {ElementType::uint32, "uint32", 32},        {ElementType::uint64, "uint64", 64},
    {ElementType::complex64, "complex64", 64},  {ElementType::complex128, "complex128", 128},
    {ElementType::bfloat16, "bfloat16", 16},    {ElementType::float8e4m3fn, "float8e4m3fn", 8},
    {ElementType::float8e4m3fnuz, "float8e4m3fnuz", 8}, {ElementType::float8e5m2, "float8e5m2", 8},
    {ElementType::float8e5m2fnuz, "float8e5m2fnuz", 8}, {ElementType::uint4, "uint4", 4},
    {ElementType::int4, "int4", 4},             {ElementType::float4e2m1, "float4e2m1", 4},
}};

// Info for a type code; nullopt for codes this table does not know (newer ONNX types).
[[nodiscard]] inline std::optional<ElementTypeInfo> element_type_info(std::int32_t code) {
  if (code < 0 || code >= static_cast<std::int32_t>(kElementTypes.size())) return std::nullopt;
  return kElementTypes[static_cast<std::size_t>(code)];
}
[[nodiscard]] inline std::string element_type_name(ElementType t) {
  auto info = element_type_info(static_cast<std::int32_t>(t));
  return info ? std::string(info->name) : "type" + std::to_string(static_cast<std::int32_t>(t));
}
[[nodiscard]] inline std::optional<ElementType> parse_element_type(std::string_view name) {
  for (const auto& info : kElementTypes)
    if (info.name == name) return info.type;
  return std::nullopt;
}
[[nodiscard]] inline int element_bits(ElementType t) {
  auto info = element_type_info(static_cast<std::int32_t>(t));
  return info ? info->bits : 0;
}
// Bytes that `count` elements occupy (4-bit types pack two per byte, rounding up).
[[nodiscard]] inline std::uint64_t element_storage_bytes(ElementType t, std::uint64_t count) {
  return (count * static_cast<std::uint64_t>(element_bits(t)) + 7) / 8;
}

template <class T>
constexpr ElementType element_type_of() {
  if constexpr (std::is_same_v<T, float>) return ElementType::float32;
  else if constexpr (std::is_same_v<T, double>) return ElementType::float64;
  else if constexpr (std::is_same_v<T, std::int64_t>) return ElementType::int64;
  else if constexpr (std::is_same_v<T, std::int32_t>) return ElementType::int32;
  else if constexpr (std::is_same_v<T, std::int16_t>) return ElementType::int16;
  else if constexpr (std::is_same_v<T, std::int8_t>) return ElementType::int8;
  else if constexpr (std::is_same_v<T, std::uint64_t>) return ElementType::uint64;
  else if constexpr (std::is_same_v<T, std::uint32_t>) return ElementType::uint32;
  else if constexpr (std::is_same_v<T, std::uint16_t>) return ElementType::uint16;
  else if constexpr (std::is_same_v<T, std::uint8_t>) return ElementType::uint8;
  else if constexpr (std::is_same_v<T, bool>) return ElementType::boolean;
  else static_assert(sizeof(T) == 0, "no ElementType for this C++ type");
}

// Product of dims; 1 for a scalar (empty shape). Negative dims are not valid in a Tensor.
[[nodiscard]] inline std::uint64_t shape_element_count(std::span<const std::int64_t> shape) {
  std::uint64_t n = 1;
  for (auto d : shape) n *= static_cast<std::uint64_t>(d < 0 ? 0 : d);
  return n;
}

// "1x128", "" for a scalar.
[[nodiscard]] inline std::string format_shape(std::span<const std::int64_t> shape) {
  std::string out;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) out += 'x';
    out += std::to_string(shape[i]);
  }
  return out;
}

struct Tensor {
  std::string name;
  ElementType type = ElementType::undefined;
  std::vector<std::int64_t> shape;
  std::vector<std::byte> bytes;  // dense, row-major, little-endian

  [[nodiscard]] std::uint64_t element_count() const { return shape_element_count(shape); }

  // Typed view; the caller asks for the C++ type matching `type` (checked in debug builds by callers).
  template <class T>
  [[nodiscard]] std::span<T> values() {
    return {reinterpret_cast<T*>(bytes.data()), bytes.size() / sizeof(T)};
  }
  template <class T>
  [[nodiscard]] std::span<const T> values() const {
    return {reinterpret_cast<const T*>(bytes.data()), bytes.size() / sizeof(T)};
  }

  // A zero-filled tensor of the given type and shape. Fails for string and unknown types.
  [[nodiscard]] static Result<Tensor> zeros(std::string name, ElementType type, std::vector<std::int64_t> shape) {
    for (auto d : shape)
      if (d < 0)
        return failure("tensor '" + name + "': negative dimension in shape [" + format_shape(shape) + "]");
    if (element_bits(type) == 0)
      return failure("tensor '" + name + "': element type '" + element_type_name(type) +
                     "' cannot be held in a dense Tensor");
    Tensor t{std::move(name), type, std::move(shape), {}};
    t.bytes.resize(element_storage_bytes(type, t.element_count()));
    return t;
  }

  // A tensor holding a copy of `data` (its size must match the shape).
  template <class T>
  [[nodiscard]] static Tensor from_values(std::string name, std::vector<std::int64_t> shape, std::span<const T> data) {
    Tensor t{std::move(name), element_type_of<T>(), std::move(shape), {}};
    t.bytes.resize(data.size() * sizeof(T));
    if (!data.empty()) std::memcpy(t.bytes.data(), data.data(), t.bytes.size());
    return t;
  }
};

}  // namespace modelkit
