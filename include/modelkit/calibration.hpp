// Calibration data as a pull stream: a source yields one sample (named tensors shaped
// [1, ...], dtypes matching the model's inputs) at a time, so memory stays bounded by
// one sample whatever the sample count (docs/design.md, "Calibration data").
#pragma once

#include <modelkit/result.hpp>
#include <modelkit/tensor.hpp>

#include <optional>
#include <string>
#include <vector>

namespace modelkit::calib {

using Sample = std::vector<Tensor>;

class SampleSource {
 public:
  virtual ~SampleSource() = default;
  // The next sample, nullopt when the source is exhausted, or an error (unreadable data).
  [[nodiscard]] virtual Result<std::optional<Sample>> next() = 0;
  // Restarts from the first sample (validation re-reads held-back samples).
  [[nodiscard]] virtual Result<void> rewind() = 0;
  // Input names the samples carry.
  [[nodiscard]] virtual std::vector<std::string> produced_names() const = 0;
  // "text: 100 lines of data/calibration/text.txt via tokenizer.json", for reports.
  [[nodiscard]] virtual std::string describe() const = 0;
  // Data the source passed over so far (an undecodable image, ...), one line each.
  [[nodiscard]] virtual std::vector<std::string> skipped_inputs() const { return {}; }
};

}  // namespace modelkit::calib
