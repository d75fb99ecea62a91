// Quantization parameters against hand-computed values and ONNX Runtime's own QuantizeLinear;
// refusal of quantized models; exclude patterns and op-type filters with their warnings.
#include <modelkit/calib_stats.hpp>
#include <modelkit/quantize.hpp>
#include <modelkit/runtime.hpp>

#include "onnx/model_proto.hpp"
#include "qdq_check.hpp"
#include "quant/params.hpp"
#include "random_source.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace modelkit::quant {
namespace {
namespace fs = std::filesystem;

fs::path model(const std::string& relative) {
  auto p = fs::path(MODELKIT_DEPS_DIR) / "models" / relative;
  EXPECT_TRUE(fs::exists(p)) << p << " is missing: run scripts/setup.sh";
  return p;
}

fs::path temp_path(const std::string& name) {
  return fs::temp_directory_path() / ("modelkit-quant-" + std::to_string(::getpid()) + "-" + name);
}

TEST(QuantParams, AsymmetricHandComputed) {
  // [-1, 3] in uint8: scale 4/255, zero point round(0 + 1 / (4/255)) = round(63.75) = 64.
  auto p = asymmetric_params(-1, 3, QuantType::uint8);
  EXPECT_FLOAT_EQ(p.scale, 4.f / 255);
  EXPECT_EQ(p.zero_point, 64);
  // int8: zero point round(-128 + 63.75) = -64.
  p = asymmetric_params(-1, 3, QuantType::int8);
  EXPECT_EQ(p.zero_point, -64);
  // A positive range is widened to include 0: [0, 2] -> zero point 0.
  p = asymmetric_params(0.5f, 2, QuantType::uint8);
  EXPECT_FLOAT_EQ(p.scale, 2.f / 255);
  EXPECT_EQ(p.zero_point, 0);
  // A negative range: [-2, 0] -> zero point 255.
  p = asymmetric_params(-2, -0.5f, QuantType::uint8);
  EXPECT_EQ(p.zero_point, 255);
  // uint16 over [-1, 1]: scale 2/65535, zero point round(32767.5) = 32768 (half to even).
  p = asymmetric_params(-1, 1, QuantType::uint16);
  EXPECT_FLOAT_EQ(p.scale, 2.f / 65535);
  EXPECT_EQ(p.zero_point, 32768);
  // All zeros: scale 1.
  p = asymmetric_params(0, 0, QuantType::uint8);
  EXPECT_FLOAT_EQ(p.scale, 1.f);
}

TEST(QuantParams, SymmetricHandComputed) {
  auto p = symmetric_params(2.54f, QuantType::int8);  // [-127, 127]: 2 * 2.54 / 254
  EXPECT_FLOAT_EQ(p.scale, 0.02f);
  EXPECT_EQ(p.zero_point, 0);
  p = symmetric_params(1, QuantType::uint8);  // midpoint zero point
  EXPECT_FLOAT_EQ(p.scale, 2.f / 255);
  EXPECT_EQ(p.zero_point, 128);
  p = symmetric_params(1, QuantType::int16);
  EXPECT_FLOAT_EQ(p.scale, 1.f / 32767);
  EXPECT_EQ(quantize_value(-5.f, symmetric_params(1, QuantType::int8), QuantType::int8), -128)
      << "saturates to the type's full range";
  QuantParams quarter{0.5f, 0};
  EXPECT_EQ(quantize_value(1.25f, quarter, QuantType::int8), 2) << "2.5 rounds to even";
  EXPECT_EQ(quantize_value(1.75f, quarter, QuantType::int8), 4) << "3.5 rounds to even";
}

TEST(QuantParams, PerChannelWeightsAndBias) {
  std::vector<float> w = {1.f, -0.5f, 0.1f, 0.2f};  // [2 channels, 2]
  auto q = quantize_weight(Tensor::from_values<float>("w", {2, 2}, w), QuantType::int8, 0);
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->params.size(), 2u);
  EXPECT_FLOAT_EQ(q->params[0].scale, 1.f / 127);
  EXPECT_FLOAT_EQ(q->params[1].scale, 0.2f / 127);
  auto v = q->values.values<std::int8_t>();
  // -0.5 * 127 = -63.5 -> -64 (even); 0.1 / (0.2/127) = 63.5 -> 64 (even).
  EXPECT_EQ(std::vector<int>(v.begin(), v.end()), (std::vector<int>{127, -64, 64, 127}));
  // Along axis 1 the channels are the columns.
  auto q1 = quantize_weight(Tensor::from_values<float>("w", {2, 2}, w), QuantType::int8, 1);
  ASSERT_TRUE(q1.ok());
  EXPECT_FLOAT_EQ(q1->params[0].scale, 1.f / 127);
  EXPECT_FLOAT_EQ(q1->params[1].scale, 0.5f / 127);

  std::vector<float> b = {0.5f, -1.f};
  std::vector<QuantParams> wp = {{0.01f, 0}, {0.02f, 0}};
  auto qb = quantize_bias(Tensor::from_values<float>("b", {2}, b), 0.5f, wp);
  ASSERT_TRUE(qb.ok());
  auto bv = qb->values.values<std::int32_t>();
  EXPECT_EQ(bv[0], 100);   // 0.5 / (0.5 * 0.01)
  EXPECT_EQ(bv[1], -100);  // -1 / (0.5 * 0.02)
  EXPECT_FLOAT_EQ(qb->params[0].scale, 0.005f);
  // A bias that cannot fit int32 at that scale is refused, and widening the weight scale fixes it.
  std::vector<QuantParams> tiny = {{1e-12f, 0}, {0.02f, 0}};
  EXPECT_FALSE(quantize_bias(Tensor::from_values<float>("b", {2}, b), 0.5f, tiny).ok());
  EXPECT_TRUE(widen_weight_scales_for_bias(tiny, b, 0.5f));
  EXPECT_TRUE(quantize_bias(Tensor::from_values<float>("b", {2}, b), 0.5f, tiny).ok());
  EXPECT_FLOAT_EQ(tiny[1].scale, 0.02f) << "only the channel that needed it";
}

// ORT's QuantizeLinear, run on a one-node model, agrees with quantize_value bit for bit.
TEST(QuantParams, MatchOnnxRuntimeQuantizeLinear) {
  for (QuantType type : {QuantType::uint8, QuantType::int8}) {
    const QuantParams p = asymmetric_params(-1.3f, 2.9f, type);
    ::onnx::ModelProto m;
    m.set_ir_version(8);
    auto* opset = m.add_opset_import();
    opset->set_version(13);
    auto& g = *m.mutable_graph();
    g.set_name("q");
    auto* in = g.add_input();
    in->set_name("x");
    in->mutable_type()->mutable_tensor_type()->set_elem_type(::onnx::TensorProto::FLOAT);
    in->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(64);
    auto* out = g.add_output();
    out->set_name("y");
    out->mutable_type()->mutable_tensor_type()->set_elem_type(static_cast<int>(element_type(type)));
    std::vector<float> scale = {p.scale};
    *g.add_initializer() = onnx::tensor_to_proto(Tensor::from_values<float>("s", {}, scale));
    Tensor zp{"z", element_type(type), {}, {std::byte{static_cast<unsigned char>(p.zero_point)}}};
    *g.add_initializer() = onnx::tensor_to_proto(zp);
    auto* n = g.add_node();
    n->set_op_type("QuantizeLinear");
    n->add_input("x");
    n->add_input("s");
    n->add_input("z");
    n->add_output("y");
    std::string bytes;
    ASSERT_TRUE(m.SerializeToString(&bytes));
    auto session = runtime::Session::from_bytes(bytes);
    ASSERT_TRUE(session.ok()) << session.error().message;
    std::vector<float> x;
    for (int i = 0; i < 64; ++i) x.push_back(-2.f + static_cast<float>(i) * 0.07f + (i % 2 ? p.scale / 2 : 0.f));
    std::vector<Tensor> inputs = {Tensor::from_values<float>("x", {64}, x)};
    auto y = session->run(inputs);
    ASSERT_TRUE(y.ok()) << y.error().message;
    for (int i = 0; i < 64; ++i) {
      std::int64_t ort = type == QuantType::uint8 ? static_cast<std::int64_t>((*y)[0].values<std::uint8_t>()[i])
                                                  : static_cast<std::int64_t>((*y)[0].values<std::int8_t>()[i]);
      EXPECT_EQ(quantize_value(x[i], p, type), ort) << "x = " << x[i];
    }
  }
}

calib::TensorRanges ranges_for(const fs::path& src, const QuantizeOptions& options, int image_size = 16) {
  auto plan = plan_quantization(src, options);
  EXPECT_TRUE(plan.ok()) << (plan.ok() ? "" : plan.error().message);
  InputHints hints;
  hints.image_size = image_size;
  auto source = testing::RandomSource::open(src, 4, hints);
  auto r = calib::collect_ranges(src, plan->tensors_to_calibrate, *source, {});
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : calib::TensorRanges{};
}

TEST(Quantize, RefusesAnAlreadyQuantizedModel) {
  auto src = model("cnn-tiny/model.onnx");
  auto out = temp_path("once.onnx");
  auto ranges = ranges_for(src, {});
  ASSERT_TRUE(quantize(src, ranges, {}, out).ok());
  auto again = quantize(out, ranges, {}, temp_path("twice.onnx"));
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("is already quantized"), std::string::npos) << again.error().message;
  EXPECT_NE(again.error().message.find("QuantizeLinear x"), std::string::npos) << again.error().message;
  auto plan = plan_quantization(out, {});
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("already quantized"), std::string::npos);
  // ONNX's own QuantizeLinear node test model is refused the same way.
  auto node_test = model("onnx-node-tests/test_quantizelinear/model.onnx");
  auto refused = plan_quantization(node_test, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("QuantizeLinear"), std::string::npos) << refused.error().message;
  fs::remove(out);
}

TEST(Quantize, ExcludePatternsAndOpTypeFilterWarn) {
  auto src = model("cnn-tiny/model.onnx");
  QuantizeOptions options;
  options.exclude_nodes = {"/features/features.0/Conv", "/features/features\\.[3-9]/Conv", "no_such_node.*"};
  options.op_types = {"Conv", "Gemm", "Relu", "Softmax", "LSTM"};
  auto plan = plan_quantization(src, options);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  std::vector<std::string> expected = {"exclude pattern 'no_such_node.*' matches no node",
                                       "op type 'Softmax' matches no node", "op type 'LSTM' is not quantizable"};
  EXPECT_EQ(plan->warnings, expected);

  auto ranges = ranges_for(src, options);
  auto out = temp_path("excluded.onnx");
  auto report = quantize(src, ranges, options, out);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->warnings, expected);
  std::map<std::string, std::string> reason;
  for (const auto& n : report->nodes) reason[n.name] = n.status + ": " + n.reason;
  EXPECT_EQ(reason["/features/features.0/Conv"], "skipped: excluded by pattern '/features/features.0/Conv'");
  EXPECT_EQ(reason["/features/features.3/Conv"], "skipped: excluded by pattern '/features/features\\.[3-9]/Conv'");
  EXPECT_EQ(reason["/classifier/Gemm"].substr(0, 9), "quantized");
  // Only the Conv that is not excluded (and its Relu) is quantized.
  std::int64_t convs = 0;
  for (const auto& t : report->op_types)
    if (t.op_type == "Conv") convs = t.quantized;
  EXPECT_EQ(convs, 0) << "features.0 by name, features.3 and .6 (if present) by the regex";
  auto check = testing::check_qdq(out, src, ranges, options);
  testing::expect_clean(check);
  EXPECT_EQ(check.qdq_ops["Conv"], 0) << "the written graph: no Conv between Q/DQ";
  EXPECT_EQ(check.qdq_ops["Gemm"], 1);
  EXPECT_EQ(check.weights_ok, 1) << "only the Gemm's weight is int8";
  fs::remove(out);
}

// A saved ranges file is honoured value for value: widening one tensor's range in the file
// changes that tensor's QuantizeLinear scale to what the new range gives, and no other.
TEST(Quantize, EditedSavedRangeChangesItsScale) {
  auto src = model("cnn-tiny/model.onnx");
  const auto file = temp_path("ranges.json"), edited_file = temp_path("edited.json");
  ASSERT_TRUE(calib::write_ranges_file(ranges_for(src, {}), file).ok());
  auto saved = calib::read_ranges_file(file);
  ASSERT_TRUE(saved.ok()) << saved.error().message;
  const auto a = temp_path("a.onnx"), b = temp_path("b.onnx");
  ASSERT_TRUE(quantize(src, *saved, {}, a).ok());
  auto before = testing::quantize_params(a);
  ASSERT_FALSE(before.empty());
  std::string edited_tensor;
  for (const auto& [tensor, p] : before)
    if (saved->tensors.count(tensor)) edited_tensor = tensor;
  ASSERT_FALSE(edited_tensor.empty());
  auto edited = *saved;
  auto& r = edited.tensors[edited_tensor];
  r.min = r.min * 3 - 1;
  r.max = r.max * 3 + 1;
  ASSERT_TRUE(calib::write_ranges_file(edited, edited_file).ok());
  auto reread = calib::read_ranges_file(edited_file);
  ASSERT_TRUE(reread.ok());
  ASSERT_TRUE(quantize(src, *reread, {}, b).ok());
  auto after = testing::quantize_params(b);
  ASSERT_EQ(after.size(), before.size());
  auto expected = testing::qdq_detail::expected_params(r.min, r.max, QuantType::uint8);
  EXPECT_FLOAT_EQ(after[edited_tensor].first, expected.first) << edited_tensor;
  EXPECT_EQ(after[edited_tensor].second, expected.second) << edited_tensor;
  EXPECT_GT(after[edited_tensor].first, before[edited_tensor].first * 2) << "the wider range gives a coarser scale";
  for (const auto& [tensor, p] : before)
    if (tensor != edited_tensor) {
      EXPECT_EQ(after[tensor], p) << tensor << " did not change in the file";
    }
  testing::expect_clean(testing::check_qdq(b, src, *reread, {}));
  for (const auto& f : {file, edited_file, a, b}) fs::remove(f);
}

// A Conv whose bias does not match its output channels (3 values, 2 channels): per-channel
// weights cannot give it one scale per value, so the bias stays float with a warning naming both
// counts (this path once read the bias after dropping it).
TEST(Quantize, MismatchedBiasStaysFloatWithAWarning) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto& g = *m.mutable_graph();
  g.set_name("conv");
  auto add_value = [](::onnx::ValueInfoProto* v, const std::string& name, std::vector<std::int64_t> dims) {
    v->set_name(name);
    v->mutable_type()->mutable_tensor_type()->set_elem_type(::onnx::TensorProto::FLOAT);
    for (auto d : dims) v->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(d);
  };
  add_value(g.add_input(), "x", {1, 1, 4, 4});
  add_value(g.add_output(), "y", {1, 2, 4, 4});
  std::vector<float> w = {0.5f, -0.25f}, b = {0.1f, 0.2f, 0.3f};
  *g.add_initializer() = onnx::tensor_to_proto(Tensor::from_values<float>("w", {2, 1, 1, 1}, w));
  *g.add_initializer() = onnx::tensor_to_proto(Tensor::from_values<float>("b", {3}, b));
  auto* n = g.add_node();
  n->set_op_type("Conv");
  n->set_name("conv");
  for (const char* i : {"x", "w", "b"}) n->add_input(i);
  n->add_output("y");
  const auto src = temp_path("mismatched-bias.onnx"), out = temp_path("mismatched-bias-q.onnx");
  {
    std::ofstream f(src, std::ios::binary);
    ASSERT_TRUE(m.SerializeToOstream(&f));
  }
  QuantizeOptions options;
  options.per_channel = true;
  auto plan = plan_quantization(src, options);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  calib::TensorRanges ranges;
  for (const auto& t : plan->tensors_to_calibrate) ranges.tensors[t] = {-1, 1};
  auto report = quantize(src, ranges, options, out);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->biases_quantized, 0);
  EXPECT_EQ(report->weights_quantized, 1);
  ASSERT_EQ(report->warnings.size(), 1u);
  EXPECT_EQ(report->warnings[0], "bias of node 'conv' kept in float: 3 values for 2 weight channels");
  auto written = onnx::read_model_proto(out);
  ASSERT_TRUE(written.ok());
  for (const auto& node : written->graph().node())
    if (node.op_type() == "Conv") {
      EXPECT_EQ(node.input(2), "b") << "the float bias, read directly";
    }
  fs::remove(src);
  fs::remove(out);
}

TEST(Quantize, RefusesOpsetBelow10) {
  // PP-OCR's direction classifier is opset 9.
  auto plan = plan_quantization(model("pp-ocr/ch_ppocr_mobile_v2.0_cls_infer.onnx"), {});
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("uses opset 9; static QDQ quantization needs opset 10 or newer"),
            std::string::npos)
      << plan.error().message;
}

TEST(Quantize, InvalidPatternIsAUsageError) {
  QuantizeOptions options;
  options.exclude_nodes = {"conv[("};
  auto plan = plan_quantization(model("cnn-tiny/model.onnx"), options);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().kind, ErrorKind::usage);
  EXPECT_NE(plan.error().message.find("'conv[('"), std::string::npos) << plan.error().message;
  EXPECT_FALSE(parse_quant_type("int4").ok());
  EXPECT_EQ(*parse_quant_type("int16"), QuantType::int16);
}

TEST(Quantize, MissingRangesAreAnErrorNamingATensor) {
  auto src = model("cnn-tiny/model.onnx");
  calib::TensorRanges empty;
  auto r = quantize(src, empty, {}, temp_path("missing.onnx"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("the ranges lack"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("e.g. '/ReduceMean_output_0'"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace modelkit::quant

namespace modelkit::quant {
namespace {

constexpr double kExternalDataMinSqnrDb = 40;  // measured 41.6 dB (cnn-tiny at 16x16, 4 held-back samples)

// Weights held in external data (as models over 2 GiB must be) are read for calibration and
// quantization; the output is written and loads.
TEST(Quantize, ExternalDataModel) {
  auto dir = fs::temp_directory_path() / ("modelkit-quant-ext-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto src = model("cnn-tiny/model.onnx");
  auto proto = onnx::read_model_proto(src);
  ASSERT_TRUE(proto.ok());
  onnx::SaveOptions save;
  save.external_data = onnx::ExternalDataPolicy::always;
  save.size_threshold = 0;
  ASSERT_TRUE(onnx::save_model_proto(*proto, dir / "model.onnx", save).ok());
  auto info = onnx::read_model_info(dir / "model.onnx");
  ASSERT_TRUE(info.ok());
  ASSERT_GT(info->external_data_bytes, 0u) << "the weights live in the side file";

  auto ranges = ranges_for(dir / "model.onnx", {});
  auto report = quantize(dir / "model.onnx", ranges, {}, dir / "q.onnx");
  ASSERT_TRUE(report.ok()) << report.error().message;
  // The written graph, with the weights read back from the side file and compared value for value.
  auto check = testing::check_qdq(dir / "q.onnx", dir / "model.onnx", ranges, {});
  testing::expect_clean(check);
  EXPECT_EQ(check.qdq_ops["Conv"], 3);
  EXPECT_EQ(check.qdq_ops["Gemm"], 1);
  EXPECT_EQ(check.weight_values_checked, 4);
  // The float weights are 4 bytes a value, the quantized ones 1: the output is at most a third
  // of the input (the float model written back would be the same size).
  EXPECT_LT(report->output_bytes * 3, report->input_bytes) << report->output_bytes << " of " << report->input_bytes;
  InputHints hints;
  hints.image_size = 16;
  auto source = testing::RandomSource::open(dir / "model.onnx", 4, hints, {}, 1000);
  auto v = compare_models(dir / "model.onnx", dir / "q.onnx", *source, {});
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_GE(v->outputs[0].sqnr_db, kExternalDataMinSqnrDb);
  EXPECT_LT(v->outputs[0].sqnr_db, 200) << "not the float model";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace modelkit::quant

namespace modelkit::quant {
namespace {

// Loop bodies run once per iteration; their values cannot be calibrated through plain outputs,
// so their nodes stay float. A model whose only quantizable nodes sit in a Loop body leaves
// nothing to quantize: an error that says why, and nothing written (it aborted in calibration).
TEST(Quantize, LoopBodiesStayFloat) {
  auto src = model("onnx-node-tests/test_loop11/model.onnx");
  auto plan = plan_quantization(src, {});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().kind, ErrorKind::failure);
  EXPECT_NE(plan.error().message.find("nothing to quantize in '" + src.string() + "': of its 8 nodes, "
                                      "1 of op types modelkit does not quantize (Loop), "
                                      "7 left in float (inside a Loop body)"),
            std::string::npos)
      << plan.error().message
      << " (the body's 9 nodes less its 2 Constants, now initializers, both Adds included)";
  calib::TensorRanges none;
  auto out = temp_path("loop.onnx");
  EXPECT_FALSE(quantize(src, none, {}, out).ok());
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace modelkit::quant
