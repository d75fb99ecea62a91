#include <modelkit/config.hpp>

#include "util/json_read.hpp"
#include "util/python_json.hpp"

namespace modelkit {

std::optional<std::int64_t> ModelConfig::integer(std::string_view name) const {
  for (const auto& [k, v] : integers)
    if (k == name) return v;
  for (const auto& [k, v] : integers) {
    auto dot = k.find('.');
    if (dot != std::string::npos && std::string_view(k).substr(dot + 1) == name) return v;
  }
  return std::nullopt;
}

namespace {

std::string class_name_of_target(std::string_view target) {
  // "modeling_qwen.QWenLMHeadModel" -> "QWenLMHeadModel"; "repo--module.Class" likewise.
  auto dot = target.rfind('.');
  return std::string(dot == std::string_view::npos ? target : target.substr(dot + 1));
}

Result<void> read_auto_map(simdjson::dom::element value, ModelConfig& config) {
  simdjson::dom::object obj;
  if (value.get_object().get(obj) != simdjson::SUCCESS)
    return failure("field 'auto_map' must be an object, got " + std::string(util::json_type_name(value)));
  for (auto [k, v] : obj) {
    std::string_view target;
    if (v.is_array()) {
      simdjson::dom::array arr = v.get_array().value_unsafe();
      for (auto item : arr) {
        if (item.get_string().get(target) == simdjson::SUCCESS) break;
      }
    } else if (v.get_string().get(target) != simdjson::SUCCESS) {
      return failure("field 'auto_map." + std::string(k) + "' must be a string, got " +
                     std::string(util::json_type_name(v)));
    }
    if (!target.empty()) config.auto_map.emplace_back(std::string(k), class_name_of_target(target));
  }
  return {};
}

// A key's last value (a repeated key overrides, as in Python's json).
simdjson::simdjson_result<simdjson::dom::element> last_value(simdjson::dom::object obj, std::string_view key) {
  simdjson::simdjson_result<simdjson::dom::element> found(simdjson::NO_SUCH_FIELD);
  for (auto [k, v] : obj)
    if (k == key) found = simdjson::simdjson_result<simdjson::dom::element>(simdjson::dom::element(v));
  return found;
}

}  // namespace

Result<ModelConfig> parse_model_config(std::string_view json) {
  // One parser per thread: its buffers are reused, and nothing it owns outlives this call.
  thread_local simdjson::dom::parser parser;
  // Python's json reads NaN/Infinity (real configs hold them): read them as it does.
  const auto strict = util::python_json_literals_to_null(json);
  MODELKIT_TRY(auto doc, util::parse_json(parser, strict ? std::string_view(*strict) : json));
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS)
    return failure("expected a JSON object at the top level, got " + std::string(util::json_type_name(doc)));

  ModelConfig config;
  auto model_type = util::optional_string(root, "model_type");
  if (!model_type) return model_type.take_error();
  if (*model_type) config.model_type = std::string(**model_type);

  simdjson::dom::element archs;
  if (last_value(root, "architectures").get(archs) == simdjson::SUCCESS && !archs.is_null()) {
    MODELKIT_TRY(auto list, util::optional_string_list(root, "architectures"));
    config.has_architectures = true;
    if (list) config.architectures = std::move(*list);
  }
  MODELKIT_TRY(auto name, util::optional_string(root, "_name_or_path"));
  if (name) config.name_or_path = std::string(*name);

  simdjson::dom::element enc;
  if (last_value(root, "is_encoder_decoder").get(enc) == simdjson::SUCCESS && enc.is_bool())
    config.is_encoder_decoder = enc.get_bool().value_unsafe();

  simdjson::dom::element auto_map;
  if (last_value(root, "auto_map").get(auto_map) == simdjson::SUCCESS && !auto_map.is_null())
    MODELKIT_TRY_VOID(read_auto_map(auto_map, config));

  auto timm_arch = util::optional_string(root, "architecture");
  if (timm_arch && *timm_arch) config.timm_architecture = std::string(**timm_arch);
  simdjson::dom::element pretrained_cfg;
  config.has_pretrained_cfg =
      last_value(root, "pretrained_cfg").get(pretrained_cfg) == simdjson::SUCCESS && pretrained_cfg.is_object();

  for (auto [k, v] : root) {
    // A repeated key: the last one wins, as in Python's json. (A copy of the key: clang 14
    // cannot capture a structured binding in a lambda.)
    const std::string_view key = k;
    std::erase_if(config.integers, [key](const auto& entry) {
      return entry.first == key ||
             (entry.first.size() > key.size() && entry.first.starts_with(key) && entry.first[key.size()] == '.');
    });
    std::erase_if(config.sub_configs, [key](const SubConfig& sub) { return sub.field == key; });
    if (v.is_int64()) {
      config.integers.emplace_back(std::string(k), v.get_int64().value_unsafe());
    } else if (v.is_object() && k.ends_with("_config") && k != "pretrained_cfg") {
      SubConfig sub{std::string(k), std::nullopt};
      simdjson::dom::object sub_obj = v.get_object().value_unsafe();
      for (auto [sk, sv] : sub_obj) {
        if (sk == "model_type" && sv.is_string()) sub.model_type = std::string(sv.get_string().value_unsafe());
        if (sv.is_int64())
          config.integers.emplace_back(std::string(k) + "." + std::string(sk), sv.get_int64().value_unsafe());
      }
      config.sub_configs.push_back(std::move(sub));
    }
  }
  return config;
}

}  // namespace modelkit
