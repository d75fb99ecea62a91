// A seeded random SampleSource over a model's own inputs (make_random_inputs), for tests and
// benchmarks that need calibration data without the lead's source selection.
#pragma once

#include <modelkit/calibration.hpp>
#include <modelkit/onnx.hpp>
#include <modelkit/random_inputs.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace modelkit::testing {

class RandomSource : public calib::SampleSource {
 public:
  // `count` samples; sample i uses seed + i. Hints as make_random_inputs takes them.
  static Result<RandomSource> open(const std::filesystem::path& model, std::uint64_t count, InputHints hints = {},
                                   std::vector<InputShape> overrides = {}, std::uint64_t seed = 1) {
    auto info = onnx::read_model_info(model);
    if (!info) return info.take_error();
    RandomSource s;
    s.inputs_ = info->inputs;
    s.count_ = count;
    s.hints_ = std::move(hints);
    s.overrides_ = std::move(overrides);
    s.seed_ = seed;
    return s;
  }
  Result<std::optional<calib::Sample>> next() override {
    if (index_ >= count_) return std::optional<calib::Sample>();
    auto r = make_random_inputs(inputs_, hints_, overrides_, seed_ + index_);
    if (!r) return r.take_error();
    ++index_;
    return std::optional<calib::Sample>(std::move(r->tensors));
  }
  Result<void> rewind() override {
    index_ = 0;
    return {};
  }
  std::vector<std::string> produced_names() const override {
    std::vector<std::string> names;
    for (const auto& i : inputs_) names.push_back(i.name);
    return names;
  }
  std::string describe() const override { return "random: " + std::to_string(count_) + " samples"; }

 private:
  std::vector<onnx::ValueInfo> inputs_;
  std::uint64_t count_ = 0, index_ = 0, seed_ = 1;
  InputHints hints_;
  std::vector<InputShape> overrides_;
};

}  // namespace modelkit::testing
