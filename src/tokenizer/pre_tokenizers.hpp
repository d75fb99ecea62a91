// Pre-tokenizers of tokenizer.json ("pre_tokenizer"), each behaving as its Rust counterpart.
#pragma once

#include "tokenizer/pipeline.hpp"
#include "tokenizer/regex.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace modelkit::tokenizer {

enum class SplitBehavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

// One region of a segment: [begin, end) and whether the pattern matched it (HF find_matches).
struct Region {
  std::size_t begin;
  std::size_t end;
  bool match;
};

// HF NormalizedString::split followed by PreTokenizedString's dropping of empty pieces.
void split_regions(const Segment& seg, std::vector<Region>& regions, SplitBehavior behavior, bool track,
                   std::vector<Segment>& out);

class BertPreTokenizer final : public PreTokenizer {
 public:
  Result<void> pre_tokenize(std::vector<Segment>& pieces, Scratch& scratch) const override;
};

class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  static Result<std::unique_ptr<ByteLevelPreTokenizer>> create(bool add_prefix_space, bool use_regex);
  Result<void> pre_tokenize(std::vector<Segment>& pieces, Scratch& scratch) const override;

 private:
  bool add_prefix_space_ = false;
  bool use_regex_ = true;
  std::optional<Regex> regex_;
};

class WhitespacePreTokenizer final : public PreTokenizer {
 public:
  Result<void> pre_tokenize(std::vector<Segment>& pieces, Scratch& scratch) const override;
};

class WhitespaceSplitPreTokenizer final : public PreTokenizer {
 public:
  Result<void> pre_tokenize(std::vector<Segment>& pieces, Scratch& scratch) const override;
};

class CharDelimiterPreTokenizer final : public PreTokenizer {
 public:
  explicit CharDelimiterPreTokenizer(char32_t delimiter) : delimiter_(delimiter) {}
  Result<void> pre_tokenize(std::vector<Segment>& pieces, Scratch& scratch) const override;

 private:
  char32_t delimiter_;
};

enum class PrependScheme { first, never, always };

class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  MetaspacePreTokenizer(char32_t replacement, PrependScheme scheme, bool split);
  Result<void> pre_tokenize(std::vector<Segment>& pieces, Scratch& scratch) const override;
  [[nodiscard]] bool needs_offsets() const override { return scheme_ == PrependScheme::first; }

 private:
  char32_t replacement_;
  std::string replacement_str_;
  PrependScheme scheme_;
  bool split_;
};

class SplitPreTokenizer final : public PreTokenizer {
 public:
  SplitPreTokenizer(Regex pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  Result<void> pre_tokenize(std::vector<Segment>& pieces, Scratch& scratch) const override;

 private:
  Regex pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

class PunctuationPreTokenizer final : public PreTokenizer {
 public:
  explicit PunctuationPreTokenizer(SplitBehavior behavior) : behavior_(behavior) {}
  Result<void> pre_tokenize(std::vector<Segment>& pieces, Scratch& scratch) const override;

 private:
  SplitBehavior behavior_;
};

class DigitsPreTokenizer final : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual) : individual_(individual) {}
  Result<void> pre_tokenize(std::vector<Segment>& pieces, Scratch& scratch) const override;

 private:
  bool individual_;
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts) : parts_(std::move(parts)) {}
  Result<void> pre_tokenize(std::vector<Segment>& pieces, Scratch& scratch) const override {
    for (const auto& p : parts_) MODELKIT_TRY_VOID(p->pre_tokenize(pieces, scratch));
    return {};
  }
  [[nodiscard]] bool needs_offsets() const override {
    for (const auto& p : parts_)
      if (p->needs_offsets()) return true;
    return false;
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

}  // namespace modelkit::tokenizer
