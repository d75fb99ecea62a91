// Calibration statistics on synthetic values, checked against hand-computed results.
#include <modelkit/calib_stats.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <algorithm>

namespace modelkit::calib {
namespace {

TEST(MinMaxStatistic, RunningMinMaxIgnoresNonFinite) {
  MinMaxStatistic s;
  EXPECT_TRUE(s.empty());
  std::vector<float> a = {-1.f, 2.f, 0.5f};
  std::vector<float> b = {3.f, -4.f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()};
  s.observe(a);
  s.observe(b);
  EXPECT_FLOAT_EQ(s.min(), -4.f);
  EXPECT_FLOAT_EQ(s.max(), 3.f);
}

TEST(MinMaxStatistic, MovingAverageBlendsEachSample) {
  MinMaxStatistic s(true, 0.5);
  std::vector<float> a = {-1.f, 2.f}, b = {-4.f, 3.f};
  s.observe(a);  // first sample taken as is
  s.observe(b);  // min -1 + 0.5 * (-4 - -1) = -2.5; max 2 + 0.5 * (3 - 2) = 2.5
  EXPECT_FLOAT_EQ(s.min(), -2.5f);
  EXPECT_FLOAT_EQ(s.max(), 2.5f);
}

TEST(Histogram, AbsoluteBinsAndPercentile) {
  Histogram h(Histogram::Kind::absolute, 8);
  std::vector<float> values;
  for (int i = 0; i < 100; ++i) values.push_back(static_cast<float>(i));
  h.observe(values);
  // T = 99 (just above), width 12.375: [0, 12.375) holds 0..12, [12.375, 24.75) 13..24, ... 87..99.
  EXPECT_NEAR(h.threshold(), 99.0, 1e-3);
  std::vector<std::uint64_t> expected = {13, 12, 13, 12, 12, 13, 12, 13};
  EXPECT_EQ(h.counts(), expected);
  // 50%: the cumulative count reaches 50 in bin 3, whose upper edge is 4 * 12.375 = 49.5.
  auto r = percentile_range(h, 50);
  EXPECT_FLOAT_EQ(r.min, 0.f) << "clamped to the observed minimum";
  EXPECT_NEAR(r.max, 49.5f, 1e-3);
  // 100%: the last bin's upper edge, the observed maximum.
  r = percentile_range(h, 100);
  EXPECT_FLOAT_EQ(r.max, 99.f);
}

TEST(Histogram, PercentileIsSymmetricAndClampedToObservedRange) {
  Histogram h(Histogram::Kind::absolute, 8);
  std::vector<float> values = {-8.f, -4.5f, 0.2f, 4.5f};
  h.observe(values);
  // T = 8 (just above), width 1: |0.2| -> bin 0, |4.5| twice -> bin 4, |8| -> bin 7. 50% of 4 =
  // 2 values are reached in bin 4 (cumulative 3): t = 5, range [-5, 5] clamped to [-8, 4.5].
  auto r = percentile_range(h, 50);
  EXPECT_NEAR(r.min, -5.f, 1e-3);
  EXPECT_FLOAT_EQ(r.max, 4.5f);
}

// Counting every value directly on the final grid gives the same histogram as growing it.
TEST(Histogram, GrowthByDoublingIsExact) {
  for (auto kind : {Histogram::Kind::absolute, Histogram::Kind::signed_values}) {
    Histogram h(kind, 16);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> small(-0.99f, 0.99f), large(-3.4f, 3.4f);
    std::vector<float> a(500), b(500);
    for (auto& v : a) v = small(rng);
    for (auto& v : b) v = large(rng);
    a[0] = 0.995f;  // T starts just above this
    b[0] = 3.5f;    // grows by two doublings
    h.observe(a);
    h.observe(b);
    const double t = h.threshold();
    ASSERT_NEAR(t, 4.0 * 0.995f, 1e-4);
    std::vector<std::uint64_t> expected(16, 0);
    for (const auto* part : {&a, &b})
      for (float v : *part) {
        double x = kind == Histogram::Kind::absolute ? std::fabs(v) : v;
        double origin = kind == Histogram::Kind::absolute ? 0 : -t;
        double width = kind == Histogram::Kind::absolute ? t / 16 : 2 * t / 16;
        auto bin = static_cast<std::size_t>(std::floor((x - origin) / width));
        ++expected[std::min<std::size_t>(bin, 15)];
      }
    EXPECT_EQ(h.counts(), expected) << (kind == Histogram::Kind::absolute ? "absolute" : "signed");
    EXPECT_EQ(h.total(), 1000u);
  }
}

TEST(Histogram, ZerosBeforeAnyRangeAreKept) {
  Histogram h(Histogram::Kind::signed_values, 8);
  std::vector<float> zeros(10, 0.f), ones = {1.f, -1.f};
  h.observe(zeros);
  EXPECT_EQ(h.threshold(), 0.0);
  h.observe(ones);
  EXPECT_EQ(h.total(), 12u);
  EXPECT_EQ(h.counts()[4], 10u) << "zeros land in the bin starting at 0";
}

TEST(EntropyRange, ClipsARareOutlier) {
  // 20,000 values ~ N(0, 1) and one outlier at 100: minmax would keep 100; the KL threshold
  // keeps the bulk of the distribution and clips the outlier.
  Histogram h(Histogram::Kind::signed_values, 2048);
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0, 1);
  std::vector<float> values(20000);
  for (auto& v : values) v = normal(rng);
  values[0] = 100.f;
  h.observe(values);
  auto r = entropy_range(h, 128);
  EXPECT_GT(r.max, 2.0f) << "keeps more than two standard deviations";
  EXPECT_LT(r.max, 20.0f) << "clips the outlier";
  float observed_min = *std::min_element(values.begin(), values.end());
  EXPECT_FLOAT_EQ(r.min, std::max(-r.max, observed_min)) << "symmetric, clamped to the observed minimum";
}

TEST(EntropyRange, UniformDataKeepsItsRange) {
  // With no tail to trade off, the best window is (close to) the whole range.
  Histogram h(Histogram::Kind::signed_values, 512);
  std::vector<float> values;
  for (int i = 0; i < 10000; ++i) values.push_back(-1.f + 2.f * (static_cast<float>(i) + 0.5f) / 10000.f);
  h.observe(values);
  auto r = entropy_range(h, 128);
  EXPECT_GT(r.max, 0.9f);
  EXPECT_LE(r.max, 1.0f);
}

TEST(TensorStatistic, PercentileOnlyTrimsTails) {
  TensorStatistic s(CalibrationMethod::percentile, 2048, false, 0.01);
  std::vector<float> values;
  for (int i = 0; i < 100000; ++i) values.push_back(static_cast<float>(i % 1000) / 1000.f);
  values.push_back(50.f);  // one value in 100,001 is above the 99.999th percentile
  s.observe(values);
  auto r = s.range(99.999, 128);
  ASSERT_TRUE(r);
  EXPECT_FLOAT_EQ(r->min, 0.f);
  EXPECT_LT(r->max, 1.1f);
  EXPECT_GT(r->max, 0.95f);
}

// The state of a statistics set does not depend on how many samples it saw.
TEST(StatisticsSet, NoPerSampleStorage) {
  for (auto method : {CalibrationMethod::minmax, CalibrationMethod::percentile, CalibrationMethod::entropy}) {
    CollectOptions options;
    options.method = method;
    StatisticsSet few({"a", "b"}, options), many({"a", "b"}, options);
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0, 1);
    auto feed = [&](StatisticsSet& set, int samples) {
      for (int s = 0; s < samples; ++s) {
        std::vector<float> v(256);
        for (auto& x : v) x = normal(rng) * static_cast<float>(1 + s % 7);
        for (const char* name : {"a", "b"}) ASSERT_TRUE(set.observe(Tensor::from_values<float>(name, {256}, v)).ok());
        set.finish_sample();
      }
    };
    feed(few, 10);
    feed(many, 1000);
    EXPECT_EQ(few.memory_bytes(), many.memory_bytes()) << method_name(method);
    if (method != CalibrationMethod::minmax) {
      EXPECT_GE(few.memory_bytes(), 2 * 2048 * sizeof(std::uint64_t)) << "two fixed 2048-bin histograms";
    }
    EXPECT_EQ(many.samples(), 1000u);
    EXPECT_EQ(many.ranges().tensors.size(), 2u);
  }
}

TEST(StatisticsSet, ReadsFloat16AndRefusesIntegers) {
  CollectOptions options;
  StatisticsSet set({"h", "i"}, options);
  // 0x3C00 = 1.0, 0xC000 = -2.0, 0x3800 = 0.5 in IEEE half.
  std::vector<std::uint16_t> half = {0x3C00, 0xC000, 0x3800};
  Tensor t = Tensor::from_values<std::uint16_t>("h", {3}, half);
  t.type = ElementType::float16;
  ASSERT_TRUE(set.observe(t).ok());
  auto r = set.ranges();
  EXPECT_FLOAT_EQ(r.tensors.at("h").min, -2.f);
  EXPECT_FLOAT_EQ(r.tensors.at("h").max, 1.f);
  std::vector<std::int64_t> ints = {1, 2};
  auto bad = set.observe(Tensor::from_values<std::int64_t>("i", {2}, ints));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("'i' is int64"), std::string::npos) << bad.error().message;
}

TEST(CollectOptions, ValidationNamesTheSetting) {
  CollectOptions o;
  o.method = CalibrationMethod::percentile;
  o.percentile = 0;
  EXPECT_NE(o.validate().error().message.find("percentile"), std::string::npos);
  o.percentile = 99.9;
  o.bins = 10;
  EXPECT_NE(o.validate().error().message.find("bins"), std::string::npos);
  o.bins = 2048;
  EXPECT_TRUE(o.validate().ok());
  EXPECT_FALSE(parse_method("kl").ok());
  EXPECT_EQ(*parse_method("entropy"), CalibrationMethod::entropy);
}

}  // namespace
}  // namespace modelkit::calib
