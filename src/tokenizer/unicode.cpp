#include "tokenizer/unicode.hpp"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>
#include <unicode/uchar.h>
#include <utf8proc.h>

#include <algorithm>
#include <iterator>

namespace modelkit::tokenizer::unicode {

namespace {

// Character tables read off the reference (scripts/tokenizer_gen_unicode_table.js): the Rust core
// mixes Unicode versions (8.0, 9.0, 16.0) that ICU 72 (15.0) cannot all answer for.
#include "tokenizer/reference_unicode_tables.inc"

template <std::size_t N>
const CharRange* find_in(const CharRange (&table)[N], char32_t c) {
  const CharRange* b = std::begin(table);
  const CharRange* e = std::end(table);
  const CharRange* it = std::upper_bound(b, e, c, [](char32_t v, const CharRange& r) { return v < r.first; });
  if (it == b) return nullptr;
  --it;
  return c <= it->last ? it : nullptr;
}

const CharRange* find_newer(char32_t c) { return find_in(kNewerChars, c); }

int category(char32_t c) { return category_of(c); }

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

int category_of(char32_t c) {
  int cat = u_charType(static_cast<UChar32>(c));
  if (cat != U_UNASSIGNED) return cat;
  const CharRange* n = find_newer(c);
  return n != nullptr ? static_cast<int>(n->value & 0x7F) : U_UNASSIGNED;
}

const CharRange* begin_newer_chars() { return std::begin(kNewerChars); }
const CharRange* end_newer_chars() { return std::end(kNewerChars); }

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
  return find_in(kNumeric16, c) != nullptr;
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
  if (const CharRange* r = find_in(kLowercase16, c)) {
    append(out, static_cast<char32_t>(r->value));
    return;
  }
  append(out, static_cast<char32_t>(u_tolower(static_cast<UChar32>(c))));
}

bool is_regex_word(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  if (c == 0x200C || c == 0x200D) return true;
  if (u_charType(static_cast<UChar32>(c)) == U_UNASSIGNED) {
    const CharRange* n = find_newer(c);
    return n != nullptr && (n->value & 0x80) != 0;
  }
  if (u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_ALPHABETIC)) return true;
  int cat = category(c);
  return is_mark_category(cat) || cat == U_DECIMAL_DIGIT_NUMBER || cat == U_CONNECTOR_PUNCTUATION;
}

bool uc8_is_other(char32_t c) {
  if (c < 0x80) return c < 0x20 || c == 0x7F;
  return find_in(kOther8, c) != nullptr;
}

bool uc8_is_punctuation(char32_t c) {
  if (c < 0x80) return is_punctuation_category(category(c));
  return find_in(kPunctuation8, c) != nullptr;
}

bool uc8_is_mark_nonspacing(char32_t c) { return c >= 0x80 && find_in(kNonspacing8, c) != nullptr; }

bool un9_is_combining_mark(char32_t c) { return c >= 0x80 && find_in(kCombining9, c) != nullptr; }

namespace {

// unicode-normalization-alignments 0.1.12 has Unicode 9.0 tables: a character assigned later has
// no decomposition, no composition and combining class 0 for it, so it stays as it is and
// separates what is before it from what follows.
bool newer_than_9(char32_t c) {
  if (c < 0x0860) return false;  // everything below was assigned by Unicode 9.0 or is unassigned
  UVersionInfo age;
  u_charAge(static_cast<UChar32>(c), age);
  return age[0] > 9;
}

bool normalize_icu(const icu::Normalizer2* n, std::string_view in, std::string& out) {
  UErrorCode status = U_ZERO_ERROR;
  icu::StringPiece piece(in.data(), static_cast<int32_t>(in.size()));
  if (n->isNormalizedUTF8(piece, status) && U_SUCCESS(status)) return false;
  status = U_ZERO_ERROR;
  out.clear();
  icu::StringByteSink<std::string> sink(&out, static_cast<int32_t>(in.size() + in.size() / 2));
  n->normalizeUTF8(0, piece, sink, nullptr, status);
  return U_SUCCESS(status);
}

}  // namespace

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
  bool has_newer = false;
  for (std::size_t i = 0; i < in.size();) {
    std::size_t len = 0;
    char32_t c = decode(in, i, len);
    if (newer_than_9(c)) {
      has_newer = true;
      break;
    }
    i += len;
  }
  if (!has_newer) return normalize_icu(n, in, out);
  // Normalize the runs between the newer characters one by one.
  std::string result;
  std::string run_out;
  bool changed = false;
  std::size_t run_start = 0;
  std::size_t i = 0;
  auto flush = [&](std::size_t end) {
    std::string_view run = in.substr(run_start, end - run_start);
    if (!run.empty() && normalize_icu(n, run, run_out)) {
      result.append(run_out);
      changed = true;
    } else {
      result.append(run);
    }
  };
  while (i < in.size()) {
    std::size_t len = 0;
    char32_t c = decode(in, i, len);
    if (newer_than_9(c)) {
      flush(i);
      result.append(in.substr(i, len));
      run_start = i + len;
    }
    i += len;
  }
  flush(in.size());
  if (!changed) return false;
  out.swap(result);
  return true;
}

bool has_boundary_before(NormalForm form, char32_t c) {
  const icu::Normalizer2* n = instance(form);
  return n == nullptr || newer_than_9(c) || n->hasBoundaryBefore(static_cast<UChar32>(c));
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
