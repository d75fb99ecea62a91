// libFuzzer target: tokenizer.json bytes -> Tokenizer::from_json, then a few encodes (plain,
// pair, fixed length). Never crashes; errors are single lines; an encoding's parallel arrays
// have one entry per token and a fixed-length encoding has exactly that length.
#include "fuzz_check.hpp"

#include <modelkit/tokenizer.hpp>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

void check_encoding(const modelkit::Result<modelkit::tokenizer::Encoding>& e, std::optional<std::size_t> length) {
  if (!modelkit::fuzz::check(e)) return;
  auto n = e->ids.size();
  MODELKIT_FUZZ_REQUIRE(e->tokens.size() == n && e->type_ids.size() == n && e->attention_mask.size() == n &&
                        e->special_tokens_mask.size() == n);
  MODELKIT_FUZZ_REQUIRE(!length || n == *length);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto tok = modelkit::tokenizer::Tokenizer::from_json(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!modelkit::fuzz::check(tok)) return 0;
  static constexpr std::array<std::string_view, 5> kTexts = {
      "Hello, world! It's 2024.", "  héllo   WORLD\tnaïve café ",
      "日本語のテキストと中文", "unaffable [CLS] <s> </s> [MASK] ▁x", ""};
  for (auto text : kTexts) check_encoding(tok->encode(text), std::nullopt);
  check_encoding(tok->encode(kTexts[0], kTexts[1]), std::nullopt);
  check_encoding(tok->encode(kTexts[2], std::nullopt, false), std::nullopt);
  auto fixed = *tok;
  fixed.set_fixed_length(8);
  check_encoding(fixed.encode(kTexts[1]), 8);
  check_encoding(fixed.encode(kTexts[0], kTexts[2]), 8);
  return 0;
}
