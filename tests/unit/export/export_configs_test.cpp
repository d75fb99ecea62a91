// Every real config.json under tests/data/configs of an exporter family exports with random
// weights and runs in ONNX Runtime with its task's outputs. The widths are shrunk (hidden 32,
// 2 layers) to keep the suite fast; everything else of the config (vocabulary, positions, token
// types, activation, epsilon, labels, architecture) is kept. One small config runs at full size.
// Plus the writer's external-data path and the streamed layout, checked on the reference models.
#include <modelkit/export.hpp>
#include <modelkit/runtime.hpp>

#include "export/families.hpp"
#include "export_reference.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <simdjson.h>

#include <cmath>
#include <map>
#include <regex>

namespace modelkit {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

struct ConfigFile {
  fs::path path;
  std::string model_type;
};

std::vector<ConfigFile> family_configs() {
  std::vector<ConfigFile> out;
  for (const auto& e : fs::directory_iterator(test::data_dir() / "configs")) {
    if (e.path().extension() != ".json") continue;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.load(e.path().string()).get(doc) != simdjson::SUCCESS) continue;
    std::string_view type;
    if (doc["model_type"].get_string().get(type) != simdjson::SUCCESS) continue;
    if (exporter::find_family(type)) out.push_back({e.path(), std::string(type)});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return out;
}

// The config with its widths replaced (text edit of the numbers, the rest byte for byte).
std::string shrink(std::string text) {
  for (auto [key, value] : std::map<std::string, std::string>{{"hidden_size", "32"},
                                                               {"num_hidden_layers", "2"},
                                                               {"num_attention_heads", "4"},
                                                               {"intermediate_size", "37"},
                                                               {"embedding_size", "16"},
                                                               {"attention_head_size", "8"},
                                                               {"pooler_hidden_size", "32"},
                                                               {"dim", "32"},
                                                               {"n_layers", "2"},
                                                               {"n_heads", "4"},
                                                               {"hidden_dim", "37"}})
    text = std::regex_replace(text, std::regex("\"" + key + "\"\\s*:\\s*[0-9]+"), "\"" + key + "\": " + value);
  return text;
}

// Expected outputs per task, as optimum names them.
std::vector<std::string> task_outputs(const std::string& task, bool has_pooler) {
  if (task == "feature-extraction")
    return has_pooler ? std::vector<std::string>{"last_hidden_state", "pooler_output"}
                      : std::vector<std::string>{"last_hidden_state"};
  if (task == "question-answering") return {"start_logits", "end_logits"};
  return {"logits"};
}

void export_and_run(const fs::path& folder, const std::string& model_type, std::string* what) {
  ModelSpec spec;
  spec.model = folder.string();
  auto model = resolve_model(spec, {});
  ASSERT_TRUE(model.ok()) << model.error().message;
  const auto task = model->resolution.task.value_or("");
  TempDir tmp;
  ExportRequest request;
  request.model = std::move(*model);
  request.output = tmp / "m.onnx";
  request.random_weights = true;
  auto result = export_model(request);
  ASSERT_TRUE(result.ok()) << result.error().message;
  *what = result->model_class;
  auto session = runtime::Session::open(tmp / "m.onnx");
  ASSERT_TRUE(session.ok()) << session.error().message;
  std::vector<std::string> outputs;
  for (const auto& o : session->outputs()) outputs.push_back(o.name);
  EXPECT_EQ(outputs, task_outputs(task, exporter::find_family(model_type)->pooler_in_base)) << task;
  // A padded batch of 2 x 6 with ids inside the vocabulary.
  std::vector<Tensor> inputs;
  for (const auto& in : session->inputs()) {
    std::vector<std::int64_t> v = {5, 6, 7, 8, 9, 10, 11, 12, 13, 1, 1, 1};
    if (in.name == "attention_mask") v = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0};
    if (in.name == "token_type_ids") v = {0, 0, 0, 1, 1, 1, 0, 0, 1, 0, 0, 0};
    inputs.push_back(Tensor::from_values<std::int64_t>(in.name, {2, 6}, v));
  }
  auto ran = session->run(inputs);
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  for (const auto& t : *ran) {
    EXPECT_EQ(t.shape[0], 2) << t.name;
    for (float x : t.values<float>()) ASSERT_TRUE(std::isfinite(x)) << t.name;
  }
}

TEST(ExportConfigs, EveryFamilyConfigExportsWithRandomWeightsAndRuns) {
  auto configs = family_configs();
  ASSERT_GE(configs.size(), 10u);  // the set has a dozen and more BERT-family configs
  for (const auto& c : configs) {
    SCOPED_TRACE(c.path.filename().string());
    TempDir folder;
    test::write_file(folder / "config.json", shrink(test::read_text(c.path)));
    std::string exported;
    export_and_run(folder.path(), c.model_type, &exported);
  }
}

TEST(ExportConfigs, ARealConfigAtFullSize) {
  TempDir folder;
  fs::copy_file(test::data_dir() / "configs" / "sentence-transformers__all-MiniLM-L6-v2.json", folder / "config.json");
  std::string exported;
  export_and_run(folder.path(), "bert", &exported);
  EXPECT_EQ(exported, "BertModel");
}

// The external-data layout (used past 1.5 GiB of weights), forced on a tiny reference model.
TEST(ExportWriter, ExternalDataRunsLikeTheInlineModel) {
  const auto& ref = test::export_reference();
  auto folder = ref.root / "bert-base";
  exporter::GraphPlan plan;
  plan.family = exporter::find_family("bert");
  auto source = exporter::open_safetensors(folder);
  ASSERT_TRUE(source.ok()) << source.error().message;
  exporter::GraphBuilder g(17);
  ASSERT_TRUE(exporter::build_encoder(g, plan, test::read_text(folder / "config.json"), **source, nullptr).ok());
  auto& proto = g.model();
  proto.set_ir_version(8);
  proto.add_opset_import()->set_version(17);
  TempDir tmp;
  auto inline_stats = exporter::write_model(proto, g.weights(), **source, tmp / "inline.onnx");
  auto external_stats = exporter::write_model(proto, g.weights(), **source, tmp / "external.onnx", 0);
  ASSERT_TRUE(inline_stats.ok() && external_stats.ok());
  EXPECT_FALSE(inline_stats->external_data);
  EXPECT_TRUE(external_stats->external_data);
  EXPECT_TRUE(fs::exists(tmp / "external.onnx_data"));
  EXPECT_LT(fs::file_size(tmp / "external.onnx"), fs::file_size(tmp / "inline.onnx") / 4);
  auto a = runtime::Session::open(tmp / "inline.onnx");
  auto b = runtime::Session::open(tmp / "external.onnx");
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_TRUE(b.ok()) << b.error().message;
  std::vector<Tensor> inputs = {
      Tensor::from_values<std::int64_t>("input_ids", {1, 4}, std::vector<std::int64_t>{3, 4, 5, 6}),
      Tensor::from_values<std::int64_t>("attention_mask", {1, 4}, std::vector<std::int64_t>{1, 1, 1, 0}),
      Tensor::from_values<std::int64_t>("token_type_ids", {1, 4}, std::vector<std::int64_t>{0, 0, 1, 1})};
  auto ra = a->run(inputs), rb = b->run(inputs);
  ASSERT_TRUE(ra.ok() && rb.ok());
  ASSERT_EQ(ra->size(), rb->size());
  for (std::size_t i = 0; i < ra->size(); ++i) EXPECT_EQ((*ra)[i].bytes, (*rb)[i].bytes);
}

}  // namespace
}  // namespace modelkit
