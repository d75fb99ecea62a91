// Reading JSON with simdjson and turning its errors into one-line messages that
// name the file and the field.
#pragma once

#include <modelkit/result.hpp>

#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace modelkit::util {

// Parses `text` (any string; padding is added as simdjson needs) into a DOM
// owned by `parser`. Errors: "invalid JSON (<simdjson's reason>)", plus
// "not valid UTF-8" and "document nested deeper than N levels" in plain words.
[[nodiscard]] Result<simdjson::dom::element> parse_json(simdjson::dom::parser& parser, std::string_view text);

// Name of a JSON value's type for messages: "a string", "a number", "an object", ...
[[nodiscard]] std::string_view json_type_name(simdjson::dom::element e);

// Optional typed fields of an object. Absent or null -> nullopt; present with the
// wrong type -> error "field 'name' must be a string, got a number".
[[nodiscard]] Result<std::optional<std::string_view>> optional_string(simdjson::dom::object obj, std::string_view key);
[[nodiscard]] Result<std::optional<bool>> optional_bool(simdjson::dom::object obj, std::string_view key);
[[nodiscard]] Result<std::optional<std::int64_t>> optional_int(simdjson::dom::object obj, std::string_view key);
[[nodiscard]] Result<std::optional<double>> optional_number(simdjson::dom::object obj, std::string_view key);
[[nodiscard]] Result<std::optional<std::vector<std::string>>> optional_string_list(simdjson::dom::object obj,
                                                                                  std::string_view key);

}  // namespace modelkit::util
