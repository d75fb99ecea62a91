// The weight writer's fast paths against plain loops: the banded SSE transpose on awkward shapes,
// and write_model's three ways of writing a float32 weight (copied file to file, transposed from
// the mapping band by band on several threads, converted from F16 first), inline and as external
// data, each compared with values the test wrote itself.
#include "export/graph.hpp"
#include "export/transpose.hpp"
#include "export/weights.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace modelkit {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

std::vector<float> naive_transpose(const std::vector<float>& in, std::size_t rows, std::size_t cols) {
  std::vector<float> out(in.size());
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) out[c * rows + r] = in[r * cols + c];
  return out;
}

std::vector<float> counting(std::size_t n, float scale) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i) * scale - 1.0f;
  return v;
}

TEST(TransposeBand, MatchesAPlainLoopOnAwkwardShapes) {
  for (std::size_t rows : {1u, 3u, 4u, 5u, 8u, 17u, 301u})
    for (std::size_t cols : {1u, 2u, 7u, 8u, 33u, 64u, 501u}) {
      auto in = counting(rows * cols, 0.25f);
      auto expected = naive_transpose(in, rows, cols);
      for (auto kernel : {exporter::TransposeKernel::best, exporter::TransposeKernel::baseline})
        for (std::size_t band : {std::size_t{1}, std::size_t{5}, std::size_t{16}, std::size_t{21}, cols}) {
          std::vector<float> out(rows * cols, -7.0f);
          for (std::size_t c0 = 0; c0 < cols; c0 += band) {
            std::size_t c1 = std::min(cols, c0 + band);
            exporter::transpose_band(in.data(), rows, cols, c0, c1, out.data() + c0 * rows, kernel);
          }
          ASSERT_EQ(out, expected) << rows << "x" << cols << " in bands of " << band
                                   << (kernel == exporter::TransposeKernel::best ? "" : " (baseline kernel)");
        }
    }
}

TEST(TransposeBand, BandsAreWholeCacheLinesOfAboutAnL2) {
  EXPECT_EQ(exporter::transpose_band_rows(768), 32u);   // 96 KiB
  EXPECT_EQ(exporter::transpose_band_rows(3072), 16u);  // 192 KiB: never below one cache line
  EXPECT_EQ(exporter::transpose_band_rows(1), 32768u);
}

std::uint16_t to_half(float f) {  // exact for the small integers the F16 tensor holds
  std::uint32_t bits;
  std::memcpy(&bits, &f, 4);
  std::uint32_t sign = (bits >> 16) & 0x8000u;
  std::int32_t exp = static_cast<std::int32_t>((bits >> 23) & 0xff) - 127 + 15;
  std::uint32_t mant = (bits >> 13) & 0x3ffu;
  if ((bits & 0x7fffffffu) == 0) return static_cast<std::uint16_t>(sign);
  return static_cast<std::uint16_t>(sign | static_cast<std::uint32_t>(exp) << 10 | mant);
}

// A safetensors file with F32 "dense.weight" [rows, cols], F32 "dense.bias" [cols] and F16
// "other.weight" [rows2, cols2] (small integers, exact in half precision).
struct Checkpoint {
  std::size_t rows = 301, cols = 501, rows2 = 67, cols2 = 1030;
  std::vector<float> weight = counting(rows * cols, 0.001f);
  std::vector<float> bias = counting(cols, 0.5f);
  std::vector<float> other;
  explicit Checkpoint(const fs::path& folder) {
    other.resize(rows2 * cols2);
    for (std::size_t i = 0; i < other.size(); ++i) other[i] = static_cast<float>(static_cast<int>(i % 2001) - 1000);
    std::vector<std::uint16_t> half(other.size());
    for (std::size_t i = 0; i < other.size(); ++i) half[i] = to_half(other[i]);
    const std::size_t wb = weight.size() * 4, bb = bias.size() * 4, ob = half.size() * 2;
    std::string header = "{\"dense.weight\":{\"dtype\":\"F32\",\"shape\":[" + std::to_string(rows) + "," +
                         std::to_string(cols) + "],\"data_offsets\":[0," + std::to_string(wb) +
                         "]},\"dense.bias\":{\"dtype\":\"F32\",\"shape\":[" + std::to_string(cols) +
                         "],\"data_offsets\":[" + std::to_string(wb) + "," + std::to_string(wb + bb) +
                         "]},\"other.weight\":{\"dtype\":\"F16\",\"shape\":[" + std::to_string(rows2) + "," +
                         std::to_string(cols2) + "],\"data_offsets\":[" + std::to_string(wb + bb) + "," +
                         std::to_string(wb + bb + ob) + "]}}";
    while ((8 + header.size()) % 8 != 0) header += ' ';
    std::ofstream out(folder / "model.safetensors", std::ios::binary);
    std::uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
    out << header;
    out.write(reinterpret_cast<const char*>(weight.data()), static_cast<std::streamsize>(wb));
    out.write(reinterpret_cast<const char*>(bias.data()), static_cast<std::streamsize>(bb));
    out.write(reinterpret_cast<const char*>(half.data()), static_cast<std::streamsize>(ob));
  }
};

std::vector<float> as_floats(const std::string& bytes) {
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

// Each weight's float32 values as written (inline raw_data, or read from the external data file).
std::map<std::string, std::vector<float>> written_weights(const fs::path& model) {
  ::onnx::ModelProto proto;
  std::string bytes = test::read_text(model);
  EXPECT_TRUE(proto.ParseFromString(bytes));
  std::map<std::string, std::vector<float>> out;
  for (const auto& t : proto.graph().initializer()) {
    if (t.data_location() != ::onnx::TensorProto_DataLocation_EXTERNAL) {
      out[t.name()] = as_floats(t.raw_data());
      continue;
    }
    std::map<std::string, std::string> ext;
    for (const auto& e : t.external_data()) ext[e.key()] = e.value();
    std::string data = test::read_text(model.parent_path() / ext["location"]);
    out[t.name()] = as_floats(data.substr(std::stoull(ext["offset"]), std::stoull(ext["length"])));
  }
  return out;
}

TEST(ExportWriter, WritesCopiedTransposedAndConvertedWeightsExactly) {
  TempDir tmp;
  Checkpoint ck(tmp.path());
  auto source = exporter::open_safetensors(tmp.path());
  ASSERT_TRUE(source.ok()) << source.error().message;
  exporter::GraphBuilder g(17);
  auto x = g.input("x", ::onnx::TensorProto_DataType_FLOAT, {std::int64_t{1}, std::int64_t{301}});
  auto w = g.weight("dense.weight", {301, 501}, exporter::Init::normal, true);
  auto b = g.weight("dense.bias", {501}, exporter::Init::zeros);
  auto o = g.weight("other.weight", {67, 1030}, exporter::Init::normal, true);
  auto y = g.node("Add", {g.node("MatMul", {x, w}), b});
  g.output(y, "y", ::onnx::TensorProto_DataType_FLOAT, {std::int64_t{1}, std::int64_t{501}});
  g.output(o, "o", ::onnx::TensorProto_DataType_FLOAT, {std::int64_t{1030}, std::int64_t{67}});
  g.model().set_ir_version(8);
  g.model().add_opset_import()->set_version(17);
  ASSERT_TRUE(exporter::check_weights(g.weights(), **source).ok());
  const auto expected_w = naive_transpose(ck.weight, ck.rows, ck.cols);
  const auto expected_o = naive_transpose(ck.other, ck.rows2, ck.cols2);
  for (std::uint64_t threshold : {exporter::kExternalDataThreshold, std::uint64_t{0}}) {
    auto path = tmp / (threshold ? "inline.onnx" : "external.onnx");
    auto stats = exporter::write_model(g.model(), g.weights(), **source, path, threshold);
    ASSERT_TRUE(stats.ok()) << stats.error().message;
    EXPECT_EQ(stats->external_data, threshold == 0);
    auto weights = written_weights(path);
    EXPECT_EQ(weights[w], expected_w) << path;
    EXPECT_EQ(weights[b], ck.bias) << path;
    EXPECT_EQ(weights[o], expected_o) << path;
  }
}

TEST(ExportWriter, RandomWeightsAreTransposedLikeTheirPlainValues) {
  exporter::RandomWeights random(7, 0.02);
  random.expect("big.weight", {1000, 300});
  std::vector<float> values(1000 * 300);
  ASSERT_TRUE(random.read("big.weight", exporter::Init::normal, values).ok());
  exporter::GraphBuilder g(17);
  auto w = g.weight("big.weight", {1000, 300}, exporter::Init::normal, true);
  g.output(w, "w", ::onnx::TensorProto_DataType_FLOAT, {std::int64_t{300}, std::int64_t{1000}});
  g.model().set_ir_version(8);
  g.model().add_opset_import()->set_version(17);
  TempDir tmp;
  ASSERT_TRUE(exporter::write_model(g.model(), g.weights(), random, tmp / "m.onnx").ok());
  EXPECT_EQ(written_weights(tmp / "m.onnx")[w], naive_transpose(values, 1000, 300));
}

}  // namespace
}  // namespace modelkit
