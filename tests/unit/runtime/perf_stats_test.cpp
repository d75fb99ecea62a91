#include <modelkit/runtime.hpp>

#include "../onnx/test_models.hpp"

#include <gtest/gtest.h>

namespace modelkit::runtime {
namespace {

// Reference values from numpy: np.percentile(x, [50, 90, 99]), x.mean(), x.std(ddof=1).
TEST(LatencyStats, MatchNumpy) {
  auto s = latency_stats({3.0, 1.0, 4.0, 1.5, 9.0, 2.6, 5.3, 5.8, 9.7, 9.3, 2.3});
  EXPECT_EQ(s.iterations, 11u);
  EXPECT_DOUBLE_EQ(s.min_ms, 1.0);
  EXPECT_DOUBLE_EQ(s.p50_ms, 4.0);
  EXPECT_NEAR(s.p90_ms, 9.3, 1e-12);
  EXPECT_NEAR(s.p99_ms, 9.66, 1e-12);
  EXPECT_NEAR(s.mean_ms, 4.863636363636363, 1e-12);
  EXPECT_NEAR(s.std_ms, 3.215671851191513, 1e-12);
  auto one = latency_stats({2.5});
  EXPECT_DOUBLE_EQ(one.p99_ms, 2.5);
  EXPECT_DOUBLE_EQ(one.std_ms, 0.0);
  EXPECT_EQ(latency_stats({}).iterations, 0u);
}

TEST(LatencyStats, TimedRunsAndMemory) {
  auto session = Session::open(modelkit::testing::test_model("cnn-tiny/model.onnx"));
  ASSERT_TRUE(session.ok()) << session.error().message;
  auto input = Tensor::zeros("pixel_values", ElementType::float32, {1, 3, 32, 32});
  ASSERT_TRUE(input.ok());
  std::vector<Tensor> inputs = {*input};
  auto samples = time_runs(*session, inputs, 2, 5);
  ASSERT_TRUE(samples.ok()) << samples.error().message;
  EXPECT_EQ(samples->size(), 5u);
  for (double v : *samples) EXPECT_GT(v, 0.0);
  // Current first: RSS may grow between the two reads (reading /proc allocates), the peak read
  // afterwards still covers it.
  auto rss = current_rss_bytes();
  EXPECT_GT(rss, 1u << 20);
  EXPECT_GE(peak_rss_bytes(), rss);

  inputs[0].name = "pixels";
  auto bad = time_runs(*session, inputs, 1, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("has no input named 'pixels'"), std::string::npos);
}

}  // namespace
}  // namespace modelkit::runtime
