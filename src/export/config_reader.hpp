// Reading config.json fields for the exporter: each with its fallback and its valid range, and an
// error that names the field and what was expected. Every family's config reader uses it.
#pragma once

#include <modelkit/result.hpp>

#include "util/json_read.hpp"

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace modelkit::exporter {

class ConfigReader {
 public:
  explicit ConfigReader(simdjson::dom::object root) : root_(root) {}

  using Ints = std::vector<std::int64_t>;

  // A missing (or null) field gives `fallback`; without one, it is an error.
  Result<std::int64_t> integer(std::string_view key, std::optional<std::int64_t> fallback, std::int64_t min,
                               std::int64_t max) {
    auto v = util::optional_int(root_, key);
    if (!v) return v.take_error().with_context("config.json");
    if (!*v) {
      if (fallback) return *fallback;
      return failure("config.json: missing integer field '" + std::string(key) + "'");
    }
    if (**v < min || **v > max)
      return failure("config.json: field '" + std::string(key) + "' is " + std::to_string(**v) + ", expected " +
                     std::to_string(min) + ".." + std::to_string(max));
    return **v;
  }
  Result<bool> flag(std::string_view key, bool fallback) {
    auto v = util::optional_bool(root_, key);
    if (!v) return v.take_error().with_context("config.json");
    return v->value_or(fallback);
  }
  Result<std::string> text(std::string_view key, std::string_view fallback) {
    auto v = util::optional_string(root_, key);
    if (!v) return v.take_error().with_context("config.json");
    return std::string(v->value_or(fallback));
  }
  Result<double> number(std::string_view key, double fallback) {
    auto v = util::optional_number(root_, key);
    if (!v) return v.take_error().with_context("config.json");
    return v->value_or(fallback);
  }
  Result<Ints> ints(std::string_view key, Ints fallback, std::int64_t min, std::int64_t max) {
    simdjson::dom::element e;
    if (root_[key].get(e) != simdjson::SUCCESS || e.is_null()) return fallback;
    simdjson::dom::array a;
    if (e.get_array().get(a) != simdjson::SUCCESS)
      return failure("config.json: field '" + std::string(key) + "' must be a list of integers, got " +
                     std::string(util::json_type_name(e)));
    Ints out;
    for (auto x : a) {
      std::int64_t v = 0;
      if (x.get_int64().get(v) != simdjson::SUCCESS || v < min || v > max)
        return failure("config.json: field '" + std::string(key) + "' must hold integers in " + std::to_string(min) +
                       ".." + std::to_string(max));
      out.push_back(v);
    }
    if (out.empty() || out.size() > 64)
      return failure("config.json: field '" + std::string(key) + "' must hold 1..64 values");
    return out;
  }
  // "key" must be absent, null, false or the given harmless value; otherwise the exporter refuses it.
  Result<void> refuse_flag(std::string_view key, std::string_view why) {
    MODELKIT_TRY(auto on, flag(key, false));
    if (on) return failure("config.json: " + std::string(key) + " true is not supported by the exporter (" +
                           std::string(why) + ")");
    return {};
  }
  // The classifier's label count: id2label's size when given (transformers derives it so), else
  // num_labels, else 2.
  Result<std::int64_t> num_labels() {
    simdjson::dom::object id2label;
    if (root_["id2label"].get_object().get(id2label) == simdjson::SUCCESS) {
      if (id2label.size() == 0) return failure("config.json: id2label is empty");
      return static_cast<std::int64_t>(id2label.size());
    }
    return integer("num_labels", 2, 1, std::int64_t{1} << 24);
  }
  [[nodiscard]] bool present(std::string_view key) const {
    simdjson::dom::element e;
    return root_[key].get(e) == simdjson::SUCCESS && !e.is_null();
  }
  [[nodiscard]] simdjson::dom::object root() const { return root_; }

 private:
  simdjson::dom::object root_;
};

// The shape checks a transformer config gets before any graph is built; `where` names the config
// ("config.json", or a nested one).
[[nodiscard]] inline Result<void> check_whole_heads(std::string_view where, std::int64_t hidden, std::int64_t heads) {
  if (hidden % heads != 0)
    return failure(std::string(where) + ": hidden_size " + std::to_string(hidden) +
                   " is not a multiple of num_attention_heads " + std::to_string(heads));
  return {};
}
[[nodiscard]] inline Result<void> check_patch_fits(std::string_view where, std::int64_t image_size,
                                                   std::int64_t patch_size) {
  if (image_size < patch_size)
    return failure(std::string(where) + ": image_size " + std::to_string(image_size) + " is smaller than patch_size " +
                   std::to_string(patch_size));
  return {};
}

}  // namespace modelkit::exporter
