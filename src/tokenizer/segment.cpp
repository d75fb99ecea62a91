#include "tokenizer/pipeline.hpp"
#include "tokenizer/unicode.hpp"

namespace modelkit::tokenizer {

Segment make_segment(std::string_view text, bool track) {
  Segment seg;
  seg.text.assign(text);
  if (track) {
    seg.align.resize(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
      std::size_t len = unicode::sequence_length(static_cast<unsigned char>(text[i]));
      for (std::size_t k = 0; k < len && i + k < text.size(); ++k) seg.align[i + k] = static_cast<std::uint32_t>(i);
      i += len;
    }
  }
  return seg;
}

Segment slice(const Segment& seg, std::size_t begin, std::size_t end, bool track) {
  Segment out;
  out.text.assign(seg.text, begin, end - begin);
  if (track) {
    out.align.assign(seg.align.begin() + static_cast<std::ptrdiff_t>(begin),
                     seg.align.begin() + static_cast<std::ptrdiff_t>(end));
    out.origin = begin < seg.align.size() ? seg.align[begin] : seg.origin;
  }
  return out;
}

void apply_transform(Segment& seg, const std::vector<std::pair<char32_t, int>>& dest, std::size_t initial_offset) {
  const std::string& old = seg.text;
  const std::vector<std::uint32_t>& A = seg.align;
  std::size_t offset = unicode::byte_offset_of_char(old, initial_offset);
  std::string text;
  std::vector<std::uint32_t> align;
  text.reserve(old.size() + dest.size());
  align.reserve(old.size() + dest.size());
  auto skip_char = [&] {
    if (offset < old.size()) offset += unicode::sequence_length(static_cast<unsigned char>(old[offset]));
  };
  for (const auto& [c, change] : dest) {
    std::uint32_t a;
    if (change > 0) a = offset < 1 || A.empty() ? seg.origin : A[std::min(offset, A.size()) - 1];
    else a = offset < A.size() ? A[offset] : (A.empty() ? seg.origin : A.back());
    if (change <= 0) skip_char();
    for (int k = 0; k < -change; ++k) skip_char();
    std::size_t before = text.size();
    unicode::append(text, c);
    align.insert(align.end(), text.size() - before, a);
  }
  seg.text.swap(text);
  seg.align.swap(align);
}

void Rewriter::put(char32_t c, int change) {
  if (track_) scratch_.dest.emplace_back(c, change);
  else unicode::append(out_, c);
}

void Rewriter::put_text(std::string_view s, int first_change) {
  std::size_t i = 0;
  bool first = true;
  while (i < s.size()) {
    std::size_t len = 0;
    char32_t c = unicode::decode(s, i, len);
    put(c, first ? first_change : 1);
    first = false;
    i += len;
  }
}

void Rewriter::commit(std::size_t initial_offset) {
  if (track_) apply_transform(seg_, scratch_.dest, initial_offset);
  else seg_.text.swap(out_);
}

void RawEncoding::append(const RawEncoding& o) {
  ids.insert(ids.end(), o.ids.begin(), o.ids.end());
  tokens.insert(tokens.end(), o.tokens.begin(), o.tokens.end());
  type_ids.insert(type_ids.end(), o.type_ids.begin(), o.type_ids.end());
  special_mask.insert(special_mask.end(), o.special_mask.begin(), o.special_mask.end());
  attention.insert(attention.end(), o.attention.begin(), o.attention.end());
  offsets.insert(offsets.end(), o.offsets.begin(), o.offsets.end());
}

}  // namespace modelkit::tokenizer
