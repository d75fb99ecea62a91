#include "util/json_read.hpp"

namespace modelkit::util {

Result<simdjson::dom::element> parse_json(simdjson::dom::parser& parser, std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF"))
    return failure("starts with a UTF-8 byte order mark, which JSON does not allow; save the file without it");
  // UTF-16 (Windows editors' "Unicode"): a byte order mark, or ASCII with every other byte NUL.
  auto utf16 = [&]() -> const char* {
    if (text.starts_with("\xFF\xFE")) return "UTF-16 little-endian";
    if (text.starts_with("\xFE\xFF")) return "UTF-16 big-endian";
    if (text.size() >= 4 && text[0] != '\0' && text[1] == '\0' && text[3] == '\0') return "UTF-16 little-endian";
    if (text.size() >= 4 && text[0] == '\0' && text[1] != '\0' && text[2] == '\0') return "UTF-16 big-endian";
    return nullptr;
  }();
  if (utf16) return failure(std::string("is encoded as ") + utf16 + "; JSON files must be UTF-8: save it as UTF-8");
  simdjson::dom::element doc;
  // parse() copies into its own padded buffer when the input is not padded.
  auto err = parser.parse(text.data(), text.size(), true).get(doc);
  switch (err) {
    case simdjson::SUCCESS: return doc;
    case simdjson::UTF8_ERROR: return failure("not valid UTF-8");
    case simdjson::DEPTH_ERROR: return failure("JSON nested deeper than 1024 levels");
    case simdjson::EMPTY: return failure("empty file, expected a JSON object");
    case simdjson::CAPACITY: return failure("JSON document larger than 4 GiB");
    default: return failure(std::string("invalid JSON (") + simdjson::error_message(err) + ")");
  }
}

std::string_view json_type_name(simdjson::dom::element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::ARRAY: return "a list";
    case simdjson::dom::element_type::OBJECT: return "an object";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE: return "a number";
    case simdjson::dom::element_type::STRING: return "a string";
    case simdjson::dom::element_type::BOOL: return "a boolean";
    case simdjson::dom::element_type::NULL_VALUE: return "null";
  }
  return "a value";
}

namespace {

Error type_error(std::string_view key, std::string_view expected, simdjson::dom::element got) {
  return failure("field '" + std::string(key) + "' must be " + std::string(expected) + ", got " +
                 std::string(json_type_name(got)));
}

// The last value of a key, as Python's json and serde keep: a repeated key overrides.
std::optional<simdjson::dom::element> find(simdjson::dom::object obj, std::string_view key) {
  std::optional<simdjson::dom::element> found;
  for (auto [k, v] : obj)
    if (k == key) found = v;
  if (found && found->is_null()) return std::nullopt;
  return found;
}

}  // namespace

Result<std::optional<std::string_view>> optional_string(simdjson::dom::object obj, std::string_view key) {
  auto e = find(obj, key);
  if (!e) return std::optional<std::string_view>{};
  std::string_view s;
  if (e->get_string().get(s) != simdjson::SUCCESS) return type_error(key, "a string", *e);
  return std::optional<std::string_view>{s};
}

Result<std::optional<bool>> optional_bool(simdjson::dom::object obj, std::string_view key) {
  auto e = find(obj, key);
  if (!e) return std::optional<bool>{};
  bool b = false;
  if (e->get_bool().get(b) != simdjson::SUCCESS) return type_error(key, "true or false", *e);
  return std::optional<bool>{b};
}

Result<std::optional<std::int64_t>> optional_int(simdjson::dom::object obj, std::string_view key) {
  auto e = find(obj, key);
  if (!e) return std::optional<std::int64_t>{};
  std::int64_t v = 0;
  if (e->get_int64().get(v) != simdjson::SUCCESS) return type_error(key, "an integer", *e);
  return std::optional<std::int64_t>{v};
}

Result<std::optional<double>> optional_number(simdjson::dom::object obj, std::string_view key) {
  auto e = find(obj, key);
  if (!e) return std::optional<double>{};
  double v = 0;
  if (e->is_int64()) return std::optional<double>{static_cast<double>(e->get_int64().value_unsafe())};
  if (e->get_double().get(v) != simdjson::SUCCESS) return type_error(key, "a number", *e);
  return std::optional<double>{v};
}

Result<std::optional<std::vector<std::string>>> optional_string_list(simdjson::dom::object obj, std::string_view key) {
  auto e = find(obj, key);
  if (!e) return std::optional<std::vector<std::string>>{};
  simdjson::dom::array arr;
  if (e->get_array().get(arr) != simdjson::SUCCESS) return type_error(key, "a list of strings", *e);
  std::vector<std::string> out;
  for (auto item : arr) {
    std::string_view s;
    if (item.get_string().get(s) != simdjson::SUCCESS)
      return failure("field '" + std::string(key) + "' must be a list of strings, got an item that is " +
                     std::string(json_type_name(item)));
    out.emplace_back(s);
  }
  return std::optional<std::vector<std::string>>{std::move(out)};
}

}  // namespace modelkit::util
