// The calibration op FiniteMinMax, run in ONNX Runtime: {min, max} of the finite values of any
// floating input, checked against a plain loop over the same values (NaN and infinities skipped),
// serial and split across threads; a non-floating input is an error, not a made-up range.
#include <modelkit/runtime.hpp>

#include "util/extremes.hpp"

#include <onnx/onnx_pb.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace modelkit::runtime {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// x (elem_type, [n]) -> FiniteMinMax -> y (float [2]).
std::string extremes_model(int elem_type) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* custom = m.add_opset_import();
  custom->set_domain(kCalibrationDomain);
  custom->set_version(1);
  auto* g = m.mutable_graph();
  g->set_name("extremes");
  auto* x = g->add_input();
  x->set_name("x");
  x->mutable_type()->mutable_tensor_type()->set_elem_type(elem_type);
  x->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_param("n");
  auto* n = g->add_node();
  n->set_op_type(kCalibrationExtremesOp);
  n->set_domain(kCalibrationDomain);
  n->add_input("x");
  n->add_output("y");
  g->add_output()->set_name("y");
  return m.SerializeAsString();
}

// A plain loop: the finite min and max, {+inf, -inf} when there is none.
std::pair<float, float> reference_extremes(const std::vector<float>& v) {
  std::pair<float, float> r{kInf, -kInf};
  for (float x : v)
    if (std::isfinite(x)) r = {std::min(r.first, x), std::max(r.second, x)};
  return r;
}

std::pair<float, float> run_extremes(Session& session, Tensor input) {
  input.name = "x";
  auto out = session.run(std::span<const Tensor>(&input, 1));
  EXPECT_TRUE(out.ok()) << out.error().message;
  if (!out.ok() || out->size() != 1 || (*out)[0].element_count() != 2) return {0, 0};
  auto v = (*out)[0].values<float>();
  return {v[0], v[1]};
}

// Random values with NaN and infinities at random places, every length around the SIMD widths.
std::vector<float> hostile_values(std::size_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.f, 3.f);
  std::uniform_int_distribution<int> pick(0, 19);
  std::vector<float> v(n);
  for (auto& x : v) {
    int k = pick(rng);
    x = k == 0 ? std::numeric_limits<float>::quiet_NaN() : k == 1 ? kInf : k == 2 ? -kInf : normal(rng);
  }
  return v;
}

TEST(FiniteExtremes, MatchesAPlainLoopWithNaNAndInfinities) {
  std::mt19937 rng(7);
  for (std::size_t n = 0; n < 140; ++n) {
    auto v = hostile_values(n, rng);
    EXPECT_EQ(util::finite_extremes(v), reference_extremes(v)) << n;
    // Without the non-finite values the fast path alone answers.
    std::vector<float> finite;
    for (float x : v)
      if (std::isfinite(x)) finite.push_back(x);
    EXPECT_EQ(util::finite_extremes(finite), reference_extremes(finite)) << n;
  }
  std::vector<float> nothing_finite = {std::numeric_limits<float>::quiet_NaN(), kInf, -kInf};
  EXPECT_EQ(util::finite_extremes(nothing_finite), std::make_pair(kInf, -kInf));
}

TEST(CalibrationOp, Float32SerialAndThreadedMatchAPlainLoop) {
  for (int threads : {1, 2}) {
    SessionOptions options;
    options.calibration_ops = true;
    options.intra_op_threads = threads;
    auto session = Session::from_bytes(extremes_model(::onnx::TensorProto::FLOAT), options, "'extremes'");
    ASSERT_TRUE(session.ok()) << session.error().message;
    std::mt19937 rng(11);
    // Small (one pass) and above the size that is split into chunks (1 << 18 elements).
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{37}, std::size_t{(1 << 18) + 4099}}) {
      auto v = hostile_values(n, rng);
      auto got = run_extremes(*session, Tensor::from_values<float>("x", {static_cast<std::int64_t>(n)}, v));
      EXPECT_EQ(got, reference_extremes(v)) << n << " elements, " << threads << " threads";
    }
    // The extremes sit in the last chunk's tail: a chunking slip would miss them.
    std::vector<float> tail((1 << 18) + 5, 1.f);
    tail.back() = -7.f;
    tail[tail.size() - 2] = 9.f;
    auto got = run_extremes(*session, Tensor::from_values<float>("x", {static_cast<std::int64_t>(tail.size())}, tail));
    EXPECT_EQ(got, std::make_pair(-7.f, 9.f));
  }
}

TEST(CalibrationOp, DoubleAndHalfInputsGiveFloatExtremes) {
  SessionOptions options;
  options.calibration_ops = true;
  auto doubles = Session::from_bytes(extremes_model(::onnx::TensorProto::DOUBLE), options, "'extremes'");
  ASSERT_TRUE(doubles.ok()) << doubles.error().message;
  std::vector<double> d = {0.5, -2.25, std::numeric_limits<double>::quiet_NaN(), 3.0, -1e300};
  // -1e300 is finite as a double but not as a float32: the range is float32, so it is skipped.
  EXPECT_EQ(run_extremes(*doubles, Tensor::from_values<double>("x", {5}, d)), std::make_pair(-2.25f, 3.f));

  auto halves = Session::from_bytes(extremes_model(::onnx::TensorProto::FLOAT16), options, "'extremes'");
  ASSERT_TRUE(halves.ok()) << halves.error().message;
  // IEEE half bits: 1.5 = 0x3E00, -4 = 0xC400, +inf = 0x7C00, NaN = 0x7E00, 0.25 = 0x3400.
  std::vector<std::uint16_t> h = {0x3E00, 0xC400, 0x7C00, 0x7E00, 0x3400};
  Tensor half{"x", ElementType::float16, {5}, {}};
  half.bytes.resize(h.size() * 2);
  std::memcpy(half.bytes.data(), h.data(), half.bytes.size());
  EXPECT_EQ(run_extremes(*halves, half), std::make_pair(-4.f, 1.5f));
}

TEST(CalibrationOp, IntegerInputIsAnError) {
  SessionOptions options;
  options.calibration_ops = true;
  auto session = Session::from_bytes(extremes_model(::onnx::TensorProto::INT64), options, "'extremes'");
  ASSERT_TRUE(session.ok()) << session.error().message;
  std::vector<std::int64_t> v = {1, 2, 3};
  auto out = session->run(std::vector<Tensor>{Tensor::from_values<std::int64_t>("x", {3}, v)});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().message.find("floating-point tensors only"), std::string::npos) << out.error().message;
}

TEST(CalibrationOp, UnregisteredWithoutTheOption) {
  // A session that did not ask for the calibration ops cannot load a model using them.
  auto session = Session::from_bytes(extremes_model(::onnx::TensorProto::FLOAT), {}, "'extremes'");
  EXPECT_FALSE(session.ok());
}

}  // namespace
}  // namespace modelkit::runtime
