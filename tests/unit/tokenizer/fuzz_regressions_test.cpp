// Inputs the libFuzzer target tokenizer_fuzz found (tests/data/fuzz/tokenizer/), replayed
// through the same API: load tokenizer.json, then encode a few texts.
#include "fuzz_regressions.hpp"

#include <modelkit/tokenizer.hpp>

#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

namespace modelkit::tokenizer {
namespace {

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

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

TEST(FuzzRegressions, SparseVocabularyIdLoadsWithoutAHugeTable) {
  // A 2.9 KB BPE file with one token numbered 246666665: the id -> token table was sized by the
  // largest id (2 GB of pointers, 1.9 GB resident). Loaded in a forked child, whose peak RSS
  // starts at its current RSS, so earlier tests' peaks do not hide the growth.
  const std::string json = test::fuzz_input("tokenizer", "sparse_vocab_id.bin");
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto before = peak_rss_kib();
    auto tok = Tokenizer::from_json(json);
    bool encoded = tok.ok() && tok->encode("Hello, world!").ok();
    std::_Exit(!encoded ? 2 : peak_rss_kib() - before > 256 * 1024 ? 3 : 0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 2) << "the file did not load and encode";
  EXPECT_NE(WEXITSTATUS(status), 3) << "loading it grew the resident set by more than 256 MiB";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(FuzzRegressions, FixedLengthPairWithATemplateRepeatingASequenceIsAnError) {
  // The pair template is [<s>, A, <s>, A]: sequence A twice, B never. The Rust core accepts it
  // and repeats A (checked with scripts/tokenizer_reference.js on this file with its misspelt
  // top-level keys corrected: these 10 ids for this pair). Truncation only budgets for the special
  // tokens, so a fixed length of 8 came out as 10 tokens; now that is an error.
  auto tok = Tokenizer::from_json(test::fuzz_input("tokenizer", "pair_template_repeats_a.bin"));
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  auto plain = tok->encode("Hello, world! It's 2024.", "日本語のテキストと中文");
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(plain->ids, (std::vector<std::uint32_t>{1, 53, 51, 53, 55, 1, 53, 51, 53, 55}));  // the reference's
  EXPECT_EQ(plain->type_ids, (std::vector<std::uint32_t>{0, 0, 0, 0, 0, 1, 1, 1, 1, 1}));
  auto fixed = *tok;
  fixed.set_fixed_length(8);
  auto e = fixed.encode("Hello, world! It's 2024.", "日本語のテキストと中文");
  ASSERT_FALSE(e.ok());
  test::expect_one_line(e.error(), "pair_template_repeats_a.bin");
  EXPECT_EQ(e.error().message,
            "encoding has 10 tokens, more than the fixed length 8 (the post-processor adds more than truncation "
            "allowed for)");
  auto single = fixed.encode("Hello");  // the single template has A once
  ASSERT_TRUE(single.ok()) << single.error().message;
  EXPECT_EQ(single->ids.size(), 8u);
}

}  // namespace
}  // namespace modelkit::tokenizer
