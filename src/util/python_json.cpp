#include "util/python_json.hpp"

#include <array>

namespace modelkit::util {

std::optional<std::string> python_json_literals_to_null(std::string_view text) {
  static constexpr std::array<std::string_view, 3> kLiterals = {"-Infinity", "Infinity", "NaN"};
  auto is_word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  std::optional<std::string> out;
  std::size_t copied = 0;  // text[0, copied) is already in out
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;  // the escaped character cannot end the string
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (c != 'N' && c != 'I' && c != '-') continue;
    if (i > 0 && is_word(text[i - 1])) continue;
    for (auto literal : kLiterals) {
      if (text.substr(i, literal.size()) != literal) continue;
      const std::size_t end = i + literal.size();
      if (end < text.size() && is_word(text[end])) break;
      if (!out) out.emplace();
      out->append(text.substr(copied, i - copied)).append("null");
      copied = end;
      i = end - 1;
      break;
    }
  }
  if (out) out->append(text.substr(copied));
  return out;
}

}  // namespace modelkit::util
