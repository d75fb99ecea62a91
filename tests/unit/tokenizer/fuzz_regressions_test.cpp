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

}  // namespace
}  // namespace modelkit::tokenizer
