// The runtime layer against references: ONNX's node tests (ORT output vs the stored
// output_*.pb), torch's outputs for the tiny BERT and CNN, and external-data round trips.
#include <modelkit/onnx.hpp>
#include <modelkit/random_inputs.hpp>
#include <modelkit/runtime.hpp>

#include "../onnx/test_models.hpp"
#include "onnx/model_proto.hpp"
#include "util/file.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <regex>
#include <set>

namespace modelkit::runtime {
namespace {

namespace fs = std::filesystem;
using modelkit::testing::TempDir;
using modelkit::testing::test_model;
using ::testing::HasSubstr;

Result<Tensor> read_tensor_pb(const fs::path& path) {
  auto bytes = util::read_file(path);
  if (!bytes) return bytes.take_error();
  ::onnx::TensorProto proto;
  if (!proto.ParseFromString(*bytes)) return failure("cannot parse " + path.string());
  return onnx::tensor_from_proto(proto);
}

// Inputs and expected outputs of one test_data_set folder, named after the model's inputs/outputs.
struct TestData {
  std::vector<Tensor> inputs;
  std::vector<Tensor> outputs;
};
Result<TestData> read_test_data(const fs::path& folder, const Session& session) {
  TestData data;
  for (std::size_t i = 0; i < session.inputs().size(); ++i) {
    auto t = read_tensor_pb(folder / ("input_" + std::to_string(i) + ".pb"));
    if (!t) return t.take_error();
    t->name = session.inputs()[i].name;
    data.inputs.push_back(std::move(*t));
  }
  for (std::size_t i = 0; i < session.outputs().size(); ++i) {
    auto t = read_tensor_pb(folder / ("output_" + std::to_string(i) + ".pb"));
    if (!t) return t.take_error();
    t->name = session.outputs()[i].name;
    data.outputs.push_back(std::move(*t));
  }
  return data;
}

double as_double(const Tensor& t, std::size_t i) {
  switch (t.type) {
    case ElementType::float32: return t.values<float>()[i];
    case ElementType::float64: return t.values<double>()[i];
    case ElementType::int64: return static_cast<double>(t.values<std::int64_t>()[i]);
    case ElementType::int32: return t.values<std::int32_t>()[i];
    case ElementType::int16: return t.values<std::int16_t>()[i];
    case ElementType::int8: return t.values<std::int8_t>()[i];
    case ElementType::uint8: return t.values<std::uint8_t>()[i];
    case ElementType::uint16: return t.values<std::uint16_t>()[i];
    case ElementType::uint32: return t.values<std::uint32_t>()[i];
    case ElementType::uint64: return static_cast<double>(t.values<std::uint64_t>()[i]);
    case ElementType::boolean: return t.values<std::uint8_t>()[i];
    default: return std::nan("");
  }
}

// "" when equal within tolerance (floats: |a-b| <= atol + rtol*|b|), else what differs.
std::string compare(const Tensor& got, const Tensor& want, double rtol, double atol) {
  if (got.type != want.type) return "type " + element_type_name(got.type) + " vs " + element_type_name(want.type);
  if (got.shape != want.shape) return "shape " + format_shape(got.shape) + " vs " + format_shape(want.shape);
  bool is_float = got.type == ElementType::float32 || got.type == ElementType::float64;
  bool numeric = is_float || got.type == ElementType::int64 || got.type == ElementType::int32 ||
                 got.type == ElementType::int16 || got.type == ElementType::int8 || got.type == ElementType::uint8 ||
                 got.type == ElementType::uint16 || got.type == ElementType::uint32 ||
                 got.type == ElementType::uint64 || got.type == ElementType::boolean;
  if (!numeric) return got.bytes == want.bytes ? "" : "bytes differ";
  for (std::size_t i = 0; i < got.element_count(); ++i) {
    double a = as_double(got, i), b = as_double(want, i);
    if (std::isnan(a) && std::isnan(b)) continue;
    if (is_float ? !(std::abs(a - b) <= atol + rtol * std::abs(b)) : a != b)
      return "element " + std::to_string(i) + ": " + std::to_string(a) + " vs " + std::to_string(b);
  }
  return "";
}

TEST(Runtime, ReportsTheLibraryVersion) {
  auto version = onnxruntime_version();
  EXPECT_TRUE(std::regex_match(version, std::regex(R"(1\.\d+\.\d+)"))) << version;
  int minor = std::stoi(version.substr(2));
  int header_minor = std::stoi(onnxruntime_header_version().substr(2));
  EXPECT_LE(header_minor, minor) << "headers must not be newer than the library";
}

// ONNX's own backend node tests: each model's stored outputs are numpy's reference results.
TEST(Runtime, OnnxNodeTestsMatchTheirReferenceOutputs) {
  auto root = test_model("onnx-node-tests");
  // Where ONNX Runtime 1.30 (CPU) does not reproduce ONNX 1.12's stored outputs, and why. Any
  // other difference fails the test.
  const std::map<std::string, std::string> known_differences = {
      {"test_adagrad", "training op (ai.onnx.preview.training) not in an inference build"},
      {"test_adagrad_multiple", "training op not in an inference build"},
      {"test_adam", "training op not in an inference build"},
      {"test_adam_multiple", "training op not in an inference build"},
      {"test_momentum", "training op not in an inference build"},
      {"test_momentum_multiple", "training op not in an inference build"},
      {"test_nesterov_momentum", "training op not in an inference build"},
      {"test_bernoulli", "random: output depends on the generator"},
      {"test_bernoulli_double", "random"},
      {"test_bernoulli_double_expanded", "random"},
      {"test_bernoulli_expanded", "random"},
      {"test_bernoulli_seed", "random: ORT's generator differs from numpy's for the same seed"},
      {"test_bernoulli_seed_expanded", "random"},
      {"test_training_dropout", "random mask in training mode"},
      {"test_training_dropout_default", "random mask in training mode"},
      {"test_training_dropout_default_mask", "random mask in training mode"},
      {"test_training_dropout_mask", "random mask in training mode"},
      {"test_bitshift_left_uint16", "no uint16 BitShift kernel"},
      {"test_bitshift_right_uint16", "no uint16 BitShift kernel"},
      {"test_max_int16", "no int16 Max kernel"},
      {"test_max_uint16", "no uint16 Max kernel"},
      {"test_min_int16", "no int16 Min kernel"},
      {"test_min_uint16", "no uint16 Min kernel"},
      {"test_pow_types_float32_uint32", "no Pow kernel for a uint32 exponent"},
      {"test_pow_types_float32_uint64", "no Pow kernel for a uint64 exponent"},
      {"test_gru_batchwise", "layout=1 (batch-first) RNNs not supported on CPU"},
      {"test_lstm_batchwise", "layout=1 not supported on CPU"},
      {"test_simple_rnn_batchwise", "layout=1 not supported on CPU"},
      {"test_dft", "float32 FFT: values that should be 0 come out ~1e-4"},
      {"test_dft_axis", "float32 FFT rounding near zero"},
      {"test_dft_inverse", "float32 FFT rounding near zero"},
      {"test_stft", "float32 FFT rounding near zero"},
      {"test_stft_with_window", "float32 FFT rounding near zero"},
      {"test_maxunpool_export_with_output_shape", "ORT places values differently when output_shape is given"},
      {"test_resize_downsample_scales_cubic_align_corners", "ORT resize deviates on align_corners downsampling"},
      {"test_resize_downsample_scales_linear_align_corners", "ORT resize deviates on align_corners downsampling"},
  };
  int run = 0, skipped = 0;
  std::vector<std::string> failures;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(root)) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  for (const auto& dir : dirs) {
    std::string name = dir.filename().string();
    auto info = onnx::read_model_info(dir / "model.onnx");
    ASSERT_TRUE(info.ok()) << info.error().message;
    bool dense = true;
    for (const auto* list : {&info->inputs, &info->outputs})
      for (const auto& v : *list)
        dense &= v.kind == "tensor" && element_bits(v.element_type) != 0 && v.element_type != ElementType::bfloat16 &&
                 v.element_type != ElementType::float16 && element_bits(v.element_type) >= 8;
    if (!dense || !fs::exists(dir / "test_data_set_0")) {
      ++skipped;  // sequences, optionals, strings, 16-bit floats: not Tensor-comparable here
      continue;
    }
    auto session = Session::open(dir / "model.onnx");
    std::string problem;
    if (!session) {
      problem = session.error().message;
    } else {
      auto data = read_test_data(dir / "test_data_set_0", *session);
      if (!data) {
        problem = data.error().message;
      } else {
        auto outputs = session->run(data->inputs);
        if (!outputs) {
          problem = outputs.error().message;
        } else {
          for (std::size_t i = 0; i < outputs->size() && problem.empty(); ++i) {
            auto diff = compare((*outputs)[i], data->outputs[i], 1e-3, 1e-5);
            if (!diff.empty()) problem = "output " + data->outputs[i].name + ": " + diff;
          }
        }
      }
    }
    ++run;
    if (!problem.empty() && !known_differences.count(name)) failures.push_back(name + ": " + problem.substr(0, 200));
  }
  int known = 0;
  for (const auto& [name, why] : known_differences) known += fs::exists(root / name) ? 1 : 0;
  EXPECT_EQ(known, static_cast<int>(known_differences.size())) << "a known difference names a test that is gone";
  EXPECT_GT(run, 700);
  EXPECT_THAT(failures, ::testing::IsEmpty()) << [&] { std::string all; for (auto& f : failures) all += f.substr(0, f.find(":")) + " "; return all; }();
  RecordProperty("node_tests_run", run);
  RecordProperty("node_tests_skipped", skipped);
}

// ORT on the exported models vs torch's own outputs for the same inputs (saved at export).
TEST(Runtime, TinyModelsMatchTorch) {
  for (const char* name : {"bert-tiny-like", "cnn-tiny"}) {
    auto dir = test_model(name);
    auto session = Session::open(dir / "model.onnx");
    ASSERT_TRUE(session.ok()) << session.error().message;
    auto data = read_test_data(dir / "test_data_set_0", *session);
    ASSERT_TRUE(data.ok()) << data.error().message;
    auto outputs = session->run(data->inputs);
    ASSERT_TRUE(outputs.ok()) << outputs.error().message;
    ASSERT_EQ(outputs->size(), data->outputs.size());
    for (std::size_t i = 0; i < outputs->size(); ++i)
      EXPECT_EQ(compare((*outputs)[i], data->outputs[i], 1e-4, 1e-5), "") << name << " " << data->outputs[i].name;
  }
}

TEST(Runtime, SpecsAndSelectedOutputs) {
  auto session = Session::open(test_model("bert-tiny-like/model.onnx"));
  ASSERT_TRUE(session.ok()) << session.error().message;
  ASSERT_EQ(session->inputs().size(), 3u);
  EXPECT_EQ(session->inputs()[0].name, "input_ids");
  EXPECT_EQ(session->inputs()[0].type, ElementType::int64);
  EXPECT_EQ(session->inputs()[0].shape, (std::vector<std::int64_t>{-1, -1}));
  EXPECT_THAT(session->inputs()[0].symbols, ::testing::ElementsAre("batch_size", "sequence_length"));
  EXPECT_EQ(session->outputs()[0].shape, (std::vector<std::int64_t>{-1, -1, 64}));

  auto data = read_test_data(test_model("bert-tiny-like/test_data_set_0"), *session);
  ASSERT_TRUE(data.ok());
  std::vector<std::string> wanted = {"pooler_output"};
  auto pooled = session->run(data->inputs, wanted);
  ASSERT_TRUE(pooled.ok()) << pooled.error().message;
  ASSERT_EQ(pooled->size(), 1u);
  EXPECT_EQ((*pooled)[0].name, "pooler_output");
  EXPECT_EQ(compare((*pooled)[0], data->outputs[1], 1e-4, 1e-5), "");
}

TEST(Runtime, RunErrorsAreClear) {
  auto path = test_model("bert-tiny-like/model.onnx");
  auto session = Session::open(path);
  ASSERT_TRUE(session.ok());
  auto data = read_test_data(test_model("bert-tiny-like/test_data_set_0"), *session);
  ASSERT_TRUE(data.ok());
  auto inputs = data->inputs;

  auto missing = session->run(std::span<const Tensor>(inputs).subspan(0, 2));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "'" + path.string() + "': input 'token_type_ids' was not given");

  std::vector<std::string> bogus = {"logits"};
  auto unknown = session->run(inputs, bogus);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "'" + path.string() + "' has no output named 'logits'");

  auto wrong = inputs;
  auto ids = wrong[0].values<std::int64_t>();
  std::vector<std::int32_t> narrow(ids.begin(), ids.end());
  wrong[0] = Tensor::from_values<std::int32_t>("input_ids", wrong[0].shape, narrow);
  auto typed = session->run(wrong);
  ASSERT_FALSE(typed.ok());
  EXPECT_THAT(typed.error().message, HasSubstr("input 'input_ids' is int32, the model wants int64"));

  auto out_of_range = inputs;
  out_of_range[0].values<std::int64_t>()[0] = 5000;  // vocabulary is 1000
  auto ort_error = session->run(out_of_range);
  ASSERT_FALSE(ort_error.ok());
  EXPECT_THAT(ort_error.error().message, HasSubstr("onnxruntime: running '" + path.string() + "' failed: "));
  EXPECT_THAT(ort_error.error().message, HasSubstr("; check that the inputs match what `modelkit inspect -m '" + path.string() + "'` lists"));

  TempDir dir;
  auto bad = dir.path() / "bad.onnx";
  ASSERT_TRUE(util::write_file_atomic(bad, "not a model").ok());
  auto load = Session::open(bad);
  ASSERT_FALSE(load.ok());
  EXPECT_THAT(load.error().message, HasSubstr("onnxruntime: cannot load '" + bad.string() + "': "));
  // ORT's words inside a sentence saying what to do.
  EXPECT_THAT(load.error().message, HasSubstr("; the model may need a newer opset or ONNX Runtime than " +
                                                  onnxruntime_version() + ", or be corrupt: check it with `modelkit inspect -m '" +
                                                  bad.string() + "'`"));
  EXPECT_EQ(load.error().message.find('\n'), std::string::npos);
  EXPECT_THAT(Session::open(dir.path() / "absent.onnx").error().message, HasSubstr("no such file"));
}

// A model saved with its weights in a side file runs in ORT exactly like the original.
TEST(Runtime, ExternalDataModelsRunLikeTheOriginal) {
  auto src = test_model("bert-tiny-like/model.onnx");
  auto model = onnx::read_model_proto(src);
  ASSERT_TRUE(model.ok());
  TempDir dir;
  onnx::SaveOptions always;
  always.external_data = onnx::ExternalDataPolicy::always;
  ASSERT_TRUE(onnx::save_model_proto(*model, dir.path() / "model.onnx", always).ok());

  auto original = Session::open(src);
  auto external = Session::open(dir.path() / "model.onnx");
  ASSERT_TRUE(original.ok() && external.ok()) << (external.ok() ? "" : external.error().message);
  auto data = read_test_data(test_model("bert-tiny-like/test_data_set_0"), *original);
  ASSERT_TRUE(data.ok());
  auto a = original->run(data->inputs);
  auto b = external->run(data->inputs);
  ASSERT_TRUE(a.ok() && b.ok());
  for (std::size_t i = 0; i < a->size(); ++i) EXPECT_EQ((*a)[i].bytes, (*b)[i].bytes);

  // From bytes, the side file is found through external_data_dir.
  auto bytes = util::read_file(dir.path() / "model.onnx");
  ASSERT_TRUE(bytes.ok());
  SessionOptions options;
  options.external_data_dir = dir.path();
  auto from_bytes = Session::from_bytes(*bytes, options);
  ASSERT_TRUE(from_bytes.ok()) << from_bytes.error().message;
  auto c = from_bytes->run(data->inputs);
  ASSERT_TRUE(c.ok());
  for (std::size_t i = 0; i < a->size(); ++i) EXPECT_EQ((*a)[i].bytes, (*c)[i].bytes);
}

// Calibration's view: intermediate tensors as extra outputs, the model's own outputs unchanged.
TEST(Runtime, ExtraOutputsExposeIntermediateTensors) {
  auto path = test_model("bert-tiny-like/model.onnx");
  auto model = onnx::read_model_proto(path);
  ASSERT_TRUE(model.ok());
  std::vector<std::string> names;
  std::string matmul_input;
  for (const auto& n : model->graph().node()) {
    if (n.op_type() == "MatMul" && names.size() < 4) {
      names.push_back(n.output(0));
      if (matmul_input.empty()) matmul_input = n.input(0);
    }
  }
  names.push_back(matmul_input);
  names.push_back("input_ids");  // a graph input can be watched too
  ASSERT_EQ(names.size(), 6u);

  auto plain = Session::open(path);
  auto watched = open_with_extra_outputs(path, names);
  ASSERT_TRUE(watched.ok()) << watched.error().message;
  ASSERT_EQ(watched->outputs().size(), 2u + names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(watched->outputs()[2 + i].name, names[i]);
    EXPECT_EQ(watched->outputs()[2 + i].type, names[i] == "input_ids" ? ElementType::int64 : ElementType::float32);
  }
  auto data = read_test_data(test_model("bert-tiny-like/test_data_set_0"), *plain);
  ASSERT_TRUE(data.ok());
  auto all = watched->run(data->inputs);
  ASSERT_TRUE(all.ok()) << all.error().message;
  auto base = plain->run(data->inputs);
  ASSERT_TRUE(base.ok());
  EXPECT_EQ(compare((*all)[0], (*base)[0], 1e-5, 1e-6), "");
  EXPECT_EQ((*all)[2].shape[0], 2);  // batch of the test data
  EXPECT_EQ((*all)[2 + 5].bytes, data->inputs[0].bytes);

  // The same on a copy whose weights live in a side file (found through the model's folder).
  TempDir dir;
  onnx::SaveOptions always;
  always.external_data = onnx::ExternalDataPolicy::always;
  ASSERT_TRUE(onnx::save_model_proto(*model, dir.path() / "model.onnx", always).ok());
  auto external = open_with_extra_outputs(dir.path() / "model.onnx", names);
  ASSERT_TRUE(external.ok()) << external.error().message;
  auto external_all = external->run(data->inputs);
  ASSERT_TRUE(external_all.ok()) << external_all.error().message;
  for (std::size_t i = 0; i < all->size(); ++i) EXPECT_EQ((*external_all)[i].bytes, (*all)[i].bytes) << i;

  std::vector<std::string> typo = {names[0] + "x"};
  auto bad = open_with_extra_outputs(path, typo);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("has no tensor named '" + typo[0] + "' (closest: '" + names[0] + "'"));
}

// Every real model runs on random inputs built from its own specs.
TEST(Runtime, RealModelsRunOnRandomInputs) {
  struct Case {
    const char* model;
    std::vector<InputShape> shapes;
  };
  std::vector<Case> cases = {
      {"bert-tiny-like/model.onnx", {}},
      {"cnn-tiny/model.onnx", {}},
      {"silero-vad/silero_vad_legacy.onnx", {{"input", {1, 512}}}},
      {"silero-vad/silero_vad_v5.onnx", {{"input", {1, 512}}, {"state", {2, 1, 128}}}},
      {"pp-ocr/ch_PP-OCRv4_det_infer.onnx", {}},
      {"pp-ocr/ch_PP-OCRv4_rec_infer.onnx", {}},
      {"pp-ocr/ch_ppocr_mobile_v2.0_cls_infer.onnx", {}},
  };
  for (const auto& c : cases) {
    auto info = onnx::read_model_info(test_model(c.model));
    ASSERT_TRUE(info.ok()) << info.error().message;
    auto inputs = make_random_inputs(info->inputs, InputHints{}, c.shapes, 1);
    ASSERT_TRUE(inputs.ok()) << c.model << ": " << inputs.error().message;
    SessionOptions options;
    options.intra_op_threads = 1;
    auto session = Session::open(test_model(c.model), options);
    ASSERT_TRUE(session.ok()) << session.error().message;
    auto out = session->run(inputs->tensors);
    ASSERT_TRUE(out.ok()) << c.model << ": " << out.error().message;
    EXPECT_EQ(out->size(), info->outputs.size());
    for (const auto& t : *out) {
      if (t.type != ElementType::float32) continue;
      auto v = t.values<float>();
      EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); })) << c.model << " " << t.name;
    }
  }
}

}  // namespace
}  // namespace modelkit::runtime

namespace modelkit::runtime {
namespace {

// An IR 10 / opset 21 model (as current exporters write; libonnx 1.12's checker rejects it) runs.
TEST(Runtime, Ir10Opset21ModelRuns) {
  ::onnx::ModelProto m;
  m.set_ir_version(10);
  m.add_opset_import()->set_version(21);
  auto* g = m.mutable_graph();
  g->set_name("g");
  for (const char* name : {"a", "b"}) {
    auto* v = g->add_input();
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(1);
    t->mutable_shape()->add_dim()->set_dim_value(3);
  }
  auto* n = g->add_node();
  n->set_op_type("Mul");
  n->add_input("a");
  n->add_input("b");
  n->add_output("y");
  g->add_output()->set_name("y");
  g->mutable_output(0)->mutable_type()->mutable_tensor_type()->set_elem_type(1);
  auto session = Session::from_bytes(m.SerializeAsString(), {}, "'ir10'");
  ASSERT_TRUE(session.ok()) << session.error().message;
  std::vector<float> a = {1, 2, 3}, b = {4, 5, -6};
  std::vector<Tensor> inputs = {Tensor::from_values<float>("a", {3}, a), Tensor::from_values<float>("b", {3}, b)};
  auto out = session->run(inputs);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_THAT((*out)[0].values<float>(), ::testing::ElementsAre(4.0f, 10.0f, -18.0f));
}

}  // namespace
}  // namespace modelkit::runtime
