// The audio exporter (Wav2Vec2, HuBERT, WavLM, Whisper encoder) against plain-torch references
// (scripts/test_models/export_reference.py, audio section): tiny random-weight checkpoints with
// transformers' names, padded batches of raw audio (with the attention mask where the processor
// returns one) or log-mel features, run in ONNX Runtime. Plus every real config of these
// families exporting with random weights, and the refusals.
#include <modelkit/export.hpp>
#include <modelkit/runtime.hpp>

#include "export_reference.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <simdjson.h>

#include <cmath>
#include <fstream>
#include <regex>

namespace modelkit {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

// float32 graphs against float32 torch: the sums run in a different order, nothing more.

const std::vector<std::string> kAudioCases = {
    "hubert-ctc", "hubert-seqcls-mask", "wav2vec2-base", "wav2vec2-ctc-mask", "wav2vec2-frame",
    "wav2vec2-seqcls", "wav2vec2-seqcls-mask", "wavlm-base", "wavlm-ctc-mask", "wavlm-frame",
    "wavlm-seqcls-mask", "whisper-asr", "whisper-asr-80", "whisper-base",
};

const std::vector<test::ReferenceCase>& audio_cases() {
  static const std::vector<test::ReferenceCase> cases = [] {
    std::vector<test::ReferenceCase> out;
    std::ifstream list(test::export_reference().root / "audio_cases.txt");
    for (std::string line; std::getline(list, line);) {
      std::stringstream fields(line);
      std::string name, ins, outs;
      fields >> name >> ins >> outs;
      if (!name.empty()) out.push_back({name, test::split_commas(ins), test::split_commas(outs)});
    }
    return out;
  }();
  return cases;
}

const test::ReferenceCase* find_case(const std::string& name) { return test::find_reference_case(audio_cases(), name); }

void expect_parity(const fs::path& model_path, const test::ReferenceCase& c, const fs::path& case_dir) {
  int batches = 0;
  test::expect_reference_parity(model_path, c, case_dir, batches);
  EXPECT_EQ(batches, 2) << c.name;  // two padded batches of different shapes
}

Result<ExportResult> export_folder(const fs::path& folder, const fs::path& out, bool random = false,
                                   std::optional<std::string> task = std::nullopt) {
  ModelSpec spec;
  spec.model = folder.string();
  if (task) spec.task = *task;
  MODELKIT_TRY(auto model, resolve_model(spec, {}));
  ExportRequest request;
  request.model = std::move(model);
  request.output = out;
  request.random_weights = random;
  return export_model(request);
}

TEST(AudioExportReference, ListsEveryCaseTheTestsKnow) {
  std::vector<std::string> names;
  for (const auto& c : audio_cases()) names.push_back(c.name);
  EXPECT_EQ(names, kAudioCases);
}

class AudioExportParity : public ::testing::TestWithParam<std::string> {};

TEST_P(AudioExportParity, MatchesTheTorchReferenceOnPaddedBatches) {
  const auto* c = find_case(GetParam());
  ASSERT_NE(c, nullptr) << GetParam();
  TempDir tmp;
  auto out = tmp / "model.onnx";
  auto result = export_folder(test::export_reference().root / c->name, out);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->inputs, c->inputs);
  EXPECT_EQ(result->outputs, c->outputs);
  expect_parity(out, *c, test::export_reference().root / c->name);
}

INSTANTIATE_TEST_SUITE_P(Cases, AudioExportParity, ::testing::ValuesIn(kAudioCases), [](const auto& info) {
  std::string n = info.param;
  for (auto& ch : n)
    if (ch == '-') ch = '_';
  return n;
});

// With layer-normalized convolutions, padding changes nothing for a row when the mask says where
// it ends: row 1 of a padded batch equals the same audio run alone (a check that does not lean on
// the reference; group-normalized models see the padding through the first layer's statistics, in
// transformers too).
TEST(AudioExport, TheMaskMakesPaddingInvisible) {
  const auto* c = find_case("hubert-seqcls-mask");
  ASSERT_NE(c, nullptr);
  TempDir tmp;
  ASSERT_TRUE(export_folder(test::export_reference().root / c->name, tmp / "m.onnx").ok());
  auto session = runtime::Session::open(tmp / "m.onnx");
  ASSERT_TRUE(session.ok()) << session.error().message;
  const auto batch = test::export_reference().root / c->name / "reference" / "b0";
  auto values = test::read_reference_array(batch / "input_values.bin", "input_values");
  auto mask = test::read_reference_array(batch / "attention_mask.bin", "attention_mask");
  std::vector<Tensor> both = {values, mask};
  auto padded = session->run(both);
  ASSERT_TRUE(padded.ok()) << padded.error().message;
  // Row 1 alone, cut to its real length.
  const auto T = values.shape[1];
  auto m = mask.values<std::int64_t>();
  std::int64_t n = 0;
  for (std::int64_t t = 0; t < T; ++t) n += m[T + t];
  ASSERT_LT(n, T);
  auto v = values.values<float>();
  std::vector<float> row(v.begin() + T, v.begin() + T + n);
  std::vector<Tensor> single = {
      Tensor::from_values<float>("input_values", {1, n}, row),
      Tensor::from_values<std::int64_t>("attention_mask", {1, n}, std::vector<std::int64_t>(static_cast<std::size_t>(n), 1))};
  auto alone = session->run(single);
  ASSERT_TRUE(alone.ok()) << alone.error().message;
  auto a = (*padded)[0].values<float>();
  auto b = (*alone)[0].values<float>();
  ASSERT_EQ(b.size(), 3u);
  for (std::size_t k = 0; k < 3; ++k) EXPECT_NEAR(a[3 + k], b[k], test::kExportParityTolerance);
}

TEST(AudioExport, WhisperWritesTheEncoderAndSaysSo) {
  TempDir tmp;
  auto out = tmp / "exported";
  auto result = export_folder(test::export_reference().root / "whisper-asr", out);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->component, "encoder");
  EXPECT_EQ(result->head, "encoder");
  EXPECT_EQ(result->model_class, "WhisperForConditionalGeneration");
  EXPECT_EQ(result->task, "automatic-speech-recognition");
  EXPECT_EQ(result->model_path, out / "encoder_model.onnx");
  EXPECT_TRUE(fs::is_regular_file(out / "encoder_model.onnx"));
  EXPECT_FALSE(fs::exists(out / "model.onnx"));
  EXPECT_THAT(export_result_json(*result), ::testing::HasSubstr("\"component\": \"encoder\""));
  auto info = runtime::Session::open(out / "encoder_model.onnx");
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->inputs().size(), 1u);
  EXPECT_EQ(info->inputs()[0].shape, (std::vector<std::int64_t>{-1, 8, 24}));  // Whisper's fixed 2 x positions frames
}

// Both weight-norm spellings are parity cases; a checkpoint with neither names what it looked for.
TEST(AudioExport, AMissingWeightNormTensorIsNamed) {
  TempDir tmp;
  auto ck = tmp / "ck";
  fs::copy(test::export_reference().root / "wav2vec2-base", ck, fs::copy_options::recursive);
  // Drop weight_v from the header by renaming it: the exporter must name what is missing.
  auto st = test::read_text(ck / "model.safetensors");
  auto pos = st.find("encoder.pos_conv_embed.conv.weight_v");
  ASSERT_NE(pos, std::string::npos);
  st.replace(pos, 36, "encoder.pos_conv_embed.conv.weight_X");
  test::write_file(ck / "model.safetensors", st);
  auto result = export_folder(ck, tmp / "m.onnx");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message, ::testing::HasSubstr("'encoder.pos_conv_embed.conv.weight_v' (or"));
  EXPECT_FALSE(fs::exists(tmp / "m.onnx"));
}

TEST(AudioExport, RefusesWhatItDoesNotBuildByName) {
  TempDir tmp;
  auto ck = tmp / "ck";
  fs::create_directories(ck);
  auto base = test::read_text(test::export_reference().root / "wav2vec2-seqcls" / "config.json");
  auto with = [&](const std::string& key, const std::string& value) {
    return std::regex_replace(base, std::regex("\"" + key + "\": [a-z0-9]+"), "\"" + key + "\": " + value);
  };
  test::write_file(ck / "config.json", with("use_weighted_layer_sum", "true"));
  auto r = export_folder(ck, tmp / "a.onnx", true);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, ::testing::HasSubstr("use_weighted_layer_sum"));
  test::write_file(ck / "config.json", with("add_adapter", "true"));
  r = export_folder(ck, tmp / "b.onnx", true);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, ::testing::HasSubstr("add_adapter"));
  test::write_file(ck / "config.json",
                   std::regex_replace(base, std::regex("Wav2Vec2ForSequenceClassification"), "Wav2Vec2ForXVector"));
  r = export_folder(ck, tmp / "c.onnx", true);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, ::testing::HasSubstr("Wav2Vec2ForCTC"));
  EXPECT_THAT(r.error().message, ::testing::HasSubstr("--onnx FILE"));
}

// --- every real config of the audio families, random weights, shrunk widths ----------------

std::string shrink_audio(std::string text) {
  for (auto [key, value] : std::map<std::string, std::string>{{"hidden_size", "32"},
                                                               {"num_hidden_layers", "2"},
                                                               {"num_attention_heads", "4"},
                                                               {"intermediate_size", "37"},
                                                               {"classifier_proj_size", "16"},
                                                               {"d_model", "32"},
                                                               {"encoder_layers", "2"},
                                                               {"encoder_attention_heads", "4"},
                                                               {"encoder_ffn_dim", "37"},
                                                               {"num_conv_pos_embedding_groups", "4"},
                                                               {"num_conv_pos_embeddings", "16"}})
    text = std::regex_replace(text, std::regex("\"" + key + "\"\\s*:\\s*[0-9]+"), "\"" + key + "\": " + value);
  // conv_dim: 512-wide convolutions become 16 wide (kernels and strides stay).
  text = std::regex_replace(text, std::regex("\\b512\\b"), "16");
  return text;
}

TEST(AudioExportConfigs, EveryAudioConfigExportsWithRandomWeightsAndRuns) {
  int count = 0;
  for (const auto& e : fs::directory_iterator(test::data_dir() / "configs")) {
    if (e.path().extension() != ".json") continue;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.load(e.path().string()).get(doc) != simdjson::SUCCESS) continue;
    std::string_view type;
    if (doc["model_type"].get_string().get(type) != simdjson::SUCCESS) continue;
    if (type != "wav2vec2" && type != "hubert" && type != "wavlm" && type != "whisper") continue;
    ++count;
    SCOPED_TRACE(e.path().filename().string());
    TempDir folder;
    test::write_file(folder / "config.json", shrink_audio(test::read_text(e.path())));
    TempDir tmp;
    auto result = export_folder(folder.path(), tmp / "m.onnx", true);
    ASSERT_TRUE(result.ok()) << result.error().message;
    auto session = runtime::Session::open(tmp / "m.onnx");
    ASSERT_TRUE(session.ok()) << session.error().message;
    std::vector<Tensor> inputs;
    for (const auto& in : session->inputs()) {
      std::vector<std::int64_t> shape = in.shape;
      for (auto& d : shape)
        if (d < 0) d = 2;  // batch
      if (in.name == "input_values") shape = {2, 8000};  // 0.5 s at 16 kHz
      std::size_t n = 1;
      for (auto d : shape) n *= static_cast<std::size_t>(d);
      std::vector<float> v(n);
      for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(std::sin(0.01 * static_cast<double>(i)));
      inputs.push_back(Tensor::from_values<float>(in.name, shape, v));
    }
    auto ran = session->run(inputs);
    ASSERT_TRUE(ran.ok()) << ran.error().message;
    for (const auto& t : *ran) {
      EXPECT_EQ(t.shape[0], 2) << t.name;
      for (float x : t.values<float>()) ASSERT_TRUE(std::isfinite(x)) << t.name;
    }
  }
  EXPECT_GE(count, 5);  // two Whisper, two Wav2Vec2, one WavLM config in the set
}

}  // namespace
}  // namespace modelkit
