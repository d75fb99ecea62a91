// End-to-end quantization of the real test models (.deps/models, from scripts/setup.sh):
// calibrate with random inputs, quantize, check the QDQ structure by reading the written model
// back, load it in ONNX Runtime, and compare float vs quantized outputs.
#include <modelkit/calib_stats.hpp>
#include <modelkit/quantize.hpp>
#include <modelkit/runtime.hpp>

#include "quant/report_json.hpp"
#include "onnx/model_proto.hpp"
#include "util/json_read.hpp"
#include "util/json_writer.hpp"
#include "document_source.hpp"
#include "qdq_check.hpp"
#include "random_source.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>

namespace modelkit {
namespace {
namespace fs = std::filesystem;

fs::path model(const std::string& relative) {
  auto p = fs::path(MODELKIT_DEPS_DIR) / "models" / relative;
  EXPECT_TRUE(fs::exists(p)) << p << " is missing: run scripts/setup.sh";
  return p;
}

struct TempDir {
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "modelkit-quant-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

// Counts over the written model: nodes by op type, and for each QuantizeLinear/DequantizeLinear
// what it connects to.
struct Structure {
  std::map<std::string, int> ops;          // all graphs
  std::map<std::string, int> dq_consumers;  // op types reading a DequantizeLinear output
  std::map<std::string, int> q_producers;   // op types whose output a QuantizeLinear reads
  int int8_initializers = 0, uint8_initializers = 0, int32_initializers = 0;
};

void walk(const ::onnx::GraphProto& g, Structure& s) {
  std::map<std::string, std::string> producer_op;
  for (const auto& n : g.node())
    for (const auto& o : n.output()) producer_op[o] = n.op_type();
  std::set<std::string> dq_outputs;
  for (const auto& n : g.node())
    if (n.op_type() == "DequantizeLinear") dq_outputs.insert(n.output(0));
  for (const auto& n : g.node()) {
    ++s.ops[n.op_type()];
    if (n.op_type() == "QuantizeLinear" && producer_op.count(n.input(0))) ++s.q_producers[producer_op[n.input(0)]];
    for (const auto& i : n.input())
      if (dq_outputs.count(i)) ++s.dq_consumers[n.op_type()];
    for (const auto& a : n.attribute()) {
      if (a.has_g()) walk(a.g(), s);
    }
  }
  for (const auto& t : g.initializer()) {
    if (t.data_type() == ::onnx::TensorProto::INT8) ++s.int8_initializers;
    if (t.data_type() == ::onnx::TensorProto::UINT8) ++s.uint8_initializers;
    if (t.data_type() == ::onnx::TensorProto::INT32) ++s.int32_initializers;
  }
}

Structure structure_of(const fs::path& path) {
  auto m = onnx::read_model_proto(path);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
  Structure s;
  if (m) walk(m->graph(), s);
  return s;
}

struct Run {
  calib::TensorRanges ranges;
  quant::QuantizeReport report;
  quant::ValidationReport validation;
  testing::QdqCheck check;  // the written graph against the ranges and the float model
};

void print_metrics(const std::string& label, const quant::ValidationReport& v) {
  for (const auto& o : v.outputs)
    std::fprintf(stderr, "%s %s: cos pooled %.6f min %.6f mean %.6f relL2 %.5f sqnr %.2f dB maxabs %.4g meanabs %.4g%s\n",
                 label.c_str(), o.name.c_str(), o.cosine_similarity, o.min_cosine, o.mean_cosine, o.relative_l2_error,
                 o.sqnr_db, o.max_abs_error, o.mean_abs_error, o.informative ? "" : " (uninformative)");
}

// Calibrates on `calibration`, quantizes, checks the written graph and validates on
// `held_back` (other samples than the calibration ones).
Run calibrate_quantize_compare(const fs::path& float_model, const fs::path& out, calib::SampleSource& calibration,
                               calib::SampleSource& held_back, const quant::QuantizeOptions& options,
                               calib::CollectOptions collect = {}) {
  Run run;
  auto plan = quant::plan_quantization(float_model, options);
  EXPECT_TRUE(plan.ok()) << (plan.ok() ? "" : plan.error().message);
  if (!plan) return run;
  EXPECT_FALSE(plan->tensors_to_calibrate.empty());
  auto ranges = calib::collect_ranges(float_model, plan->tensors_to_calibrate, calibration, collect);
  EXPECT_TRUE(ranges.ok()) << (ranges.ok() ? "" : ranges.error().message);
  if (!ranges) return run;
  run.ranges = *ranges;
  auto report = quant::quantize(float_model, *ranges, options, out);
  EXPECT_TRUE(report.ok()) << (report.ok() ? "" : report.error().message);
  if (!report) return run;
  run.report = *report;
  run.check = testing::check_qdq(out, float_model, *ranges, options);
  auto validation = quant::compare_models(float_model, out, held_back, {.max_samples = 8});
  EXPECT_TRUE(validation.ok()) << (validation.ok() ? "" : validation.error().message);
  if (validation) run.validation = *validation;
  print_metrics(float_model.filename().string(), run.validation);
  for (const auto& [op, n] : run.check.qdq_ops) std::fprintf(stderr, "  qdq around %s: %d\n", op.c_str(), n);
  std::fprintf(stderr, "  Q %d (params ok %d), weights ok %d (values %d), biases ok %d, BN left %d\n",
               run.check.quantize_linear, run.check.activation_params_ok, run.check.weights_ok,
               run.check.weight_values_checked, run.check.biases_ok, run.check.batch_norms);
  return run;
}

const quant::OutputComparison* output(const quant::ValidationReport& v, const std::string& name) {
  for (const auto& o : v.outputs)
    if (o.name == name) return &o;
  ADD_FAILURE() << "no output " << name;
  return nullptr;
}

// Accuracy bounds just under what was measured on the held-back samples (random inputs with
// seeds 1000+, synthetic documents for PP-OCR); the measured figure is beside each.
constexpr double kCnnTinyMinCosine = 0.99999;        // per sample, measured 0.999996
constexpr double kCnnTinyMinSqnrDb = 51;             // measured 52.3 dB
constexpr double kCnnTinyPerChannelMinSqnrDb = 51;   // measured 52.3 dB
constexpr double kCnnTinyInt16MinSqnrDb = 56;        // measured 57.8 dB
constexpr double kBertMinCosine = 0.999;             // per sample, measured 0.99915 (pooler), 0.99955 (hidden)
constexpr double kBertHiddenMinSqnrDb = 29.5;        // measured 30.6 dB
constexpr double kBertPoolerMinSqnrDb = 29;          // measured 29.9 dB
constexpr double kSileroV5OutputMinSqnrDb = 20;      // measured 21.2 dB
constexpr double kSileroV5StateMinSqnrDb = 9.5;      // measured 10.3 dB
constexpr double kSileroLegacyOutputMinCosine = 0.86;  // pooled over samples, measured 0.871
constexpr double kSileroLegacyCellMinSqnrDb = 3.5;   // measured 4.0 dB
constexpr double kPpOcrMinCosine = 0.87;             // pooled, measured 0.880
constexpr double kPpOcrMinSampleCosine = 0.73;       // per sample, measured 0.745
constexpr double kPpOcrMinSqnrDb = 5.5;              // measured 6.0 dB

TEST(QuantizeModels, CnnTinyPerTensor) {
  TempDir dir;
  auto src = model("cnn-tiny/model.onnx");
  InputHints hints;
  hints.image_size = 32;
  auto source = testing::RandomSource::open(src, 32, hints);
  auto held_back = testing::RandomSource::open(src, 8, hints, {}, 1000);
  ASSERT_TRUE(held_back.ok());
  ASSERT_TRUE(source.ok());
  auto run = calibrate_quantize_compare(src, dir.path / "q.onnx", *source, *held_back, {});
  testing::expect_clean(run.check);
  // 3 Conv + 1 Gemm quantized; the 3 Relu after the Convs folded into the Conv outputs.
  EXPECT_EQ(run.check.qdq_ops["Conv"], 3) << "QDQ around every Conv in the written graph";
  EXPECT_EQ(run.check.qdq_ops["Gemm"], 1);
  EXPECT_EQ(run.check.weights_ok, 4);
  EXPECT_EQ(run.check.weight_values_checked, 4);
  EXPECT_EQ(run.check.biases_ok, 4);
  auto s = structure_of(dir.path / "q.onnx");
  EXPECT_EQ(s.ops["Conv"], 3);
  EXPECT_EQ(s.ops["Relu"], 0) << "Relu after a quantized Conv is folded";
  EXPECT_EQ(run.report.nodes_folded, 3);
  EXPECT_EQ(s.dq_consumers["Conv"], 3 * 3) << "input, weight and bias of every Conv come from DequantizeLinear";
  EXPECT_EQ(s.dq_consumers["Gemm"], 3);
  EXPECT_EQ(s.q_producers["Conv"], 3) << "every Conv output is quantized";
  EXPECT_EQ(s.q_producers["Gemm"], 1);
  EXPECT_EQ(s.int8_initializers, 4 + 4) << "4 weights and their zero points";
  EXPECT_EQ(s.int32_initializers, 4 + 4) << "4 biases and their zero points";
  EXPECT_EQ(s.ops["QuantizeLinear"], run.report.quantize_linear_nodes);
  EXPECT_EQ(s.ops["DequantizeLinear"], run.report.dequantize_linear_nodes);
  // The manifest's JSON parses and carries the per-op-type summary.
  util::JsonWriter json;
  quant::write_report_json(json, run.report, true);
  simdjson::dom::parser parser;
  auto doc = util::parse_json(parser, json.str());
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  EXPECT_EQ(std::int64_t((*doc)["op_types"]["Conv"]["quantized"]), 3);
  EXPECT_EQ(std::int64_t((*doc)["op_types"]["Relu"]["folded"]), 3);
  EXPECT_EQ(std::int64_t((*doc)["op_types"]["ReduceMean"]["skip_reasons"]["op type not quantizable"]), 1);
  EXPECT_EQ(std::string_view((*doc)["qdq_domain"]), "ai.onnx");
  util::JsonWriter vjson;
  quant::write_validation_json(vjson, run.validation);
  auto vdoc = util::parse_json(parser, vjson.str());
  ASSERT_TRUE(vdoc.ok());
  EXPECT_EQ(std::string_view((*vdoc)["outputs"].at(0)["name"]), "logits");
  auto* logits = output(run.validation, "logits");
  ASSERT_NE(logits, nullptr);
  EXPECT_GE(logits->min_cosine, kCnnTinyMinCosine);
  EXPECT_GE(logits->sqnr_db, kCnnTinyMinSqnrDb);
  EXPECT_TRUE(logits->informative);
}

TEST(QuantizeModels, BertTinyLike) {
  TempDir dir;
  auto src = model("bert-tiny-like/model.onnx");
  InputHints hints;
  hints.sequence_length = 32;
  auto source = testing::RandomSource::open(src, 32, hints);
  auto held_back = testing::RandomSource::open(src, 8, hints, {}, 1000);
  ASSERT_TRUE(held_back.ok());
  ASSERT_TRUE(source.ok());
  auto run = calibrate_quantize_compare(src, dir.path / "q.onnx", *source, *held_back, {});
  testing::expect_clean(run.check);
  EXPECT_EQ(run.check.qdq_ops["MatMul"], 16) << "QDQ around every MatMul in the written graph";
  EXPECT_EQ(run.check.qdq_ops["Gemm"], 1);
  EXPECT_EQ(run.check.qdq_ops["Softmax"], 2);
  EXPECT_EQ(run.check.qdq_ops["Gather"], 4) << "3 embedding tables and the pooler's first token";
  EXPECT_EQ(run.check.weights_ok, 13);
  EXPECT_EQ(run.check.weight_values_checked, 13);
  EXPECT_EQ(run.check.biases_ok, 1);
  auto s = structure_of(dir.path / "q.onnx");
  // Every MatMul reads both inputs through DQ: 12 with int8 weights, 4 attention products of
  // two activations. The pooler Gemm: input, weight, bias. Softmax inputs and outputs.
  EXPECT_EQ(s.dq_consumers["MatMul"], 16 * 2);
  EXPECT_EQ(s.q_producers["MatMul"], 16);
  EXPECT_EQ(s.dq_consumers["Gemm"], 3);
  EXPECT_EQ(s.dq_consumers["Softmax"], 2);
  EXPECT_EQ(s.q_producers["Softmax"], 2);
  EXPECT_EQ(s.int8_initializers, 12 + 1 + 13) << "13 weights and their zero points";
  EXPECT_EQ(s.ops["Gather"], 23) << "word/position/token-type tables now uint8 constants";
  int quantized_matmuls = 0;
  for (const auto& t : run.report.op_types)
    if (t.op_type == "MatMul") quantized_matmuls = static_cast<int>(t.quantized);
  EXPECT_EQ(quantized_matmuls, 16);
  EXPECT_TRUE(run.report.warnings.empty());
  auto* hidden = output(run.validation, "last_hidden_state");
  ASSERT_NE(hidden, nullptr);
  auto* pooled = output(run.validation, "pooler_output");
  ASSERT_NE(pooled, nullptr);
  EXPECT_GE(hidden->min_cosine, kBertMinCosine);
  EXPECT_GE(pooled->min_cosine, kBertMinCosine);
  EXPECT_GE(hidden->sqnr_db, kBertHiddenMinSqnrDb);
  EXPECT_GE(pooled->sqnr_db, kBertPoolerMinSqnrDb);
}

}  // namespace
}  // namespace modelkit

namespace modelkit {
namespace {

const quant::OpTypeSummary* op(const quant::QuantizeReport& r, const std::string& type) {
  for (const auto& t : r.op_types)
    if (t.op_type == type) return &t;
  return nullptr;
}

// Per-channel: every weight DequantizeLinear carries an axis and one scale per output channel.
TEST(QuantizeModels, CnnTinyPerChannel) {
  TempDir dir;
  auto src = model("cnn-tiny/model.onnx");
  InputHints hints;
  hints.image_size = 32;
  auto source = testing::RandomSource::open(src, 32, hints);
  auto held_back = testing::RandomSource::open(src, 8, hints, {}, 1000);
  ASSERT_TRUE(held_back.ok());
  ASSERT_TRUE(source.ok());
  quant::QuantizeOptions options;
  options.per_channel = true;
  auto run = calibrate_quantize_compare(src, dir.path / "q.onnx", *source, *held_back, options);
  testing::expect_clean(run.check);
  auto m = onnx::read_model_proto(dir.path / "q.onnx");
  ASSERT_TRUE(m.ok());
  std::map<std::string, const ::onnx::TensorProto*> inits;
  for (const auto& t : m->graph().initializer()) inits[t.name()] = &t;
  int per_channel_weights = 0, per_channel_biases = 0;
  for (const auto& n : m->graph().node()) {
    if (n.op_type() != "DequantizeLinear" || !inits.count(n.input(0))) continue;
    const auto& values = *inits[n.input(0)];
    const auto& scale = *inits.at(n.input(1));
    bool has_axis = false;
    std::int64_t axis = 1;
    for (const auto& a : n.attribute())
      if (a.name() == "axis") {
        has_axis = true;
        axis = a.i();
      }
    if (values.data_type() == ::onnx::TensorProto::INT8) {
      ASSERT_TRUE(has_axis) << n.name();
      ASSERT_EQ(scale.dims_size(), 1);
      EXPECT_EQ(scale.dims(0), values.dims(static_cast<int>(axis))) << "one scale per output channel";
      EXPECT_EQ(axis, 0) << "Conv weights [M, C, kh, kw] and the Linear's Gemm weight with transB=1 [N, K]";
      ++per_channel_weights;
    }
    if (values.data_type() == ::onnx::TensorProto::INT32) {
      ASSERT_EQ(scale.dims_size(), 1);
      EXPECT_EQ(scale.dims(0), values.dims(0));
      ++per_channel_biases;
    }
  }
  EXPECT_EQ(per_channel_weights, 4);
  EXPECT_EQ(per_channel_biases, 4);
  EXPECT_EQ(run.check.qdq_ops["Conv"], 3);
  EXPECT_EQ(run.check.qdq_ops["Gemm"], 1);
  EXPECT_EQ(run.check.weights_ok, 4) << "per-channel scales, axis 0, each channel at full scale";
  EXPECT_EQ(run.check.biases_ok, 4);
  EXPECT_TRUE(run.report.per_channel);
  auto* logits = output(run.validation, "logits");
  ASSERT_NE(logits, nullptr);
  EXPECT_GE(logits->min_cosine, kCnnTinyMinCosine);
  EXPECT_GE(logits->sqnr_db, kCnnTinyPerChannelMinSqnrDb);
}

// 16-bit activations: opset 14 has no 16-bit QuantizeLinear, so Q/DQ come from com.microsoft.
TEST(QuantizeModels, CnnTinyInt16ActivationsUseContribQdq) {
  TempDir dir;
  auto src = model("cnn-tiny/model.onnx");
  InputHints hints;
  hints.image_size = 32;
  auto source = testing::RandomSource::open(src, 16, hints);
  auto held_back = testing::RandomSource::open(src, 8, hints, {}, 1000);
  ASSERT_TRUE(held_back.ok());
  ASSERT_TRUE(source.ok());
  quant::QuantizeOptions options;
  options.activation_type = quant::QuantType::uint16;
  auto run = calibrate_quantize_compare(src, dir.path / "q.onnx", *source, *held_back, options);
  testing::expect_clean(run.check);
  EXPECT_EQ(run.report.qdq_domain, "com.microsoft");
  auto m = onnx::read_model_proto(dir.path / "q.onnx");
  ASSERT_TRUE(m.ok());
  bool imports = false;
  for (const auto& o : m->opset_import()) imports = imports || o.domain() == "com.microsoft";
  EXPECT_TRUE(imports);
  int contrib = 0, uint16_zero_points = 0;
  for (const auto& n : m->graph().node())
    if (n.op_type() == "QuantizeLinear") contrib += n.domain() == "com.microsoft" ? 1 : -1000;
  for (const auto& t : m->graph().initializer()) uint16_zero_points += t.data_type() == ::onnx::TensorProto::UINT16;
  EXPECT_EQ(contrib, run.report.quantize_linear_nodes);
  EXPECT_GT(uint16_zero_points, 0);
  auto* logits = output(run.validation, "logits");
  ASSERT_NE(logits, nullptr);
  EXPECT_EQ(run.check.qdq_ops["Conv"], 3);
  EXPECT_GE(logits->sqnr_db, kCnnTinyInt16MinSqnrDb) << "16-bit activations: the int8 weights dominate the error";
}

// Silero VAD: all compute lives in If branches (16 kHz / 8 kHz). The branch the calibration
// data takes is quantized; the other stays float with a warning. Per-tensor weights lose too
// much on its STFT/encoder convolutions (cosine ~0.93 on random audio); per-channel keeps it.
TEST(QuantizeModels, SileroVadV5) {
  TempDir dir;
  auto src = model("silero-vad/silero_vad_v5.onnx");
  InputHints hints;
  hints.sampling_rate = 16000;
  auto source = testing::RandomSource::open(src, 16, hints, {{"input", {1, 512}}, {"state", {2, 1, 128}}});
  auto held_back = testing::RandomSource::open(src, 8, hints, {{"input", {1, 512}}, {"state", {2, 1, 128}}}, 1000);
  ASSERT_TRUE(held_back.ok());
  ASSERT_TRUE(source.ok()) << source.error().message;
  quant::QuantizeOptions options;
  options.per_channel = true;
  auto run = calibrate_quantize_compare(src, dir.path / "q.onnx", *source, *held_back, options);
  testing::expect_clean(run.check);
  auto* conv = op(run.report, "Conv");
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->quantized, 6) << "the 16 kHz branch's STFT and encoder convolutions";
  EXPECT_EQ(conv->skip_reasons.at("branch not reached by the calibration data"), 6);
  bool warned = false;
  for (const auto& w : run.report.warnings) warned = warned || w.find("'If_0/else_branch'") != std::string::npos;
  EXPECT_TRUE(warned);
  auto s = structure_of(dir.path / "q.onnx");
  EXPECT_EQ(s.dq_consumers["Conv"], 6 * 3 - 1) << "input, weight, bias; the STFT Conv has no bias";
  EXPECT_EQ(run.check.qdq_ops["Conv"], 6) << "QDQ around the 6 Convs of the 16 kHz branch";
  EXPECT_EQ(run.check.weights_ok, 6);
  EXPECT_EQ(run.check.biases_ok, 5);
  auto* out = output(run.validation, "output");
  ASSERT_NE(out, nullptr);
  auto* state = output(run.validation, "stateN");
  ASSERT_NE(state, nullptr);
  // The speech probability is one value per sample, so only SQNR and the errors judge it.
  EXPECT_GE(out->sqnr_db, kSileroV5OutputMinSqnrDb);
  EXPECT_GE(state->sqnr_db, kSileroV5StateMinSqnrDb);
}

TEST(QuantizeModels, SileroVadLegacy) {
  TempDir dir;
  auto src = model("silero-vad/silero_vad_legacy.onnx");
  InputHints hints;
  hints.sampling_rate = 16000;
  auto source = testing::RandomSource::open(src, 16, hints, {{"input", {1, 512}}, {"h", {2, 1, 64}}, {"c", {2, 1, 64}}});
  auto held_back = testing::RandomSource::open(src, 8, hints, {{"input", {1, 512}}, {"h", {2, 1, 64}}, {"c", {2, 1, 64}}}, 1000);
  ASSERT_TRUE(held_back.ok());
  ASSERT_TRUE(source.ok()) << source.error().message;
  quant::QuantizeOptions options;
  options.per_channel = true;
  auto run = calibrate_quantize_compare(src, dir.path / "q.onnx", *source, *held_back, options);
  testing::expect_clean(run.check);
  EXPECT_EQ(run.check.qdq_ops["Conv"], 18) << "QDQ around all 18 Convs in the written graph";
  EXPECT_EQ(run.check.weights_ok, 18);
  EXPECT_EQ(run.check.biases_ok, 16);
  auto* out = output(run.validation, "output");
  ASSERT_NE(out, nullptr);
  auto* cn = output(run.validation, "cn");
  ASSERT_NE(cn, nullptr);
  // On random audio the legacy model's log-magnitude STFT front end amplifies quantization noise
  // on near-silent bins: the bounds sit just under what is measured, so any change shows.
  EXPECT_GE(out->cosine_similarity, kSileroLegacyOutputMinCosine);
  EXPECT_GE(cn->sqnr_db, kSileroLegacyCellMinSqnrDb);
}

// PP-OCRv4 detection: weights are Constant nodes, two of three BatchNormalization follow Convs, opset 11
// (per-channel therefore through com.microsoft DQ). On synthetic text pages the probability map
// keeps a cosine near 0.88 per-channel (0.83 per-tensor): PP-OCR det is known to be
// quantization-sensitive; the bound catches regressions, not perfection.
TEST(QuantizeModels, PpOcrDetection) {
  TempDir dir;
  auto src = model("pp-ocr/ch_PP-OCRv4_det_infer.onnx");
  testing::DocumentSource source("x", 96, 160, 8);
  testing::DocumentSource held_back("x", 96, 160, 8, 2000);
  quant::QuantizeOptions options;
  options.per_channel = true;
  auto run = calibrate_quantize_compare(src, dir.path / "q.onnx", source, held_back, options);
  testing::expect_clean(run.check);
  EXPECT_GT(run.report.constants_to_initializers, 300);
  EXPECT_EQ(run.report.batch_norms_folded, 2) << "the third BatchNormalization follows an Add";
  EXPECT_EQ(run.report.qdq_domain, "com.microsoft");
  ASSERT_NE(op(run.report, "Conv"), nullptr);
  EXPECT_EQ(op(run.report, "Conv")->quantized, 62);
  EXPECT_EQ(op(run.report, "ConvTranspose")->quantized, 2);
  EXPECT_EQ(op(run.report, "Resize")->quantized, 6);
  ASSERT_NE(op(run.report, "BatchNormalization"), nullptr);
  EXPECT_EQ(op(run.report, "BatchNormalization")->skipped, 1);
  EXPECT_GT(op(run.report, "Clip")->folded, 0);
  // The written graph: QDQ around every Conv, ConvTranspose and Resize; one BatchNormalization
  // left (the one after an Add); 64 weights, 2 of them BN-folded (not compared value for value).
  EXPECT_EQ(run.check.qdq_ops["Conv"], 62);
  EXPECT_EQ(run.check.qdq_ops["ConvTranspose"], 2);
  EXPECT_EQ(run.check.qdq_ops["Resize"], 6);
  EXPECT_EQ(run.check.batch_norms, 1);
  EXPECT_EQ(run.check.weights_ok, 64);
  EXPECT_EQ(run.check.weight_values_checked, 62);
  auto* prob = output(run.validation, "sigmoid_0.tmp_0");
  ASSERT_NE(prob, nullptr);
  EXPECT_GE(prob->cosine_similarity, kPpOcrMinCosine);
  EXPECT_GE(prob->min_cosine, kPpOcrMinSampleCosine);
  EXPECT_GE(prob->sqnr_db, kPpOcrMinSqnrDb);
}

}  // namespace
}  // namespace modelkit

namespace modelkit {
namespace {

TEST(Validation, CoarsenedModelIsFlaggedByTheDefaultWarnings) {
  TempDir dir;
  auto src = model("bert-tiny-like/model.onnx");
  InputHints hints;
  hints.sequence_length = 32;
  for (bool matmul_only : {false, true}) {
    quant::QuantizeOptions options;
    if (matmul_only) options.op_types = {"MatMul", "Gemm"};
    auto calibration = testing::RandomSource::open(src, 16, hints);
    auto held_back = testing::RandomSource::open(src, 8, hints, {}, 1000);
    ASSERT_TRUE(calibration.ok() && held_back.ok());
    auto plan = quant::plan_quantization(src, options);
    ASSERT_TRUE(plan.ok());
    auto ranges = calib::collect_ranges(src, plan->tensors_to_calibrate, *calibration, {});
    ASSERT_TRUE(ranges.ok());
    auto coarse = *ranges;
    for (auto& [name, r] : coarse.tensors) {
      r.min *= 8;
      r.max *= 8;
    }
    ASSERT_TRUE(quant::quantize(src, *ranges, options, dir.path / "good.onnx").ok());
    ASSERT_TRUE(quant::quantize(src, coarse, options, dir.path / "coarse.onnx").ok());
    auto good = quant::compare_models(src, dir.path / "good.onnx", *held_back, {.max_samples = 8});
    auto bad = quant::compare_models(src, dir.path / "coarse.onnx", *held_back, {.max_samples = 8});
    ASSERT_TRUE(good.ok() && bad.ok());
    print_metrics(matmul_only ? "bert matmul-only good" : "bert all-ops good", *good);
    print_metrics(matmul_only ? "bert matmul-only 8x" : "bert all-ops 8x", *bad);
    auto thresholds = quant::default_validation_thresholds();
    EXPECT_TRUE(quant::validation_warnings(*good, thresholds).empty());
    EXPECT_FALSE(quant::validation_warnings(*bad, thresholds).empty());
  }
}

}  // namespace
}  // namespace modelkit
