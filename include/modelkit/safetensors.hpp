// safetensors headers: what a checkpoint's weights are, read from the JSON header
// only (never the tensor data).
#pragma once

#include <modelkit/result.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace modelkit {

struct DtypeStats {
  std::string dtype;  // "F32", "BF16", ...
  std::uint64_t tensors = 0;
  std::uint64_t parameters = 0;
  std::uint64_t bytes = 0;
};

struct WeightsSummary {
  std::vector<std::string> files;  // relative to the checkpoint folder, sorted
  std::uint64_t tensors = 0;
  std::uint64_t parameters = 0;
  std::uint64_t bytes = 0;
  std::vector<DtypeStats> dtypes;  // sorted by dtype name
};

// The safetensors format caps headers at 100 MB; so do we.
inline constexpr std::uint64_t kMaxSafetensorsHeader = 100'000'000;

// Parses a header given the file's total size (to check offsets against it).
// Errors: "header length N is larger than the file (M bytes)", "tensor 'x': unknown dtype 'Q9'",
// "tensors 'a' and 'b' overlap", ... The caller prefixes the file name.
[[nodiscard]] Result<WeightsSummary> parse_safetensors_header(std::string_view header_json, std::uint64_t data_bytes);

// Reads one .safetensors file's header.
[[nodiscard]] Result<WeightsSummary> read_safetensors(const std::filesystem::path& file);

// Summarises a folder's weights: model.safetensors.index.json (sharded; every shard it
// names must be a plain file name inside the folder), else every *.safetensors file.
// No safetensors at all gives an empty summary.
[[nodiscard]] Result<WeightsSummary> summarize_weights(const std::filesystem::path& folder);

}  // namespace modelkit
