#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace modelkit::util {

[[nodiscard]] std::string to_lower(std::string_view s);
[[nodiscard]] std::string_view trim(std::string_view s);
[[nodiscard]] bool valid_utf8(std::string_view s);
// Levenshtein distance, for "did you mean" suggestions.
[[nodiscard]] std::size_t edit_distance(std::string_view a, std::string_view b);
// Cuts valid UTF-8 text to its first `max_chars` characters; true when something was cut.
bool cut_utf8_chars(std::string& text, std::size_t max_chars);
// Joins with a separator: join({"a","b"}, ", ") == "a, b".
[[nodiscard]] std::string join(const std::vector<std::string>& items, std::string_view sep);

}  // namespace modelkit::util
