// Synthetic "document" images for text detection models (PP-OCR det): a light page with dark
// text-like strokes in lines, normalized as PP-OCR expects (x / 255 - ImageNet mean) / std, shaped
// [1, 3, H, W]. Random N(0, 1) noise gives a detector nothing to detect (outputs ~0 everywhere),
// which makes output comparisons meaningless; strokes give it real text-like structure.
#pragma once

#include <modelkit/calibration.hpp>

#include <array>
#include <random>

namespace modelkit::testing {

class DocumentSource : public calib::SampleSource {
 public:
  // Sample i is drawn with seed first_seed + i (held-back validation data uses another first_seed).
  DocumentSource(std::string input_name, std::int64_t height, std::int64_t width, std::uint64_t count,
                 std::uint32_t first_seed = 1000)
      : name_(std::move(input_name)), h_(height), w_(width), count_(count), first_seed_(first_seed) {}

  Result<std::optional<calib::Sample>> next() override {
    if (index_ >= count_) return std::optional<calib::Sample>();
    std::mt19937 rng(static_cast<std::uint32_t>(first_seed_ + index_++));
    std::uniform_real_distribution<float> u(0, 1);
    std::vector<float> gray(static_cast<std::size_t>(h_ * w_));
    for (auto& v : gray) v = 225 + 25 * u(rng);  // paper with grain
    // Lines of "words": runs of thin vertical strokes.
    for (std::int64_t top = 6 + static_cast<std::int64_t>(u(rng) * 6); top + 12 < h_; top += 18 + static_cast<std::int64_t>(u(rng) * 8)) {
      std::int64_t x = 4 + static_cast<std::int64_t>(u(rng) * 10);
      while (x + 8 < w_) {
        std::int64_t word = 10 + static_cast<std::int64_t>(u(rng) * 30);
        for (std::int64_t c = x; c < std::min(x + word, w_ - 2); c += 3)
          for (std::int64_t y = top; y < top + 10; ++y)
            if (u(rng) < 0.8f) gray[static_cast<std::size_t>(y * w_ + c)] = 30 + 40 * u(rng);
        x += word + 6 + static_cast<std::int64_t>(u(rng) * 8);
      }
    }
    constexpr std::array<float, 3> mean = {0.485f, 0.456f, 0.406f}, stddev = {0.229f, 0.224f, 0.225f};
    std::vector<float> pixels(static_cast<std::size_t>(3 * h_ * w_));
    for (std::size_t c = 0; c < 3; ++c)
      for (std::size_t i = 0; i < gray.size(); ++i) pixels[c * gray.size() + i] = (gray[i] / 255.f - mean[c]) / stddev[c];
    calib::Sample sample;
    sample.push_back(Tensor::from_values<float>(name_, {1, 3, h_, w_}, pixels));
    return std::optional<calib::Sample>(std::move(sample));
  }
  Result<void> rewind() override {
    index_ = 0;
    return {};
  }
  std::vector<std::string> produced_names() const override { return {name_}; }
  std::string describe() const override { return "synthetic documents: " + std::to_string(count_); }

 private:
  std::string name_;
  std::int64_t h_, w_;
  std::uint64_t count_, index_ = 0;
  std::uint32_t first_seed_;
};

}  // namespace modelkit::testing
