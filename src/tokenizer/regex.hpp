// Regexes of tokenizer.json files (Split, Replace) on PCRE2 (UTF + UCP + JIT). The Rust core
// compiles them with Oniguruma's Ruby syntax; translate_onig() rewrites the constructs whose
// meaning differs in PCRE2 (\s, \S, \w, \W, \h, \H, \uHHHH, (?m), ^/$ as line anchors) so the
// matches are Oniguruma's.
#pragma once

#include <modelkit/result.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace modelkit::tokenizer {

class Regex {
 public:
  // Compiles an Oniguruma (Ruby syntax) pattern. Errors name the pattern and PCRE2's reason.
  [[nodiscard]] static Result<Regex> compile_onig(std::string_view pattern);
  // Compiles a literal string (every character matched as itself).
  [[nodiscard]] static Result<Regex> compile_literal(std::string_view literal);

  // Appends the non-overlapping matches (start, end) in text, left to right, with the Rust onig
  // crate's find_iter rule for empty matches (none right after the previous match).
  // Returns false when PCRE2 fails (e.g. resource limits).
  [[nodiscard]] bool find_all(std::string_view text, std::vector<std::pair<std::size_t, std::size_t>>& out) const;

  [[nodiscard]] const std::string& pattern() const { return pattern_; }

 private:
  struct Code;
  [[nodiscard]] static Result<Regex> build(const std::string& pcre, std::string_view shown);
  std::shared_ptr<const Code> code_;
  std::string pattern_;
};

// The PCRE2 pattern equivalent to an Oniguruma Ruby-syntax pattern (exposed for tests).
[[nodiscard]] std::string translate_onig(std::string_view pattern);

}  // namespace modelkit::tokenizer
