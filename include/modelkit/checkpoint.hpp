// Finding and reading a checkpoint: a folder, a config.json, an .onnx file, or a
// model id in the local Hugging Face cache (modelkit never downloads).
#pragma once

#include <modelkit/config.hpp>
#include <modelkit/result.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace modelkit {

// Where the Hugging Face cache lives: HF_HUB_CACHE, else HF_HOME/hub, else
// ~/.cache/huggingface/hub. Passed explicitly so tests need not touch the environment.
struct CacheLocation {
  std::filesystem::path hub;
  [[nodiscard]] static CacheLocation from_environment();
};

enum class SourceKind { folder, config_file, onnx_file, hf_cache };

struct ModelSource {
  SourceKind kind = SourceKind::folder;
  std::string reference;                            // what the user gave to -m
  std::filesystem::path folder;                     // the checkpoint folder
  std::optional<std::filesystem::path> config_path; // config.json, when there is one
  std::optional<std::filesystem::path> onnx_path;   // -m was an .onnx file
  std::optional<std::string> model_id;              // "org/name" when known from -m or the cache
};

// Resolves -m. A path that exists is used as it is; otherwise "org/name" (or a legacy
// "name") is looked up in the cache. Errors name what was tried.
[[nodiscard]] Result<ModelSource> locate_model(std::string_view reference, const CacheLocation& cache);

// The model id encoded in a cache folder name inside `path`
// (".../models--org--name/snapshots/<rev>" -> "org/name").
[[nodiscard]] std::optional<std::string> model_id_from_cache_path(const std::filesystem::path& path);

struct ModelCard {
  std::optional<std::string> pipeline_tag;
  std::optional<std::string> library_name;
};
// Reads the YAML front matter of README.md (only the two top-level scalars modelkit uses).
[[nodiscard]] ModelCard parse_model_card(std::string_view readme);

// What a checkpoint folder holds, read without loading weights.
struct Checkpoint {
  ModelSource source;
  std::optional<ModelConfig> config;
  ModelCard card;
  bool sentence_transformers = false;  // modules.json or config_sentence_transformers.json
  std::vector<std::string> tokenizer_files;
  std::vector<std::string> processor_files;
  // The model id the resolver should use: -m / cache folder, else _name_or_path when it
  // looks like an "org/name" id.
  [[nodiscard]] std::optional<std::string> model_id() const;
};

// Reads config.json (when present), README.md front matter and the file inventory.
[[nodiscard]] Result<Checkpoint> load_checkpoint(const ModelSource& source);

// config.json is capped at 64 MiB: a larger one is not a config.
inline constexpr std::uint64_t kMaxConfigBytes = 64u << 20;

}  // namespace modelkit
