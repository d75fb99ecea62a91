// What audio calibration buys: each raw-audio model of the suite (Silero VAD legacy, the
// audio-tiny backbone) is quantized twice with the same options, once with ranges collected on
// the embedded default audio and once on random inputs (what modelkit did before), and both are
// validated against the float model on the SAME held-back real audio (clips not used for
// calibration). Prints the cosine similarity of every output.
// usage: audio_calibration_quality_bench [MODELS_DIR [MODEL.onnx...]]   (default .deps/models)
// Extra models (e.g. `modelkit export` folder outputs, whose preprocessor_config.json sits beside
// model.onnx) are measured the same way, on whole clips.
#include <modelkit/calib_sources.hpp>
#include <modelkit/calib_stats.hpp>
#include <modelkit/onnx.hpp>
#include <modelkit/quantize.hpp>
#include <modelkit/random_inputs.hpp>

#include <cstdio>
#include <filesystem>

namespace {

using namespace modelkit;
namespace fs = std::filesystem;

class VectorSource final : public calib::SampleSource {
 public:
  explicit VectorSource(std::vector<calib::Sample> samples) : samples_(std::move(samples)) {}
  Result<std::optional<calib::Sample>> next() override {
    if (pos_ >= samples_.size()) return std::optional<calib::Sample>{};
    return std::optional<calib::Sample>{samples_[pos_++]};
  }
  Result<void> rewind() override {
    pos_ = 0;
    return {};
  }
  std::vector<std::string> produced_names() const override {
    std::vector<std::string> n;
    if (!samples_.empty())
      for (const auto& t : samples_[0]) n.push_back(t.name);
    return n;
  }
  std::string describe() const override { return "samples in memory"; }

 private:
  std::vector<calib::Sample> samples_;
  size_t pos_ = 0;
};

Result<std::vector<calib::Sample>> drain(calib::SampleSource& s, size_t limit) {
  std::vector<calib::Sample> out;
  while (out.size() < limit) {
    auto n = s.next();
    if (!n) return n.take_error();
    if (!*n) break;
    out.push_back(std::move(**n));
  }
  return out;
}

// The pipeline's default: MatMul/Gemm only for MatMul-dominated graphs, else every op type.
quant::QuantizeOptions options_for(const onnx::ModelInfo& info) {
  quant::QuantizeOptions o;
  std::int64_t matmuls = 0, convs = 0;
  for (const auto& op : info.op_types) {
    if (op.op == "MatMul" || op.op == "Gemm") matmuls += op.count;
    if (op.op == "Conv" || op.op == "ConvTranspose") convs += op.count;
  }
  if (matmuls > convs) o.op_types = {"MatMul", "Gemm"};
  return o;
}

Result<quant::ValidationReport> quantize_and_compare(calib::CalibrationMethod method, const fs::path& model,
                                                     const quant::QuantizeOptions& options,
                                                     const std::vector<std::string>& tensors,
                                                     std::vector<calib::Sample> calibration,
                                                     const std::vector<calib::Sample>& validation,
                                                     const fs::path& out) {
  VectorSource calib_source(std::move(calibration));
  calib::CollectOptions copts;
  copts.max_samples = 0;
  copts.method = method;
  MODELKIT_TRY(auto ranges, calib::collect_ranges(model, tensors, calib_source, copts));
  MODELKIT_TRY(auto report, quant::quantize(model, ranges, options, out));
  (void)report;
  VectorSource held(validation);
  quant::CompareOptions vopts;
  vopts.max_samples = validation.size();
  return quant::compare_models(model, out, held, vopts);
}

// Silero's recurrent state inputs (h, c) set to zeros, the state of a stream's first chunk,
// instead of random N(0, 1) values no stream ever holds.
void zero_states(std::vector<calib::Sample>& samples) {
  for (auto& sample : samples)
    for (auto& t : sample)
      if (t.name == "h" || t.name == "c" || t.name == "state")
        for (auto& v : t.values<float>()) v = 0.0F;
}

int run_model(const fs::path& model, std::vector<InputShape> shapes, const char* label, bool zero_state = false,
              std::vector<std::string> exclude_nodes = {}) {
  constexpr int kCalibrationSamples = 100;
  constexpr int kValidationSamples = 20;
  auto info = onnx::read_model_info(model);
  if (!info) return std::fprintf(stderr, "%s: %s\n", label, info.error().message.c_str()), 1;
  calib::SourceRequest req;
  req.kind = CalibrationKind::audio;
  req.checkpoint_folder = model.parent_path();
  req.model_inputs = info->inputs;
  req.samples = kCalibrationSamples + kValidationSamples;
  req.input_shapes = shapes;
  auto sel = calib::select_source(req);
  if (!sel || sel->record.kind != "audio")
    return std::fprintf(stderr, "%s: no audio source\n", label), 1;
  auto all = drain(*sel->source, static_cast<size_t>(req.samples));
  if (!all) return std::fprintf(stderr, "%s: %s\n", label, all.error().message.c_str()), 1;
  const size_t held = std::max<size_t>(1, all->size() / 6);
  std::vector<calib::Sample> audio_calib(all->begin(), all->end() - static_cast<std::ptrdiff_t>(held));
  std::vector<calib::Sample> validation(all->end() - static_cast<std::ptrdiff_t>(held), all->end());

  // Random inputs as modelkit made them before audio calibration, same count, same shapes.
  std::vector<calib::Sample> random_calib;
  for (size_t i = 0; i < audio_calib.size(); ++i) {
    auto r = make_random_inputs(info->inputs, {}, shapes, i);
    if (!r) return std::fprintf(stderr, "%s: %s\n", label, r.error().message.c_str()), 1;
    random_calib.push_back(std::move(r->tensors));
  }

  if (zero_state) {
    zero_states(audio_calib);
    zero_states(random_calib);
    zero_states(validation);
  }
  auto options = options_for(*info);
  options.exclude_nodes = exclude_nodes;
  auto plan = quant::plan_quantization(model, options);
  if (!plan) return std::fprintf(stderr, "%s: %s\n", label, plan.error().message.c_str()), 1;
  const fs::path tmp = fs::temp_directory_path() / "modelkit-audio-quality";
  fs::create_directories(tmp);
  std::printf("%s: %zu calibration samples, validated on %zu held-back audio samples\n  %s\n", label,
              all->size() - held, held, sel->record.data_source.c_str());
  for (auto method : {calib::CalibrationMethod::minmax, calib::CalibrationMethod::percentile,
                      calib::CalibrationMethod::entropy}) {
    auto on_audio = quantize_and_compare(method, model, options, plan->tensors_to_calibrate, audio_calib, validation,
                                         tmp / "audio.onnx");
    auto on_random = quantize_and_compare(method, model, options, plan->tensors_to_calibrate, random_calib,
                                          validation, tmp / "random.onnx");
    if (!on_audio || !on_random)
      return std::fprintf(stderr, "%s: %s\n", label,
                          (!on_audio ? on_audio.error() : on_random.error()).message.c_str()),
             1;
    std::printf("  %-12s %-20s %12s %12s\n", std::string(calib::method_name(method)).c_str(),
                "output", "audio-cal", "random-cal");
    for (size_t i = 0; i < on_audio->outputs.size(); ++i)
      std::printf("  %-12s %-20s %12.6f %12.6f\n", "", on_audio->outputs[i].name.c_str(),
                  on_audio->outputs[i].cosine_similarity, on_random->outputs[i].cosine_similarity);
  }
  fs::remove_all(tmp);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path models = argc > 1 ? fs::path(argv[1]) : fs::path(".deps/models");
  int rc = 0;
  rc |= run_model(models / "silero-vad" / "silero_vad_legacy.onnx", {{"input", {1, 512}}},
                  "Silero VAD legacy, 512-sample chunks");
  rc |= run_model(models / "silero-vad" / "silero_vad_legacy.onnx", {{"input", {1, 512}}},
                  "Silero VAD legacy, 512-sample chunks, zero h/c states", true);
  // Silero's front end (STFT conv, power, magnitude, log, adaptive normalization: nodes before
  // Conv_137) has a dynamic range real audio fills and uint8 cannot hold; kept in float.
  const std::vector<std::string> silero_front_end = {"[A-Za-z]+_([0-9]|[0-9][0-9]|1[0-2][0-9]|13[0-6])"};
  rc |= run_model(models / "silero-vad" / "silero_vad_legacy.onnx", {{"input", {1, 512}}},
                  "Silero VAD legacy, 512-sample chunks, front end in float", false, silero_front_end);
  rc |= run_model(models / "silero-vad" / "silero_vad_legacy.onnx", {{"input", {1, 512}}},
                  "Silero VAD legacy, 512-sample chunks, zero h/c states, front end in float", true, silero_front_end);
  rc |= run_model(models / "silero-vad" / "silero_vad_legacy.onnx", {}, "Silero VAD legacy, whole clips (up to 5 s)");
  rc |= run_model(models / "silero-vad" / "silero_vad_legacy.onnx", {},
                  "Silero VAD legacy, whole clips (up to 5 s), zero h/c states", true);
  rc |= run_model(models / "audio-tiny" / "model.onnx", {}, "audio-tiny (wav2vec2-style), whole clips (up to 5 s)");
  for (int i = 2; i < argc; ++i) rc |= run_model(argv[i], {}, argv[i]);
  return rc;
}
