// End-to-end quantization of the real test models (.deps/models, from scripts/setup.sh):
// calibrate with random inputs, quantize, check the QDQ structure by reading the written model
// back, load it in ONNX Runtime, and compare float vs quantized outputs.
#include <modelkit/calib_stats.hpp>
#include <modelkit/quantize.hpp>
#include <modelkit/runtime.hpp>

#include "onnx/model_proto.hpp"
#include "document_source.hpp"
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
};

Run calibrate_quantize_compare(const fs::path& float_model, const fs::path& out, calib::SampleSource& source,
                               const quant::QuantizeOptions& options, calib::CollectOptions collect = {}) {
  Run run;
  auto plan = quant::plan_quantization(float_model, options);
  EXPECT_TRUE(plan.ok()) << (plan.ok() ? "" : plan.error().message);
  if (!plan) return run;
  EXPECT_FALSE(plan->tensors_to_calibrate.empty());
  auto ranges = calib::collect_ranges(float_model, plan->tensors_to_calibrate, source, collect);
  EXPECT_TRUE(ranges.ok()) << (ranges.ok() ? "" : ranges.error().message);
  if (!ranges) return run;
  run.ranges = *ranges;
  auto report = quant::quantize(float_model, *ranges, options, out);
  EXPECT_TRUE(report.ok()) << (report.ok() ? "" : report.error().message);
  if (!report) return run;
  run.report = *report;
  auto validation = quant::compare_models(float_model, out, source, {.max_samples = 8});
  EXPECT_TRUE(validation.ok()) << (validation.ok() ? "" : validation.error().message);
  if (validation) run.validation = *validation;
  return run;
}

const quant::OutputComparison* output(const quant::ValidationReport& v, const std::string& name) {
  for (const auto& o : v.outputs)
    if (o.name == name) return &o;
  ADD_FAILURE() << "no output " << name;
  return nullptr;
}

TEST(QuantizeModels, CnnTinyPerTensor) {
  TempDir dir;
  auto src = model("cnn-tiny/model.onnx");
  InputHints hints;
  hints.image_size = 32;
  auto source = testing::RandomSource::open(src, 32, hints);
  ASSERT_TRUE(source.ok());
  auto run = calibrate_quantize_compare(src, dir.path / "q.onnx", *source, {});
  // 3 Conv + 1 Gemm quantized; the 3 Relu after the Convs folded into the Conv outputs.
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
  auto* logits = output(run.validation, "logits");
  ASSERT_NE(logits, nullptr);
  EXPECT_GE(logits->cosine_similarity, 0.99);
  std::cerr << "cnn-tiny logits cosine " << logits->cosine_similarity << " max abs " << logits->max_abs_error << "\n";
}

TEST(QuantizeModels, BertTinyLike) {
  TempDir dir;
  auto src = model("bert-tiny-like/model.onnx");
  InputHints hints;
  hints.sequence_length = 32;
  auto source = testing::RandomSource::open(src, 32, hints);
  ASSERT_TRUE(source.ok());
  auto run = calibrate_quantize_compare(src, dir.path / "q.onnx", *source, {});
  auto s = structure_of(dir.path / "q.onnx");
  for (const auto& t : run.report.op_types) {
    std::cerr << t.op_type << " q=" << t.quantized << " f=" << t.folded << " s=" << t.skipped;
    for (const auto& [r, c] : t.skip_reasons) std::cerr << " [" << r << ": " << c << "]";
    std::cerr << "\n";
  }
  auto* hidden = output(run.validation, "last_hidden_state");
  ASSERT_NE(hidden, nullptr);
  std::cerr << "bert last_hidden_state cosine " << hidden->cosine_similarity << " max abs " << hidden->max_abs_error << "\n";
  auto* pooled = output(run.validation, "pooler_output");
  ASSERT_NE(pooled, nullptr);
  std::cerr << "bert pooler cosine " << pooled->cosine_similarity << " max abs " << pooled->max_abs_error << "\n";
  EXPECT_GE(hidden->cosine_similarity, 0.99);
}

}  // namespace
}  // namespace modelkit

namespace modelkit {
namespace {

void print_report(const quant::QuantizeReport& r) {
  for (const auto& t : r.op_types) {
    std::cerr << t.op_type << " q=" << t.quantized << " f=" << t.folded << " s=" << t.skipped;
    for (const auto& [reason, c] : t.skip_reasons) std::cerr << " [" << reason << ": " << c << "]";
    std::cerr << "\n";
  }
  for (const auto& w : r.warnings) std::cerr << "warning: " << w << "\n";
}

TEST(QuantizeModels, SileroVadV5) {
  TempDir dir;
  auto src = model("silero-vad/silero_vad_v5.onnx");
  InputHints hints;
  hints.sampling_rate = 16000;
  auto source = testing::RandomSource::open(src, 16, hints, {{"input", {1, 512}}, {"state", {2, 1, 128}}});
  ASSERT_TRUE(source.ok()) << source.error().message;
  auto run = calibrate_quantize_compare(src, dir.path / "q.onnx", *source, {});
  print_report(run.report);
  for (const auto& o : run.validation.outputs) std::cerr << o.name << " cos " << o.cosine_similarity << " max " << o.max_abs_error << "\n";
}

TEST(QuantizeModels, SileroVadLegacy) {
  TempDir dir;
  auto src = model("silero-vad/silero_vad_legacy.onnx");
  InputHints hints;
  hints.sampling_rate = 16000;
  auto source = testing::RandomSource::open(src, 16, hints, {{"input", {1, 512}}, {"h", {2, 1, 64}}, {"c", {2, 1, 64}}});
  ASSERT_TRUE(source.ok()) << source.error().message;
  auto run = calibrate_quantize_compare(src, dir.path / "q.onnx", *source, {});
  print_report(run.report);
  for (const auto& o : run.validation.outputs) std::cerr << o.name << " cos " << o.cosine_similarity << " max " << o.max_abs_error << "\n";
}

TEST(QuantizeModels, PpOcrDetection) {
  TempDir dir;
  auto src = model("pp-ocr/ch_PP-OCRv4_det_infer.onnx");
  testing::DocumentSource source("x", 96, 160, 8);
  auto run = calibrate_quantize_compare(src, dir.path / "q.onnx", source, {});
  print_report(run.report);
  for (const auto& o : run.validation.outputs) std::cerr << o.name << " cos " << o.cosine_similarity << " max " << o.max_abs_error << "\n";
}

}  // namespace
}  // namespace modelkit
