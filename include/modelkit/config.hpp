// config.json of a Hugging Face checkpoint: the fields modelkit decides on.
#pragma once

#include <modelkit/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace modelkit {

struct SubConfig {
  std::string field;                      // "text_config", "vision_config", ...
  std::optional<std::string> model_type;  // its own model_type, when it names one
};

struct ModelConfig {
  std::optional<std::string> model_type;
  bool has_architectures = false;  // the field is present (possibly empty)
  std::vector<std::string> architectures;
  std::optional<std::string> name_or_path;  // "_name_or_path"
  std::optional<bool> is_encoder_decoder;   // only a literal true/false counts
  // auto_map entries: Auto class -> target class name (module prefix dropped; the
  // first element when the value is a [slow, fast] list).
  std::vector<std::pair<std::string, std::string>> auto_map;
  // timm configs: "architecture" and a "pretrained_cfg" object, no model_type.
  std::optional<std::string> timm_architecture;
  bool has_pretrained_cfg = false;
  std::vector<SubConfig> sub_configs;
  // Integer fields, top level by name and one level down as "text_config.vocab_size".
  std::vector<std::pair<std::string, std::int64_t>> integers;

  // Top-level integer, else the first sub-config's one ("vocab_size" found in text_config).
  [[nodiscard]] std::optional<std::int64_t> integer(std::string_view name) const;
};

// Parses config.json bytes. Errors name the field: "field 'architectures' must be a
// list of strings, got a string"; the caller prefixes the file name.
[[nodiscard]] Result<ModelConfig> parse_model_config(std::string_view json);

}  // namespace modelkit
