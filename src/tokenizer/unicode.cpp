#include "tokenizer/unicode.hpp"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>
#include <unicode/uchar.h>
#include <utf8proc.h>

namespace modelkit::tokenizer::unicode {

namespace {

// Age check: the Rust crates carry tables of an older Unicode version; characters assigned
// later are unassigned (category Cn) for them.
bool assigned_by(char32_t c, int major) {
  UVersionInfo age;
  u_charAge(static_cast<UChar32>(c), age);
  return age[0] != 0 && age[0] <= major;
}

int category(char32_t c) { return u_charType(static_cast<UChar32>(c)); }

bool is_punctuation_category(int cat) {
  return cat == U_DASH_PUNCTUATION || cat == U_START_PUNCTUATION || cat == U_END_PUNCTUATION ||
         cat == U_CONNECTOR_PUNCTUATION || cat == U_OTHER_PUNCTUATION || cat == U_INITIAL_PUNCTUATION ||
         cat == U_FINAL_PUNCTUATION;
}

bool is_mark_category(int cat) {
  return cat == U_NON_SPACING_MARK || cat == U_ENCLOSING_MARK || cat == U_COMBINING_SPACING_MARK;
}

const icu::Normalizer2* instance(NormalForm form) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  switch (form) {
    case NormalForm::nfc: n = icu::Normalizer2::getNFCInstance(status); break;
    case NormalForm::nfd: n = icu::Normalizer2::getNFDInstance(status); break;
    case NormalForm::nfkc: n = icu::Normalizer2::getNFKCInstance(status); break;
    case NormalForm::nfkd: n = icu::Normalizer2::getNFKDInstance(status); break;
  }
  return U_SUCCESS(status) ? n : nullptr;
}

}  // namespace

std::size_t count_chars(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char b : s) n += (b & 0xC0) != 0x80;
  return n;
}

std::size_t byte_offset_of_char(std::string_view s, std::size_t n) {
  std::size_t i = 0;
  while (n > 0 && i < s.size()) {
    i += sequence_length(static_cast<unsigned char>(s[i]));
    --n;
  }
  return i < s.size() ? i : s.size();
}

bool is_numeric(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  int cat = category(c);
  return cat == U_DECIMAL_DIGIT_NUMBER || cat == U_LETTER_NUMBER || cat == U_OTHER_NUMBER;
}

void append_lowercase(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
    return;
  }
  if (c == 0x130) {  // LATIN CAPITAL LETTER I WITH DOT ABOVE -> i + COMBINING DOT ABOVE
    out.push_back('i');
    append(out, 0x307);
    return;
  }
  append(out, static_cast<char32_t>(u_tolower(static_cast<UChar32>(c))));
}

bool is_regex_word(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  if (c == 0x200C || c == 0x200D) return true;
  if (u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_ALPHABETIC)) return true;
  int cat = category(c);
  return is_mark_category(cat) || cat == U_DECIMAL_DIGIT_NUMBER || cat == U_CONNECTOR_PUNCTUATION;
}

bool uc8_is_other(char32_t c) {
  if (c < 0x80) return c < 0x20 || c == 0x7F;
  int cat = category(c);
  if (cat == U_PRIVATE_USE_CHAR || cat == U_CONTROL_CHAR) return true;
  return cat == U_FORMAT_CHAR && assigned_by(c, 8);
}

bool uc8_is_punctuation(char32_t c) {
  if (c < 0x80) {
    int cat = category(c);
    return is_punctuation_category(cat);
  }
  return is_punctuation_category(category(c)) && assigned_by(c, 8);
}

bool uc8_is_mark_nonspacing(char32_t c) {
  if (c < 0x300) return false;
  return category(c) == U_NON_SPACING_MARK && assigned_by(c, 8);
}

bool un9_is_combining_mark(char32_t c) {
  if (c < 0x300) return false;
  return is_mark_category(category(c)) && assigned_by(c, 9);
}

bool normalize(NormalForm form, std::string_view in, std::string& out) {
  const icu::Normalizer2* n = instance(form);
  if (n == nullptr) return false;
  // ASCII is invariant under every form.
  bool ascii = true;
  for (unsigned char b : in)
    if (b >= 0x80) {
      ascii = false;
      break;
    }
  if (ascii) return false;
  UErrorCode status = U_ZERO_ERROR;
  icu::StringPiece piece(in.data(), static_cast<int32_t>(in.size()));
  if (n->isNormalizedUTF8(piece, status) && U_SUCCESS(status)) return false;
  status = U_ZERO_ERROR;
  out.clear();
  icu::StringByteSink<std::string> sink(&out, static_cast<int32_t>(in.size() + in.size() / 2));
  n->normalizeUTF8(0, piece, sink, nullptr, status);
  return U_SUCCESS(status);
}

bool has_boundary_before(NormalForm form, char32_t c) {
  const icu::Normalizer2* n = instance(form);
  return n == nullptr || n->hasBoundaryBefore(static_cast<UChar32>(c));
}

std::size_t grapheme_length(std::string_view s, std::size_t i) {
  std::size_t len = 0;
  char32_t prev = decode(s, i, len);
  std::size_t j = i + len;
  utf8proc_int32_t state = 0;
  while (j < s.size()) {
    char32_t next = decode(s, j, len);
    if (utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(prev), static_cast<utf8proc_int32_t>(next),
                                         &state))
      break;
    prev = next;
    j += len;
  }
  return j - i;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    char32_t min;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2;
      min = 0x80;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3;
      min = 0x800;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4;
      min = 0x10000;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    std::size_t l = 0;
    char32_t c = decode(s, i, l);
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace modelkit::tokenizer::unicode
