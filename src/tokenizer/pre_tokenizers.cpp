#include "tokenizer/pre_tokenizers.hpp"

#include "tokenizer/normalizers.hpp"
#include "tokenizer/unicode.hpp"

#include <algorithm>

namespace modelkit::tokenizer {

namespace {

// HF's pattern for Fn(char) -> bool: every matching char is its own match.
template <class Pred>
void char_regions(std::string_view s, Pred pred, std::vector<Region>& regions) {
  regions.clear();
  if (s.empty()) {
    regions.push_back({0, 0, false});
    return;
  }
  std::size_t last = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t len = 0;
    char32_t c = unicode::decode(s, i, len);
    if (pred(c)) {
      if (last < i) regions.push_back({last, i, false});
      regions.push_back({i, i + len, true});
      last = i + len;
    }
    i += len;
  }
  if (last < s.size()) regions.push_back({last, s.size(), false});
}

// HF's pattern for a regex: matches and the gaps between them.
bool regex_regions(const Regex& re, std::string_view s, std::vector<Region>& regions,
                   std::vector<std::pair<std::size_t, std::size_t>>& matches) {
  regions.clear();
  if (s.empty()) {
    regions.push_back({0, 0, false});
    return true;
  }
  matches.clear();
  if (!re.find_all(s, matches)) return false;
  std::size_t prev = 0;
  for (const auto& [b, e] : matches) {
    if (prev != b) regions.push_back({prev, b, false});
    regions.push_back({b, e, true});
    prev = e;
  }
  if (prev != s.size()) regions.push_back({prev, s.size(), false});
  return true;
}

// Runs fn(segment, out) over every segment not yet tokenized, keeping the others in place.
template <class Fn>
Result<void> split_each(std::vector<Segment>& pieces, Scratch& scratch, Fn fn) {
  std::vector<Segment>& next = scratch.pieces;
  next.clear();
  next.reserve(pieces.size() * 2);
  for (Segment& seg : pieces) {
    if (seg.added_id >= 0) {
      next.push_back(std::move(seg));
      continue;
    }
    MODELKIT_TRY_VOID(fn(seg, next));
  }
  pieces.swap(next);
  return {};
}

bool is_bert_punctuation(char32_t c) {
  if (c < 0x80) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
  return unicode::uc8_is_punctuation(c);
}

thread_local std::vector<Region> t_regions;

}  // namespace

void split_regions(const Segment& seg, std::vector<Region>& regions, SplitBehavior behavior, bool track,
                   std::vector<Segment>& out) {
  // (begin, end, remove)
  struct Part {
    std::size_t b, e;
    bool remove;
  };
  thread_local std::vector<Part> parts;
  parts.clear();
  switch (behavior) {
    case SplitBehavior::isolated:
      for (const auto& r : regions) parts.push_back({r.begin, r.end, false});
      break;
    case SplitBehavior::removed:
      for (const auto& r : regions) parts.push_back({r.begin, r.end, r.match});
      break;
    case SplitBehavior::contiguous: {
      bool previous = false;
      for (const auto& r : regions) {
        if (r.match == previous && !parts.empty()) parts.back().e = r.end;
        else parts.push_back({r.begin, r.end, false});
        previous = r.match;
      }
      break;
    }
    case SplitBehavior::merged_with_previous: {
      bool previous = false;
      for (const auto& r : regions) {
        if (r.match && !previous && !parts.empty()) parts.back().e = r.end;
        else parts.push_back({r.begin, r.end, false});
        previous = r.match;
      }
      break;
    }
    case SplitBehavior::merged_with_next: {
      bool previous = false;
      for (auto it = regions.rbegin(); it != regions.rend(); ++it) {
        if (it->match && !previous && !parts.empty()) parts.back().b = it->begin;
        else parts.push_back({it->begin, it->end, false});
        previous = it->match;
      }
      std::reverse(parts.begin(), parts.end());
      break;
    }
  }
  for (const auto& p : parts) {
    if (p.remove || p.b == p.e) continue;
    if (p.b == 0 && p.e == seg.text.size()) {
      out.push_back(seg);
      continue;
    }
    out.push_back(slice(seg, p.b, p.e, track));
  }
}

Result<void> BertPreTokenizer::pre_tokenize(std::vector<Segment>& pieces, Scratch& scratch) const {
  auto& regions = t_regions;
  MODELKIT_TRY_VOID(split_each(pieces, scratch, [&](Segment& seg, std::vector<Segment>& out) -> Result<void> {
    char_regions(seg.text, [](char32_t c) { return unicode::is_whitespace(c); }, regions);
    split_regions(seg, regions, SplitBehavior::removed, scratch.track, out);
    return {};
  }));
  return split_each(pieces, scratch, [&](Segment& seg, std::vector<Segment>& out) -> Result<void> {
    char_regions(seg.text, is_bert_punctuation, regions);
    split_regions(seg, regions, SplitBehavior::isolated, scratch.track, out);
    return {};
  });
}

Result<std::unique_ptr<ByteLevelPreTokenizer>> ByteLevelPreTokenizer::create(bool add_prefix_space, bool use_regex) {
  auto p = std::make_unique<ByteLevelPreTokenizer>();
  p->add_prefix_space_ = add_prefix_space;
  p->use_regex_ = use_regex;
  if (use_regex) {
    MODELKIT_TRY(auto re, Regex::compile_onig(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"));
    p->regex_ = std::move(re);
  }
  return p;
}

Result<void> ByteLevelPreTokenizer::pre_tokenize(std::vector<Segment>& pieces, Scratch& scratch) const {
  auto& regions = t_regions;
  MODELKIT_TRY_VOID(split_each(pieces, scratch, [&](Segment& seg, std::vector<Segment>& out) -> Result<void> {
    if (add_prefix_space_ && !seg.text.empty() && seg.text[0] != ' ') {
      std::uint32_t a = seg.align.empty() ? seg.origin : seg.align[0];
      seg.text.insert(0, 1, ' ');
      if (scratch.track) seg.align.insert(seg.align.begin(), a);
    }
    if (!use_regex_) {
      if (!seg.text.empty()) out.push_back(std::move(seg));
      return {};
    }
    if (!regex_regions(*regex_, seg.text, regions, scratch.matches))
      return failure("regex matching failed on a piece of " + std::to_string(seg.text.size()) + " bytes");
    split_regions(seg, regions, SplitBehavior::isolated, scratch.track, out);
    return {};
  }));
  const auto& table = byte_to_char();
  for (Segment& seg : pieces) {
    if (seg.added_id >= 0) continue;
    if (!scratch.track) {
      std::string& out = scratch.buffer;
      out.clear();
      out.reserve(seg.text.size() * 2);
      for (unsigned char b : seg.text) unicode::append(out, table[b]);
      seg.text.swap(out);
      continue;
    }
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
  return {};
}

Result<void> WhitespacePreTokenizer::pre_tokenize(std::vector<Segment>& pieces, Scratch& scratch) const {
  // Invert(\w+|[^\w\s]+) with Removed: keep the runs of word chars and of other non-space chars.
  return split_each(pieces, scratch, [&](Segment& seg, std::vector<Segment>& out) -> Result<void> {
    const std::string& s = seg.text;
    std::size_t i = 0;
    while (i < s.size()) {
      std::size_t len = 0;
      char32_t c = unicode::decode(s, i, len);
      int kind = unicode::is_regex_word(c) ? 1 : unicode::is_whitespace(c) ? 0 : 2;
      if (kind == 0) {
        i += len;
        continue;
      }
      std::size_t j = i + len;
      while (j < s.size()) {
        std::size_t l2 = 0;
        char32_t c2 = unicode::decode(s, j, l2);
        int k2 = unicode::is_regex_word(c2) ? 1 : unicode::is_whitespace(c2) ? 0 : 2;
        if (k2 != kind) break;
        j += l2;
      }
      out.push_back(i == 0 && j == s.size() ? seg : slice(seg, i, j, scratch.track));
      i = j;
    }
    return {};
  });
}

Result<void> WhitespaceSplitPreTokenizer::pre_tokenize(std::vector<Segment>& pieces, Scratch& scratch) const {
  auto& regions = t_regions;
  return split_each(pieces, scratch, [&](Segment& seg, std::vector<Segment>& out) -> Result<void> {
    char_regions(seg.text, [](char32_t c) { return unicode::is_whitespace(c); }, regions);
    split_regions(seg, regions, SplitBehavior::removed, scratch.track, out);
    return {};
  });
}

Result<void> CharDelimiterPreTokenizer::pre_tokenize(std::vector<Segment>& pieces, Scratch& scratch) const {
  auto& regions = t_regions;
  return split_each(pieces, scratch, [&](Segment& seg, std::vector<Segment>& out) -> Result<void> {
    char_regions(seg.text, [&](char32_t c) { return c == delimiter_; }, regions);
    split_regions(seg, regions, SplitBehavior::removed, scratch.track, out);
    return {};
  });
}

MetaspacePreTokenizer::MetaspacePreTokenizer(char32_t replacement, PrependScheme scheme, bool split)
    : replacement_(replacement), scheme_(scheme), split_(split) {
  unicode::append(replacement_str_, replacement);
}

Result<void> MetaspacePreTokenizer::pre_tokenize(std::vector<Segment>& pieces, Scratch& scratch) const {
  auto& regions = t_regions;
  return split_each(pieces, scratch, [&](Segment& seg, std::vector<Segment>& out) -> Result<void> {
    scratch.matches.clear();
    for (std::size_t i = 0; i < seg.text.size(); ++i)
      if (seg.text[i] == ' ') scratch.matches.emplace_back(i, i + 1);
    replace_matches(seg, scratch, scratch.matches, replacement_str_);
    bool starts = seg.text.compare(0, replacement_str_.size(), replacement_str_) == 0;
    bool prepend = scheme_ == PrependScheme::always ? !starts
                   : scheme_ == PrependScheme::first ? !starts && seg.origin == 0
                                                     : false;
    if (prepend && !seg.text.empty()) {
      std::uint32_t a = seg.align.empty() ? seg.origin : seg.align[0];
      seg.text.insert(0, replacement_str_);
      if (scratch.track) seg.align.insert(seg.align.begin(), replacement_str_.size(), a);
    }
    if (!split_) {
      if (!seg.text.empty()) out.push_back(std::move(seg));
      return {};
    }
    char_regions(seg.text, [&](char32_t c) { return c == replacement_; }, regions);
    split_regions(seg, regions, SplitBehavior::merged_with_next, scratch.track, out);
    return {};
  });
}

Result<void> SplitPreTokenizer::pre_tokenize(std::vector<Segment>& pieces, Scratch& scratch) const {
  auto& regions = t_regions;
  return split_each(pieces, scratch, [&](Segment& seg, std::vector<Segment>& out) -> Result<void> {
    if (!regex_regions(pattern_, seg.text, regions, scratch.matches))
      return failure("regex matching failed on a piece of " + std::to_string(seg.text.size()) + " bytes");
    if (invert_)
      for (auto& r : regions) r.match = !r.match;
    split_regions(seg, regions, behavior_, scratch.track, out);
    return {};
  });
}

Result<void> PunctuationPreTokenizer::pre_tokenize(std::vector<Segment>& pieces, Scratch& scratch) const {
  auto& regions = t_regions;
  return split_each(pieces, scratch, [&](Segment& seg, std::vector<Segment>& out) -> Result<void> {
    char_regions(seg.text, is_bert_punctuation, regions);
    split_regions(seg, regions, behavior_, scratch.track, out);
    return {};
  });
}

Result<void> DigitsPreTokenizer::pre_tokenize(std::vector<Segment>& pieces, Scratch& scratch) const {
  auto& regions = t_regions;
  return split_each(pieces, scratch, [&](Segment& seg, std::vector<Segment>& out) -> Result<void> {
    char_regions(seg.text, [](char32_t c) { return unicode::is_numeric(c); }, regions);
    split_regions(seg, regions, individual_ ? SplitBehavior::isolated : SplitBehavior::contiguous, scratch.track,
                  out);
    return {};
  });
}

}  // namespace modelkit::tokenizer
