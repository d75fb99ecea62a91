// Informed random calibration inputs through the CLI (issue 10): a GenAI-style KV-cache decoder
// calibrates with total_sequence_length = past_sequence_length + sequence_length and zero caches;
// Silero's LSTM state starts from zeros and its waveform is one second long.
#include <simdjson.h>

#include "exported_models.hpp"

namespace modelkit::test {
namespace {

std::string str(simdjson::dom::element e) {
  std::string_view s;
  return e.get_string().get(s) == simdjson::SUCCESS ? std::string(s) : "<not a string>";
}

std::vector<std::int64_t> shape_of(simdjson::dom::element record) {
  std::vector<std::int64_t> out;
  for (auto d : record["shape"].get_array()) out.push_back(d.get_int64().value());
  return out;
}

simdjson::dom::element random_input(simdjson::dom::element manifest, const std::string& name) {
  for (auto r : manifest["calibration"]["random_inputs"].get_array())
    if (str(r["name"]) == name) return r;
  ADD_FAILURE() << "no random input record for " << name;
  return manifest;
}

constexpr double kMinCosineTinyDecoder = 0.99;

TEST(RandomInputsCli, KvCacheDecoderCalibratesWithTiedDims) {
  TempDir tmp;
  auto model = exported_model("kv-gpt-tiny");
  auto out = tmp / "kv.onnx";
  auto r = run_cli({"quantize", "-m", model.string(), "-o", out.string(), "--samples", "6", "--sequence-length", "16",
                    "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser parser;
  auto m = parser.load((tmp / "kv.manifest.json").string()).value();
  EXPECT_EQ(shape_of(random_input(m, "input_ids")), (std::vector<std::int64_t>{1, 16}));
  EXPECT_EQ(shape_of(random_input(m, "attention_mask")), (std::vector<std::int64_t>{1, 32}));
  EXPECT_EQ(shape_of(random_input(m, "past_key_values.1.value")), (std::vector<std::int64_t>{1, 2, 16, 16}));
  EXPECT_EQ(str(random_input(m, "past_key_values.0.key")["fill"]),
            "zeros (recurrent state / KV cache: a sequence starts from zeros)");
  EXPECT_EQ(str(random_input(m, "attention_mask")["fill"]), "ones (mask)");
  EXPECT_GE(m["validation"]["min_cosine_similarity"].get_double().value(), kMinCosineTinyDecoder);
  // The quantized decoder runs with the same informed inputs.
  auto perf = run_cli({"perf", "-m", out.string(), "--iterations", "2", "--warmup", "1"});
  EXPECT_EQ(perf.exit_code, 0) << perf.err;
}

TEST(RandomInputsCli, SileroStateIsZeroAndItsWaveformOneSecond) {
  TempDir tmp;
  auto out = tmp / "vad.onnx";
  auto r = run_cli({"quantize", "-m", (fs::path(MODELKIT_DEPS_DIR) / "models" / "silero-vad" / "silero_vad_legacy.onnx").string(),
                    "-o", out.string(), "--samples", "4", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser parser;
  auto m = parser.load((tmp / "vad.manifest.json").string()).value();
  EXPECT_EQ(shape_of(random_input(m, "input")), (std::vector<std::int64_t>{1, 16000}));
  EXPECT_EQ(str(random_input(m, "input")["fill"]), "normal(0, 0.1) (audio noise)");
  for (const char* state : {"h", "c"})
    EXPECT_EQ(str(random_input(m, state)["fill"]), "zeros (recurrent state / KV cache: a sequence starts from zeros)");
}

}  // namespace
}  // namespace modelkit::test
