// Where an export's weights come from: a checkpoint's safetensors (single file or sharded,
// memory-mapped, converted to float32 tensor by tensor) or a seeded random initialisation that
// follows transformers' _init_weights (normal(0, initializer_range), LayerNorm 1/0, biases 0).
#pragma once

#include <modelkit/result.hpp>
#include <modelkit/safetensors.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace modelkit::exporter {

// How a random-weight export initialises a tensor.
enum class Init { normal, zeros, ones };

struct TensorInfo {
  std::string dtype;  // safetensors dtype ("F32", "BF16", ...)
  std::vector<std::int64_t> shape;
};

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // nullopt when the tensor is absent.
  [[nodiscard]] virtual std::optional<TensorInfo> find(const std::string& name) const = 0;
  // Reads `name` as float32 into `out` (its size is the element count). `init` is what a random
  // source fills in.
  [[nodiscard]] virtual Result<void> read(const std::string& name, Init init, std::span<float> out) const = 0;
  // Writes the float32 bytes of `name` through `sink` straight from storage when they are stored as
  // float32 already (no copy); false when the caller must read() instead.
  [[nodiscard]] virtual Result<bool> write_f32(const std::string& name,
                                               const std::function<Result<void>(const void*, std::size_t)>& sink) const {
    (void)name;
    (void)sink;
    return false;
  }
  // Where the float32 bytes of `name` are stored in a file (an open descriptor, valid while the
  // source lives), so a writer can copy them in the kernel (copy_file_range); nullopt when they are
  // not stored as float32 in a file.
  struct FileRange {
    int fd = -1;
    std::uint64_t offset = 0, length = 0;
  };
  [[nodiscard]] virtual std::optional<FileRange> f32_file_range(const std::string& name) const {
    (void)name;
    return std::nullopt;
  }
  // Calls `use` with the float32 values of `name` in place (memory-mapped) when they are stored as
  // aligned float32 (the transposing writer reads them without a copy); false when the caller
  // must read() instead.
  [[nodiscard]] virtual Result<bool> visit_f32(const std::string& name,
                                               const std::function<Result<void>(const float*, std::size_t)>& use) const {
    (void)name;
    (void)use;
    return false;
  }
  // For the manifest: files and dtypes read (empty for random weights).
  [[nodiscard]] virtual WeightsSummary summary() const = 0;
};

// Opens a checkpoint folder's safetensors: model.safetensors.index.json (sharded) or every
// *.safetensors file. No safetensors but pytorch_model.bin: an error saying safetensors are
// required (modelkit never unpickles).
[[nodiscard]] Result<std::unique_ptr<WeightSource>> open_safetensors(const std::filesystem::path& folder);

// Random weights: `find` answers with the shape it is asked for (registered by expect()).
class RandomWeights final : public WeightSource {
 public:
  RandomWeights(std::uint64_t seed, double stddev) : seed_(seed), stddev_(stddev) {}
  void expect(const std::string& name, std::vector<std::int64_t> shape) { shapes_[name] = std::move(shape); }
  [[nodiscard]] std::optional<TensorInfo> find(const std::string& name) const override;
  [[nodiscard]] Result<void> read(const std::string& name, Init init, std::span<float> out) const override;
  [[nodiscard]] WeightsSummary summary() const override { return {}; }

 private:
  std::uint64_t seed_;
  double stddev_;
  std::map<std::string, std::vector<std::int64_t>> shapes_;
};

// Converts one element type to float32 ("F32", "F16", "BF16"); false for other dtypes.
[[nodiscard]] bool convertible_dtype(std::string_view dtype);

}  // namespace modelkit::exporter
