#include "tokenizer/regex.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer/unicode.hpp"

#include <cctype>

namespace modelkit::tokenizer {

namespace {

// Oniguruma's Unicode classes (doc/RE): \s = U+0009-000D, U+0085, Zl, Zp, Zs;
// \w = Alphabetic, Mark, Decimal_Number, Connector_Punctuation, Join_Control.
constexpr std::string_view kSpaceClass = "\\t-\\r\\x{85}\\p{Z}";
constexpr std::string_view kWordClass = "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}";
constexpr std::string_view kHexClass = "0-9a-fA-F";

// One JIT stack and match data per thread: regexes are shared, matching state is not.
struct MatchState {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* stack = nullptr;
  MatchState() {
    data = pcre2_match_data_create(1, nullptr);
    context = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(64 * 1024, 16 * 1024 * 1024, nullptr);
    if (context != nullptr && stack != nullptr) pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~MatchState() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
  }
  MatchState(const MatchState&) = delete;
  MatchState& operator=(const MatchState&) = delete;
};

MatchState& match_state() {
  thread_local MatchState state;
  return state;
}

}  // namespace

struct Regex::Code {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Code() { pcre2_code_free(code); }
};

std::string translate_onig(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 32);
  int class_depth = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      char e = p[i + 1];
      std::string_view cls;
      bool negated = false;
      switch (e) {
        case 's': cls = kSpaceClass; break;
        case 'S': cls = kSpaceClass; negated = true; break;
        case 'w': cls = kWordClass; break;
        case 'W': cls = kWordClass; negated = true; break;
        case 'h': cls = kHexClass; break;
        case 'H': cls = kHexClass; negated = true; break;
        default: break;
      }
      if (!cls.empty()) {
        if (class_depth == 0) {
          out.append(negated ? "[^" : "[").append(cls).append("]");
        } else if (!negated) {
          out.append(cls);
        } else {
          // A negated class inside a class has no PCRE2 spelling as a union; keep PCRE2's own.
          out.push_back('\\');
          out.push_back(e);
        }
        ++i;
        continue;
      }
      if (e == 'u') {
        bool hex4 = true;
        for (std::size_t k = 2; hex4 && k < 6; ++k)
          hex4 = i + k < p.size() && std::isxdigit(static_cast<unsigned char>(p[i + k]));
        if (hex4) {
          out.append("\\x{").append(p.substr(i + 2, 4)).append("}");
          i += 5;
          continue;
        }
      }
      out.push_back(c);
      out.push_back(e);
      ++i;
      continue;
    }
    if (class_depth > 0) {
      if (c == '[') {
        // POSIX bracket [:name:] or a nested class.
        if (i + 1 < p.size() && p[i + 1] == ':') {
          auto close = p.find(":]", i + 2);
          if (close != std::string_view::npos) {
            out.append(p.substr(i, close + 2 - i));
            i = close + 1;
            continue;
          }
        }
        ++class_depth;
      } else if (c == ']') {
        --class_depth;
      }
      out.push_back(c);
      continue;
    }
    if (c == '[') {
      class_depth = 1;
      out.push_back(c);
      // A ']' right after '[' or '[^' is a literal.
      if (i + 1 < p.size() && p[i + 1] == '^') {
        out.push_back('^');
        ++i;
      }
      if (i + 1 < p.size() && p[i + 1] == ']') {
        out.append("\\]");
        ++i;
      }
      continue;
    }
    if (c == '(' && i + 2 < p.size() && p[i + 1] == '?') {
      // Ruby's (?m) is dot-all; PCRE2 spells it (?s).
      std::size_t j = i + 2;
      std::string flags;
      while (j < p.size() && (std::isalpha(static_cast<unsigned char>(p[j])) || p[j] == '-')) flags.push_back(p[j++]);
      if (!flags.empty() && j < p.size() && (p[j] == ':' || p[j] == ')')) {
        for (char& f : flags)
          if (f == 'm') f = 's';
        out.append("(?").append(flags);
        i = j - 1;
        continue;
      }
    }
    out.push_back(c);
  }
  return out;
}

Result<Regex> Regex::compile_onig(std::string_view pattern) { return build(translate_onig(pattern), pattern); }

Result<Regex> Regex::compile_literal(std::string_view literal) {
  std::string escaped;
  escaped.reserve(literal.size() * 2);
  for (char c : literal) {
    if (std::string_view("\\^$.|?*+()[]{}-/#&~ ").find(c) != std::string_view::npos && c != ' ') escaped.push_back('\\');
    escaped.push_back(c);
  }
  return build(escaped, literal);
}

Result<Regex> Regex::build(const std::string& pcre, std::string_view shown) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pcre.data()), pcre.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE | PCRE2_NO_UTF_CHECK, &error, &offset,
                                   nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    return failure("cannot compile regex '" + std::string(shown) + "': " + reinterpret_cast<char*>(message) +
                   " at offset " + std::to_string(offset));
  }
  auto holder = std::make_shared<Code>();
  holder->code = code;
  holder->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  Regex r;
  r.code_ = std::move(holder);
  r.pattern_ = std::string(shown);
  return r;
}

bool Regex::find_all(std::string_view text, std::vector<std::pair<std::size_t, std::size_t>>& out) const {
  MatchState& state = match_state();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  std::size_t last_end = 0;
  bool have_last_match = false;
  std::size_t last_match_end = 0;
  while (last_end <= text.size()) {
    int rc = code_->jit ? pcre2_jit_match(code_->code, subject, text.size(), last_end, 0, state.data, state.context)
                        : pcre2_match(code_->code, subject, text.size(), last_end, PCRE2_NO_UTF_CHECK, state.data,
                                      state.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) return false;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(state.data);
    std::size_t s = ov[0];
    std::size_t e = ov[1];
    if (s == e && have_last_match && last_match_end == e) {
      if (last_end >= text.size()) break;
      last_end += unicode::sequence_length(static_cast<unsigned char>(text[last_end]));
      continue;
    }
    last_end = e;
    have_last_match = true;
    last_match_end = e;
    out.emplace_back(s, e);
    if (s == e && e >= text.size()) break;
  }
  return true;
}

}  // namespace modelkit::tokenizer
