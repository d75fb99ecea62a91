// The smallest and largest finite value of a float buffer in one pass: what minmax calibration
// records of every tensor, computed both on fetched tensors (calib) and inside the graph by the
// calibration op (runtime).
#pragma once

#include <cstddef>
#include <span>
#include <utility>

namespace modelkit::util {

// {min, max} of the finite values; {+inf, -inf} when there is none (empty, or only NaN/inf).
// NaN and infinities are skipped: a saturating activation says nothing about the range that
// quantization should cover.
[[nodiscard]] std::pair<float, float> finite_extremes(std::span<const float> values);

}  // namespace modelkit::util
