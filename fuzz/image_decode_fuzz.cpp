// libFuzzer target: JPEG/PNG bytes -> decode_image_bytes. Never crashes; errors are single
// lines; a decoded image has width * height * 3 bytes.
#include "fuzz_check.hpp"

#include <modelkit/image.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto image = modelkit::image::decode_image_bytes(std::string_view(reinterpret_cast<const char*>(data), size), "x.png");
  if (!modelkit::fuzz::check(image)) return 0;
  MODELKIT_FUZZ_REQUIRE(image->width >= 1 && image->height >= 1);
  MODELKIT_FUZZ_REQUIRE(image->rgb.size() ==
                        static_cast<std::size_t>(image->width) * static_cast<std::size_t>(image->height) * 3);
  return 0;
}
