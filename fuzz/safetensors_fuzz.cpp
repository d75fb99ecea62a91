// libFuzzer target: a safetensors header (JSON) with a data size taken from the first
// 8 input bytes. Must never crash; errors are single lines.
#include "fuzz_check.hpp"

#include <modelkit/safetensors.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  std::uint64_t data_bytes = 0;
  std::memcpy(&data_bytes, data, 8);
  std::string_view header(reinterpret_cast<const char*>(data + 8), size - 8);
  auto s = modelkit::parse_safetensors_header(header, data_bytes);
  modelkit::fuzz::check(s);
  MODELKIT_FUZZ_REQUIRE(!s.ok() || s->bytes <= data_bytes);  // offsets were checked against the data
  return 0;
}
