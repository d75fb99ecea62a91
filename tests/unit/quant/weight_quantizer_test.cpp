// The in-place, parallel weight quantizer (weight_quantizer.hpp) against the reference
// quantize_weight (params.cpp): byte-identical values and identical parameters for every weight
// type, per-tensor and per-channel, whatever the thread count, for weights held in raw_data, in
// float_data and in an external data file; edge values (ties, NaN, infinities, huge values,
// subnormals) included. Also every weight of the test models, which is what makes quantize()'s
// output the same bytes as before the quantizer read weights in place.
#include "onnx/model_proto.hpp"
#include "quant/params.hpp"
#include "quant/weight_quantizer.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

namespace modelkit::quant {
namespace {
namespace fs = std::filesystem;

void expect_same(const QuantizedTensor& got, const QuantizedTensor& want, const std::string& what) {
  ASSERT_EQ(got.values.type, want.values.type) << what;
  ASSERT_EQ(got.values.shape, want.values.shape) << what;
  ASSERT_EQ(got.axis, want.axis) << what;
  ASSERT_EQ(got.params.size(), want.params.size()) << what;
  for (std::size_t i = 0; i < got.params.size(); ++i) {
    EXPECT_EQ(got.params[i].scale, want.params[i].scale) << what << " channel " << i;
    EXPECT_EQ(got.params[i].zero_point, want.params[i].zero_point) << what << " channel " << i;
  }
  ASSERT_EQ(got.values.bytes.size(), want.values.bytes.size()) << what;
  std::size_t first_diff = got.values.bytes.size();
  for (std::size_t i = 0; i < got.values.bytes.size() && first_diff == got.values.bytes.size(); ++i)
    if (got.values.bytes[i] != want.values.bytes[i]) first_diff = i;
  EXPECT_EQ(first_diff, got.values.bytes.size()) << what << ": first differing byte";
}

// Values that stress the rounding: exact ties at the weight scale, NaN, infinities, values far
// past the range, subnormals, signed zeros, and random normals.
std::vector<float> stress_values(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  const float specials[] = {0.5f, -0.5f, 1.5f, -2.5f, 0.0f, -0.0f, std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                            3e38f, -3e38f, 1e-40f, -1e-40f, 4.0f, -4.0f};
  for (std::size_t i = 0; i < n; i += 7) v[i] = specials[(i / 7) % std::size(specials)];
  // Ties: multiples of half the per-tensor scale of absmax 4 (int8: 8/254), exactly representable or not.
  for (std::size_t i = 3; i < n; i += 11) v[i] = static_cast<float>((static_cast<double>(i % 300) - 150.5) * (8.0 / 254));
  return v;
}

::onnx::TensorProto raw_proto(const std::string& name, const std::vector<std::int64_t>& shape, const std::vector<float>& v) {
  return onnx::tensor_to_proto(Tensor::from_values<float>(name, shape, v));
}

TEST(WeightQuantizer, MatchesReferenceForEveryTypeAxisAndThreadCount) {
  // Large enough to be split into chunks (> 2 chunks of 2^20 elements) and a small one.
  for (auto shape : {std::vector<std::int64_t>{3, 5, 7}, std::vector<std::int64_t>{1536, 1400}}) {
    std::size_t n = 1;
    for (auto d : shape) n *= static_cast<std::size_t>(d);
    auto values = stress_values(n, static_cast<std::uint32_t>(n));
    auto proto = raw_proto("w", shape, values);
    Tensor t = Tensor::from_values<float>("w", shape, values);
    const bool large = n > (std::size_t{1} << 20);
    for (QuantType type : {QuantType::int8, QuantType::uint8, QuantType::int16, QuantType::uint16})
      for (int axis = -1; axis < static_cast<int>(shape.size()); ++axis) {
        // The large (chunked) tensor with two types only: the sanitizer suite stays quick.
        if (large && (type == QuantType::uint8 || type == QuantType::int16)) continue;
        auto want = quantize_weight(t, type, axis);
        ASSERT_TRUE(want.ok()) << want.error().message;
        for (int threads : {1, 3}) {
          WeightJob job{&proto, axis};
          auto got = quantize_weights(std::span<const WeightJob>(&job, 1), type, {}, threads);
          ASSERT_TRUE(got.ok()) << got.error().message;
          expect_same(got->front(), *want,
                      format_shape(shape) + " " + std::string(setting_name(type)) + " axis " + std::to_string(axis) +
                          " threads " + std::to_string(threads));
        }
      }
  }
}

TEST(WeightQuantizer, ReadsFloatDataAndExternalFilesInPlace) {
  const std::vector<std::int64_t> shape{64, 33};
  auto values = stress_values(64 * 33, 7);
  Tensor t = Tensor::from_values<float>("w", shape, values);
  auto want = quantize_weight(t, QuantType::int8, 1);
  ASSERT_TRUE(want.ok());

  ::onnx::TensorProto typed;
  typed.set_name("w");
  typed.set_data_type(static_cast<int>(ElementType::float32));
  for (auto d : shape) typed.add_dims(d);
  for (float v : values) typed.add_float_data(v);

  // External data at an offset that is not a multiple of the page size nor of 4.
  const fs::path dir = fs::temp_directory_path() / ("modelkit-wq-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream out(dir / "weights.bin", std::ios::binary);
    std::string pad(4099, 'x');
    out.write(pad.data(), static_cast<std::streamsize>(pad.size()));
    out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * 4));
  }
  ::onnx::TensorProto external;
  external.set_name("w");
  external.set_data_type(static_cast<int>(ElementType::float32));
  for (auto d : shape) external.add_dims(d);
  external.set_data_location(::onnx::TensorProto::EXTERNAL);
  for (auto [k, v] : {std::pair{"location", "weights.bin"}, std::pair{"offset", "4099"},
                      std::pair{"length", "8448"}}) {
    auto* e = external.add_external_data();
    e->set_key(k);
    e->set_value(v);
  }
  for (const auto* proto : {&typed, &external}) {
    WeightJob job{proto, 1};
    auto got = quantize_weights(std::span<const WeightJob>(&job, 1), QuantType::int8, dir, 2);
    ASSERT_TRUE(got.ok()) << got.error().message;
    expect_same(got->front(), *want, proto == &typed ? "float_data" : "external data");
  }

  // A range past the end of the file is refused, naming the tensor.
  external.mutable_external_data(1)->set_value("8000");
  WeightJob job{&external, 1};
  auto bad = quantize_weights(std::span<const WeightJob>(&job, 1), QuantType::int8, dir, 2);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("lies past the end"), std::string::npos) << bad.error().message;
  fs::remove_all(dir);
}

TEST(WeightQuantizer, MatchesReferenceOnTheTestModelsWeights) {
  for (const char* name : {"bert-tiny-like", "cnn-tiny"}) {
    const fs::path path = fs::path(MODELKIT_DEPS_DIR) / "models" / name / "model.onnx";
    ASSERT_TRUE(fs::exists(path)) << path << " is missing: run scripts/setup.sh";
    auto model = onnx::read_model_proto(path);
    ASSERT_TRUE(model.ok()) << model.error().message;
    int compared = 0;
    for (const auto& init : model->graph().initializer()) {
      if (init.data_type() != static_cast<int>(ElementType::float32) || init.dims_size() < 2) continue;
      auto t = onnx::tensor_from_proto(init, path.parent_path());
      ASSERT_TRUE(t.ok());
      for (int axis : {-1, init.dims_size() - 1}) {
        auto want = quantize_weight(*t, QuantType::int8, axis);
        ASSERT_TRUE(want.ok());
        WeightJob job{&init, axis};
        auto got = quantize_weights(std::span<const WeightJob>(&job, 1), QuantType::int8, path.parent_path(), 2);
        ASSERT_TRUE(got.ok()) << got.error().message;
        expect_same(got->front(), *want, std::string(name) + " " + init.name());
        ++compared;
      }
    }
    EXPECT_GT(compared, 4) << name;
  }
}

}  // namespace
}  // namespace modelkit::quant
