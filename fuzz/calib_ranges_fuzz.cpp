// libFuzzer target: a calibration ranges file -> calib::ranges_from_json. Never crashes; errors
// are single lines; every range is finite with min <= max; writing and reading back gives the
// same file.
#include "fuzz_check.hpp"

#include <modelkit/calib_stats.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace calib = modelkit::calib;
  auto ranges = calib::ranges_from_json(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!modelkit::fuzz::check(ranges)) return 0;
  for (const auto& [name, r] : ranges->tensors)
    MODELKIT_FUZZ_REQUIRE(std::isfinite(r.min) && std::isfinite(r.max) && r.min <= r.max);
  auto json = calib::ranges_to_json(*ranges);
  auto again = calib::ranges_from_json(json);
  MODELKIT_FUZZ_REQUIRE(again.ok() && calib::ranges_to_json(*again) == json);
  return 0;
}
