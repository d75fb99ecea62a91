// Swin-specific exporter checks (the parity cases swin-base, swin-imgcls-pad and swin-abs run in
// export_vision_test.cpp): the real swin-tiny geometry with random weights, the sizes transformers'
// Swin cannot run, and the absolute position table one row too long.
#include <modelkit/export.hpp>
#include <modelkit/runtime.hpp>

#include "export_reference.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>

namespace modelkit {
namespace {

namespace fs = std::filesystem;
using test::export_reference;
using test::TempDir;

Result<ExportResult> export_folder(const fs::path& folder, const fs::path& out, bool random_weights = false,
                                   std::optional<std::array<std::int64_t, 2>> size = std::nullopt) {
  ModelSpec spec;
  spec.model = folder.string();
  MODELKIT_TRY(auto model, resolve_model(spec, {}));
  ExportRequest request;
  request.model = std::move(model);
  request.output = out;
  request.random_weights = random_weights;
  request.image_size = size;
  return export_model(request);
}

// microsoft/swin-tiny-patch4-window7-224's config.json with the widths divided by 4 (24, 48, 96, 192;
// heads 3, 6, 12, 24 as released): 224x224 gives 56, 28, 14 and 7 = the window in the last stage.
constexpr const char* kSwinTinyConfig = R"({
  "architectures": ["SwinForImageClassification"], "attention_probs_dropout_prob": 0.0, "depths": [2, 2, 6, 2],
  "drop_path_rate": 0.1, "embed_dim": 24, "encoder_stride": 32, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
  "hidden_size": 192, "id2label": {"0": "tench", "1": "goldfish", "2": "great white shark"}, "image_size": 224,
  "initializer_range": 0.02, "layer_norm_eps": 1e-05, "mlp_ratio": 4.0, "model_type": "swin",
  "num_channels": 3, "num_heads": [3, 6, 12, 24], "num_layers": 4, "patch_size": 4, "path_norm": true,
  "qkv_bias": true, "use_absolute_embeddings": false, "window_size": 7
})";

TEST(ExportSwin, TheSwinTinyGeometryExportsWithRandomWeightsAndRuns) {
  TempDir folder, tmp;
  test::write_file(folder / "config.json", kSwinTinyConfig);
  auto result = export_folder(folder.path(), tmp / "m.onnx", true);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->family, "swin");
  EXPECT_EQ(result->head, "image-classification");
  auto session = runtime::Session::open(tmp / "m.onnx");
  ASSERT_TRUE(session.ok()) << session.error().message;
  ASSERT_EQ(session->inputs().size(), 1u);
  const auto& in = session->inputs()[0];
  ASSERT_EQ(in.shape.size(), 4u);
  EXPECT_EQ(in.symbols[0], "batch_size");
  EXPECT_EQ(in.shape[2], 224);
  EXPECT_EQ(in.shape[3], 224);
  std::vector<float> pixels(2 * 3 * 224 * 224);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>(i % 23) / 11.0f - 1.0f;
  std::vector<Tensor> inputs = {Tensor::from_values<float>("pixel_values", {2, 3, 224, 224}, pixels)};
  auto ran = session->run(inputs);
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  ASSERT_EQ(ran->size(), 1u);
  const Tensor& logits = (*ran)[0];
  EXPECT_EQ(logits.name, "logits");
  EXPECT_EQ(logits.shape, (std::vector<std::int64_t>{2, 3}));
  for (float x : logits.values<float>()) EXPECT_TRUE(std::isfinite(x));
}

// At 24x24, swin-base's second stage is 3x3: transformers would shrink the window to 3 and fail to add
// its 4x4 window's bias. Refused, naming the size, the stage and the window.
TEST(ExportSwin, AStageSmallerThanTheWindowIsRefused) {
  TempDir tmp;
  auto result = export_folder(export_reference().root / "swin-base", tmp / "m.onnx", false,
                              std::array<std::int64_t, 2>{24, 24});
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message, ::testing::HasSubstr("24x24 (from --input-shape) gives stage 1 a 3x3 grid"));
  EXPECT_THAT(result.error().message, ::testing::HasSubstr("window_size 4"));
  EXPECT_FALSE(fs::exists(tmp / "m.onnx"));
}

// Without position embeddings another size is fine: 40x48 -> 10x12 then 5x6 patches.
TEST(ExportSwin, AnotherSizeExportsWhenNothingIsTiedToTheSize) {
  TempDir tmp;
  auto result = export_folder(export_reference().root / "swin-base", tmp / "m.onnx", false,
                              std::array<std::int64_t, 2>{40, 48});
  ASSERT_TRUE(result.ok()) << result.error().message;
  auto session = runtime::Session::open(tmp / "m.onnx");
  ASSERT_TRUE(session.ok()) << session.error().message;
  std::vector<Tensor> inputs = {
      Tensor::from_values<float>("pixel_values", {1, 3, 40, 48}, std::vector<float>(40 * 48 * 3, 0.5f))};
  auto ran = session->run(inputs);
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  EXPECT_EQ((*ran)[0].shape, (std::vector<std::int64_t>{1, 30, 32}));
  // With absolute position embeddings the token count is tied to config.json's image_size.
  auto tied = export_folder(export_reference().root / "swin-abs", tmp / "a.onnx", false,
                            std::array<std::int64_t, 2>{40, 40});
  ASSERT_FALSE(tied.ok());
  EXPECT_THAT(tied.error().message, ::testing::HasSubstr("does not interpolate"));
}

// A safetensors file of float32 tensors filled with 0.5.
void write_safetensors(const fs::path& path, const std::vector<std::pair<std::string, std::vector<std::int64_t>>>& tensors) {
  std::string header = "{", data;
  for (const auto& [name, shape] : tensors) {
    std::size_t count = 1;
    std::string dims;
    for (auto d : shape) {
      count *= static_cast<std::size_t>(d);
      dims += (dims.empty() ? "" : ",") + std::to_string(d);
    }
    const auto begin = data.size();
    std::vector<float> values(count, 0.5f);
    data.append(reinterpret_cast<const char*>(values.data()), count * 4);
    header += (header.size() > 1 ? "," : "") + std::string("\"") + name + "\":{\"dtype\":\"F32\",\"shape\":[" + dims +
              "],\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(data.size()) + "]}";
  }
  header += "}";
  while (header.size() % 8) header += ' ';
  std::ofstream out(path, std::ios::binary);
  const std::uint64_t n = header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header << data;
}

// transformers sizes the table [1, patches + 1, C] and then cannot add it to the patches.
TEST(ExportSwin, ATransformersShapedPositionTableIsRefusedByName) {
  TempDir folder, tmp;
  fs::copy_file(export_reference().root / "swin-abs" / "config.json", folder / "config.json");
  write_safetensors(folder / "model.safetensors", {{"swin.embeddings.patch_embeddings.projection.weight", {8, 3, 2, 2}},
                                                   {"swin.embeddings.position_embeddings", {1, 257, 8}}});
  auto result = export_folder(folder.path(), tmp / "m.onnx");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message,
              ::testing::HasSubstr("tensor 'swin.embeddings.position_embeddings' has shape [1, 257, 8]: one row more "
                                   "than the 256 patches"));
  EXPECT_FALSE(fs::exists(tmp / "m.onnx"));
}

// With random weights the position table takes the one-row-per-patch shape the exporter reads.
TEST(ExportSwin, AbsolutePositionsExportWithRandomWeights) {
  TempDir folder, tmp;
  fs::copy_file(export_reference().root / "swin-abs" / "config.json", folder / "config.json");
  auto result = export_folder(folder.path(), tmp / "m.onnx", true);
  ASSERT_TRUE(result.ok()) << result.error().message;
  auto session = runtime::Session::open(tmp / "m.onnx");
  ASSERT_TRUE(session.ok()) << session.error().message;
  std::vector<Tensor> inputs = {
      Tensor::from_values<float>("pixel_values", {2, 3, 32, 32}, std::vector<float>(2 * 3 * 32 * 32, 0.25f))};
  auto ran = session->run(inputs);
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  EXPECT_EQ((*ran)[0].shape, (std::vector<std::int64_t>{2, 3}));
}

// Pad and ReduceMean changed form across opsets (ReduceMean's axes became an input at 18).
TEST(ExportSwin, LaterOpsetsMatchTheReference) {
  const auto* c = test::find_reference_case(export_reference().vision_cases, "swin-imgcls-pad");
  ASSERT_NE(c, nullptr);
  for (int opset : {18, kMaxExportOpset}) {
    SCOPED_TRACE(opset);
    TempDir tmp;
    ModelSpec spec;
    spec.model = (export_reference().root / c->name).string();
    auto model = resolve_model(spec, {});
    ASSERT_TRUE(model.ok()) << model.error().message;
    ExportRequest request;
    request.model = std::move(*model);
    request.output = tmp / "m.onnx";
    request.opset = opset;
    auto result = export_model(request);
    ASSERT_TRUE(result.ok()) << result.error().message;
    int batches = 0;
    test::expect_reference_parity(tmp / "m.onnx", *c, export_reference().root / c->name, batches);
    EXPECT_EQ(batches, 2);
  }
}

TEST(ExportSwin, SupportNamesTheFamilyAndHead) {
  ModelSpec spec;
  spec.model = (export_reference().root / "swin-base").string();
  auto model = resolve_model(spec, {});
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto support = export_support(*model);
  ASSERT_TRUE(support.ok()) << support.error().message;
  EXPECT_EQ(support->family, "swin");
  EXPECT_EQ(support->head, "base");
}

}  // namespace
}  // namespace modelkit
