#include "util/name_pattern.hpp"

#include <re2/re2.h>

namespace modelkit::util {

NamePattern::NamePattern(std::string text) : text_(std::move(text)) {
  RE2::Options options;
  options.set_log_errors(false);  // an invalid pattern is reported by the caller, once
  auto regex = std::make_unique<RE2>(text_, options);
  if (regex->ok()) regex_ = std::move(regex);
  else regex_error_ = regex->error();
}

NamePattern::~NamePattern() = default;
NamePattern::NamePattern(NamePattern&&) noexcept = default;
NamePattern& NamePattern::operator=(NamePattern&&) noexcept = default;

bool NamePattern::matches(std::string_view name) const {
  if (name == text_) return true;
  return regex_ && RE2::FullMatch(re2::StringPiece(name.data(), name.size()), *regex_);
}

}  // namespace modelkit::util
