// Inputs the libFuzzer target tokenizer_fuzz found (tests/data/fuzz/tokenizer/), replayed
// through the same API: load tokenizer.json, then encode a few texts.
#include "fuzz_regressions.hpp"

#include <modelkit/tokenizer.hpp>

#include <gtest/gtest.h>

namespace modelkit::tokenizer {
namespace {

TEST(FuzzRegressions, Tokenizers) {
  for (const auto& [name, input] : test::fuzz_inputs("tokenizer")) {
    auto tok = Tokenizer::from_json(input);
    if (!tok) {
      test::expect_one_line(tok.error(), name);
      continue;
    }
    for (std::string_view text : {"Hello, world! It's 2024.", "  h\xC3\xA9llo   WORLD\tna\xC3\xAFve ", ""}) {
      auto e = tok->encode(text);
      if (!e) test::expect_one_line(e.error(), name);
    }
  }
}

TEST(FuzzRegressions, MergeWithNewlinesStaysOnOneLine) {
  // A BPE merge of tokens made of "\n": quoted in the error, escaped.
  auto tok = Tokenizer::from_json(test::fuzz_input("tokenizer", "newline_in_quoted_value.bin"));
  ASSERT_FALSE(tok.ok());
  test::expect_one_line(tok.error(), "newline_in_quoted_value.bin");
  EXPECT_NE(tok.error().message.find("merge '\\n\\n"), std::string::npos) << tok.error().message;
  EXPECT_NE(tok.error().message.find("is not in the vocabulary"), std::string::npos) << tok.error().message;
}

TEST(FuzzRegressions, FixedLengthIgnoresTheStoredPadToMultiple) {
  // The file's padding has pad_to_multiple_of 6: as stored it pads a batch to a multiple of 6,
  // as the Rust core does; a fixed length of 8 (calibration of a static-shape model) must stay 8.
  auto tok = Tokenizer::from_json(test::fuzz_input("tokenizer", "fixed_length_with_pad_to_multiple.bin"));
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  ASSERT_TRUE(tok->padding().has_value());
  EXPECT_EQ(tok->padding()->pad_to_multiple_of, std::optional<std::size_t>(6));
  auto stored = tok->encode("Hello, world! It's 2024.");
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  EXPECT_EQ(stored->ids.size() % 6, 0u);
  auto fixed = *tok;
  fixed.set_fixed_length(8);
  for (auto [text, pair] : {std::pair<std::string_view, std::optional<std::string_view>>{"  h\xC3\xA9llo   WORLD ", std::nullopt},
                            {"Hello, world! It's 2024.", "unaffable"}}) {
    auto e = fixed.encode(text, pair);
    ASSERT_TRUE(e.ok()) << e.error().message;
    EXPECT_EQ(e->ids.size(), 8u) << text;
    EXPECT_EQ(e->attention_mask.size(), 8u) << text;
  }
}

}  // namespace
}  // namespace modelkit::tokenizer
