// The vision exporter (ViT, DeiT, DINOv2, CLIP vision tower) against plain torch modules written
// from transformers' modeling files (scripts/test_models/export_reference.py, vision section), on
// random-weight checkpoints with transformers' parameter names and batches of 1 and 3 images; plus
// the input size rules, the real configs of these families with random weights, and refusals.
#include <modelkit/export.hpp>
#include <modelkit/runtime.hpp>

#include "export/vision_families.hpp"
#include "export_reference.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <simdjson.h>

#include <cmath>
#include <fstream>
#include <map>
#include <regex>

namespace modelkit {
namespace {

namespace fs = std::filesystem;
using test::export_reference;
using test::TempDir;

// float32 graphs against float32 torch: the sums run in a different order, nothing more.

const std::vector<std::string> kVisionCases = {
    "clip-vision-base", "clip-vision-proj", "deit-base",  "deit-imgcls", "deit-teacher",       "dinov2-base",
    "dinov2-imgcls",    "dinov2-native",    "vit-base",   "vit-imgcls",  "vit-noqkvbias-bf16", "convnext-base",
    "convnext-imgcls",  "resnet-basic",     "resnet-bottleneck", "clip-model",  "clip-text-base",     "clip-text-proj",
    "mobilenet_v2-base", "mobilenet_v2-imgcls", "mobilenet_v2-stride16", "beit-base", "beit-both-bias", "beit-imgcls",
    "swin-abs", "swin-base", "swin-imgcls-pad",
    "siglip-imgcls",    "siglip-model",     "siglip-text",       "siglip-vision", "siglip-vision-nohead",
};

const test::ReferenceCase* find_case(const std::string& name) {
  return test::find_reference_case(export_reference().vision_cases, name);
}

// Runs the exported model on the case's reference batches (1 and 3 images).
void expect_parity(const fs::path& model_path, const test::ReferenceCase& c, const fs::path& case_dir) {
  int batches = 0;
  test::expect_reference_parity(model_path, c, case_dir, batches);
  EXPECT_EQ(batches, 2) << c.name;
}

Result<ExportResult> export_checkpoint(const fs::path& folder, const fs::path& out, int opset = kDefaultExportOpset,
                                       std::optional<std::array<std::int64_t, 2>> size = std::nullopt) {
  ModelSpec spec;
  spec.model = folder.string();
  // A CLIPModel checkpoint resolves to its text tower for feature-extraction; the whole model is zero-shot.
  if (folder.filename() == "clip-model") spec.task = "zero-shot-image-classification";
  if (folder.filename() == "siglip-model") spec.task = "zero-shot-image-classification";
  MODELKIT_TRY(auto model, resolve_model(spec, {}));
  ExportRequest request;
  request.model = std::move(model);
  request.output = out;
  request.opset = opset;
  request.image_size = size;
  return export_model(request);
}

TEST(ExportVisionReference, ListsEveryCaseTheTestsKnow) {
  std::vector<std::string> names;
  for (const auto& c : export_reference().vision_cases) names.push_back(c.name);
  EXPECT_EQ(names, kVisionCases);
}

class ExportVisionParity : public ::testing::TestWithParam<std::string> {};

TEST_P(ExportVisionParity, MatchesTheTorchReference) {
  const auto* c = find_case(GetParam());
  ASSERT_NE(c, nullptr) << GetParam();
  TempDir tmp;
  auto result = export_checkpoint(export_reference().root / c->name, tmp / "model.onnx");
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->outputs, c->outputs);
  EXPECT_EQ(result->inputs, c->inputs);
  expect_parity(tmp / "model.onnx", *c, export_reference().root / c->name);
}

INSTANTIATE_TEST_SUITE_P(Cases, ExportVisionParity, ::testing::ValuesIn(kVisionCases), [](const auto& info) {
  std::string n = info.param;
  for (auto& ch : n)
    if (ch == '-') ch = '_';
  return n;
});

// ReduceMean (DINOv2's classifier) takes its axes as an input from opset 18.
TEST(ExportVision, LaterOpsetsMatchTheReference) {
  for (int opset : {18, kMaxExportOpset}) {
    SCOPED_TRACE(opset);
    TempDir tmp;
    auto result = export_checkpoint(export_reference().root / "dinov2-imgcls", tmp / "m.onnx", opset);
    ASSERT_TRUE(result.ok()) << result.error().message;
    expect_parity(tmp / "m.onnx", *find_case("dinov2-imgcls"), export_reference().root / "dinov2-imgcls");
  }
}

TEST(ExportVision, RecordsFamilyHeadAndTheStaticImageSize) {
  TempDir tmp;
  auto result = export_checkpoint(export_reference().root / "deit-teacher", tmp / "m.onnx");
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->family, "deit");
  EXPECT_EQ(result->head, "image-classification-with-teacher");
  EXPECT_EQ(result->model_class, "DeiTForImageClassificationWithTeacher");
  EXPECT_EQ(result->task, "image-classification");
  auto session = runtime::Session::open(tmp / "m.onnx");
  ASSERT_TRUE(session.ok()) << session.error().message;
  const auto& in = session->inputs()[0];
  ASSERT_EQ(in.shape.size(), 4u);
  EXPECT_EQ(in.symbols[0], "batch_size");
  EXPECT_EQ(in.shape[1], 3);
  EXPECT_EQ(in.shape[2], 32);
  EXPECT_EQ(in.shape[3], 32);
}

TEST(ExportVision, SupportAndClassListsNameTheVisionFamilies) {
  ModelSpec spec;
  spec.model = (export_reference().root / "clip-vision-proj").string();
  auto model = resolve_model(spec, {});
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto support = export_support(*model);
  ASSERT_TRUE(support.ok()) << support.error().message;
  EXPECT_EQ(support->family, "clip_vision_model");
  EXPECT_EQ(support->head, "with-projection");
  auto classes = supported_export_classes();
  for (const char* c : {"ViTForImageClassification", "DeiTForImageClassificationWithTeacher", "Dinov2Model",
                        "CLIPVisionModelWithProjection"})
    EXPECT_NE(std::find(classes.begin(), classes.end(), c), classes.end()) << c;
}

// An explicit size beats the processor's: DINOv2 re-interpolates its position embeddings to it.
TEST(ExportVision, AnExplicitSizeOverridesTheProcessor) {
  TempDir tmp;
  auto result = export_checkpoint(export_reference().root / "dinov2-base", tmp / "m.onnx", kDefaultExportOpset,
                                  std::array<std::int64_t, 2>{48, 16});
  ASSERT_TRUE(result.ok()) << result.error().message;
  auto session = runtime::Session::open(tmp / "m.onnx");
  ASSERT_TRUE(session.ok()) << session.error().message;
  EXPECT_EQ(session->inputs()[0].shape[2], 48);
  EXPECT_EQ(session->inputs()[0].shape[3], 16);
  std::vector<Tensor> inputs = {
      Tensor::from_values<float>("pixel_values", {1, 3, 48, 16}, std::vector<float>(3 * 48 * 16, 0.25f))};
  auto out = session->run(inputs);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ((*out)[0].shape, (std::vector<std::int64_t>{1, 1 + 6 * 2, 32}));
}

// ViT does not interpolate: another size is refused, naming where it came from.
TEST(ExportVision, ASizeViTCannotTakeIsRefused) {
  TempDir tmp;
  auto result = export_checkpoint(export_reference().root / "vit-imgcls", tmp / "m.onnx", kDefaultExportOpset,
                                  std::array<std::int64_t, 2>{64, 64});
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message, ::testing::HasSubstr("64x64"));
  EXPECT_THAT(result.error().message, ::testing::HasSubstr("image_size 32"));
  EXPECT_FALSE(fs::exists(tmp / "m.onnx"));
}

TEST(ExportVision, MissingOrMisShapedTensorsAreNamed) {
  // DINOv2 at another size reads its position table through the interpolation: still checked by name.
  TempDir folder;
  const auto src = export_reference().root / "dinov2-base";
  fs::copy_file(src / "config.json", folder / "config.json");
  fs::copy_file(src / "preprocessor_config.json", folder / "preprocessor_config.json");
  auto config = test::read_text(src / "config.json");
  // A 5x5 grid in config.json: the stored 6x6 table no longer fits.
  test::write_file(folder / "config.json", std::regex_replace(config, std::regex("\"image_size\": 48"), "\"image_size\": 40"));
  fs::copy_file(src / "model.safetensors", folder / "model.safetensors");
  TempDir tmp;
  auto result = export_checkpoint(folder.path(), tmp / "m.onnx");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message,
              ::testing::HasSubstr("tensor 'embeddings.position_embeddings' has shape [1, 37, 32], config.json calls "
                                   "for [1, 26, 32]"));
}

TEST(ExportVision, BicubicResizeIsTheIdentityAtTheSameSizeAndKeepsConstants) {
  std::vector<float> plane(2 * 4 * 5);
  for (std::size_t i = 0; i < plane.size(); ++i) plane[i] = static_cast<float>(i % 7) - 3.0f;
  EXPECT_EQ(exporter::resize_bicubic(plane, 2, 4, 5, 4, 5), plane);
  // Cubic weights sum to one: a constant plane stays constant at any size.
  auto out = exporter::resize_bicubic(std::vector<float>(16, 2.5f), 1, 4, 4, 7, 3);
  ASSERT_EQ(out.size(), 21u);
  for (float x : out) EXPECT_NEAR(x, 2.5f, 1e-6f);
}

// --- the real configs of these families --------------------------------------------------

// The config with its widths replaced (text edit of the numbers, the rest byte for byte).
std::string shrink(std::string text) {
  for (auto [key, value] : std::map<std::string, std::string>{{"hidden_size", "32"},
                                                               {"num_hidden_layers", "2"},
                                                               {"num_attention_heads", "4"},
                                                               {"intermediate_size", "37"},
                                                               {"projection_dim", "24"}})
    text = std::regex_replace(text, std::regex("\"" + key + "\"\\s*:\\s*[0-9]+"), "\"" + key + "\": " + value);
  // ConvNeXt's four stage widths (the depths are kept).
  return std::regex_replace(text, std::regex("\"hidden_sizes\"\\s*:\\s*\\[[^\\]]*\\]"),
                            "\"hidden_sizes\": [8, 16, 24, 32]");
}

TEST(ExportVisionConfigs, EveryFamilyConfigExportsWithRandomWeightsAndRuns) {
  int exported = 0;
  for (const auto& e : fs::directory_iterator(test::data_dir() / "configs")) {
    if (e.path().extension() != ".json") continue;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.load(e.path().string()).get(doc) != simdjson::SUCCESS) continue;
    std::string_view type;
    if (doc["model_type"].get_string().get(type) != simdjson::SUCCESS || !exporter::find_vision_family(type)) continue;
    std::string_view architecture;
    if (type == "clip" && (doc["architectures"].at(0).get_string().get(architecture) != simdjson::SUCCESS ||
                           architecture != "CLIPModel"))
      continue;  // e.g. a safety checker built on CLIP: another model
    SCOPED_TRACE(e.path().filename().string());
    TempDir folder;
    test::write_file(folder / "config.json", shrink(test::read_text(e.path())));
    ModelSpec spec;
    spec.model = folder.path().string();
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
    auto session = runtime::Session::open(tmp / "m.onnx");
    ASSERT_TRUE(session.ok()) << session.error().message;
    std::vector<Tensor> inputs;
    for (const auto& in : session->inputs()) {
      if (in.name != "pixel_values") {  // CLIPModel's text: two texts of 5 tokens, the last padded
        std::vector<std::int64_t> v = {5, 6, 7, 8, 9, 10, 11, 12, 13, 13};
        if (in.name == "attention_mask") v = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
        inputs.push_back(Tensor::from_values<std::int64_t>(in.name, {2, 5}, v));
        continue;
      }
      ASSERT_EQ(in.shape.size(), 4u);
      std::vector<std::int64_t> shape = {2, in.shape[1], in.shape[2], in.shape[3]};
      std::vector<float> pixels(static_cast<std::size_t>(2 * in.shape[1] * in.shape[2] * in.shape[3]));
      for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>(i % 17) / 8.0f - 1.0f;
      inputs.push_back(Tensor::from_values<float>("pixel_values", shape, pixels));
    }
    auto ran = session->run(inputs);
    ASSERT_TRUE(ran.ok()) << ran.error().message;
    std::vector<std::string> names;
    for (const auto& t : *ran) {
      names.push_back(t.name);
      EXPECT_EQ(t.shape[0], 2) << t.name;
      for (float x : t.values<float>()) ASSERT_TRUE(std::isfinite(x)) << t.name;
    }
    if (task == "image-classification") EXPECT_EQ(names, std::vector<std::string>{"logits"});
    else if (type == "clip") EXPECT_EQ(names.front(), result->head == "contrastive" ? "logits_per_image" : "text_embeds");
    else if (type == "siglip" && result->head == "contrastive") EXPECT_EQ(names.front(), "logits_per_image");
    else if (result->head == "with-projection")
      EXPECT_EQ(names.front(), type == "clip_text_model" ? "text_embeds" : "image_embeds");
    else EXPECT_EQ(names.front(), "last_hidden_state") << task;
    ++exported;
  }
  EXPECT_GE(exported, 10);  // four ViT, a DINOv2, a CLIP vision tower, a CLIPModel, a ConvNeXt, a ResNet, a SigLIP
}

// CLIPVisionModelWithProjection from a CLIPModel checkpoint (image-feature-extraction): the vision
// tower alone, from vision_config and CLIPConfig's projection_dim. Its image_embeds are the
// projection before CLIPModel normalises it, so normalised they match the CLIPModel reference's.
TEST(ExportVision, TheVisionTowerOfACLIPModelCheckpointMatchesItsImageEmbeds) {
  const auto* c = find_case("clip-model");
  ASSERT_NE(c, nullptr);
  const fs::path folder = export_reference().root / "clip-model";
  ModelSpec spec;
  spec.model = folder.string();
  spec.task = "image-feature-extraction";
  auto model = resolve_model(spec, {});
  ASSERT_TRUE(model.ok()) << model.error().message;
  EXPECT_EQ(model->resolution.model_class.value_or(""), "CLIPVisionModelWithProjection");
  TempDir tmp;
  ExportRequest request;
  request.model = std::move(*model);
  request.output = tmp / "m.onnx";
  auto result = export_model(request);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->inputs, std::vector<std::string>{"pixel_values"});
  EXPECT_EQ(result->outputs, (std::vector<std::string>{"image_embeds", "last_hidden_state"}));
  auto session = runtime::Session::open(tmp / "m.onnx");
  ASSERT_TRUE(session.ok()) << session.error().message;
  int batches = 0;
  for (const auto& batch : fs::directory_iterator(folder / "reference")) {
    ++batches;
    auto pixels = test::read_reference_array(batch.path() / "pixel_values.bin", "pixel_values");
    auto want = test::read_reference_array(batch.path() / "image_embeds.bin", "image_embeds");
    std::vector<Tensor> inputs{pixels};
    const std::vector<std::string> wanted{"image_embeds"};
    auto ran = session->run(inputs, wanted);
    ASSERT_TRUE(ran.ok()) << ran.error().message;
    Tensor got = (*ran)[0];
    ASSERT_EQ(got.shape, want.shape);
    const std::int64_t rows = got.shape[0], cols = got.shape[1];
    std::vector<float> normalised(static_cast<std::size_t>(rows * cols));
    auto g = got.values<float>();
    for (std::int64_t r = 0; r < rows; ++r) {
      double norm = 0;
      for (std::int64_t k = 0; k < cols; ++k) norm += double(g[r * cols + k]) * g[r * cols + k];
      norm = std::sqrt(norm);
      ASSERT_GT(norm, 0.0);
      for (std::int64_t k = 0; k < cols; ++k)
        normalised[static_cast<std::size_t>(r * cols + k)] = static_cast<float>(g[r * cols + k] / norm);
    }
    EXPECT_LE(test::max_abs_error(Tensor::from_values<float>("image_embeds", got.shape, normalised), want),
              test::kExportParityTolerance)
        << batch.path().filename();
  }
  EXPECT_EQ(batches, 2);
}

}  // namespace
}  // namespace modelkit
