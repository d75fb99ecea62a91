// Names the user picks with a pattern (--exclude-nodes): an exact name, or else a regular
// expression that must match the whole name. Patterns are RE2 syntax and matched in time linear
// in the name, so no pattern can make a match hang (std::regex backtracks: '(.*)*x$' on a long
// node name never finished).
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace re2 {
class RE2;
}

namespace modelkit::util {

class NamePattern {
 public:
  explicit NamePattern(std::string text);
  ~NamePattern();
  NamePattern(NamePattern&&) noexcept;
  NamePattern& operator=(NamePattern&&) noexcept;

  [[nodiscard]] const std::string& text() const { return text_; }
  // Whether the text is a valid regular expression; when not, it still matches itself exactly.
  [[nodiscard]] bool is_regex() const { return regex_ != nullptr; }
  // Why the text is not a valid regular expression ("" when it is).
  [[nodiscard]] const std::string& regex_error() const { return regex_error_; }
  // The name equals the text, or the whole name matches the regular expression.
  [[nodiscard]] bool matches(std::string_view name) const;

 private:
  std::string text_;
  std::unique_ptr<re2::RE2> regex_;
  std::string regex_error_;
};

}  // namespace modelkit::util
