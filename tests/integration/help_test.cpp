// 'modelkit help' and the bash completion through the real CLI. The option lists are read off
// each command's own --help (the parser's table); task facts are checked against the specs
// (build-pipeline.md "Calibration data", task-resolution.md sections 1 and 4); completion is run
// in bash and the values it offers are fed back to the parser, which must accept them.
#include "test_support.hpp"

#include <modelkit/registry.hpp>

#include <gmock/gmock.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

namespace modelkit::test {
namespace {

using ::testing::Contains;
using ::testing::Each;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAreArray;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The first word of each indented line after `header` up to the next blank line.
std::vector<std::string> first_words_after(const std::string& text, const std::string& header) {
  std::vector<std::string> out;
  bool in_section = false;
  for (const auto& line : lines_of(text)) {
    if (line == header) {
      in_section = true;
      continue;
    }
    if (!in_section) continue;
    if (line.empty()) break;
    std::istringstream words(line);
    std::string first;
    words >> first;
    out.push_back(first);
  }
  return out;
}

std::vector<std::string> command_names() {
  auto r = run_cli({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  auto names = first_words_after(r.out, "commands:");
  EXPECT_GE(names.size(), 6u) << r.out;
  return names;
}

// Option names (short and long) from 'modelkit CMD --help': the table the parser runs on.
std::vector<std::string> options_of(const std::string& command) {
  auto r = run_cli({command, "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> out;
  bool in_options = false;
  for (const auto& line : lines_of(r.out)) {
    if (line == "options:") {
      in_options = true;
      continue;
    }
    if (!in_options || line.empty()) continue;
    std::istringstream words(line);
    std::string first;
    words >> first;
    if (first.ends_with(",")) {
      out.push_back(first.substr(0, first.size() - 1));
      words >> first;
    }
    out.push_back(first);
  }
  EXPECT_THAT(out, Contains("--help")) << r.out;
  return out;
}

// Rows of the first Markdown table after the line `heading` (cells unescaped, backticks removed).
std::vector<std::vector<std::string>> markdown_table(const std::string& markdown, const std::string& heading) {
  std::vector<std::vector<std::string>> rows;
  bool seen = false;
  for (const auto& line : lines_of(markdown)) {
    if (line == heading) seen = true;
    if (!seen) continue;
    if (!line.starts_with("|")) {
      if (!rows.empty()) break;
      continue;
    }
    if (line.starts_with("|---")) continue;
    std::vector<std::string> cells;
    std::string cell;
    for (size_t i = 1; i < line.size(); ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) {
        cell.push_back(line[++i]);
      } else if (line[i] == '|') {
        cell.erase(std::remove(cell.begin(), cell.end(), '`'), cell.end());
        auto b = cell.find_first_not_of(' '), e = cell.find_last_not_of(' ');
        cells.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
        cell.clear();
      } else {
        cell.push_back(line[i]);
      }
    }
    rows.push_back(cells);
  }
  if (!rows.empty()) rows.erase(rows.begin());  // the header row
  return rows;
}

TEST(Help, ListsEveryCommandAndTopicAndEachPageExists) {
  auto r = run_cli({"help"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto topics = first_words_after(r.out, "topics:");
  for (const auto& c : command_names()) EXPECT_THAT(topics, Contains(c));
  for (const char* t : {"tasks", "resolution", "calibration", "quantization"}) EXPECT_THAT(topics, Contains(t));
  for (const auto& t : topics) {
    auto page = run_cli({"help", t});
    EXPECT_EQ(page.exit_code, 0) << t << ": " << page.err;
    EXPECT_TRUE(page.err.empty()) << t;
    EXPECT_GT(lines_of(page.out).size(), 5u) << t << ":\n" << page.out;
    auto md = run_cli({"help", "--markdown", t});
    EXPECT_EQ(md.exit_code, 0) << t;
    EXPECT_THAT(md.out, StartsWith("# ")) << t;
  }
}

TEST(Help, CommandPagesShowTheParsersOptions) {
  for (const auto& c : command_names()) {
    auto page = run_cli({"help", c});
    ASSERT_EQ(page.exit_code, 0) << c;
    EXPECT_THAT(page.out, StartsWith("modelkit " + c + "\n"));
    for (const auto& option : options_of(c))
      EXPECT_NE(page.out.find(option), std::string::npos) << "'modelkit help " << c << "' misses " << option;
  }
}

TEST(Help, UnknownTopicIsAUsageError) {
  auto r = run_cli({"help", "nonsense"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty());
  EXPECT_THAT(r.err, StartsWith("modelkit help: unknown help topic 'nonsense' (topics: inspect, "));
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1);
  EXPECT_EQ(run_cli({"help", "build", "tasks"}).exit_code, 2);
}

TEST(Help, TasksPageMatchesTheSpecs) {
  auto r = run_cli({"help", "--markdown", "tasks"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto rows = markdown_table(r.out, "# modelkit tasks");
  // build-pipeline.md "Calibration data" (its zero-shot-classification is not a vocabulary task).
  const std::set<std::string> text = {"text-classification", "token-classification", "question-answering",
                                      "fill-mask", "feature-extraction", "sentence-similarity",
                                      "next-sentence-prediction", "multiple-choice"};
  const std::set<std::string> image = {"image-classification", "image-feature-extraction", "object-detection",
                                       "image-segmentation", "semantic-segmentation", "depth-estimation",
                                       "keypoint-detection"};
  // task-resolution.md section 1: the two named optimum renames, and the collapsed exceptions.
  const std::map<std::string, std::string> optimum = {{"image-feature-extraction", "feature-extraction"},
                                                      {"next-sentence-prediction", "text-classification"},
                                                      {"mask-generation", "feature-extraction"},
                                                      {"fill-mask", "fill-mask"},
                                                      {"text-classification", "text-classification"}};
  // Issue 14: the audio tasks calibrate on audio (feature-extraction too, for audio models).
  const std::set<std::string> audio = {"audio-classification", "automatic-speech-recognition",
                                       "audio-frame-classification", "audio-xvector"};
  std::vector<std::string> listed;
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 3u);
    listed.push_back(row[0]);
    std::string kind = text.count(row[0])    ? "text"
                       : image.count(row[0]) ? "image"
                       : audio.count(row[0]) ? "audio"
                                             : "random";
    EXPECT_EQ(row[2], kind) << row[0];
    if (auto it = optimum.find(row[0]); it != optimum.end()) {
      EXPECT_EQ(row[1], it->second) << row[0];
    }
  }
  EXPECT_EQ(listed.size(), 40u);
  std::vector<std::string> vocabulary(registry::tasks().begin(), registry::tasks().end());
  EXPECT_THAT(listed, UnorderedElementsAreArray(vocabulary));
  // The project tables of task-resolution.md section 2.
  auto sentinels = markdown_table(r.out, "## Sentinel defaults");
  std::map<std::string, std::string> sentinel_task;
  for (const auto& row : sentinels) sentinel_task[row[0]] = row[1];
  EXPECT_EQ(sentinel_task["sam"], "mask-generation");
  EXPECT_EQ(sentinel_task["sam2"], "mask-generation");
  EXPECT_EQ(sentinel_task["sam2-video"], "mask-generation");
  EXPECT_EQ(sentinel_task["vitpose"], "keypoint-detection");
  auto ids = markdown_table(r.out, "## Model-id defaults");
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0][0], "prajjwal1/bert-tiny");
  EXPECT_EQ(ids[0][1], "feature-extraction");
  for (auto source : registry::sources()) EXPECT_NE(r.out.find(std::string(source)), std::string::npos);
}

TEST(Help, ResolutionPageNamesTheStagesAndItsExamplesMatchTheSpec) {
  auto r = run_cli({"help", "--markdown", "resolution"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> sources;
  for (const auto& row : markdown_table(r.out, "# modelkit task resolution")) sources.push_back(row[1]);
  // task-resolution.md section 3's source names, in stage order.
  EXPECT_EQ(sources, (std::vector<std::string>{"user-class", "user-task", "model-id-default", "sentinel-default",
                                               "wrapped-library", "model-type-default", "architecture",
                                               "remote-code", "model-card", "unresolved"}));
  std::map<std::string, std::vector<std::string>> examples;  // request -> task, optimum, source, class
  for (const auto& row : markdown_table(r.out, "## Examples")) examples[row[0]] = {row[1], row[2], row[3], row[4]};
  // task-resolution.md section 4 rows that need no checkpoint.
  using V = std::vector<std::string>;
  EXPECT_EQ(examples["--model-type bert"], (V{"feature-extraction", "feature-extraction", "model-type-default", "BertModel"}));
  EXPECT_EQ(examples["--model-type dinov2"],
            (V{"image-feature-extraction", "feature-extraction", "model-type-default", "Dinov2Model"}));
  EXPECT_EQ(examples["--model-type sam"], (V{"mask-generation", "feature-extraction", "sentinel-default", "SamModel"}));
  EXPECT_EQ(examples["--model-type sam2_video"][0], "mask-generation");
  EXPECT_EQ(examples["--model-type sam2_video"][2], "sentinel-default");
  EXPECT_EQ(examples["--model-type vitpose"],
            (V{"keypoint-detection", "keypoint-detection", "sentinel-default", "VitPoseForPoseEstimation"}));
  EXPECT_EQ(examples["--model-type timm_wrapper"][0], "image-classification");
  EXPECT_EQ(examples["--model-type timm_wrapper"][2], "wrapped-library");
  EXPECT_EQ(examples["--model-type clip --task image-feature-extraction"],
            (V{"image-feature-extraction", "feature-extraction", "user-task", "CLIPVisionModelWithProjection"}));
  EXPECT_EQ(examples["--model-type sam2 --task feature-extraction"][2], "user-task");
  EXPECT_EQ(examples["--model-type sam2 --task feature-extraction"][3], "Sam2VisionModel");
  // A synonym is normalised (task-resolution.md section 1).
  EXPECT_EQ(examples["--model-type bert --task sequence-classification"][0], "text-classification");
}

TEST(Help, CalibrationAndQuantizationPagesShowTheSpecDefaults) {
  auto cal = run_cli({"help", "--markdown", "calibration"});
  ASSERT_EQ(cal.exit_code, 0);
  std::map<std::string, std::string> defaults;
  for (const auto& row : markdown_table(cal.out, "## Defaults")) defaults[row[0]] = row[1];
  // build-pipeline.md "Quantization": minmax, percentile 99.999 with 2048 bins, 100 samples.
  EXPECT_EQ(defaults["method"], "minmax");
  EXPECT_EQ(defaults["percentile"], "99.999");
  EXPECT_EQ(defaults["histogram_bins"], "2048");
  EXPECT_EQ(defaults["samples"], "100");
  EXPECT_EQ(defaults["sequence_length"], "128");
  auto q = run_cli({"help", "--markdown", "quantization"});
  ASSERT_EQ(q.exit_code, 0);
  defaults.clear();
  for (const auto& row : markdown_table(q.out, "## Defaults")) defaults[row[0]] = row[1];
  EXPECT_EQ(defaults["format"], "qdq");
  EXPECT_EQ(defaults["activation_type"], "uint8 (asymmetric)");
  EXPECT_EQ(defaults["weight_type"], "int8 (symmetric)");
  EXPECT_EQ(defaults["per_channel"], "false");
  for (const char* op : {"Conv", "MatMul", "Gemm", "Add", "Softmax"}) EXPECT_NE(q.out.find(op), std::string::npos);
}

// --- bash completion ---

class Completion : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = run_cli({"help", "--bash-completion"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    write_file(dir_ / "modelkit.bash", r.out);
  }

  // COMPREPLY for 'modelkit WORDS...', the last word being completed (as bash splits them).
  std::vector<std::string> complete(const std::vector<std::string>& words) {
    std::string driver = "source '" + (dir_ / "modelkit.bash").string() + "'\nCOMP_WORDS=(modelkit";
    for (const auto& w : words) driver += " '" + w + "'";
    driver += ")\nCOMP_CWORD=" + std::to_string(words.size()) + "\n_modelkit\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n";
    write_file(dir_ / "driver.sh", driver);
    std::string cmd = "bash '" + (dir_ / "driver.sh").string() + "' 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    EXPECT_EQ(::pclose(p), 0) << out;
    std::vector<std::string> result;
    for (auto& line : lines_of(out))
      if (!line.empty()) result.push_back(line);
    return result;
  }

  TempDir dir_;
};

TEST_F(Completion, OffersEveryCommandAndEveryOptionOfEachCommand) {
  auto commands = command_names();
  auto top = commands;
  top.insert(top.end(), {"help", "--help", "--version"});
  EXPECT_THAT(complete({""}), UnorderedElementsAreArray(top));
  for (const auto& c : commands) EXPECT_THAT(complete({c, ""}), UnorderedElementsAreArray(options_of(c))) << c;
  EXPECT_THAT(complete({"bu"}), UnorderedElementsAreArray({"build"}));
}

TEST_F(Completion, HelpTopics) {
  auto topics = first_words_after(run_cli({"help"}).out, "topics:");
  EXPECT_THAT(complete({"help", ""}), UnorderedElementsAreArray(topics));
  EXPECT_THAT(complete({"help", "res"}), UnorderedElementsAreArray({"resolution"}));
}

TEST_F(Completion, TaskNamesAfterTask) {
  std::vector<std::string> vocabulary(registry::tasks().begin(), registry::tasks().end());
  for (const auto& c : {"inspect", "config", "build", "quantize"})
    EXPECT_THAT(complete({c, "--task", ""}), UnorderedElementsAreArray(vocabulary)) << c;
  EXPECT_THAT(complete({"build", "--task", "fill"}), UnorderedElementsAreArray({"fill-mask"}));
  // --task=fi arrives as '--task' '=' 'fi'.
  EXPECT_THAT(complete({"build", "--task", "=", "fill"}), UnorderedElementsAreArray({"fill-mask"}));
  EXPECT_THAT(complete({"build", "--task", "="}), UnorderedElementsAreArray(vocabulary));
}

TEST_F(Completion, ModelTypesAfterModelTypeAreAcceptedByTheCli) {
  auto sam2 = complete({"inspect", "--model-type", "sam2"});
  EXPECT_THAT(sam2, Contains("sam2"));
  EXPECT_THAT(sam2, Contains("sam2_video"));
  EXPECT_THAT(sam2, Each(StartsWith("sam2")));
  auto all = complete({"config", "--model-type", ""});
  EXPECT_GT(all.size(), 500u);
  for (const char* t : {"bert", "clip", "wav2vec2", "whisper", "timm_wrapper", "dinov2"}) EXPECT_THAT(all, Contains(t));
  for (const auto& t : sam2) {
    auto r = run_cli({"inspect", "--model-type", t, "--list-tasks"});
    EXPECT_EQ(r.exit_code, 0) << t << ": " << r.err;
  }
}

TEST_F(Completion, ValueWordsAreExactlyWhatTheParserAccepts) {
  auto methods = complete({"config", "--method", ""});
  EXPECT_THAT(methods, UnorderedElementsAreArray({"minmax", "percentile", "entropy"}));
  auto types = complete({"build", "--activation-type", ""});
  EXPECT_EQ(types.size(), 4u);
  EXPECT_THAT(complete({"build", "--weight-type", ""}), UnorderedElementsAreArray(types));
  for (const auto& m : methods)
    EXPECT_EQ(run_cli({"config", "--model-type", "bert", "--method", m}).exit_code, 0) << m;
  for (const auto& t : types) {
    EXPECT_EQ(run_cli({"config", "--model-type", "bert", "--activation-type", t}).exit_code, 0) << t;
    EXPECT_EQ(run_cli({"config", "--model-type", "bert", "--weight-type", t}).exit_code, 0) << t;
  }
  for (const auto& f : complete({"inspect", "--format", ""}))
    EXPECT_EQ(run_cli({"inspect", "--model-type", "bert", "--format", f}).exit_code, 0) << f;
  EXPECT_EQ(run_cli({"config", "--model-type", "bert", "--method", "kl"}).exit_code, 2);
}

TEST_F(Completion, PathsAfterPathOptionsAndNothingAfterFreeValues) {
  write_file(dir_ / "models" / "model.onnx", "x");
  write_file(dir_ / "models" / "other.onnx", "x");
  auto prefix = (dir_ / "models" / "mo").string();
  auto model = (dir_ / "models" / "model.onnx").string();
  EXPECT_THAT(complete({"quantize", "-m", prefix}), UnorderedElementsAreArray({model}));
  EXPECT_THAT(complete({"perf", "--model", prefix}), UnorderedElementsAreArray({model}));
  EXPECT_TRUE(complete({"build", "--samples", ""}).empty());
}

}  // namespace
}  // namespace modelkit::test
