// libFuzzer target: a build config (what `modelkit config` writes and `build -c` replays) ->
// parse_build_config. Never crashes; errors are single lines; what parses writes back to JSON
// that parses again to the same JSON.
#include "fuzz_check.hpp"

#include <modelkit/plan.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto config = modelkit::parse_build_config(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!modelkit::fuzz::check(config)) return 0;
  auto json = modelkit::build_config_json(*config);
  auto again = modelkit::parse_build_config(json);
  MODELKIT_FUZZ_REQUIRE(again.ok() && modelkit::build_config_json(*again) == json);
  return 0;
}
