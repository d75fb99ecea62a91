// Validation against float outputs kept by calibration (collect_ranges' reference run,
// compare_with_reference) gives the metrics of compare_models, which loads the float model
// again, on a real model: the float side is the same model in both, run through the calibration
// session (whose extra reduction nodes may change ORT's fusions, hence a tolerance).
#include <modelkit/calib_stats.hpp>
#include <modelkit/quantize.hpp>

#include "random_source.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>

namespace modelkit::quant {
namespace {
namespace fs = std::filesystem;

// Float outputs from a session with calibration outputs added: the same values up to the
// rounding of a differently fused graph.
constexpr double kMetricTolerance = 1e-5;

TEST(ReferenceValidation, KeptFloatOutputsGiveTheMetricsOfASecondLoad) {
  const fs::path model = fs::path(MODELKIT_DEPS_DIR) / "models" / "bert-tiny-like" / "model.onnx";
  ASSERT_TRUE(fs::exists(model)) << model << " is missing: run scripts/setup.sh";
  InputHints hints;
  hints.sequence_length = 32;
  auto calibration = testing::RandomSource::open(model, 4, hints);
  auto validation = testing::RandomSource::open(model, 3, hints, {}, 100);
  ASSERT_TRUE(calibration.ok() && validation.ok());
  QuantizeOptions options;
  auto plan = plan_quantization(model, options);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  calib::ReferenceOutputs reference;
  calib::CollectOptions copts;
  copts.max_samples = 0;
  copts.intra_op_threads = 1;
  copts.reference_source = &*validation;
  copts.reference_outputs = &reference;
  auto ranges = calib::collect_ranges(model, plan->tensors_to_calibrate, *calibration, copts);
  ASSERT_TRUE(ranges.ok()) << ranges.error().message;
  ASSERT_EQ(reference.samples.size(), 3u);
  ASSERT_FALSE(reference.names.empty());
  for (const auto& s : reference.samples) ASSERT_EQ(s.size(), reference.names.size());

  const fs::path out = fs::temp_directory_path() / ("modelkit-refval-" + std::to_string(::getpid()) + ".onnx");
  auto report = quantize(model, *ranges, options, out);
  ASSERT_TRUE(report.ok()) << report.error().message;
  CompareOptions vopts;
  vopts.max_samples = 0;
  vopts.intra_op_threads = 1;
  auto two_loads = compare_models(model, out, *validation, vopts);
  auto kept = compare_with_reference(out, *validation, reference, vopts);
  ASSERT_TRUE(two_loads.ok()) << two_loads.error().message;
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  EXPECT_EQ(kept->samples, two_loads->samples);
  ASSERT_EQ(kept->outputs.size(), two_loads->outputs.size());
  for (std::size_t i = 0; i < kept->outputs.size(); ++i) {
    const auto& a = kept->outputs[i];
    const auto& b = two_loads->outputs[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.compared, b.compared);
    if (!a.compared) continue;
    EXPECT_NEAR(a.cosine_similarity, b.cosine_similarity, kMetricTolerance) << a.name;
    EXPECT_NEAR(a.min_cosine, b.min_cosine, kMetricTolerance) << a.name;
    EXPECT_NEAR(a.sqnr_db, b.sqnr_db, 1e3 * kMetricTolerance) << a.name;  // dB: a log of the ratio
    EXPECT_NEAR(a.relative_l2_error, b.relative_l2_error, kMetricTolerance) << a.name;
  }

  // Fewer kept outputs than samples is an error naming the sample, not a silent comparison.
  reference.samples.pop_back();
  auto short_reference = compare_with_reference(out, *validation, reference, vopts);
  fs::remove(out);
  ASSERT_FALSE(short_reference.ok());
  EXPECT_NE(short_reference.error().message.find("validation sample 3 has no float outputs"), std::string::npos)
      << short_reference.error().message;
}

}  // namespace
}  // namespace modelkit::quant
