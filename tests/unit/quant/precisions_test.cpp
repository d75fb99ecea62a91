// The precisions that are not static QDQ (precisions.hpp): fp16, int4 (MatMulNBits) and dynamic
// int8, on hand-built graphs (exact structure, numpy reference) and on the real test models
// (.deps/models: the written model runs in ONNX Runtime and stays close to the float one).
#include <modelkit/precisions.hpp>
#include <modelkit/runtime.hpp>

#include "onnx/model_proto.hpp"
#include "random_source.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <random>

namespace modelkit {
namespace {
namespace fs = std::filesystem;
using test::TempDir;

// Measured on held-back random inputs (8 samples; printed by these tests):
constexpr double kFp16BertMinCosine = 0.9999;     // bert-tiny-like, measured 1.000000
constexpr double kFp16CnnMinCosine = 0.9999;      // cnn-tiny, measured 1.000000
constexpr double kFp16AudioMinCosine = 0.9999;    // audio-tiny, measured 1.000000
constexpr double kInt4BertMinCosine = 0.995;      // bert-tiny-like, block 32, measured 0.9990 (27.8 dB)
constexpr double kDynamicBertMinCosine = 0.9995;  // bert-tiny-like, measured 0.99999 (48 dB)
constexpr double kDynamicCnnMinCosine = 0.9995;   // cnn-tiny, ConvInteger, measured 0.999999 (60 dB)
constexpr double kInt4EmbeddingsBertMinCosine = 0.99;  // bert-tiny-like, block 32, tables too, measured 0.9952 (21 dB)
constexpr int kBertTinyEmbeddingTables = 3;       // word, position and token type
// File size of fp16 over fp32: measured 0.51-0.62 (the tiny models' Casts and graph weigh more).
constexpr double kFp16MaxSizeRatio = 0.7;
constexpr double kHandBuiltFp16Tolerance = 1e-2;  // relative, float16 has 11 significant bits

fs::path deps_model(const std::string& relative) {
  auto p = fs::path(MODELKIT_DEPS_DIR) / "models" / relative;
  EXPECT_TRUE(fs::exists(p)) << p << " is missing: run scripts/setup.sh";
  return p;
}

// --- hand-built graphs ---------------------------------------------------------------------------

::onnx::ValueInfoProto value(const std::string& name, int type, std::vector<std::int64_t> dims) {
  ::onnx::ValueInfoProto v;
  v.set_name(name);
  auto* t = v.mutable_type()->mutable_tensor_type();
  t->set_elem_type(type);
  for (auto d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
  return v;
}

::onnx::NodeProto op(const std::string& type, std::vector<std::string> in, std::vector<std::string> out,
                     const std::string& name = "") {
  ::onnx::NodeProto n;
  n.set_op_type(type);
  n.set_name(name.empty() ? out.front() + "_node" : name);
  for (auto& i : in) n.add_input(i);
  for (auto& o : out) n.add_output(o);
  return n;
}

::onnx::ModelProto empty_model(int opset = 17) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  auto* o = m.add_opset_import();
  o->set_domain("");
  o->set_version(opset);
  return m;
}

std::vector<float> random_values(std::size_t n, std::uint32_t seed, float scale = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

void add_float_initializer(::onnx::GraphProto& g, const std::string& name, std::vector<std::int64_t> dims,
                           const std::vector<float>& values) {
  *g.add_initializer() = onnx::tensor_to_proto(Tensor::from_values<float>(name, dims, values));
}

void save(::onnx::ModelProto& m, const fs::path& path) {
  auto r = onnx::save_model_proto(m, path);
  ASSERT_TRUE(r.ok()) << r.error().message;
}

std::map<std::string, int> op_counts(const fs::path& path) {
  std::map<std::string, int> out;
  auto m = onnx::read_model_proto(path);
  EXPECT_TRUE(m.ok());
  if (m)
    for (const auto& n : m->graph().node()) ++out[n.op_type()];
  return out;
}

std::vector<Tensor> run_model(const fs::path& path, std::vector<Tensor> inputs) {
  runtime::SessionOptions options;
  options.intra_op_threads = 1;
  auto session = runtime::Session::open(path, options);
  EXPECT_TRUE(session.ok()) << (session.ok() ? "" : session.error().message);
  if (!session) return {};
  auto out = session->run(inputs);
  EXPECT_TRUE(out.ok()) << (out.ok() ? "" : out.error().message);
  return out ? std::move(*out) : std::vector<Tensor>{};
}

void write_raw(const fs::path& path, std::span<const float> v) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
}

// y = x @ W1 (K1 = 256, constant), z = y @ W2 (K2 = 80: not a multiple of any block size),
// out = z @ x2 (B not a constant).
struct MatMulModel {
  static constexpr std::int64_t kM = 6, kK = 256, kN = 48, kK2 = 48, kN2 = 80;
  std::vector<float> w1 = random_values(kK * kN, 7, 0.05f);
};

fs::path write_matmul_model(const fs::path& dir, const MatMulModel& spec) {
  auto m = empty_model();
  auto& g = *m.mutable_graph();
  g.set_name("matmuls");
  *g.add_input() = value("x", ::onnx::TensorProto::FLOAT, {MatMulModel::kM, MatMulModel::kK});
  *g.add_input() = value("x2", ::onnx::TensorProto::FLOAT, {MatMulModel::kN2, 4});
  add_float_initializer(g, "W1", {MatMulModel::kK, MatMulModel::kN}, spec.w1);
  add_float_initializer(g, "W2", {MatMulModel::kK2, MatMulModel::kN2},
                        random_values(MatMulModel::kK2 * MatMulModel::kN2, 8, 0.05f));
  *g.add_node() = op("MatMul", {"x", "W1"}, {"y"}, "first");
  *g.add_node() = op("MatMul", {"y", "W2"}, {"z"}, "second");
  *g.add_node() = op("MatMul", {"z", "x2"}, {"out"}, "third");
  *g.add_output() = value("y", ::onnx::TensorProto::FLOAT, {MatMulModel::kM, MatMulModel::kN});
  *g.add_output() = value("out", ::onnx::TensorProto::FLOAT, {MatMulModel::kM, 4});
  auto path = dir / "matmuls.onnx";
  save(m, path);
  return path;
}

const quant::NodeDecision* decision(const quant::QuantizeReport& r, const std::string& name) {
  for (const auto& n : r.nodes)
    if (n.name == name) return &n;
  return nullptr;
}

// --- int4 ----------------------------------------------------------------------------------------

void check_int4_against_numpy(int block_size, bool symmetric) {
  TempDir dir;
  MatMulModel spec;
  auto src = write_matmul_model(dir.path(), spec);
  auto out = dir / "int4.onnx";
  quant::WeightOnlyOptions options;
  options.block_size = block_size;
  options.symmetric = symmetric;
  auto report = quant::quantize_matmul_nbits(src, options, out);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->precision, "int4");
  EXPECT_EQ(report->nodes_quantized, 1);
  ASSERT_NE(decision(*report, "second"), nullptr);
  EXPECT_EQ(decision(*report, "second")->reason, "K is not a multiple of the block size " + std::to_string(block_size));
  EXPECT_EQ(decision(*report, "third")->reason, "weight is not a constant");
  ASSERT_FALSE(report->warnings.empty());
  EXPECT_NE(report->warnings.front().find("1 MatMul(s) left in float"), std::string::npos) << report->warnings.front();
  auto ops = op_counts(out);
  EXPECT_EQ(ops["MatMulNBits"], 1);
  EXPECT_EQ(ops["MatMul"], 2);

  auto x = random_values(MatMulModel::kM * MatMulModel::kK, 11);
  auto x2 = random_values(MatMulModel::kN2 * 4, 12);
  auto outputs = run_model(out, {Tensor::from_values<float>("x", {MatMulModel::kM, MatMulModel::kK}, x),
                                 Tensor::from_values<float>("x2", {MatMulModel::kN2, 4}, x2)});
  ASSERT_EQ(outputs.size(), 2u);
  write_raw(dir / "a.bin", x);
  write_raw(dir / "y.bin", outputs[0].values<float>());
  write_raw(dir / "b.bin", spec.w1);
  const std::string script = std::string(MODELKIT_SOURCE_DIR) + "/tests/unit/quant/matmul_nbits_reference.py";
  const std::string cmd = "/usr/bin/python3 " + script + " " + out.string() + " " + (dir / "a.bin").string() + " " +
                          (dir / "y.bin").string() + " " + (dir / "b.bin").string() + " " +
                          std::to_string(MatMulModel::kM) + " " + std::to_string(MatMulModel::kK) + " " +
                          std::to_string(MatMulModel::kN) + " > " + (dir / "ref.txt").string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << test::read_text(dir / "ref.txt");
  std::fprintf(stderr, "int4 block %d %s: %s", block_size, symmetric ? "symmetric" : "asymmetric",
               test::read_text(dir / "ref.txt").c_str());
}

TEST(Int4, AsymmetricBlock32MatchesNumpyReference) { check_int4_against_numpy(32, false); }
TEST(Int4, SymmetricBlock128MatchesNumpyReference) { check_int4_against_numpy(128, true); }

TEST(Int4, RefusesBadBlockSizesNamingTheValidOnes) {
  for (std::int64_t bad : {0, 8, 48, 100, 4096}) {
    auto r = quant::check_block_size(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::usage) << bad;
    EXPECT_NE(r.error().message.find("power of two from 16"), std::string::npos) << r.error().message;
  }
  for (std::int64_t good : {16, 32, 64, 128, 256}) EXPECT_TRUE(quant::check_block_size(good).ok()) << good;
}

TEST(Int4, RefusesAnInt4ModelAndAModelWithoutEligibleMatMuls) {
  TempDir dir;
  MatMulModel spec;
  auto src = write_matmul_model(dir.path(), spec);
  auto once = quant::quantize_matmul_nbits(src, {}, dir / "once.onnx");
  ASSERT_TRUE(once.ok()) << once.error().message;
  auto twice = quant::quantize_matmul_nbits(dir / "once.onnx", {}, dir / "twice.onnx");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().message.find("already quantized (com.microsoft.MatMulNBits"), std::string::npos)
      << twice.error().message;
  EXPECT_FALSE(fs::exists(dir / "twice.onnx"));
  auto cnn = quant::quantize_matmul_nbits(deps_model("cnn-tiny/model.onnx"), {}, dir / "cnn.onnx");
  ASSERT_FALSE(cnn.ok());
  EXPECT_NE(cnn.error().message.find("nothing to quantize to int4"), std::string::npos) << cnn.error().message;
  EXPECT_FALSE(fs::exists(dir / "cnn.onnx"));
}

// --int4-embeddings: ids -> Gather(table [kRows, kWidth]) -> rows, and a MatMul on the rows.
struct GatherModel {
  static constexpr std::int64_t kRows = 40, kWidth = 64, kIds = 7, kOut = 32;
  std::vector<float> table = random_values(kRows * kWidth, 21, 0.1f);
};

fs::path write_gather_model(const fs::path& dir, const GatherModel& spec) {
  auto m = empty_model();
  auto& g = *m.mutable_graph();
  g.set_name("embeddings");
  *g.add_input() = value("ids", ::onnx::TensorProto::INT64, {GatherModel::kIds});
  add_float_initializer(g, "table", {GatherModel::kRows, GatherModel::kWidth}, spec.table);
  add_float_initializer(g, "W", {GatherModel::kWidth, GatherModel::kOut},
                        random_values(GatherModel::kWidth * GatherModel::kOut, 22, 0.05f));
  *g.add_node() = op("Gather", {"table", "ids"}, {"rows"}, "embed");
  *g.add_node() = op("MatMul", {"rows", "W"}, {"projected"}, "project");
  *g.add_output() = value("rows", ::onnx::TensorProto::FLOAT, {GatherModel::kIds, GatherModel::kWidth});
  *g.add_output() = value("projected", ::onnx::TensorProto::FLOAT, {GatherModel::kIds, GatherModel::kOut});
  auto path = dir / "embeddings.onnx";
  save(m, path);
  return path;
}

void check_int4_embeddings_against_numpy(int block_size, bool symmetric) {
  TempDir dir;
  GatherModel spec;
  auto src = write_gather_model(dir.path(), spec);
  auto out = dir / "int4.onnx";
  quant::WeightOnlyOptions options;
  options.block_size = block_size;
  options.symmetric = symmetric;
  options.embeddings = true;
  auto report = quant::quantize_matmul_nbits(src, options, out);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_TRUE(report->int4_embeddings);
  EXPECT_EQ(report->nodes_quantized, 2);
  EXPECT_EQ(decision(*report, "embed")->status, "quantized");
  auto ops = op_counts(out);
  EXPECT_EQ(ops["GatherBlockQuantized"], 1);
  EXPECT_EQ(ops["MatMulNBits"], 1);
  EXPECT_EQ(ops["Gather"], 0);

  const std::vector<std::int64_t> ids{0, 39, 5, 5, 17, 1, 38};
  auto outputs = run_model(out, {Tensor::from_values<std::int64_t>("ids", {GatherModel::kIds}, ids)});
  ASSERT_EQ(outputs.size(), 2u);
  write_raw(dir / "table.bin", spec.table);
  write_raw(dir / "rows.bin", outputs[0].values<float>());
  {
    std::ofstream f(dir / "ids.bin", std::ios::binary);
    f.write(reinterpret_cast<const char*>(ids.data()), static_cast<std::streamsize>(ids.size() * sizeof(std::int64_t)));
  }
  const std::string script = std::string(MODELKIT_SOURCE_DIR) + "/tests/unit/quant/gather_block_quantized_reference.py";
  const std::string cmd = "/usr/bin/python3 " + script + " " + out.string() + " " + (dir / "table.bin").string() + " " +
                          (dir / "ids.bin").string() + " " + (dir / "rows.bin").string() + " " +
                          std::to_string(GatherModel::kRows) + " " + std::to_string(GatherModel::kWidth) + " > " +
                          (dir / "ref.txt").string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << test::read_text(dir / "ref.txt");
  std::fprintf(stderr, "int4 embeddings block %d %s: %s", block_size, symmetric ? "symmetric" : "asymmetric",
               test::read_text(dir / "ref.txt").c_str());
}

TEST(Int4Embeddings, AsymmetricBlock32MatchesNumpyReference) { check_int4_embeddings_against_numpy(32, false); }
TEST(Int4Embeddings, SymmetricBlock64MatchesNumpyReference) { check_int4_embeddings_against_numpy(64, true); }

TEST(Int4Embeddings, TablesTheBlockDoesNotDivideStayFloatWithAWarning) {
  TempDir dir;
  GatherModel spec;
  auto src = write_gather_model(dir.path(), spec);
  quant::WeightOnlyOptions options;
  options.block_size = 128;  // the table's rows are 64 wide, and the MatMul's K too
  options.embeddings = true;
  auto report = quant::quantize_matmul_nbits(src, options, dir / "out.onnx");
  ASSERT_FALSE(report.ok()) << "nothing eligible";
  EXPECT_NE(report.error().message.find("nothing to quantize to int4"), std::string::npos) << report.error().message;
  options.block_size = 32;
  options.exclude_nodes = {"embed"};
  auto excluded = quant::quantize_matmul_nbits(src, options, dir / "out.onnx");
  ASSERT_TRUE(excluded.ok()) << excluded.error().message;
  EXPECT_EQ(decision(*excluded, "embed")->reason, "excluded by --exclude-nodes");
  ASSERT_FALSE(excluded->warnings.empty());
  EXPECT_NE(excluded->warnings.back().find("--int4-embeddings: no Gather"), std::string::npos) << excluded->warnings.back();
}

// --- fp16 ----------------------------------------------------------------------------------------

// x -> Mul(scale) -> TopK (blocked) -> values -> Add(bias) -> out; plus a constant beyond the
// float16 range.
TEST(Fp16, CastsAtTheEdgesAndAroundBlockedOpsAndClampsOutOfRangeValues) {
  TempDir dir;
  auto m = empty_model();
  auto& g = *m.mutable_graph();
  g.set_name("fp16");
  *g.add_input() = value("x", ::onnx::TensorProto::FLOAT, {2, 16});
  add_float_initializer(g, "scale", {16}, random_values(16, 3));
  add_float_initializer(g, "bias", {4}, {1.5f, -2.f, 1e6f, 3.f});  // 1e6 is beyond float16
  *g.add_initializer() = onnx::tensor_to_proto(Tensor::from_values<std::int64_t>("k", {1}, std::vector<std::int64_t>{4}));
  *g.add_node() = op("Mul", {"x", "scale"}, {"scaled"});
  *g.add_node() = op("TopK", {"scaled", "k"}, {"top", "top_indices"});
  *g.add_node() = op("Add", {"top", "bias"}, {"out"});
  *g.add_output() = value("out", ::onnx::TensorProto::FLOAT, {2, 4});
  *g.add_output() = value("top_indices", ::onnx::TensorProto::INT64, {2, 4});
  save(m, dir / "f.onnx");
  auto report = quant::convert_float16(dir / "f.onnx", dir / "h.onnx");
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->precision, "fp16");
  EXPECT_EQ(report->values_clamped, 1);
  ASSERT_EQ(report->warnings.size(), 1u);
  EXPECT_EQ(report->warnings[0],
            "float16 range: 1 value(s) beyond +-65504 clamped to +-65504, in 1 tensor(s): 'bias'");
  // Cast x to float16, TopK's input to float32 and its values back, out to float32.
  EXPECT_EQ(report->casts_inserted, 4);
  EXPECT_EQ(decision(*report, "top_node")->status, "skipped");

  auto written = onnx::read_model_proto(dir / "h.onnx");
  ASSERT_TRUE(written.ok());
  const auto& wg = written->graph();
  EXPECT_EQ(wg.input(0).type().tensor_type().elem_type(), ::onnx::TensorProto::FLOAT) << "graph input stays float32";
  EXPECT_EQ(wg.output(0).type().tensor_type().elem_type(), ::onnx::TensorProto::FLOAT) << "graph output stays float32";
  for (const auto& t : wg.initializer())
    if (t.name() == "scale" || t.name() == "bias") {
      EXPECT_EQ(t.data_type(), ::onnx::TensorProto::FLOAT16) << t.name();
    }
  EXPECT_EQ(op_counts(dir / "h.onnx")["Cast"], 4);

  auto x = random_values(32, 5);
  auto fp32 = run_model(dir / "f.onnx", {Tensor::from_values<float>("x", {2, 16}, x)});
  auto fp16 = run_model(dir / "h.onnx", {Tensor::from_values<float>("x", {2, 16}, x)});
  ASSERT_EQ(fp32.size(), 2u);
  ASSERT_EQ(fp16.size(), 2u);
  ASSERT_EQ(fp16[0].type, ElementType::float32);
  for (std::size_t i = 0; i < 8; ++i) {
    float a = fp32[0].values<float>()[i], b = fp16[0].values<float>()[i];
    if (i % 4 == 2) a = std::fabs(a) > 1e5f ? a - 1e6f + quant::kFloat16Max : a;  // the clamped bias
    EXPECT_NEAR(a, b, kHandBuiltFp16Tolerance * std::max(1.f, std::fabs(a))) << i;
    EXPECT_EQ(fp32[1].values<std::int64_t>()[i], fp16[1].values<std::int64_t>()[i]) << "TopK ran in float32";
  }
}

TEST(Fp16, RefusesQuantizedAndFloat16Models) {
  TempDir dir;
  auto m = empty_model();
  auto& g = *m.mutable_graph();
  g.set_name("qdq");
  *g.add_input() = value("x", ::onnx::TensorProto::FLOAT, {4});
  add_float_initializer(g, "s", {}, {0.1f});
  *g.add_initializer() = onnx::tensor_to_proto(Tensor::from_values<std::uint8_t>("z", {}, std::vector<std::uint8_t>{128}));
  *g.add_node() = op("QuantizeLinear", {"x", "s", "z"}, {"q"});
  *g.add_node() = op("DequantizeLinear", {"q", "s", "z"}, {"y"});
  *g.add_output() = value("y", ::onnx::TensorProto::FLOAT, {4});
  save(m, dir / "qdq.onnx");
  auto r = quant::convert_float16(dir / "qdq.onnx", dir / "out.onnx");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("is already quantized (DequantizeLinear x1, QuantizeLinear x1)"), std::string::npos)
      << r.error().message;
  EXPECT_FALSE(fs::exists(dir / "out.onnx"));

  auto once = quant::convert_float16(deps_model("cnn-tiny/model.onnx"), dir / "h.onnx");
  ASSERT_TRUE(once.ok()) << once.error().message;
  auto twice = quant::convert_float16(dir / "h.onnx", dir / "hh.onnx");
  // The float16 model keeps float32 inputs and outputs (its Casts), but nothing else to convert.
  if (twice.ok()) {
    EXPECT_EQ(twice->weights_quantized, 0) << "a float16 model has no float32 initializers left";
  }
}

// --- the real test models ------------------------------------------------------------------------

double min_cosine(const fs::path& float_model, const fs::path& converted, InputHints hints, const char* label) {
  auto held_back = testing::RandomSource::open(float_model, 8, hints, {}, 1000);
  EXPECT_TRUE(held_back.ok());
  if (!held_back) return 0;
  auto v = quant::compare_models(float_model, converted, *held_back, {.max_samples = 8, .intra_op_threads = 1});
  EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().message);
  if (!v) return 0;
  double lowest = 1;
  for (const auto& o : v->outputs)
    if (o.compared) {
      lowest = std::min(lowest, o.min_cosine);
      std::fprintf(stderr, "%s %s: min cosine %.6f, SQNR %.1f dB, max abs %.3g\n", label, o.name.c_str(), o.min_cosine,
                   o.sqnr_db, o.max_abs_error);
    }
  return lowest;
}

TEST(Fp16, TestModelsRunCloseToFloat) {
  TempDir dir;
  InputHints text;
  text.sequence_length = 32;
  InputHints image;
  image.image_size = 32;
  struct Case {
    const char* model;
    InputHints hints;
    double min;
  };
  for (const auto& c : {Case{"bert-tiny-like/model.onnx", text, kFp16BertMinCosine},
                        Case{"cnn-tiny/model.onnx", image, kFp16CnnMinCosine},
                        Case{"audio-tiny/model.onnx", {}, kFp16AudioMinCosine}}) {
    auto src = deps_model(c.model);
    auto out = dir / (std::string(c.model).substr(0, std::string(c.model).find('/')) + "-fp16.onnx");
    auto report = quant::convert_float16(src, out);
    ASSERT_TRUE(report.ok()) << c.model << ": " << report.error().message;
    auto written = onnx::read_model_proto(out);
    ASSERT_TRUE(written.ok());
    int float32_initializers = 0, float16_initializers = 0;
    for (const auto& t : written->graph().initializer()) {
      float32_initializers += t.data_type() == ::onnx::TensorProto::FLOAT;
      float16_initializers += t.data_type() == ::onnx::TensorProto::FLOAT16;
    }
    EXPECT_GT(float16_initializers, 0) << c.model;
    EXPECT_EQ(float32_initializers, 0) << c.model << ": no blocked op reads a weight";
    EXPECT_LT(static_cast<double>(report->output_bytes), kFp16MaxSizeRatio * static_cast<double>(report->input_bytes))
        << c.model;
    EXPECT_GE(min_cosine(src, out, c.hints, c.model), c.min) << c.model;
  }
}

TEST(Int4, BertTinyLikeRunsCloseToFloat) {
  TempDir dir;
  auto src = deps_model("bert-tiny-like/model.onnx");
  quant::WeightOnlyOptions options;
  options.block_size = 32;  // bert-tiny-like's K is 64 or 128
  auto report = quant::quantize_matmul_nbits(src, options, dir / "q4.onnx");
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(op_counts(dir / "q4.onnx")["MatMulNBits"], 12) << "every MatMul with a constant weight";
  InputHints hints;
  hints.sequence_length = 32;
  EXPECT_GE(min_cosine(src, dir / "q4.onnx", hints, "bert-tiny-like int4"), kInt4BertMinCosine);
}

TEST(Dynamic, BertTinyLikeRunsCloseToFloat) {
  TempDir dir;
  auto src = deps_model("bert-tiny-like/model.onnx");
  auto report = quant::quantize_dynamic(src, {}, dir / "dyn.onnx");
  ASSERT_TRUE(report.ok()) << report.error().message;
  auto ops = op_counts(dir / "dyn.onnx");
  EXPECT_EQ(ops["MatMulInteger"], 12);
  EXPECT_GE(ops["DynamicQuantizeLinear"], 4) << "one per distinct activation";
  EXPECT_EQ(ops["MatMul"], 4) << "attention MatMuls (no constant weight) stay float";
  InputHints hints;
  hints.sequence_length = 32;
  EXPECT_GE(min_cosine(src, dir / "dyn.onnx", hints, "bert-tiny-like dynamic"), kDynamicBertMinCosine);
}

TEST(Dynamic, CnnTinyConvsTakeEitherFormAndRunCloseToFloat) {
  TempDir dir;
  auto src = deps_model("cnn-tiny/model.onnx");
  InputHints hints;
  hints.image_size = 32;
  // Default: the QDQ form (a DequantizeLinear for each Conv input and weight, float Conv).
  auto qdq = quant::quantize_dynamic(src, {}, dir / "qdq.onnx");
  ASSERT_TRUE(qdq.ok()) << qdq.error().message;
  auto ops = op_counts(dir / "qdq.onnx");
  EXPECT_EQ(ops["Conv"], 3);
  EXPECT_EQ(ops["DynamicQuantizeLinear"], 3) << "one per Conv input";
  EXPECT_EQ(ops["DequantizeLinear"], 6) << "each Conv input and weight";
  EXPECT_EQ(ops["ConvInteger"], 0);
  EXPECT_EQ(qdq->weights_quantized, 3);
  EXPECT_GE(min_cosine(src, dir / "qdq.onnx", hints, "cnn-tiny dynamic (QDQ form)"), kDynamicCnnMinCosine);
  // ConvInteger, as ONNX Runtime's dynamic quantizer writes it.
  quant::DynamicOptions integer;
  integer.conv_form = quant::DynamicConvForm::integer;
  auto report = quant::quantize_dynamic(src, integer, dir / "int.onnx");
  ASSERT_TRUE(report.ok()) << report.error().message;
  ops = op_counts(dir / "int.onnx");
  EXPECT_EQ(ops["ConvInteger"], 3);
  EXPECT_EQ(ops["Conv"], 0);
  EXPECT_EQ(ops["DynamicQuantizeLinear"], 3);
  EXPECT_EQ(ops["Add"], 3) << "each Conv's bias, after the scales";
  EXPECT_GE(min_cosine(src, dir / "int.onnx", hints, "cnn-tiny dynamic (ConvInteger)"), kDynamicCnnMinCosine);
}

TEST(Int4Embeddings, BertTinyLikeTablesShrinkAndRunCloseToFloat) {
  TempDir dir;
  auto src = deps_model("bert-tiny-like/model.onnx");
  quant::WeightOnlyOptions options;
  options.block_size = 32;
  auto matmuls_only = quant::quantize_matmul_nbits(src, options, dir / "q4.onnx");
  ASSERT_TRUE(matmuls_only.ok()) << matmuls_only.error().message;
  options.embeddings = true;
  auto report = quant::quantize_matmul_nbits(src, options, dir / "q4e.onnx");
  ASSERT_TRUE(report.ok()) << report.error().message;
  auto ops = op_counts(dir / "q4e.onnx");
  EXPECT_EQ(ops["GatherBlockQuantized"], kBertTinyEmbeddingTables);
  EXPECT_EQ(ops["MatMulNBits"], 12);
  std::fprintf(stderr, "bert-tiny-like int4: %llu bytes, with embeddings %llu (float %llu)\n",
               static_cast<unsigned long long>(matmuls_only->output_bytes),
               static_cast<unsigned long long>(report->output_bytes), static_cast<unsigned long long>(report->input_bytes));
  EXPECT_LT(report->output_bytes, matmuls_only->output_bytes);
  InputHints hints;
  hints.sequence_length = 32;
  EXPECT_GE(min_cosine(src, dir / "q4e.onnx", hints, "bert-tiny-like int4 + embeddings"), kInt4EmbeddingsBertMinCosine);
}

}  // namespace
}  // namespace modelkit
