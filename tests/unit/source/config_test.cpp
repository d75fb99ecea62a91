#include <modelkit/config.hpp>

#include "test_support.hpp"

namespace modelkit::test {
namespace {

TEST(ModelConfig, ReadsTheFieldsTheResolverUses) {
  auto c = parse_model_config(R"({
    "model_type": "qwen", "architectures": ["QWenLMHeadModel"], "_name_or_path": "Qwen/Qwen-7B",
    "auto_map": {"AutoConfig": "configuration_qwen.QWenConfig", "AutoModelForCausalLM": ["modeling_qwen.QWenLMHeadModel", null]},
    "is_encoder_decoder": false, "vocab_size": 151936,
    "text_config": {"model_type": "qwen_text", "hidden_size": 64}})");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->model_type, "qwen");
  EXPECT_EQ(c->architectures, std::vector<std::string>{"QWenLMHeadModel"});
  EXPECT_EQ(c->name_or_path, "Qwen/Qwen-7B");
  ASSERT_EQ(c->auto_map.size(), 2u);
  EXPECT_EQ(c->auto_map[1].first, "AutoModelForCausalLM");
  EXPECT_EQ(c->auto_map[1].second, "QWenLMHeadModel");
  EXPECT_EQ(c->is_encoder_decoder, false);
  EXPECT_EQ(c->integer("vocab_size"), 151936);
  EXPECT_EQ(c->integer("hidden_size"), 64);  // from text_config
  ASSERT_EQ(c->sub_configs.size(), 1u);
  EXPECT_EQ(c->sub_configs[0].model_type, "qwen_text");
}

struct BadConfig {
  const char* name;
  std::string json;
  std::string message;
};
// Printed (in test names and failures) as its name, not "72-byte object <...>".
void PrintTo(const BadConfig& c, std::ostream* os) { *os << c.name; }

class BadConfigs : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadConfigs, GiveOneClearLine) {
  auto c = parse_model_config(GetParam().json);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message, GetParam().message);
  EXPECT_EQ(c.error().message.find('\n'), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Config, BadConfigs,
    ::testing::Values(
        BadConfig{"truncated", R"({"model_type": "bert", )", "invalid JSON (The JSON document has an improper structure: missing or superfluous commas, braces, missing keys, etc.)"},
        BadConfig{"not_object", "[1, 2]", "expected a JSON object at the top level, got a list"},
        BadConfig{"model_type_number", R"({"model_type": 3})", "field 'model_type' must be a string, got a number"},
        BadConfig{"architectures_string", R"({"architectures": "BertModel"})",
                  "field 'architectures' must be a list of strings, got a string"},
        BadConfig{"architectures_item", R"({"architectures": ["BertModel", 7]})",
                  "field 'architectures' must be a list of strings, got an item that is a number"},
        BadConfig{"auto_map_list", R"({"auto_map": ["x"]})", "field 'auto_map' must be an object, got a list"},
        BadConfig{"non_utf8", std::string("{\"model_type\": \"b\xff\xfe\"}"), "not valid UTF-8"},
        BadConfig{"empty", "", "empty file, expected a JSON object"},
        BadConfig{"deep", std::string(2000, '[') + std::string(2000, ']'), "JSON nested deeper than 1024 levels"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ModelConfig, ByteOrderMarkIsRejectedClearly) {
  // transformers' json.loads refuses a BOM too; say what it is rather than "invalid JSON".
  auto c = parse_model_config("\xEF\xBB\xBF{\"model_type\": \"bert\"}");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message,
            "starts with a UTF-8 byte order mark, which JSON does not allow; save the file without it");
}

TEST(ModelConfig, EveryRealConfigParses) {
  size_t n = 0;
  for (const auto& entry : fs::directory_iterator(data_dir() / "configs")) {
    if (entry.path().extension() != ".json") continue;
    auto c = parse_model_config(read_text(entry.path()));
    EXPECT_TRUE(c.ok()) << entry.path() << ": " << c.error().message;
    ++n;
  }
  EXPECT_GE(n, 70u);
}

// Fuzz-style: truncations and byte flips of real configs never crash and, when they
// fail, fail with one line.
TEST(ModelConfig, CorruptedRealConfigsNeverCrash) {
  std::mt19937 rng(1234);
  size_t failures = 0, runs = 0;
  for (const auto& entry : fs::directory_iterator(data_dir() / "configs")) {
    if (entry.path().extension() != ".json") continue;
    std::string text = read_text(entry.path());
    for (int i = 0; i < 40; ++i) {
      std::string mutated = text;
      if (i % 2 == 0) {
        mutated.resize(rng() % (text.size() + 1));
      } else {
        for (int k = 0; k < 4; ++k) mutated[rng() % mutated.size()] = static_cast<char>(rng() % 256);
      }
      auto c = parse_model_config(mutated);
      ++runs;
      if (!c.ok()) {
        ++failures;
        EXPECT_EQ(c.error().message.find('\n'), std::string::npos);
        EXPECT_FALSE(c.error().message.empty());
      }
    }
  }
  EXPECT_GT(runs, 2000u);
  EXPECT_GT(failures, runs / 4);  // the mutations really break most inputs
}

}  // namespace
}  // namespace modelkit::test
