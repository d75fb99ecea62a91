// Weights quantized while the model is written (weight_quantizer.hpp, StreamedWeight): the bytes
// handed to the writer are those the in-memory quantizer produces, for every 8/16-bit type and
// axis and any thread count; quantize() writes the same files for a model whose weights lie in an
// external data file (streamed) as for the same model with its weights inline (quantized in
// memory); a write that fails at the end leaves no output behind.
#include <modelkit/quantize.hpp>

#include "onnx/model_proto.hpp"
#include "quant/params.hpp"
#include "quant/weight_quantizer.hpp"
#include "test_support.hpp"
#include "util/file.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

namespace modelkit::quant {
namespace {
namespace fs = std::filesystem;
using modelkit::test::TempDir;

// Several windows of the streamed writer (2^20 elements each), with a last partial one.
const std::vector<std::int64_t> kShape{1536, 1400};

std::vector<float> weight_values(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0, 0.05f);
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  // Values at exact ties of the int8 scale of absmax 0.5 and a few non-finite ones.
  for (std::size_t i = 5; i < n; i += 1009) v[i] = static_cast<float>((static_cast<double>(i % 200) - 99.5) / 254.0);
  v[n / 3] = 0.5f;
  v[n / 2] = std::numeric_limits<float>::quiet_NaN();
  return v;
}

// A float32 tensor whose values lie in `file` (in `dir`) at `offset`.
::onnx::TensorProto external_tensor(const std::string& name, const std::vector<std::int64_t>& shape,
                                    const std::string& file, std::uint64_t offset, std::uint64_t length) {
  ::onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(static_cast<int>(ElementType::float32));
  for (auto d : shape) t.add_dims(d);
  t.set_data_location(::onnx::TensorProto::EXTERNAL);
  for (auto [k, v] : {std::pair<std::string, std::string>{"location", file}, {"offset", std::to_string(offset)},
                      {"length", std::to_string(length)}}) {
    auto* e = t.add_external_data();
    e->set_key(k);
    e->set_value(v);
  }
  return t;
}

TEST(StreamedWeights, HandTheWriterTheBytesOfTheInMemoryQuantizer) {
  TempDir dir;
  const std::size_t n = static_cast<std::size_t>(kShape[0] * kShape[1]);
  const auto values = weight_values(n, 11);
  // An offset that is neither page- nor 4-byte-aligned.
  const std::string pad(4097, 'p');
  std::string file = pad;
  file.append(reinterpret_cast<const char*>(values.data()), n * sizeof(float));
  ASSERT_TRUE(util::write_file_atomic(dir / "w.bin", file).ok());
  const auto proto = external_tensor("w", kShape, "w.bin", pad.size(), n * sizeof(float));
  for (QuantType type : {QuantType::int8, QuantType::uint16})
    for (int axis : {-1, 0, 1}) {
      const WeightJob job{&proto, axis};
      auto want = quantize_weights(std::span<const WeightJob>(&job, 1), type, dir.path(), 2);
      ASSERT_TRUE(want.ok()) << want.error().message;
      for (int threads : {1, 3}) {
        const std::string what = std::string(setting_name(type)) + " axis " + std::to_string(axis) + " threads " +
                                 std::to_string(threads);
        auto streamed = prepare_streamed_weight(job, type, dir.path(), threads);
        ASSERT_TRUE(streamed.ok()) << streamed.error().message;
        ASSERT_TRUE(streamed->has_value()) << what;
        const auto& w = **streamed;
        ASSERT_EQ(w.params.size(), want->front().params.size()) << what;
        for (std::size_t i = 0; i < w.params.size(); ++i) {
          EXPECT_EQ(w.params[i].scale, want->front().params[i].scale) << what;
          EXPECT_EQ(w.params[i].zero_point, want->front().params[i].zero_point) << what;
        }
        std::string got;
        int pieces = 0;
        auto written = write_streamed_weight(w, threads, [&](std::span<const unsigned char> piece) -> Result<void> {
          got.append(reinterpret_cast<const char*>(piece.data()), piece.size());
          ++pieces;
          return {};
        });
        ASSERT_TRUE(written.ok()) << written.error().message;
        EXPECT_GT(pieces, 2) << what;
        ASSERT_EQ(got.size(), w.quantized_bytes()) << what;
        const auto& bytes = want->front().values.bytes;
        ASSERT_EQ(got.size(), bytes.size()) << what;
        EXPECT_TRUE(std::memcmp(got.data(), bytes.data(), bytes.size()) == 0) << what;
      }
    }

  // A sink failure stops the writer and is returned as it is.
  const WeightJob job{&proto, -1};
  auto streamed = prepare_streamed_weight(job, QuantType::int8, dir.path(), 2);
  ASSERT_TRUE(streamed.ok() && streamed->has_value());
  int calls = 0;
  auto failed = write_streamed_weight(**streamed, 2, [&](std::span<const unsigned char>) -> Result<void> {
    return ++calls == 2 ? failure("disk full") : Result<void>();
  });
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message, "disk full");
  EXPECT_EQ(calls, 2);

  // Inline weights are not streamed.
  auto inline_proto = onnx::tensor_to_proto(Tensor::from_values<float>("w", kShape, values));
  const WeightJob inline_job{&inline_proto, -1};
  auto not_streamed = prepare_streamed_weight(inline_job, QuantType::int8, dir.path(), 2);
  ASSERT_TRUE(not_streamed.ok());
  EXPECT_FALSE(not_streamed->has_value());
}

// x -> MatMul(w0) -> h -> MatMul(w1) -> y, the weights 512x640 and 640x512 (above the size
// streamed), written once with the weights inline and once in an external data file.
void write_matmul_models(const fs::path& inline_dir, const fs::path& external_dir) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("matmuls");
  auto value = [](::onnx::ValueInfoProto* v, const std::string& name, std::int64_t width) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(::onnx::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_value(1);
    tt->mutable_shape()->add_dim()->set_dim_value(width);
  };
  value(g->add_input(), "x", 512);
  value(g->add_output(), "y", 512);
  const std::vector<std::vector<std::int64_t>> shapes{{512, 640}, {640, 512}};
  for (int i = 0; i < 2; ++i) {
    const auto& s = shapes[static_cast<std::size_t>(i)];
    auto values = weight_values(static_cast<std::size_t>(s[0] * s[1]), static_cast<std::uint32_t>(20 + i));
    for (auto& v : values)
      if (!std::isfinite(v)) v = 0.01f;
    *g->add_initializer() = onnx::tensor_to_proto(Tensor::from_values<float>("w" + std::to_string(i), s, values));
    auto* n = g->add_node();
    n->set_name("matmul" + std::to_string(i));
    n->set_op_type("MatMul");
    n->add_input(i == 0 ? "x" : "h");
    n->add_input("w" + std::to_string(i));
    n->add_output(i == 0 ? "h" : "y");
  }
  onnx::SaveOptions never;
  never.external_data = onnx::ExternalDataPolicy::never;
  ASSERT_TRUE(onnx::save_model_proto(m, inline_dir / "model.onnx", never).ok());
  onnx::SaveOptions always;
  always.external_data = onnx::ExternalDataPolicy::always;
  ASSERT_TRUE(onnx::save_model_proto(m, external_dir / "model.onnx", always).ok());
}

TEST(StreamedWeights, QuantizeWritesTheSameModelFromExternalAndInlineWeights) {
  TempDir inline_dir, external_dir, out;
  write_matmul_models(inline_dir.path(), external_dir.path());
  ASSERT_TRUE(fs::exists(external_dir / "model.onnx_data"));
  calib::TensorRanges ranges;
  ranges.samples = 1;
  ranges.tensors = {{"x", {-2.0f, 2.5f}}, {"h", {-1.5f, 1.0f}}, {"y", {-0.75f, 0.5f}}};
  for (int variant = 0; variant < 3; ++variant) {
    QuantizeOptions options;
    options.check_loads = false;
    if (variant == 1) options.per_channel = true;
    if (variant == 2) {
      options.weight_type = QuantType::int16;
      options.activation_type = QuantType::uint16;
    }
    const std::string name = "v" + std::to_string(variant) + ".onnx";
    auto a = quantize(inline_dir / "model.onnx", ranges, options, out / ("inline-" + name));
    ASSERT_TRUE(a.ok()) << a.error().message;
    auto b = quantize(external_dir / "model.onnx", ranges, options, out / ("external-" + name));
    ASSERT_TRUE(b.ok()) << b.error().message;
    EXPECT_EQ(a->weights_quantized, 2);
    auto bytes_a = util::read_file(out / ("inline-" + name), std::uint64_t{1} << 30);
    auto bytes_b = util::read_file(out / ("external-" + name), std::uint64_t{1} << 30);
    ASSERT_TRUE(bytes_a.ok() && bytes_b.ok());
    EXPECT_GT(bytes_a->size(), std::size_t{2} * 512 * 640) << "the quantized weights are inline";
    EXPECT_TRUE(*bytes_a == *bytes_b) << "variant " << variant;
  }
  // The streamed write fails at its end (the output name is taken by a folder): nothing is left
  // in the output folder but that folder.
  TempDir failing;
  fs::create_directories(failing / "model.onnx");
  QuantizeOptions options;
  options.check_loads = false;
  auto failed = quantize(external_dir / "model.onnx", ranges, options, failing / "model.onnx");
  ASSERT_FALSE(failed.ok());
  std::vector<fs::path> left;
  for (const auto& e : fs::directory_iterator(failing.path())) left.push_back(e.path().filename());
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left.front(), "model.onnx");
  EXPECT_TRUE(fs::is_empty(failing / "model.onnx"));
}

}  // namespace
}  // namespace modelkit::quant
