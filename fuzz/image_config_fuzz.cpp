// libFuzzer target: preprocessor_config.json bytes -> ImageProcessorConfig::from_json, then
// output_size for a few image sizes and preprocess() on a small image when the output is
// modest. Never crashes; errors are single lines; preprocess gives what output_size promised.
#include "fuzz_check.hpp"

#include <modelkit/image.hpp>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace modelkit::image;
  auto config = ImageProcessorConfig::from_json(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!modelkit::fuzz::check(config)) return 0;
  static constexpr std::array<std::array<int, 2>, 4> kSizes = {{{5, 7}, {480, 640}, {1, 3000}, {2000, 2}}};
  for (auto [h, w] : kSizes) {
    auto out = config->output_size(h, w);
    MODELKIT_FUZZ_REQUIRE(out[0] >= 1 && out[1] >= 1);
  }
  Image image;
  image.width = 7;
  image.height = 5;
  image.rgb.resize(7 * 5 * 3);
  for (std::size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = static_cast<std::uint8_t>(i * 37);
  auto out = config->output_size(5, 7);
  if (static_cast<std::int64_t>(out[0]) * out[1] > (1 << 20)) return 0;  // keep each run fast
  auto pixels = preprocess(image, *config);
  if (!modelkit::fuzz::check(pixels)) return 0;
  MODELKIT_FUZZ_REQUIRE(pixels->shape[0] == 3 && pixels->shape[1] == out[0] && pixels->shape[2] == out[1]);
  MODELKIT_FUZZ_REQUIRE(pixels->data.size() == static_cast<std::size_t>(3 * out[0] * out[1]));
  return 0;
}
