#include "tokenizer/normalizers.hpp"

#include <algorithm>
#include <cstring>

namespace modelkit::tokenizer {

namespace {

bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// HF NormalizedString::filter: kept chars carry -(number of removed chars after them); removed
// chars at the start become the initial offset. `map` rewrites kept chars (HF filter().map()).
template <class Keep, class Map>
void filter_map(Segment& seg, Scratch& scratch, Keep keep, Map map) {
  const std::string& s = seg.text;
  Rewriter rw(seg, scratch);
  std::size_t removed = 0;
  std::size_t removed_start = 0;
  bool have_last = false;
  char32_t last = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t len = 0;
    char32_t c = unicode::decode(s, i, len);
    i += len;
    if (keep(c)) {
      if (have_last) rw.put(map(last), -static_cast<int>(removed));
      else removed_start = removed;
      last = c;
      have_last = true;
      removed = 0;
    } else {
      ++removed;
    }
  }
  if (have_last) rw.put(map(last), -static_cast<int>(removed));
  rw.commit(have_last ? removed_start : removed);
}

template <class Keep>
void filter(Segment& seg, Scratch& scratch, Keep keep) {
  filter_map(seg, scratch, keep, [](char32_t c) { return c; });
}

bool all_ascii(std::string_view s) {
  for (unsigned char b : s)
    if (b >= 0x80) return false;
  return true;
}

void lowercase(Segment& seg, Scratch& scratch) {
  if (!scratch.track) {
    // Fast path: no alignment to keep.
    std::string& out = scratch.buffer;
    out.clear();
    out.reserve(seg.text.size());
    const std::string& s = seg.text;
    std::size_t i = 0;
    while (i < s.size()) {
      auto b = static_cast<unsigned char>(s[i]);
      if (b < 0x80) {
        out.push_back(static_cast<char>(b >= 'A' && b <= 'Z' ? b + 32 : b));
        ++i;
        continue;
      }
      std::size_t len = 0;
      char32_t c = unicode::decode(s, i, len);
      unicode::append_lowercase(out, c);
      i += len;
    }
    seg.text.swap(out);
    return;
  }
  Rewriter rw(seg, scratch);
  const std::string& s = seg.text;
  std::string lower;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t len = 0;
    char32_t c = unicode::decode(s, i, len);
    i += len;
    lower.clear();
    unicode::append_lowercase(lower, c);
    rw.put_text(lower, 0);
  }
  rw.commit();
}

void unicode_normalize(Segment& seg, Scratch& scratch, unicode::NormalForm form) {
  if (!scratch.track) {
    if (unicode::normalize(form, seg.text, scratch.buffer)) seg.text.swap(scratch.buffer);
    return;
  }
  if (all_ascii(seg.text)) return;
  // Normalize chunk by chunk between normalization boundaries; the output chars of a chunk
  // replace its input chars positionally (extra ones inserted, missing ones removed), which is
  // how the Rust crate's (char, change) stream lines them up.
  const std::string& s = seg.text;
  Rewriter rw(seg, scratch);
  std::string normalized;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t len = 0;
    unicode::decode(s, i, len);
    std::size_t j = i + len;
    while (j < s.size()) {
      std::size_t l2 = 0;
      char32_t c2 = unicode::decode(s, j, l2);
      if (unicode::has_boundary_before(form, c2)) break;
      j += l2;
    }
    std::string_view chunk(s.data() + i, j - i);
    std::string_view out = chunk;
    if (unicode::normalize(form, chunk, normalized)) out = normalized;
    std::size_t in_chars = unicode::count_chars(chunk);
    std::size_t out_chars = unicode::count_chars(out);
    std::size_t k = 0;
    std::size_t n = 0;
    while (k < out.size()) {
      std::size_t l3 = 0;
      char32_t c = unicode::decode(out, k, l3);
      k += l3;
      ++n;
      int change = n <= in_chars ? 0 : 1;
      if (n == out_chars && out_chars < in_chars) change = -static_cast<int>(in_chars - out_chars);
      rw.put(c, change);
    }
    i = j;
  }
  rw.commit();
}

}  // namespace

const std::array<char32_t, 256>& byte_to_char() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    std::array<bool, 256> direct{};
    for (int b = '!'; b <= '~'; ++b) direct[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
    char32_t n = 0;
    for (int b = 0; b < 256; ++b) t[b] = direct[b] ? static_cast<char32_t>(b) : 256 + n++;
    return t;
  }();
  return table;
}

void replace_matches(Segment& seg, Scratch& scratch, const std::vector<std::pair<std::size_t, std::size_t>>& matches,
                     std::string_view content) {
  if (matches.empty()) return;
  const std::string& s = seg.text;
  // The size is known before anything is written: a replacement past the bound writes nothing.
  std::size_t removed = 0;
  for (const auto& [b, e] : matches) removed += e - b;
  const std::size_t kept = s.size() - removed;
  if (content.size() > 0 && matches.size() > (scratch.max_text_bytes - std::min(kept, scratch.max_text_bytes)) / content.size()) {
    scratch.overflowed = true;
    return;
  }
  std::string text;
  text.reserve(s.size() + matches.size() * content.size());
  if (!scratch.track) {
    std::size_t last = 0;
    for (const auto& [b, e] : matches) {
      text.append(s, last, b - last);
      text.append(content);
      last = e;
    }
    text.append(s, last, std::string::npos);
    seg.text.swap(text);
    return;
  }
  // HF NormalizedString::replace: inserted content takes the alignment of the match's last byte.
  std::vector<std::uint32_t> align;
  align.reserve(text.capacity());
  std::size_t last = 0;
  for (const auto& [b, e] : matches) {
    text.append(s, last, b - last);
    align.insert(align.end(), seg.align.begin() + static_cast<std::ptrdiff_t>(last),
                 seg.align.begin() + static_cast<std::ptrdiff_t>(b));
    std::uint32_t a = e < 1 ? seg.origin : seg.align[e - 1];
    text.append(content);
    align.insert(align.end(), content.size(), a);
    last = e;
  }
  text.append(s, last, std::string::npos);
  align.insert(align.end(), seg.align.begin() + static_cast<std::ptrdiff_t>(last), seg.align.end());
  seg.text.swap(text);
  seg.align.swap(align);
}

void BertNormalizer::normalize(Segment& seg, Scratch& scratch) const {
  if (clean_text_) {
    bool needed = false;
    for (unsigned char b : seg.text)
      if (b < 0x20 || b == 0x7F || b >= 0x80) {
        needed = true;
        break;
      }
    if (needed || scratch.track)
      filter_map(
          seg, scratch,
          [](char32_t c) {
            if (c == 0 || c == 0xFFFD) return false;
            if (c == '\t' || c == '\n' || c == '\r') return true;
            return !unicode::uc8_is_other(c);
          },
          [](char32_t c) {
            return c == '\t' || c == '\n' || c == '\r' || unicode::is_whitespace(c) ? char32_t{' '} : c;
          });
  }
  if (chinese_ && !all_ascii(seg.text)) {
    Rewriter rw(seg, scratch);
    const std::string& s = seg.text;
    std::size_t i = 0;
    while (i < s.size()) {
      std::size_t len = 0;
      char32_t c = unicode::decode(s, i, len);
      i += len;
      if (is_chinese_char(c)) {
        rw.put(' ', 0);
        rw.put(c, 1);
        rw.put(' ', 1);
      } else {
        rw.put(c, 0);
      }
    }
    rw.commit();
  }
  if (strip_accents_ && !all_ascii(seg.text)) {
    unicode_normalize(seg, scratch, unicode::NormalForm::nfd);
    filter(seg, scratch, [](char32_t c) { return !unicode::uc8_is_mark_nonspacing(c); });
  }
  if (lowercase_) lowercase(seg, scratch);
}

void LowercaseNormalizer::normalize(Segment& seg, Scratch& scratch) const { lowercase(seg, scratch); }

void StripNormalizer::normalize(Segment& seg, Scratch& scratch) const {
  const std::string& s = seg.text;
  std::size_t begin = 0;
  std::size_t end = s.size();
  std::size_t leading_chars = 0;
  if (left_) {
    while (begin < end) {
      std::size_t len = 0;
      char32_t c = unicode::decode(s, begin, len);
      if (!unicode::is_whitespace(c)) break;
      begin += len;
      ++leading_chars;
    }
  }
  if (right_) {
    while (end > begin) {
      std::size_t k = end - 1;
      while (k > begin && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
      std::size_t len = 0;
      char32_t c = unicode::decode(s, k, len);
      if (!unicode::is_whitespace(c)) break;
      end = k;
    }
  }
  if (begin == 0 && end == s.size()) return;
  (void)leading_chars;
  if (scratch.track) {
    seg.align.erase(seg.align.begin() + static_cast<std::ptrdiff_t>(end), seg.align.end());
    seg.align.erase(seg.align.begin(), seg.align.begin() + static_cast<std::ptrdiff_t>(begin));
  }
  seg.text = s.substr(begin, end - begin);
}

void StripAccentsNormalizer::normalize(Segment& seg, Scratch& scratch) const {
  if (all_ascii(seg.text)) return;
  filter(seg, scratch, [](char32_t c) { return !unicode::un9_is_combining_mark(c); });
}

void UnicodeNormalizer::normalize(Segment& seg, Scratch& scratch) const { unicode_normalize(seg, scratch, form_); }

void NmtNormalizer::normalize(Segment& seg, Scratch& scratch) const {
  filter_map(
      seg, scratch,
      [](char32_t c) {
        return !((c >= 0x1 && c <= 0x8) || c == 0xB || (c >= 0xE && c <= 0x1F) || c == 0x7F || c == 0x8F ||
                 c == 0x9F);
      },
      [](char32_t c) -> char32_t {
        switch (c) {
          case 0x9: case 0xA: case 0xC: case 0xD: case 0x1680: case 0x2028: case 0x2029: case 0x2581:
          case 0xFEFF: case 0xFFFD:
            return ' ';
          default:
            return (c >= 0x200B && c <= 0x200F) ? char32_t{' '} : c;
        }
      });
}

void ReplaceNormalizer::normalize(Segment& seg, Scratch& scratch) const {
  if (seg.text.empty()) return;
  scratch.matches.clear();
  if (!pattern_.find_all(seg.text, scratch.matches)) return;
  replace_matches(seg, scratch, scratch.matches, content_);
}

void PrependNormalizer::normalize(Segment& seg, Scratch& scratch) const {
  if (seg.text.empty()) return;
  if (prepend_.size() > scratch.max_text_bytes - std::min(seg.text.size(), scratch.max_text_bytes)) {
    scratch.overflowed = true;
    return;
  }
  if (!scratch.track) {
    seg.text.insert(0, prepend_);
    return;
  }
  // HF prepend: the prepended chars and the old first char all take the first char's alignment.
  std::uint32_t a = seg.align.empty() ? seg.origin : seg.align[0];
  seg.text.insert(0, prepend_);
  seg.align.insert(seg.align.begin(), prepend_.size(), a);
}

void ByteLevelNormalizer::normalize(Segment& seg, Scratch& scratch) const {
  if (seg.text.empty()) return;
  const auto& table = byte_to_char();
  Rewriter rw(seg, scratch);
  const std::string& s = seg.text;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t len = unicode::sequence_length(static_cast<unsigned char>(s[i]));
    for (std::size_t k = 0; k < len; ++k) rw.put(table[static_cast<unsigned char>(s[i + k])], k > 0 ? 1 : 0);
    i += len;
  }
  rw.commit();
}

// ---- Precompiled ----

namespace {

inline bool unit_has_leaf(std::uint32_t u) { return ((u >> 8) & 1) == 1; }
inline std::uint32_t unit_value(std::uint32_t u) { return u & ((1u << 31) - 1); }
inline std::uint32_t unit_label(std::uint32_t u) { return u & ((1u << 31) | 0xFF); }
inline std::size_t unit_offset(std::uint32_t u) {
  return static_cast<std::size_t>(u >> 10) << ((u & (1u << 9)) >> 6);
}

}  // namespace

Result<std::unique_ptr<PrecompiledNormalizer>> PrecompiledNormalizer::parse(std::string_view blob) {
  if (blob.size() < 4) return failure("precompiled_charsmap is " + std::to_string(blob.size()) + " bytes, too short");
  auto u32 = [&](std::size_t at) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(blob[at])) |
           (static_cast<std::uint32_t>(static_cast<unsigned char>(blob[at + 1])) << 8) |
           (static_cast<std::uint32_t>(static_cast<unsigned char>(blob[at + 2])) << 16) |
           (static_cast<std::uint32_t>(static_cast<unsigned char>(blob[at + 3])) << 24);
  };
  std::uint32_t trie_size = u32(0);
  std::size_t units = trie_size / 4;
  if (4 + units * 4 > blob.size())
    return failure("precompiled_charsmap declares a " + std::to_string(trie_size) + "-byte trie but holds " +
                   std::to_string(blob.size() - 4) + " bytes");
  auto p = std::make_unique<PrecompiledNormalizer>();
  p->array_.resize(units);
  for (std::size_t i = 0; i < units; ++i) p->array_[i] = u32(4 + i * 4);
  p->normalized_.assign(blob.substr(4 + units * 4));
  if (!unicode::valid_utf8(p->normalized_)) return failure("precompiled_charsmap: normalized strings are not valid UTF-8");
  if (p->array_.empty()) return failure("precompiled_charsmap has an empty trie");
  return p;
}

std::optional<std::string_view> PrecompiledNormalizer::transform(std::string_view chunk) const {
  const std::size_t n = array_.size();
  std::size_t node = 0;
  std::uint32_t unit = array_[0];
  node ^= unit_offset(unit);
  for (unsigned char c : chunk) {
    if (c == 0) break;
    node ^= c;
    if (node >= n) return std::nullopt;
    unit = array_[node];
    if (unit_label(unit) != c) return std::nullopt;
    node ^= unit_offset(unit);
    if (unit_has_leaf(unit)) {
      if (node >= n) return std::nullopt;
      std::size_t index = unit_value(array_[node]);
      if (index > normalized_.size()) return std::nullopt;
      std::size_t end = normalized_.find('\0', index);
      if (end == std::string::npos) end = normalized_.size();
      return std::string_view(normalized_).substr(index, end - index);
    }
  }
  return std::nullopt;
}

void PrecompiledNormalizer::normalize(Segment& seg, Scratch& scratch) const {
  const std::string& s = seg.text;
  bool modified = false;
  std::string& out = scratch.buffer;
  out.clear();
  auto& dest = scratch.dest;
  dest.clear();
  const bool track = scratch.track;
  // spm_precompiled's replace(): new chars replace old ones positionally; extra ones are
  // insertions, and a shorter replacement folds the removal into the last transformation.
  auto replace = [&](std::string_view old_part, std::string_view new_part) {
    if (!track) {
      out.append(new_part);
      return;
    }
    long old_count = static_cast<long>(unicode::count_chars(old_part));
    long new_count = static_cast<long>(unicode::count_chars(new_part));
    long diff = new_count - old_count;
    std::size_t i = 0;
    while (i < new_part.size()) {
      std::size_t len = 0;
      dest.emplace_back(unicode::decode(new_part, i, len), 0);
      i += len;
    }
    if (diff > 0) {
      for (long k = 0; k < diff && static_cast<std::size_t>(k) < dest.size(); ++k) dest[dest.size() - 1 - k].second = 1;
    } else if (diff < 0 && !dest.empty()) {
      dest.back().second += static_cast<int>(diff);
    }
  };
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t glen = unicode::grapheme_length(s, i);
    std::string_view grapheme(s.data() + i, glen);
    i += glen;
    if (glen < 6) {
      if (auto norm = transform(grapheme)) {
        modified = true;
        replace(grapheme, *norm);
        continue;
      }
    }
    std::size_t k = 0;
    while (k < grapheme.size()) {
      std::size_t len = 0;
      char32_t c = unicode::decode(grapheme, k, len);
      std::string_view part = grapheme.substr(k, len);
      k += len;
      if (auto norm = transform(part)) {
        modified = true;
        replace(part, *norm);
      } else if (track) {
        dest.emplace_back(c, 0);
      } else {
        out.append(part);
      }
    }
  }
  if (!modified) return;
  if (track) apply_transform(seg, dest, 0);
  else seg.text.swap(out);
}

}  // namespace modelkit::tokenizer
