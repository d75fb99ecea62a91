// `modelkit build -m` end to end on safetensors-only audio checkpoints (no ONNX file): the
// exporter writes the float model (Wav2Vec2-CTC; the Whisper encoder of an ASR checkpoint), the
// audio calibration kind feeds it the embedded clips through the checkpoint's feature extractor,
// and the quantized model validates. Checkpoints: tiny random-weight ones from
// scripts/test_models/export_reference.py (audio section).
#include "export_reference.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>
#include <simdjson.h>

namespace modelkit::test {
namespace {

using ::testing::HasSubstr;

fs::path copy_checkpoint(const TempDir& tmp, const std::string& name) {
  auto dst = tmp / name;
  fs::copy(export_reference().root / name, dst, fs::copy_options::recursive);
  fs::remove_all(dst / "reference");
  return dst;
}

std::string text_of(simdjson::dom::element e) {
  std::string_view s;
  return e.get_string().get(s) == simdjson::SUCCESS ? std::string(s) : "<not a string>";
}

// Builds `name` and checks what every audio build must say; returns the manifest text.
std::string build_audio_checkpoint(const TempDir& tmp, const std::string& name, const std::string& samples) {
  auto ck = copy_checkpoint(tmp, name);
  EXPECT_FALSE(fs::exists(ck / "model.onnx"));
  auto out = tmp / "out";
  auto r = run_cli({"build", "-m", ck.string(), "-o", out.string(), "--samples", samples, "--quiet"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("falls back"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_regular_file(out / "model.onnx"));
  return read_text(out / "build_manifest.json");
}

TEST(AudioExportBuild, Wav2Vec2CtcFromSafetensorsCalibratesOnAudio) {
  TempDir tmp;
  auto text = build_audio_checkpoint(tmp, "wav2vec2-ctc-mask", "6");
  simdjson::dom::parser parser;
  simdjson::dom::element m;
  ASSERT_EQ(parser.parse(text).get(m), simdjson::SUCCESS);
  EXPECT_EQ(text_of(m["resolution"]["task"]), "automatic-speech-recognition");
  EXPECT_EQ(text_of(m["export"]["family"]), "wav2vec2");
  EXPECT_EQ(text_of(m["export"]["head"]), "ctc");
  // The processor returns an attention mask, so the graph takes one and calibration feeds it.
  EXPECT_THAT(simdjson::to_string(m["export"]["inputs"]), HasSubstr("attention_mask"));
  EXPECT_EQ(text_of(m["calibration"]["kind"]), "audio");
  EXPECT_FALSE(m["calibration"]["fallback"].get_bool().value());
  EXPECT_EQ(text_of(m["calibration"]["data_source"]).rfind("embedded default audio", 0), 0u)
      << text_of(m["calibration"]["data_source"]);
}

TEST(AudioExportBuild, WhisperEncoderFromAnAsrCheckpoint) {
  TempDir tmp;
  auto text = build_audio_checkpoint(tmp, "whisper-asr-80", "4");
  simdjson::dom::parser parser;
  simdjson::dom::element m;
  ASSERT_EQ(parser.parse(text).get(m), simdjson::SUCCESS);
  EXPECT_EQ(text_of(m["resolution"]["task"]), "automatic-speech-recognition");
  EXPECT_EQ(text_of(m["export"]["family"]), "whisper");
  EXPECT_EQ(text_of(m["export"]["component"]), "encoder");  // the manifest says the decoder is not in it
  EXPECT_EQ(text_of(m["calibration"]["kind"]), "audio");
  EXPECT_FALSE(m["calibration"]["fallback"].get_bool().value());
  EXPECT_EQ(text_of(m["calibration"]["data_source"]).rfind("embedded default audio", 0), 0u)
      << text_of(m["calibration"]["data_source"]);
}

TEST(AudioExportBuild, ExportCliSaysWhisperIsTheEncoderOnly) {
  TempDir tmp;
  auto ck = copy_checkpoint(tmp, "whisper-asr");
  auto r = run_cli({"export", "-m", ck.string(), "-o", (tmp / "onnx").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("only the encoder of WhisperForConditionalGeneration is exported"));
  EXPECT_TRUE(fs::is_regular_file(tmp / "onnx" / "encoder_model.onnx"));
}

}  // namespace
}  // namespace modelkit::test
