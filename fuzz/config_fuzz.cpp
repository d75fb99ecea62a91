// libFuzzer target: config.json bytes -> parse -> resolve. Must never crash; an error is
// a single line.
#include "fuzz_check.hpp"

#include <modelkit/config.hpp>
#include <modelkit/task.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto config = modelkit::parse_model_config(bytes);
  if (!modelkit::fuzz::check(config)) return 0;
  modelkit::ModelFacts facts;
  facts.config = std::move(*config);
  auto r = modelkit::resolve_task(facts, {});
  modelkit::fuzz::check(r);
  MODELKIT_FUZZ_REQUIRE(!r.ok() || !r->task || r->optimum_task);
  return 0;
}
