#include "tokenizer/regex.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer/unicode.hpp"

#include <unicode/uchar.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <mutex>

namespace modelkit::tokenizer {

namespace {

// Oniguruma's Unicode classes (doc/RE): \s = U+0009-000D, U+0085, Zl, Zp, Zs;
// \w = Alphabetic, Mark, Decimal_Number, Connector_Punctuation, Join_Control.
constexpr std::string_view kSpaceClass = "\\t-\\r\\x{85}\\p{Z}";
constexpr std::string_view kWordClass = "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}";
constexpr std::string_view kHexClass = "0-9a-fA-F";

// PCRE2 10.42 carries Unicode 14 tables, the Rust core's Oniguruma Unicode 16: the characters
// assigned in 15.0 (ICU 72 knows them) and later (reference_unicode_tables.inc) are added to the
// property classes by hand.
const std::vector<char32_t>& unicode15_chars() {
  static const std::vector<char32_t> chars = [] {
    std::vector<char32_t> out;
    for (UChar32 c = 0; c <= 0x10FFFF; ++c) {
      UVersionInfo age;
      u_charAge(c, age);
      if (age[0] == 15 && age[1] == 0) out.push_back(static_cast<char32_t>(c));
    }
    return out;
  }();
  return chars;
}

// General-category mask of a \p{NAME} (short or long name), 0 when NAME is not a category.
std::uint32_t category_mask(std::string_view name) {
  static const std::map<std::string_view, std::uint32_t> masks = {
      {"L", U_GC_L_MASK}, {"Letter", U_GC_L_MASK}, {"Lu", U_GC_LU_MASK}, {"Uppercase_Letter", U_GC_LU_MASK},
      {"Ll", U_GC_LL_MASK}, {"Lowercase_Letter", U_GC_LL_MASK}, {"Lt", U_GC_LT_MASK}, {"Titlecase_Letter", U_GC_LT_MASK},
      {"Lm", U_GC_LM_MASK}, {"Modifier_Letter", U_GC_LM_MASK}, {"Lo", U_GC_LO_MASK}, {"Other_Letter", U_GC_LO_MASK},
      {"M", U_GC_M_MASK}, {"Mark", U_GC_M_MASK}, {"Mn", U_GC_MN_MASK}, {"Nonspacing_Mark", U_GC_MN_MASK},
      {"Mc", U_GC_MC_MASK}, {"Spacing_Mark", U_GC_MC_MASK}, {"Me", U_GC_ME_MASK}, {"Enclosing_Mark", U_GC_ME_MASK},
      {"N", U_GC_N_MASK}, {"Number", U_GC_N_MASK}, {"Nd", U_GC_ND_MASK}, {"Decimal_Number", U_GC_ND_MASK},
      {"Nl", U_GC_NL_MASK}, {"Letter_Number", U_GC_NL_MASK}, {"No", U_GC_NO_MASK}, {"Other_Number", U_GC_NO_MASK},
      {"P", U_GC_P_MASK}, {"Punctuation", U_GC_P_MASK}, {"Pc", U_GC_PC_MASK}, {"Pd", U_GC_PD_MASK},
      {"Ps", U_GC_PS_MASK}, {"Pe", U_GC_PE_MASK}, {"Pi", U_GC_PI_MASK}, {"Pf", U_GC_PF_MASK}, {"Po", U_GC_PO_MASK},
      {"S", U_GC_S_MASK}, {"Symbol", U_GC_S_MASK}, {"Sm", U_GC_SM_MASK}, {"Sc", U_GC_SC_MASK},
      {"Sk", U_GC_SK_MASK}, {"So", U_GC_SO_MASK}, {"Other_Symbol", U_GC_SO_MASK},
      {"Z", U_GC_Z_MASK}, {"Separator", U_GC_Z_MASK}, {"Zs", U_GC_ZS_MASK}, {"Zl", U_GC_ZL_MASK}, {"Zp", U_GC_ZP_MASK},
      {"Cf", U_GC_CF_MASK}, {"Format", U_GC_CF_MASK}};
  auto it = masks.find(name);
  return it == masks.end() ? 0 : it->second;
}

// "\x{A}-\x{B}..." for the Unicode 15.0 characters of a property ("" when none or unknown).
std::string unicode15_ranges(std::string_view name) {
  static std::mutex mutex;
  static std::map<std::string, std::string, std::less<>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = cache.find(name); it != cache.end()) return it->second;
  std::uint32_t mask = category_mask(name);
  const bool alphabetic = name == "Alphabetic" || name == "Alpha";
  const bool word = name == "Word";
  std::string out;
  if (mask != 0 || alphabetic || word) {
    std::vector<char32_t> members;
    for (char32_t c : unicode15_chars()) {
      const auto u = static_cast<UChar32>(c);
      bool member = word ? (u_hasBinaryProperty(u, UCHAR_ALPHABETIC) ||
                            (U_GET_GC_MASK(u) & (U_GC_M_MASK | U_GC_ND_MASK | U_GC_PC_MASK)) != 0)
                  : alphabetic ? u_hasBinaryProperty(u, UCHAR_ALPHABETIC)
                               : (U_GET_GC_MASK(u) & mask) != 0;
      if (member) members.push_back(c);
    }
    for (const auto* n = unicode::begin_newer_chars(); n != unicode::end_newer_chars(); ++n) {
      bool member = word || alphabetic ? (n->value & 0x80) != 0 : (U_MASK(n->value & 0x7F) & mask) != 0;
      if (member)
        for (char32_t c = n->first; c <= n->last; ++c) members.push_back(c);
    }
    std::sort(members.begin(), members.end());
    char32_t run_start = 0;
    char32_t prev = 0;
    bool in_run = false;
    auto flush = [&] {
      if (!in_run) return;
      char buf[48];
      if (run_start == prev) std::snprintf(buf, sizeof buf, "\\x{%X}", static_cast<unsigned>(run_start));
      else std::snprintf(buf, sizeof buf, "\\x{%X}-\\x{%X}", static_cast<unsigned>(run_start), static_cast<unsigned>(prev));
      out += buf;
    };
    for (char32_t c : members) {
      if (in_run && c == prev + 1) {
        prev = c;
        continue;
      }
      flush();
      run_start = prev = c;
      in_run = true;
    }
    flush();
  }
  cache.emplace(std::string(name), out);
  return out;
}

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
      std::string extra;
      if (e == 'w' || e == 'W')
        extra = unicode15_ranges("Word");
      if (!cls.empty()) {
        if (class_depth == 0) {
          out.append(negated ? "[^" : "[").append(cls).append(extra).append("]");
        } else if (!negated) {
          out.append(cls).append(extra);
        } else {
          // A negated class inside a class has no PCRE2 spelling as a union; keep PCRE2's own.
          out.push_back('\\');
          out.push_back(e);
        }
        ++i;
        continue;
      }
      if (e == 'p' || e == 'P') {
        // \p{NAME}, \p{^NAME}, \P{NAME} or \pX: widen to Unicode 15.
        std::string_view name;
        std::size_t consumed = 0;
        if (i + 2 < p.size() && p[i + 2] == '{') {
          auto close = p.find('}', i + 3);
          if (close != std::string_view::npos) {
            name = p.substr(i + 3, close - (i + 3));
            consumed = close - i;
          }
        } else if (i + 2 < p.size()) {
          name = p.substr(i + 2, 1);
          consumed = 2;
        }
        if (consumed > 0) {
          bool neg = e == 'P';
          std::string_view bare = name;
          if (!bare.empty() && bare[0] == '^') {
            neg = !neg;
            bare.remove_prefix(1);
          }
          std::string ranges = unicode15_ranges(bare);
          std::string prop = std::string("\\p{") + std::string(bare) + "}";
          if (ranges.empty() || (class_depth > 0 && neg)) {
            out.append(p.substr(i, consumed + 1));
          } else if (class_depth > 0) {
            out.append(prop).append(ranges);
          } else {
            out.append(neg ? "[^" : "[").append(prop).append(ranges).append("]");
          }
          i += consumed;
          continue;
        }
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
