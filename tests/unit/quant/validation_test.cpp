// compare_models metrics on models whose error is known exactly: y = x * c against the float
// y = x, so relative L2 error is |c - 1|, SQNR -20 log10 |c - 1| and the cosine 1 whatever c is
// (the reason cosine alone cannot judge a quantization); and validation data that cannot tell.
#include <modelkit/quantize.hpp>

#include "onnx/model_proto.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>

namespace modelkit::quant {
namespace {
namespace fs = std::filesystem;

constexpr double kTolerance = 1e-6;  // float32 outputs, metrics accumulated in double

// y = x * c over x: [4] float; `offset` adds a constant (for per-sample cosines).
fs::path scaled_model(const fs::path& dir, const std::string& name, float c, float offset = 0) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto& g = *m.mutable_graph();
  g.set_name("scale");
  auto* in = g.add_input();
  in->set_name("x");
  in->mutable_type()->mutable_tensor_type()->set_elem_type(::onnx::TensorProto::FLOAT);
  in->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(4);
  auto* out = g.add_output();
  out->set_name("y");
  out->mutable_type()->mutable_tensor_type()->set_elem_type(::onnx::TensorProto::FLOAT);
  std::vector<float> cv = {c}, ov = {offset};
  *g.add_initializer() = onnx::tensor_to_proto(Tensor::from_values<float>("c", {}, cv));
  *g.add_initializer() = onnx::tensor_to_proto(Tensor::from_values<float>("o", {}, ov));
  auto* mul = g.add_node();
  mul->set_op_type("Mul");
  mul->add_input("x");
  mul->add_input("c");
  mul->add_output("m");
  auto* add = g.add_node();
  add->set_op_type("Add");
  add->add_input("m");
  add->add_input("o");
  add->add_output("y");
  fs::path path = dir / (name + ".onnx");
  std::ofstream f(path, std::ios::binary);
  m.SerializeToOstream(&f);
  return path;
}

class ListSource final : public calib::SampleSource {
 public:
  explicit ListSource(std::vector<std::vector<float>> samples) : samples_(std::move(samples)) {}
  Result<std::optional<calib::Sample>> next() override {
    if (index_ >= samples_.size()) return std::optional<calib::Sample>();
    calib::Sample s;
    s.push_back(Tensor::from_values<float>("x", {4}, samples_[index_++]));
    return std::optional<calib::Sample>(std::move(s));
  }
  Result<void> rewind() override {
    index_ = 0;
    return {};
  }
  std::vector<std::string> produced_names() const override { return {"x"}; }
  std::string describe() const override { return "list"; }

 private:
  std::vector<std::vector<float>> samples_;
  std::size_t index_ = 0;
};

struct Dir {
  Dir() {
    std::string tmpl = (fs::temp_directory_path() / "modelkit-validation-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~Dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

std::vector<std::vector<float>> varied_samples() {
  std::mt19937 rng(7);
  std::normal_distribution<float> n(0, 1);
  std::vector<std::vector<float>> samples(6, std::vector<float>(4));
  for (auto& s : samples)
    for (auto& v : s) v = n(rng);
  return samples;
}

TEST(Validation, ScaleErrorsAreSeenWhereCosineIsBlind) {
  Dir dir;
  auto reference = scaled_model(dir.path, "float", 1);
  auto samples = varied_samples();
  double sum_abs = 0, max_abs = 0;
  for (const auto& s : samples)
    for (float v : s) {
      sum_abs += std::fabs(v);
      max_abs = std::max<double>(max_abs, std::fabs(v));
    }
  const double mean_abs = sum_abs / 24;
  for (float c : {2.f, 1.1f, 0.5f}) {
    ListSource source(samples);
    auto v = compare_models(reference, scaled_model(dir.path, "scaled", c), source);
    ASSERT_TRUE(v.ok()) << v.error().message;
    ASSERT_EQ(v->outputs.size(), 1u);
    const auto& o = v->outputs[0];
    const double e = std::fabs(static_cast<double>(c) - 1);
    EXPECT_EQ(v->samples, 6u);
    EXPECT_NEAR(o.cosine_similarity, 1, kTolerance) << "cosine ignores scale";
    EXPECT_NEAR(o.min_cosine, 1, kTolerance);
    EXPECT_NEAR(o.relative_l2_error, e, kTolerance);
    EXPECT_NEAR(o.sqnr_db, -20 * std::log10(e), 1e-4);
    EXPECT_NEAR(o.mean_abs_error, e * mean_abs, kTolerance);
    EXPECT_NEAR(o.max_abs_error, e * max_abs, kTolerance);
    EXPECT_TRUE(o.informative);
    // c = 1.1 scores 20 dB, below the default 27 dB; every case here is flagged.
    auto warnings = validation_warnings(*v, default_validation_thresholds());
    ASSERT_EQ(warnings.size(), 1u) << "SQNR only: the cosine is perfect";
    EXPECT_NE(warnings[0].find("output 'y': SQNR"), std::string::npos) << warnings[0];
  }
  // The same model scores SQNR as ONNX Runtime's qdq_loss_debug caps it: ||f|| / eps.
  ListSource source(samples);
  auto same = compare_models(reference, reference, source);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->outputs[0].relative_l2_error, 0);
  EXPECT_GT(same->outputs[0].sqnr_db, 300);
  EXPECT_TRUE(validation_warnings(*same, default_validation_thresholds()).empty());
}

TEST(Validation, PerSampleCosineSeesOneBadSample) {
  Dir dir;
  // An offset of 1 barely moves large samples but turns a small one around.
  std::vector<std::vector<float>> samples = {{10, -20, 30, 5}, {-15, 25, 8, 12}, {0.1f, -0.2f, 0.05f, -0.3f}};
  ListSource source(samples);
  auto v = compare_models(scaled_model(dir.path, "float", 1), scaled_model(dir.path, "offset", 1, 1), source);
  ASSERT_TRUE(v.ok()) << v.error().message;
  // Independent: the cosine of each sample with itself plus 1.
  double lowest = 2, sum = 0;
  for (const auto& s : samples) {
    double dot = 0, nf = 0, nq = 0;
    for (float x : s) {
      double f = x, q = static_cast<double>(x + 1.f);
      dot += f * q;
      nf += f * f;
      nq += q * q;
    }
    double c = dot / std::sqrt(nf * nq);
    lowest = std::min(lowest, c);
    sum += c;
  }
  const auto& o = v->outputs[0];
  EXPECT_NEAR(o.min_cosine, lowest, kTolerance);
  EXPECT_NEAR(o.mean_cosine, sum / 3, kTolerance);
  EXPECT_LT(o.min_cosine, 0.5) << "the small sample";
  EXPECT_GT(o.cosine_similarity, 0.99) << "pooled over samples the large ones hide it";
}

TEST(Validation, IdenticalSamplesAreUninformative) {
  Dir dir;
  std::vector<float> one = {0.5f, -1, 2, 0.25f};
  ListSource same({one, one, one});
  auto v = compare_models(scaled_model(dir.path, "float", 1), scaled_model(dir.path, "broken", 3), same);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_FALSE(v->outputs[0].informative);
  EXPECT_NE(v->outputs[0].note.find("the same for all 3 samples"), std::string::npos) << v->outputs[0].note;
  auto warnings = validation_warnings(*v, default_validation_thresholds());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("validation cannot judge the quantization"), std::string::npos) << warnings[0];

  ListSource zeros({{0, 0, 0, 0}, {0, 0, 0, 0}});
  auto z = compare_models(scaled_model(dir.path, "float", 1), scaled_model(dir.path, "offset", 1, 1), zeros);
  ASSERT_TRUE(z.ok());
  EXPECT_FALSE(z->outputs[0].informative);
  EXPECT_TRUE(std::isinf(z->outputs[0].relative_l2_error)) << "an all-zero float output has no relative error";

  // One sample is informative: it still measures the error.
  ListSource single({one});
  auto s = compare_models(scaled_model(dir.path, "float", 1), scaled_model(dir.path, "broken", 3), single);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->outputs[0].informative);
  EXPECT_NEAR(s->outputs[0].relative_l2_error, 2, kTolerance);
}

}  // namespace
}  // namespace modelkit::quant
