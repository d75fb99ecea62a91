// The stages of the Hugging Face tokenizer pipeline as modelkit runs them:
//   added tokens split out -> normalizer -> pre-tokenizer -> model -> post-processor.
// A Segment is one piece of text in flight (HF's NormalizedString inside a PreTokenizedString).
// Offsets into the original text are only tracked when a stage needs them (Metaspace with
// prepend_scheme "first" asks whether a piece starts at the beginning of the original text);
// then `align` holds, for every byte of `text`, the original byte offset of the character it
// came from, following the Rust core's alignment rules.
#pragma once

#include <modelkit/result.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace modelkit::tokenizer {

struct Segment {
  std::string text;
  std::vector<std::uint32_t> align;  // empty unless tracking offsets
  std::uint32_t origin = 0;          // original offset where the piece starts (HF original_shift)
  std::int32_t added_id = -1;        // an added token matched here: already tokenized
};

// How far normalizers may grow one input: the text of a segment may reach this many times the
// input's bytes (plus kNormalizedSlackBytes). Real normalizers stay far below (NFKC expands one
// character to at most 18, ByteLevel a byte to 2); a file chaining Replace "a" -> "aa" thirty
// times would otherwise ask for 2^30 times the input.
inline constexpr std::size_t kNormalizedGrowthFactor = 32;
inline constexpr std::size_t kNormalizedSlackBytes = 4096;

// Per-call state: whether offsets are tracked, and reusable buffers.
struct Scratch {
  bool track = false;
  // Bytes a normalized segment may hold; a normalizer that would write more leaves the segment
  // as it was and sets `overflowed` (the caller turns it into an error).
  std::size_t max_text_bytes = static_cast<std::size_t>(-1);
  bool overflowed = false;
  std::vector<std::pair<char32_t, int>> dest;  // HF (char, change) transformations
  std::vector<std::pair<std::size_t, std::size_t>> matches;
  std::vector<Segment> pieces;
  std::string buffer;
};

// A slice [begin, end) of seg as its own Segment (HF NormalizedString::slice).
Segment slice(const Segment& seg, std::size_t begin, std::size_t end, bool track);

// Initial segment of an input text.
Segment make_segment(std::string_view text, bool track);

// Applies HF's NormalizedString::transform to seg: `dest` lists the new characters with their
// change (1 inserted, 0 replaces one old char, -N replaces one and removes N more), and
// `initial_offset` old characters are removed at the start.
void apply_transform(Segment& seg, const std::vector<std::pair<char32_t, int>>& dest, std::size_t initial_offset);

// Collects a rewrite of a segment: with tracking, HF (char, change) pairs; without, the text.
class Rewriter {
 public:
  Rewriter(Segment& seg, Scratch& scratch) : seg_(seg), scratch_(scratch), track_(scratch.track) {
    if (track_) scratch_.dest.clear();
    else {
      out_.clear();
      out_.reserve(seg.text.size() + 8);
    }
  }
  void put(char32_t c, int change);
  void put_text(std::string_view s, int first_change);  // first char `first_change`, rest +1
  // Replaces the segment's text.
  void commit(std::size_t initial_offset = 0);

 private:
  Segment& seg_;
  Scratch& scratch_;
  bool track_;
  std::string out_;
};

// ---- normalizers ----
class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(Segment& seg, Scratch& scratch) const = 0;
};

// ---- pre-tokenizers: split every untokenized segment of `pieces` ----
class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual Result<void> pre_tokenize(std::vector<Segment>& pieces, Scratch& scratch) const = 0;
  // True when this stage needs original offsets (Metaspace "first").
  [[nodiscard]] virtual bool needs_offsets() const { return false; }
};

// ---- models ----
struct Token {
  std::uint32_t id;
  std::string value;
};

class Model {
 public:
  virtual ~Model() = default;
  // Appends the tokens of one pre-tokenized piece.
  virtual Result<void> tokenize(std::string_view piece, std::vector<Token>& out) const = 0;
  [[nodiscard]] virtual std::optional<std::uint32_t> token_to_id(std::string_view token) const = 0;
  [[nodiscard]] virtual std::size_t vocab_size() const = 0;
  [[nodiscard]] virtual bool offsets_supported() const { return false; }
  // [begin, end) byte spans in `piece` of `tokens` (what tokenize appended for it), or false when
  // this model cannot tell (then no offsets are reported at all).
  [[nodiscard]] virtual bool token_spans(std::string_view /*piece*/, const Token* /*tokens*/, std::size_t /*count*/,
                                         std::vector<std::pair<std::uint32_t, std::uint32_t>>& /*spans*/) const {
    return false;
  }
};

// ---- encodings and post-processors ----
struct RawEncoding {
  std::vector<std::uint32_t> ids;
  std::vector<std::string> tokens;
  std::vector<std::uint32_t> type_ids;
  std::vector<std::uint32_t> special_mask;
  std::vector<std::uint32_t> attention;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> offsets;  // original byte spans; (0,0) untracked
  [[nodiscard]] std::size_t size() const { return ids.size(); }
  void append(const RawEncoding& other);
};

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  [[nodiscard]] virtual std::size_t added_tokens(bool is_pair) const = 0;
  // False when it rewrites token offsets in ways modelkit does not reproduce (trim_offsets).
  [[nodiscard]] virtual bool keeps_offsets() const { return true; }
  // HF process_encodings: the (already type-id'ed) encodings in, the encodings to merge out.
  virtual Result<void> process(std::vector<RawEncoding>& encodings, bool add_special_tokens) const = 0;
};

}  // namespace modelkit::tokenizer
