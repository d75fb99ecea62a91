// How a build divides its samples (internal to the build area): calibration takes the first
// ones, validation the ones held back after them, so the two never overlap.
#pragma once

#include <modelkit/calibration.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace modelkit::build {

struct SampleSplit {
  int calibration = 0;  // the first samples
  int held_back = 0;    // the next ones, for validation (0: validation reuses calibration samples)
};

// From what the source can yield: up to a fifth (at least one when there are two or more, at
// most `validation`) is held back; calibration gets up to `calibration` of the rest.
[[nodiscard]] inline SampleSplit split_samples(int available, int calibration, int validation) {
  SampleSplit s;
  s.held_back = std::min(validation, std::max(available > 1 ? 1 : 0, available / 5));
  s.calibration = std::min(calibration, available - s.held_back);
  return s;
}

// A window [offset, offset + count) of another source.
class WindowSource final : public calib::SampleSource {
 public:
  WindowSource(calib::SampleSource& inner, int offset, int count) : inner_(inner), offset_(offset), count_(count) {}
  Result<std::optional<calib::Sample>> next() override {
    if (!positioned_) {
      MODELKIT_TRY_VOID(rewind());
    }
    if (taken_ >= count_) return std::optional<calib::Sample>{};
    ++taken_;
    return inner_.next();
  }
  Result<void> rewind() override {
    MODELKIT_TRY_VOID(inner_.rewind());
    for (int i = 0; i < offset_; ++i) {
      MODELKIT_TRY(auto sample, inner_.next());
      if (!sample) break;
    }
    taken_ = 0;
    positioned_ = true;
    return {};
  }
  std::vector<std::string> produced_names() const override { return inner_.produced_names(); }
  std::string describe() const override { return inner_.describe(); }
  std::vector<std::string> skipped_inputs() const override { return inner_.skipped_inputs(); }

 private:
  calib::SampleSource& inner_;
  int offset_, count_;
  int taken_ = 0;
  bool positioned_ = false;
};

// How many samples [offset, offset + count) of a source yields (fewer when inputs are skipped).
[[nodiscard]] inline Result<int> count_samples(calib::SampleSource& source, int offset, int count) {
  WindowSource window(source, offset, count);
  int n = 0;
  for (;;) {
    MODELKIT_TRY(auto sample, window.next());
    if (!sample) break;
    ++n;
  }
  return n;
}

}  // namespace modelkit::build
