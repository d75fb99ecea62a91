// MobileNetV2 and BEiT beyond the shared parity cases (export_vision_test.cpp runs those): the
// static export size (MobileNetV2 at any size, its TF pads recomputed; BEiT only at its trained
// size), the relative position tables checked by name and shape through their export-time gather,
// and what `inspect`'s export check says for both families.
#include <modelkit/export.hpp>
#include <modelkit/runtime.hpp>

#include "export/vision_families.hpp"
#include "export_reference.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <regex>

namespace modelkit {
namespace {

namespace fs = std::filesystem;
using test::export_reference;
using test::TempDir;
using ::testing::HasSubstr;

Result<ExportResult> export_checkpoint(const fs::path& folder, const fs::path& out,
                                       std::optional<std::array<std::int64_t, 2>> size = std::nullopt) {
  ModelSpec spec;
  spec.model = folder.string();
  MODELKIT_TRY(auto model, resolve_model(spec, {}));
  ExportRequest request;
  request.model = std::move(model);
  request.output = out;
  request.image_size = size;
  return export_model(request);
}

// A copy of a reference case without its reference outputs, to edit.
fs::path copy_case(const TempDir& tmp, const std::string& name) {
  auto dst = tmp / name;
  fs::copy(export_reference().root / name, dst, fs::copy_options::recursive);
  fs::remove_all(dst / "reference");
  return dst;
}

TEST(ExportMobileNetV2, AnotherStaticSizeGetsItsOwnPadsAndRuns) {
  // 37x24 with TF padding: odd and even sides, so the stride-2 layers' pads differ per axis.
  TempDir tmp;
  auto result = export_checkpoint(export_reference().root / "mobilenet_v2-base", tmp / "m.onnx",
                                  std::array<std::int64_t, 2>{37, 24});
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->family, "mobilenet_v2");
  auto session = runtime::Session::open(tmp / "m.onnx");
  ASSERT_TRUE(session.ok()) << session.error().message;
  EXPECT_EQ(session->inputs()[0].shape[2], 37);
  EXPECT_EQ(session->inputs()[0].shape[3], 24);
  std::vector<float> pixels(2 * 3 * 37 * 24);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>(i % 13) / 6.0f - 1.0f;
  std::vector<Tensor> inputs = {Tensor::from_values<float>("pixel_values", {2, 3, 37, 24}, pixels)};
  auto out = session->run(inputs);
  ASSERT_TRUE(out.ok()) << out.error().message;
  // SAME padding: every stride-2 layer gives ceil(size / 2); five of them.
  EXPECT_EQ((*out)[0].shape, (std::vector<std::int64_t>{2, 1280, 2, 1}));
  EXPECT_EQ((*out)[1].shape, (std::vector<std::int64_t>{2, 1280}));
  for (float x : (*out)[1].template values<float>()) ASSERT_TRUE(std::isfinite(x));
}

TEST(ExportMobileNetV2, AMisShapedBatchNormIsNamed) {
  TempDir tmp;
  auto ck = copy_case(tmp, "mobilenet_v2-imgcls");
  // depth_multiplier 0.75 calls for other channel counts than the stored 0.5 weights.
  auto config = test::read_text(ck / "config.json");
  test::write_file(ck / "config.json",
                   std::regex_replace(config, std::regex("\"depth_multiplier\": 0.5"), "\"depth_multiplier\": 0.75"));
  auto result = export_checkpoint(ck, tmp / "m.onnx");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message,
              HasSubstr("tensor 'mobilenet_v2.conv_1x1.convolution.weight' has shape [640, 160, 1, 1], config.json "
                        "calls for [960, 240, 1, 1]"));
  EXPECT_FALSE(fs::exists(tmp / "m.onnx"));
}

TEST(ExportBeit, AnotherSizeIsRefusedNamingWhereItCameFrom) {
  TempDir tmp;
  auto result = export_checkpoint(export_reference().root / "beit-imgcls", tmp / "m.onnx",
                                  std::array<std::int64_t, 2>{48, 48});
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message, HasSubstr("48x48 (from --input-shape)"));
  EXPECT_THAT(result.error().message, HasSubstr("image_size 32"));
  EXPECT_FALSE(fs::exists(tmp / "m.onnx"));
}

TEST(ExportBeit, TheRelativePositionTableIsCheckedThroughItsGather) {
  TempDir tmp;
  auto ck = copy_case(tmp, "beit-both-bias");
  // A 4x4 grid in config.json: the stored tables of a 5x5 grid (84 rows) no longer fit.
  auto config = test::read_text(ck / "config.json");
  test::write_file(ck / "config.json", std::regex_replace(config, std::regex("\"image_size\": 40"), "\"image_size\": 32"));
  auto result = export_checkpoint(ck, tmp / "m.onnx");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message,
              HasSubstr("tensor 'encoder.layer.0.attention.attention.relative_position_bias.relative_position_bias_table' "
                        "has shape [84, 4], config.json calls for [52, 4]"));
  EXPECT_FALSE(fs::exists(tmp / "m.onnx"));
}

TEST(ExportMobileNetV2Beit, BothFamiliesExportNatively) {
  for (const auto& [name, family, head] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"mobilenet_v2-imgcls", "mobilenet_v2", "image-classification"},
           {"mobilenet_v2-base", "mobilenet_v2", "base"},
           {"beit-imgcls", "beit", "image-classification"},
           {"beit-base", "beit", "base"}}) {
    SCOPED_TRACE(name);
    ModelSpec spec;
    spec.model = (export_reference().root / name).string();
    auto model = resolve_model(spec, {});
    ASSERT_TRUE(model.ok()) << model.error().message;
    auto support = export_support(*model);
    ASSERT_TRUE(support.ok()) << support.error().message;
    EXPECT_EQ(support->family, family);
    EXPECT_EQ(support->head, head);
  }
  auto classes = supported_export_classes();
  for (const char* c : {"MobileNetV2Model", "MobileNetV2ForImageClassification", "BeitModel",
                        "BeitForImageClassification"})
    EXPECT_NE(std::find(classes.begin(), classes.end(), c), classes.end()) << c;
}

}  // namespace
}  // namespace modelkit
