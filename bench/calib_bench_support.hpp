// Shared by the calibration benchmarks: where setup puts the test models, and pre-generated samples
// served from memory (so sample generation is not timed).
#pragma once

#include <modelkit/calib_stats.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace modelkit::bench {

inline std::filesystem::path models_dir() {
  return std::filesystem::path(MODELKIT_TEST_DATA_DIR) / ".." / ".." / ".deps" / "models";
}

class VectorSource : public calib::SampleSource {
 public:
  explicit VectorSource(std::vector<calib::Sample> samples) : samples_(std::move(samples)) {}
  Result<std::optional<calib::Sample>> next() override {
    if (i_ >= samples_.size()) return std::optional<calib::Sample>();
    return std::optional<calib::Sample>(samples_[i_++]);
  }
  Result<void> rewind() override {
    i_ = 0;
    return {};
  }
  std::vector<std::string> produced_names() const override { return {}; }
  std::string describe() const override { return "memory"; }

 private:
  std::vector<calib::Sample> samples_;
  std::size_t i_ = 0;
};

}  // namespace modelkit::bench
