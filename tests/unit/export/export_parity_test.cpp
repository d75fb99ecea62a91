// The exporter against an independent reference: tiny random-weight checkpoints saved with
// transformers' parameter names, and the outputs of plain torch modules written from the published
// architectures (scripts/test_models/export_reference.py), on padded batches of two shapes. The
// exported graph runs in ONNX Runtime.
#include <modelkit/export.hpp>
#include <modelkit/runtime.hpp>

#include "export_reference.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>

namespace modelkit {
namespace {

namespace fs = std::filesystem;
using test::export_reference;
using test::TempDir;

// float32 graphs against float32 torch: the sums run in a different order, nothing more.

// Every case the reference script writes (the suite checks the two lists agree).
const std::vector<std::string> kCases = {
    "albert-base", "albert-mc", "albert-mlm", "albert-qa", "albert-seqcls", "albert-tokcls", "bert-base",
    "bert-bf16", "bert-f16", "bert-mc", "bert-mlm", "bert-mlm-untied", "bert-qa", "bert-seqcls", "bert-sharded",
    "bert-tokcls", "camembert-mlm", "camembert-qa", "deberta-v2-mc", "deberta-v2-tokcls", "deberta-v3-base",
    "deberta-v3-mlm", "deberta-v3-mlm-lm-head", "deberta-v3-qa", "deberta-v3-seqcls", "distilbert-base",
    "distilbert-mc", "distilbert-mlm", "distilbert-qa", "distilbert-seqcls", "distilbert-tokcls", "electra-base",
    "electra-mc", "electra-mlm", "electra-qa", "electra-seqcls", "electra-tokcls", "modernbert-base",
    "modernbert-mc", "modernbert-mc-mean", "modernbert-mlm", "modernbert-qa", "modernbert-seqcls",
    "modernbert-seqcls-mean", "modernbert-tokcls", "mpnet-base", "mpnet-mc", "mpnet-mlm", "mpnet-qa",
    "mpnet-seqcls", "mpnet-tokcls", "roberta-base", "roberta-mc", "roberta-mlm", "roberta-qa", "roberta-seqcls",
    "roberta-tokcls", "st-cls", "st-max", "st-mean-normalize", "st-mpnet-mean", "xlm-roberta-base",
    "xlm-roberta-seqcls",
};

const test::ReferenceCase* find_case(const std::string& name) {
  return test::find_reference_case(export_reference().cases, name);
}

// Runs the exported model on the case's reference batches; its inputs are int64, as optimum's.
void expect_parity(const fs::path& model_path, const test::ReferenceCase& c, const fs::path& case_dir) {
  int batches = 0;
  test::expect_reference_parity(model_path, c, case_dir, batches, ElementType::int64);
  EXPECT_GE(batches, 2) << c.name;  // two padded batches of different shapes (MPNet: a long third one)
}

Result<ExportResult> export_checkpoint(const fs::path& folder, const fs::path& out, int opset = kDefaultExportOpset,
                                       const CacheLocation& cache = {}) {
  ModelSpec spec;
  spec.model = folder.string();
  MODELKIT_TRY(auto model, resolve_model(spec, cache));
  ExportRequest request;
  request.model = std::move(model);
  request.output = out;
  request.opset = opset;
  return export_model(request);
}

TEST(ExportReference, ListsEveryCaseTheTestsKnow) {
  std::vector<std::string> names;
  for (const auto& c : export_reference().cases) names.push_back(c.name);
  EXPECT_EQ(names, kCases);
}

class ExportParity : public ::testing::TestWithParam<std::string> {};

TEST_P(ExportParity, MatchesTheTorchReferenceOnPaddedBatches) {
  const auto* c = find_case(GetParam());
  ASSERT_NE(c, nullptr) << GetParam();
  TempDir tmp;
  auto out = tmp / "model.onnx";
  auto result = export_checkpoint(export_reference().root / c->name, out);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->outputs, c->outputs);
  EXPECT_EQ(result->opset, kDefaultExportOpset);
  expect_parity(out, *c, export_reference().root / c->name);
}

INSTANTIATE_TEST_SUITE_P(Cases, ExportParity, ::testing::ValuesIn(kCases),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

// Reduce ops take their axes as an input from opset 18 on; the pooling graphs use them. The highest
// opset the exporter accepts runs too.
TEST(Export, LaterOpsetsMatchTheReference) {
  for (int opset : {18, kMaxExportOpset})
    for (const std::string name : {"st-max", "st-mean-normalize", "bert-mc", "mpnet-qa", "albert-mlm"}) {
      SCOPED_TRACE(name + " opset " + std::to_string(opset));
      const auto* c = find_case(name);
      ASSERT_NE(c, nullptr);
      TempDir tmp;
      auto result = export_checkpoint(export_reference().root / name, tmp / "m.onnx", opset);
      ASSERT_TRUE(result.ok()) << result.error().message;
      EXPECT_EQ(result->opset, opset);
      expect_parity(tmp / "m.onnx", *c, export_reference().root / name);
    }
}

TEST(Export, RecordsWhatTheManifestNeeds) {
  TempDir tmp;
  auto result = export_checkpoint(export_reference().root / "bert-bf16", tmp / "m.onnx");
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->exporter_version, std::string(kExporterVersion));
  EXPECT_EQ(result->family, "bert");
  EXPECT_EQ(result->head, "sequence-classification");
  EXPECT_EQ(result->model_class, "BertForSequenceClassification");
  EXPECT_EQ(result->task, "text-classification");
  ASSERT_EQ(result->source_weights.files, std::vector<std::string>{"model.safetensors"});
  std::set<std::string> dtypes;
  for (const auto& d : result->source_weights.dtypes) dtypes.insert(d.dtype);
  EXPECT_EQ(dtypes, (std::set<std::string>{"BF16", "I64"}));  // I64: the position_ids buffer, not read
  EXPECT_FALSE(result->external_data);
  EXPECT_EQ(result->onnx_bytes, fs::file_size(tmp / "m.onnx"));
  auto json = export_result_json(*result);
  EXPECT_THAT(json, ::testing::HasSubstr("\"head\": \"sequence-classification\""));
}

TEST(Export, FolderOutputHoldsTheModelAndTheCheckpointFiles) {
  TempDir tmp;
  auto out = tmp / "exported";
  auto result = export_checkpoint(export_reference().root / "roberta-qa", out);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_TRUE(fs::is_regular_file(out / "model.onnx"));
  EXPECT_EQ(test::read_text(out / "config.json"), test::read_text(export_reference().root / "roberta-qa" / "config.json"));
  EXPECT_TRUE(fs::is_regular_file(out / "vocab.txt"));
  EXPECT_EQ(result->copied_files, (std::vector<std::string>{"config.json", "vocab.txt"}));
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(tmp.path())) left.push_back(e.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{"exported"});  // no temporary folder left behind
  // Again without force: refused, the first export untouched.
  auto again = export_checkpoint(export_reference().root / "roberta-qa", out);
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.error().message, ::testing::HasSubstr("exists; pass --force"));
  expect_parity(out / "model.onnx", *find_case("roberta-qa"), export_reference().root / "roberta-qa");
}

TEST(Export, FindsACheckpointInTheHuggingFaceCacheByModelId) {
  TempDir hub;
  auto snapshot = test::make_cache_snapshot(hub.path(), "tiny-org/tiny-bert-qa");
  // As the hub lays files out: snapshot entries are symlinks into blobs/.
  auto blobs = snapshot.parent_path().parent_path() / "blobs";
  fs::create_directories(blobs);
  for (const auto& e : fs::directory_iterator(export_reference().root / "bert-qa")) {
    if (e.is_directory()) continue;
    auto blob = blobs / ("blob-" + e.path().filename().string());
    fs::copy_file(e.path(), blob);
    fs::create_symlink(fs::relative(blob, snapshot), snapshot / e.path().filename());
  }
  TempDir tmp;
  auto result = export_checkpoint("tiny-org/tiny-bert-qa", tmp / "m.onnx", kDefaultExportOpset, CacheLocation{hub.path()});
  ASSERT_TRUE(result.ok()) << result.error().message;
  expect_parity(tmp / "m.onnx", *find_case("bert-qa"), export_reference().root / "bert-qa");
}

TEST(Export, RandomWeightsAreSeededAndFollowTheConfig) {
  TempDir tmp;
  auto export_random = [&](std::uint64_t seed, const std::string& name) {
    ModelSpec spec;
    spec.model = (export_reference().root / "bert-mlm" / "config.json").string();
    auto model = resolve_model(spec, {});
    EXPECT_TRUE(model.ok());
    ExportRequest request;
    request.model = std::move(*model);
    request.output = tmp / name;
    request.random_weights = true;
    request.seed = seed;
    auto r = export_model(request);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return test::read_text(tmp / name);
  };
  auto a = export_random(7, "a.onnx"), b = export_random(7, "b.onnx"), c = export_random(8, "c.onnx");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  auto session = runtime::Session::open(tmp / "a.onnx");
  ASSERT_TRUE(session.ok()) << session.error().message;
  ASSERT_EQ(session->outputs().size(), 1u);
  EXPECT_EQ(session->outputs()[0].name, "logits");
}

}  // namespace
}  // namespace modelkit
