// Unicode helpers for the tokenizer: UTF-8 coding, the character classes the Rust tokenizers core
// uses (each from the Unicode version of the crate it comes from), normalization forms, graphemes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace modelkit::tokenizer::unicode {

// Decodes the code point at s[i] of valid UTF-8; sets `len` to its byte length.
inline char32_t decode(std::string_view s, std::size_t i, std::size_t& len) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    len = 1;
    return b0;
  }
  if (b0 < 0xE0) {
    len = 2;
    return ((b0 & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
  }
  if (b0 < 0xF0) {
    len = 3;
    return ((b0 & 0x0Fu) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 6) |
           (static_cast<unsigned char>(s[i + 2]) & 0x3Fu);
  }
  len = 4;
  return ((b0 & 0x07u) << 18) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 12) |
         ((static_cast<unsigned char>(s[i + 2]) & 0x3Fu) << 6) | (static_cast<unsigned char>(s[i + 3]) & 0x3Fu);
}

// Byte length of the UTF-8 sequence that starts with byte b.
inline std::size_t sequence_length(unsigned char b) { return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }

inline std::size_t encoded_length(char32_t c) { return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4; }

inline void append(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// Number of code points in valid UTF-8.
std::size_t count_chars(std::string_view s);

// Byte offset where the first `n` code points of s end.
std::size_t byte_offset_of_char(std::string_view s, std::size_t n);

// Rust's char::is_whitespace (the White_Space property).
inline bool is_whitespace(char32_t c) {
  if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
  if (c < 0x85) return false;
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

// General category (ICU UCharCategory numbering) as of Unicode 16.0, the version of the Rust core's
// regex engine and standard library: ICU's, completed for the characters ICU 72 does not know yet.
int category_of(char32_t c);
// Ranges of code points with a value (tables generated from the reference).
struct CharRange {
  char32_t first;
  char32_t last;
  std::uint32_t value;
};
// Characters ICU 72 does not know yet: value = category | 0x80 when the regex engine counts it as \w.
const CharRange* begin_newer_chars();
const CharRange* end_newer_chars();

// Rust's char::is_numeric: general categories Nd, Nl, No.
bool is_numeric(char32_t c);
// Rust's char::to_lowercase (full mapping without context: only U+0130 expands).
void append_lowercase(std::string& out, char32_t c);
// The `regex` crate's Unicode \w: Alphabetic, marks, Nd, Pc, Join_Control.
bool is_regex_word(char32_t c);

// The `unicode_categories` 0.1.1 crate (tables of Unicode 8.0), from the reference's tables.
bool uc8_is_other(char32_t c);             // Cc, Cf, Co
bool uc8_is_punctuation(char32_t c);       // Pc, Pd, Pe, Pf, Pi, Po, Ps
bool uc8_is_mark_nonspacing(char32_t c);   // Mn
// `unicode-normalization-alignments` 0.1.12 (Unicode 9.0): General_Category=Mark.
bool un9_is_combining_mark(char32_t c);

enum class NormalForm { nfc, nfd, nfkc, nfkd };

// Normalizes valid UTF-8; returns false when the text is already in that form (out untouched).
bool normalize(NormalForm form, std::string_view in, std::string& out);
// True when a normalization of the text may start a new independent segment before c.
bool has_boundary_before(NormalForm form, char32_t c);

// Length in bytes of the extended grapheme cluster starting at s[i].
std::size_t grapheme_length(std::string_view s, std::size_t i);

// Validates UTF-8 (no surrogates, no overlongs).
bool valid_utf8(std::string_view s);

}  // namespace modelkit::tokenizer::unicode
