// `modelkit tokenize`: JSON and table output checked against the library, --file, and the exit
// codes and one-line errors for bad usage (2) and bad input (1).
#include <modelkit/tokenizer.hpp>

#include <util/file.hpp>

#include <gtest/gtest.h>
#include <simdjson.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace fs = std::filesystem;
using modelkit::tokenizer::Tokenizer;

namespace {

const fs::path kDeps = MODELKIT_DEPS_DIR;
const fs::path kBert = kDeps / "tokenizers" / "bert-uncased" / "tokenizer.json";

// One folder per test process, removed when the process exits.
struct ProcessTempDir {
  ProcessTempDir() : path(fs::temp_directory_path() / ("modelkit-tokenize-cli-" + std::to_string(::getpid()))) {
    fs::create_directories(path);
  }
  ~ProcessTempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

fs::path temp_dir() {
  static const ProcessTempDir dir;
  return dir.path;
}

struct CliRun {
  int exit_code;
  std::string out;
  std::string err;
};

CliRun run_cli(const std::string& args) {
  fs::path out = temp_dir() / "cli_out.txt";
  fs::path err = temp_dir() / "cli_err.txt";
  std::string command = std::string(MODELKIT_CLI_PATH) + " tokenize " + args + " > " + out.string() + " 2> " +
                        err.string();
  int status = std::system(command.c_str());
  CliRun r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, "", ""};
  if (auto o = modelkit::util::read_file(out)) r.out = *o;
  if (auto e = modelkit::util::read_file(err)) r.err = *e;
  return r;
}

TEST(TokenizeCli, TextPrintsIdsAndTokensAsJson) {
  auto tok = Tokenizer::from_file(kBert);
  ASSERT_TRUE(tok.ok()) << " (run scripts/setup.sh)";
  auto enc = tok->encode("Hello, wörld!", std::string_view("second"));
  ASSERT_TRUE(enc.ok());
  CliRun r = run_cli("-m " + kBert.parent_path().string() + " --text 'Hello, wörld!' --pair second");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
  std::vector<std::uint32_t> ids;
  for (auto v : doc["ids"].get_array()) ids.push_back(static_cast<std::uint32_t>(std::uint64_t(v)));
  std::vector<std::string> tokens;
  for (auto v : doc["tokens"].get_array()) tokens.emplace_back(std::string_view(v));
  EXPECT_EQ(ids, enc->ids);
  EXPECT_EQ(tokens, enc->tokens);
}

TEST(TokenizeCli, FileGivesOneObjectPerLineAndTableFormat) {
  fs::path lines = temp_dir() / "lines.txt";
  ASSERT_TRUE(modelkit::util::write_file_atomic(lines, "first line\nsecond line\r\nthird\n").ok());
  CliRun r = run_cli("-m " + kBert.string() + " --file " + lines.string() + " --no-special-tokens");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int objects = 0;
  for (char c : r.out) objects += c == '\n';
  EXPECT_EQ(objects, 3);
  EXPECT_EQ(r.out.find("[CLS]"), std::string::npos);
  CliRun t = run_cli("-m " + kBert.string() + " --text 'hello world' --format table");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("\"hello\""), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("[CLS]"), std::string::npos) << t.out;
}

TEST(TokenizeCli, UsageAndInputErrors) {
  CliRun r = run_cli("--text hi");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = run_cli("-m " + kBert.string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = run_cli("-m " + kBert.string() + " --text a --format xml");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = run_cli("-m " + (temp_dir() / "absent").string() + " --text hi");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("absent"), std::string::npos) << r.err;
  fs::path broken = temp_dir() / "broken" / "tokenizer.json";
  fs::create_directories(broken.parent_path());
  ASSERT_TRUE(modelkit::util::write_file_atomic(broken, "{\"model\": [").ok());
  r = run_cli("-m " + broken.parent_path().string() + " --text hi");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("tokenizer.json"), std::string::npos) << r.err;
  std::size_t newlines = 0;
  for (char c : r.err) newlines += c == '\n';
  EXPECT_EQ(newlines, 1u) << r.err;
}

}  // namespace
