// libFuzzer target: README.md bytes -> the model card's front matter. Never fails, never
// crashes; a value it returns is never empty and stays on its line. (Quoted YAML scalars keep
// their inner spaces, so no trimming invariant.)
#include "fuzz_check.hpp"

#include <modelkit/checkpoint.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {
void check_scalar(const std::optional<std::string>& v) {
  if (!v) return;
  MODELKIT_FUZZ_REQUIRE(!v->empty() && v->find('\n') == std::string::npos);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view readme(reinterpret_cast<const char*>(data), size);
  auto card = modelkit::parse_model_card(readme);
  check_scalar(card.pipeline_tag);
  check_scalar(card.library_name);
  return 0;
}
