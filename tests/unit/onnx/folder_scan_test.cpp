#include <modelkit/onnx.hpp>

#include "onnx/onnx_json.hpp"
#include "test_models.hpp"
#include "util/file.hpp"
#include "util/json_read.hpp"
#include "util/json_writer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace modelkit::onnx {
namespace {

namespace fs = std::filesystem;
using modelkit::testing::TempDir;
using modelkit::testing::test_model;
using ::testing::HasSubstr;

void touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  ASSERT_TRUE(util::write_file_atomic(p, "x").ok());
}

// The layout onnx-community / Xenova repositories ship.
TEST(ScanFolder, ClassifiesTheOnnxCommunityLayout) {
  TempDir dir;
  for (const char* f : {"onnx/model.onnx", "onnx/model_quantized.onnx", "onnx/model_int8.onnx", "onnx/model_uint8.onnx",
                        "onnx/model_q4.onnx", "onnx/model_q4f16.onnx", "onnx/model_bnb4.onnx", "onnx/model_fp16.onnx",
                        "onnx/model.onnx_data", "config.json"})
    touch(dir.path() / f);
  auto files = scan_folder(dir.path());
  ASSERT_TRUE(files.ok()) << files.error().message;
  std::vector<std::string> got;
  for (const auto& f : *files)
    got.push_back(f.relative_path + " " + std::string(variant_name(f.variant)) + (f.is_float_model ? " *" : "") +
                  (variant_is_quantized(f.variant) ? " q" : ""));
  EXPECT_THAT(got, ::testing::ElementsAre("onnx/model.onnx float32 *", "onnx/model_bnb4.onnx bnb4 q",
                                          "onnx/model_fp16.onnx fp16", "onnx/model_int8.onnx int8 q",
                                          "onnx/model_q4.onnx q4 q", "onnx/model_q4f16.onnx q4f16 q",
                                          "onnx/model_quantized.onnx quantized q", "onnx/model_uint8.onnx uint8 q"));
  for (const auto& f : *files) EXPECT_EQ(f.stem, "model");
  auto resolved = resolve_model_path(dir.path());
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(*resolved, dir.path() / "onnx" / "model.onnx");
}

TEST(ScanFolder, TopLevelModelWinsAndEncoderDecoderSplitsHaveNoFloatModel) {
  TempDir dir;
  touch(dir.path() / "model.onnx");
  touch(dir.path() / "onnx" / "model.onnx");
  auto files = scan_folder(dir.path());
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 2u);
  EXPECT_TRUE((*files)[0].is_float_model);
  EXPECT_EQ((*files)[0].relative_path, "model.onnx");
  EXPECT_FALSE((*files)[1].is_float_model);

  TempDir split;
  for (const char* f : {"onnx/encoder_model.onnx", "onnx/decoder_model_merged.onnx", "onnx/decoder_model_merged_q4.onnx"})
    touch(split.path() / f);
  auto r = resolve_model_path(split.path());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("no float model (model.onnx)"));
  EXPECT_THAT(r.error().message, HasSubstr("onnx/decoder_model_merged.onnx, onnx/decoder_model_merged_q4.onnx, "
                                           "onnx/encoder_model.onnx"));
}

TEST(ScanFolder, RealModelFolders) {
  auto bert = resolve_model_path(test_model("bert-tiny-like"));
  ASSERT_TRUE(bert.ok());
  EXPECT_EQ(bert->filename(), "model.onnx");
  // One float-named file alone is the model; several need naming.
  auto ocr = resolve_model_path(test_model("pp-ocr"));
  ASSERT_FALSE(ocr.ok());
  EXPECT_THAT(ocr.error().message, HasSubstr("ch_PP-OCRv4_det_infer.onnx"));
  auto file = resolve_model_path(test_model("pp-ocr/ch_PP-OCRv4_det_infer.onnx"));
  ASSERT_TRUE(file.ok());
  EXPECT_FALSE(scan_folder(test_model("cnn-tiny/model.onnx")).ok());
  EXPECT_FALSE(resolve_model_path("/nonexistent/x").ok());
}

TEST(ScanFolder, Json) {
  TempDir dir;
  touch(dir.path() / "model.onnx");
  touch(dir.path() / "model_q4.onnx");
  auto files = scan_folder(dir.path());
  ASSERT_TRUE(files.ok());
  util::JsonWriter json(false);
  write_onnx_files_json(json, *files);
  EXPECT_EQ(json.str(), R"([{"path":"model.onnx","variant":"float32","is_float_model":true},)"
                        R"({"path":"model_q4.onnx","variant":"q4","is_float_model":false}])");
}

}  // namespace
}  // namespace modelkit::onnx
