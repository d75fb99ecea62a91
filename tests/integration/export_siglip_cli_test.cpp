// SigLIP through the real CLI: `build -m` on a safetensors-only SiglipVisionModel checkpoint exports
// it natively, calibrates on the embedded images through its SiglipImageProcessor
// preprocessor_config.json, quantizes and validates both outputs; `inspect` says it exports.
#include "export_reference.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>

#include <simdjson.h>

namespace modelkit::test {
namespace {

using ::testing::HasSubstr;

TEST(ExportSiglipCli, BuildExportsASiglipVisionCheckpointAndCalibratesOnImages) {
  TempDir tmp, out;
  auto ck = tmp / "siglip-vision";
  fs::copy(export_reference().root / "siglip-vision", ck, fs::copy_options::recursive);
  fs::remove_all(ck / "reference");

  auto info = run_cli({"inspect", "-m", ck.string()});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_THAT(info.out, HasSubstr("yes (siglip_vision_model, base)"));

  auto r = run_cli({"build", "-m", ck.string(), "-o", (out / "b").string(), "--samples", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("export\n"));
  simdjson::dom::parser parser;
  auto m = parser.load((out / "b" / "build_manifest.json").string());
  ASSERT_FALSE(m.error());
  EXPECT_EQ(std::string_view(m["export"]["family"].get_string().value()), "siglip_vision_model");
  EXPECT_EQ(std::string_view(m["export"]["model_class"].get_string().value()), "SiglipVisionModel");
  EXPECT_TRUE(m["source_onnx"].is_null());
  EXPECT_EQ(std::string_view(m["calibration"]["kind"].get_string().value()), "image");
  EXPECT_FALSE(m["calibration"]["fallback"].get_bool().value());
  const auto calibration = std::string(simdjson::to_string(m["calibration"].value()));
  EXPECT_THAT(calibration, HasSubstr("preprocessor_config.json"));
  EXPECT_THAT(calibration, HasSubstr("32x32, mean 0.5,0.5,0.5 std 0.5,0.5,0.5"));  // the checkpoint's processor
  EXPECT_GT(m["quantization"]["nodes_quantized"].get_int64().value(), 0);
  const auto report = std::string(simdjson::to_string(m["validation"]["report"].value()));
  EXPECT_THAT(report, HasSubstr("\"last_hidden_state\""));
  EXPECT_THAT(report, HasSubstr("\"pooler_output\""));
  EXPECT_GT(m["validation"]["min_cosine_similarity"].get_double().value(), 0.5);
  EXPECT_TRUE(fs::is_regular_file(out / "b" / "model.onnx"));
  EXPECT_TRUE(fs::is_regular_file(out / "b" / "preprocessor_config.json"));
}

// A SiglipModel checkpoint without tokenizer.json calibrates on random text: the default sequence
// length follows the text tower's positions (here the config's max_position_embeddings; 64 when a
// real config leaves it out) instead of the usual 128, which ONNX Runtime would refuse; an explicit
// longer --sequence-length is refused by name before any work.
TEST(ExportSiglipCli, SiglipModelRandomTextFollowsTheTextPositions) {
  TempDir tmp, out;
  auto ck = tmp / "siglip-model";
  fs::copy(export_reference().root / "siglip-model", ck, fs::copy_options::recursive);
  fs::remove_all(ck / "reference");
  simdjson::dom::parser parser;
  auto config = parser.load((ck / "config.json").string());
  ASSERT_FALSE(config.error());
  const std::int64_t positions = config["text_config"]["max_position_embeddings"].get_int64().value();
  ASSERT_LT(positions, 128);

  auto r = run_cli({"build", "-m", ck.string(), "-o", (out / "b").string(), "--samples", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto bc = parser.load((out / "b" / "build_config.json").string());
  ASSERT_FALSE(bc.error());
  EXPECT_EQ(bc["calibration"]["sequence_length"].get_int64().value(), positions);

  auto refused = run_cli({"build", "-m", ck.string(), "-o", (out / "c").string(), "--sequence-length",
                          std::to_string(positions + 1)});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("positions the model takes"));
  EXPECT_FALSE(fs::exists(out / "c"));
}

}  // namespace
}  // namespace modelkit::test
