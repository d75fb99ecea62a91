// `build --eval-data`: the evaluate stage records in build_manifest.json the evaluation that
// `modelkit eval -m OUT --compare FLOAT --data X` prints for the same pair; a missing file is a
// usage error before any work; without the flag the stage is skipped with its reason; `config -o`
// records the data and `build -c` replays it.
#include "export_reference.hpp"
#include "run_fixtures.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

namespace modelkit::test {
namespace {

// The build's evaluation and a later `modelkit eval` run the same two models on the same inputs:
// only ONNX Runtime's thread scheduling may change the last bits of a reduction.
constexpr double kSameEvaluation = 1e-6;

// The exporter's reference sequence classifier (safetensors, labels L0..L2) with the 50-token
// tokenizer.json of scripts/run_reference.py, one copy per test process.
const fs::path& classifier() {
  static TempDir dir;
  static bool made = [] {
    return copy_text_checkpoints(dir.path(), {"bert-seqcls"});
  }();
  EXPECT_TRUE(made) << "the classifier fixture could not be made";
  static const fs::path model = dir / "bert-seqcls";
  return model;
}

// The reference checkpoints take at most 40 positions: builds calibrate on 16 tokens.
// Labelled sentences (labels cycling over the model's three).
fs::path labelled_data(const TempDir& tmp) {
  const std::vector<std::string> texts = {"the cat sat on the mat", "john went home", "mary works at the bank",
                                          "the big red dog ran to the park", "a bird sang", "paris is big"};
  std::string jsonl;
  for (std::size_t i = 0; i < texts.size(); ++i)
    jsonl += "{\"text\": \"" + texts[i] + "\", \"label\": \"L" + std::to_string(i % 3) + "\"}\n";
  write_file(tmp / "data.jsonl", jsonl);
  return tmp / "data.jsonl";
}

simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& text) {
  simdjson::dom::element e;
  EXPECT_EQ(p.parse(text).get(e), simdjson::SUCCESS) << text;
  return e;
}

std::string_view stage_status(simdjson::dom::element manifest, std::string_view name, std::string_view* reason) {
  simdjson::dom::array stages;
  if (manifest["stages"].get(stages) != simdjson::SUCCESS) return "absent";
  for (auto s : stages)
    if (std::string_view(s["name"].get_string().value()) == name) {
      if (reason && s["reason"].is_string()) *reason = s["reason"].get_string().value();
      return s["status"].get_string().value();
    }
  return "absent";
}

void expect_same_metrics(simdjson::dom::element built, simdjson::dom::element eval) {
  EXPECT_EQ(built["samples"].get_uint64().value(), eval["samples"].get_uint64().value());
  EXPECT_EQ(built["labelled"].get_uint64().value(), eval["labelled"].get_uint64().value());
  for (const char* metric : {"accuracy", "macro_f1", "compare_accuracy", "compare_macro_f1", "top1_agreement", "mean_kl"}) {
    auto a = built["metrics"][metric], b = eval["metrics"][metric];
    ASSERT_TRUE(a.is_number() && b.is_number()) << metric;
    EXPECT_NEAR(a.get_double().value(), b.get_double().value(), kSameEvaluation) << metric;
  }
}

TEST(BuildEvalData, ManifestHoldsTheEvaluationModelkitEvalPrints) {
  const auto& model = classifier();
  TempDir tmp;
  const auto data = labelled_data(tmp);
  const auto out = tmp / "built";
  auto b = run_cli({"build", "-m", model.string(), "-o", out.string(), "--samples", "8", "--sequence-length", "16", "--eval-data", data.string(),
                    "--format", "json"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  simdjson::dom::parser p1, p2, p3;
  auto manifest = parse(p1, read_text(out / "build_manifest.json"));
  EXPECT_EQ(stage_status(manifest, "evaluate", nullptr), "ran");
  ASSERT_FALSE(manifest["evaluation"].error()) << read_text(out / "build_manifest.json");
  simdjson::dom::element built = manifest["evaluation"].value();
  ASSERT_TRUE(built.is_object());
  EXPECT_EQ(built["samples"].get_uint64().value(), 6u);
  EXPECT_EQ(built["labelled"].get_uint64().value(), 6u);
  EXPECT_EQ(std::string_view(built["resolution"]["task"].get_string().value()), "text-classification");
  // The summary --format json prints carries the same object.
  auto summary = parse(p2, b.out);
  ASSERT_FALSE(summary["evaluation"].error()) << b.out;
  expect_same_metrics(summary["evaluation"].value(), built);

  auto e = run_cli({"eval", "-m", out.string(), "--compare", model.string(), "--data", data.string(), "--format", "json"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  expect_same_metrics(built, parse(p3, e.out));
}

TEST(BuildEvalData, MissingDataIsAUsageErrorBeforeAnyWork) {
  const auto& model = classifier();
  TempDir tmp;
  auto r = run_cli({"build", "-m", model.string(), "-o", (tmp / "built").string(), "--eval-data",
                    (tmp / "nope.jsonl").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("option '--eval-data': no file or folder"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nope.jsonl"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "built"));

  // Data of another modality: the build fails naming the option, and writes nothing.
  fs::create_directories(tmp / "imgs");
  fs::copy_file(fs::path(MODELKIT_DEPS_DIR) / "images" / "skimage" / "chelsea.png", tmp / "imgs" / "chelsea.png");
  auto modality = run_cli({"build", "-m", model.string(), "-o", (tmp / "built").string(), "--samples", "8", "--sequence-length", "16",
                           "--eval-data", (tmp / "imgs").string()});
  EXPECT_NE(modality.exit_code, 0);
  EXPECT_NE(modality.err.find("--eval-data"), std::string::npos) << modality.err;
  EXPECT_NE(modality.err.find("holds image but the model's task 'text-classification' takes text"), std::string::npos)
      << modality.err;
  EXPECT_FALSE(fs::exists(tmp / "built"));
}

TEST(BuildEvalData, SkippedWithoutTheFlagAndReplayedFromAConfig) {
  const auto& model = classifier();
  TempDir tmp;
  auto b = run_cli({"build", "-m", model.string(), "-o", (tmp / "plain").string(), "--samples", "8", "--sequence-length", "16", "--quiet"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  simdjson::dom::parser p1, p2, p3;
  auto plain = parse(p1, read_text(tmp / "plain" / "build_manifest.json"));
  std::string_view reason;
  EXPECT_EQ(stage_status(plain, "evaluate", &reason), "skipped");
  EXPECT_EQ(reason, "no --eval-data");
  EXPECT_EQ(plain["evaluation"].error(), simdjson::NO_SUCH_FIELD);

  // config -o records the data; build -c replays it.
  const auto data = labelled_data(tmp);
  auto c = run_cli({"config", "-m", model.string(), "--samples", "8", "--sequence-length", "16", "--eval-data", data.string(), "-o",
                    (tmp / "config.json").string()});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  auto config = parse(p2, read_text(tmp / "config.json"));
  EXPECT_EQ(std::string_view(config["validation"]["eval_data"].get_string().value()), data.string());
  auto replay = run_cli({"build", "-c", (tmp / "config.json").string(), "-o", (tmp / "replayed").string(), "--quiet"});
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  auto replayed = parse(p3, read_text(tmp / "replayed" / "build_manifest.json"));
  EXPECT_EQ(stage_status(replayed, "evaluate", nullptr), "ran");
  EXPECT_EQ(replayed["evaluation"]["samples"].get_uint64().value(), 6u);

  // The replayed config's data gone: a usage error before any work.
  fs::remove(data);
  auto gone = run_cli({"build", "-c", (tmp / "config.json").string(), "-o", (tmp / "again").string()});
  EXPECT_EQ(gone.exit_code, 2) << gone.err;
  EXPECT_NE(gone.err.find("option '--eval-data': no file or folder"), std::string::npos) << gone.err;
  EXPECT_FALSE(fs::exists(tmp / "again"));
}

}  // namespace
}  // namespace modelkit::test
