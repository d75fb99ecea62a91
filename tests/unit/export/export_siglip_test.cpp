// SigLIP specifics beyond the parity cases (export_vision_test.cpp runs those against plain torch):
// optimum's I/O of SiglipModel (no attention_mask, separate image and text batch axes), which class
// each task resolves a SiglipModel checkpoint to, the size rule, refusals, and the real
// google/siglip-so400m-patch14-384 config (widths shrunk) as SiglipModel and as its vision tower.
#include <modelkit/export.hpp>
#include <modelkit/runtime.hpp>

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
using test::export_reference;
using test::TempDir;

Result<ExportResult> export_folder(const fs::path& folder, const fs::path& out, const std::string& task = "",
                                   std::optional<std::array<std::int64_t, 2>> size = std::nullopt,
                                   bool random_weights = false) {
  ModelSpec spec;
  spec.model = folder.string();
  if (!task.empty()) spec.task = task;
  MODELKIT_TRY(auto model, resolve_model(spec, {}));
  ExportRequest request;
  request.model = std::move(model);
  request.output = out;
  request.image_size = size;
  request.random_weights = random_weights;
  return export_model(request);
}

fs::path case_dir(const std::string& name) { return export_reference().root / name; }

TEST(ExportSiglip, ModelTakesIdsAndPixelsWithoutAMaskOnSeparateBatchAxes) {
  TempDir tmp;
  auto result = export_folder(case_dir("siglip-model"), tmp / "m.onnx", "zero-shot-image-classification");
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->family, "siglip");
  EXPECT_EQ(result->head, "contrastive");
  EXPECT_EQ(result->model_class, "SiglipModel");
  auto session = runtime::Session::open(tmp / "m.onnx");
  ASSERT_TRUE(session.ok()) << session.error().message;
  ASSERT_EQ(session->inputs().size(), 2u);
  EXPECT_EQ(session->inputs()[0].name, "input_ids");
  EXPECT_EQ(session->inputs()[0].symbols[0], "text_batch_size");
  EXPECT_EQ(session->inputs()[0].symbols[1], "sequence_length");
  EXPECT_EQ(session->inputs()[1].name, "pixel_values");
  EXPECT_EQ(session->inputs()[1].symbols[0], "image_batch_size");
  EXPECT_EQ(session->inputs()[1].shape[2], 32);  // the processor's size
  const auto& outs = session->outputs();
  ASSERT_EQ(outs.size(), 4u);
  EXPECT_EQ(outs[0].symbols[0], "image_batch_size");
  EXPECT_EQ(outs[0].symbols[1], "text_batch_size");
  EXPECT_EQ(outs[1].symbols[0], "text_batch_size");
}

// The resolver's class choices for a SiglipModel checkpoint: the text tower for feature-extraction,
// the vision tower for image-feature-extraction; the exporter builds each from its sub-config.
TEST(ExportSiglip, FeatureTasksExportTheTowersOfASiglipModelCheckpoint) {
  for (auto [task, cls, input] : std::vector<std::array<std::string, 3>>{
           {"feature-extraction", "SiglipTextModel", "input_ids"},
           {"image-feature-extraction", "SiglipVisionModel", "pixel_values"}}) {
    SCOPED_TRACE(task);
    TempDir tmp;
    auto result = export_folder(case_dir("siglip-model"), tmp / "m.onnx", task);
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ(result->model_class, cls);
    EXPECT_EQ(result->inputs, std::vector<std::string>{input});
    EXPECT_EQ(result->outputs, (std::vector<std::string>{"last_hidden_state", "pooler_output"}));
  }
}

// A SiglipTextConfig of its own (model_type siglip_text_model) builds the same text tower as the
// text_config of a SiglipModel: same weights, same reference outputs.
TEST(ExportSiglip, AStandaloneTextConfigMatchesTheReference) {
  const auto src = case_dir("siglip-text");
  simdjson::dom::parser parser;
  auto config = parser.load((src / "config.json").string());
  ASSERT_FALSE(config.error());
  std::string text = simdjson::to_string(config["text_config"].value());
  ASSERT_EQ(text.front(), '{');
  text.insert(1, "\"architectures\": [\"SiglipTextModel\"], ");
  TempDir folder, tmp;
  test::write_file(folder / "config.json", text);
  fs::copy_file(src / "model.safetensors", folder / "model.safetensors");
  auto result = export_folder(folder.path(), tmp / "m.onnx");
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->family, "siglip_text_model");
  const auto* c = test::find_reference_case(export_reference().vision_cases, "siglip-text");
  ASSERT_NE(c, nullptr);
  int batches = 0;
  test::expect_reference_parity(tmp / "m.onnx", *c, src, batches);
  EXPECT_EQ(batches, 2);
}

TEST(ExportSiglip, ASizeTheTowerCannotTakeIsRefused) {
  TempDir tmp;
  auto result = export_folder(case_dir("siglip-vision"), tmp / "m.onnx", "", std::array<std::int64_t, 2>{48, 48});
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message, ::testing::HasSubstr("48x48 (from --input-shape)"));
  EXPECT_THAT(result.error().message, ::testing::HasSubstr("image_size 32"));
  EXPECT_FALSE(fs::exists(tmp / "m.onnx"));

  auto text = export_folder(case_dir("siglip-text"), tmp / "t.onnx", "", std::array<std::int64_t, 2>{32, 32});
  ASSERT_FALSE(text.ok());
  EXPECT_THAT(text.error().message, ::testing::HasSubstr("SiglipTextModel takes no pixel_values"));
}

TEST(ExportSiglip, AMissingPoolingHeadTensorIsNamed) {
  TempDir folder;
  const auto src = case_dir("siglip-vision");
  fs::copy_file(src / "config.json", folder / "config.json");
  // The same weights, with the config asking for a wider MLP than the checkpoint's.
  auto config = test::read_text(src / "config.json");
  test::write_file(folder / "config.json",
                   std::regex_replace(config, std::regex("\"intermediate_size\": 37"), "\"intermediate_size\": 38"));
  fs::copy_file(src / "model.safetensors", folder / "model.safetensors");
  TempDir tmp;
  auto result = export_folder(folder.path(), tmp / "m.onnx");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message,
              ::testing::HasSubstr("tensor 'vision_model.encoder.layers.0.mlp.fc1.weight' has shape [37, 32], "
                                   "config.json calls for [38, 32]"));
}

// google/siglip-so400m-patch14-384 (hidden 1152, 27 layers, 384x384 at patch 14) with its widths
// shrunk and random weights: the 729-patch vision tower, vocab 32000 and 64 positions by default.
TEST(ExportSiglip, TheSo400mConfigExportsAsModelAndVisionTower) {
  auto text = test::read_text(test::data_dir() / "configs" / "google__siglip-so400m-patch14-384.json");
  for (auto [key, value] : std::map<std::string, std::string>{{"hidden_size", "32"},
                                                               {"num_hidden_layers", "2"},
                                                               {"num_attention_heads", "4"},
                                                               {"intermediate_size", "37"}})
    text = std::regex_replace(text, std::regex("\"" + key + "\"\\s*:\\s*[0-9]+"), "\"" + key + "\": " + value);
  TempDir folder;
  test::write_file(folder / "config.json", text);
  for (auto task : {"zero-shot-image-classification", "image-feature-extraction"}) {
    SCOPED_TRACE(task);
    TempDir tmp;
    auto result = export_folder(folder.path(), tmp / "m.onnx", task, std::nullopt, true);
    ASSERT_TRUE(result.ok()) << result.error().message;
    auto session = runtime::Session::open(tmp / "m.onnx");
    ASSERT_TRUE(session.ok()) << session.error().message;
    std::vector<Tensor> inputs;
    for (const auto& in : session->inputs()) {
      if (in.name == "input_ids") {  // three texts of 64 tokens (the default max_position_embeddings)
        std::vector<std::int64_t> ids(3 * 64);
        for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int64_t>((i * 7919) % 32000);
        inputs.push_back(Tensor::from_values<std::int64_t>("input_ids", {3, 64}, ids));
        continue;
      }
      ASSERT_EQ(in.shape, (std::vector<std::int64_t>{-1, 3, 384, 384}));
      std::vector<float> pixels(2 * 3 * 384 * 384);
      for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>(i % 23) / 11.0f - 1.0f;
      inputs.push_back(Tensor::from_values<float>("pixel_values", {2, 3, 384, 384}, pixels));
    }
    auto ran = session->run(inputs);
    ASSERT_TRUE(ran.ok()) << ran.error().message;
    for (const auto& t : *ran)
      for (float x : t.values<float>()) ASSERT_TRUE(std::isfinite(x)) << t.name;
    if (std::string(task) == "image-feature-extraction") {
      EXPECT_EQ((*ran)[0].shape, (std::vector<std::int64_t>{2, 27 * 27, 32}));
      EXPECT_EQ((*ran)[1].shape, (std::vector<std::int64_t>{2, 32}));
    } else {
      EXPECT_EQ((*ran)[0].name, "logits_per_image");
      EXPECT_EQ((*ran)[0].shape, (std::vector<std::int64_t>{2, 3}));
      // Normalised embeddings.
      auto embeds = (*ran)[3].values<float>();
      double norm = 0;
      for (std::size_t i = 0; i < 32; ++i) norm += double(embeds[i]) * embeds[i];
      EXPECT_NEAR(norm, 1.0, 1e-5);
    }
  }
}

}  // namespace
}  // namespace modelkit
