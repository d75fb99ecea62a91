// Normalizers of tokenizer.json ("normalizer"), each behaving as its Rust counterpart.
#pragma once

#include "tokenizer/pipeline.hpp"
#include "tokenizer/regex.hpp"
#include "tokenizer/unicode.hpp"

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace modelkit::tokenizer {

class BertNormalizer final : public Normalizer {
 public:
  BertNormalizer(bool clean_text, bool handle_chinese_chars, std::optional<bool> strip_accents, bool lowercase)
      : clean_text_(clean_text), chinese_(handle_chinese_chars), strip_accents_(strip_accents.value_or(lowercase)),
        lowercase_(lowercase) {}
  void normalize(Segment& seg, Scratch& scratch) const override;

 private:
  bool clean_text_, chinese_, strip_accents_, lowercase_;
};

class LowercaseNormalizer final : public Normalizer {
 public:
  void normalize(Segment& seg, Scratch& scratch) const override;
};

class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(Segment& seg, Scratch& scratch) const override;

 private:
  bool left_, right_;
};

class StripAccentsNormalizer final : public Normalizer {
 public:
  void normalize(Segment& seg, Scratch& scratch) const override;
};

class UnicodeNormalizer final : public Normalizer {
 public:
  explicit UnicodeNormalizer(unicode::NormalForm form) : form_(form) {}
  void normalize(Segment& seg, Scratch& scratch) const override;

 private:
  unicode::NormalForm form_;
};

class NmtNormalizer final : public Normalizer {
 public:
  void normalize(Segment& seg, Scratch& scratch) const override;
};

class ReplaceNormalizer final : public Normalizer {
 public:
  ReplaceNormalizer(Regex pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void normalize(Segment& seg, Scratch& scratch) const override;

 private:
  Regex pattern_;
  std::string content_;
};

class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prepend) : prepend_(std::move(prepend)) {}
  void normalize(Segment& seg, Scratch& scratch) const override;

 private:
  std::string prepend_;
};

class ByteLevelNormalizer final : public Normalizer {
 public:
  void normalize(Segment& seg, Scratch& scratch) const override;
};

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}
  void normalize(Segment& seg, Scratch& scratch) const override {
    // Growth compounds along a sequence: stop at the first step past the bound.
    for (const auto& p : parts_) {
      p->normalize(seg, scratch);
      if (seg.text.size() > scratch.max_text_bytes) scratch.overflowed = true;
      if (scratch.overflowed) return;
    }
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

// The sentencepiece precompiled charsmap: a Darts double-array trie over UTF-8 bytes whose
// values index NUL-terminated replacement strings, applied per grapheme cluster exactly as the
// Rust spm_precompiled crate and the tokenizers Precompiled normalizer do.
class PrecompiledNormalizer final : public Normalizer {
 public:
  // Parses the decoded charsmap blob. Errors say what is malformed.
  [[nodiscard]] static Result<std::unique_ptr<PrecompiledNormalizer>> parse(std::string_view blob);
  void normalize(Segment& seg, Scratch& scratch) const override;
  // The replacement of the first (shortest) prefix of `chunk` that the trie holds, as spm_precompiled.
  [[nodiscard]] std::optional<std::string_view> transform(std::string_view chunk) const;

 private:
  std::vector<std::uint32_t> array_;
  std::string normalized_;
};

// Replaces each match [start, end) of seg's text by `content`, with HF's alignment rules.
void replace_matches(Segment& seg, Scratch& scratch, const std::vector<std::pair<std::size_t, std::size_t>>& matches,
                     std::string_view content);

// The GPT-2 byte-to-character table (bytes_char in the Rust core).
const std::array<char32_t, 256>& byte_to_char();

}  // namespace modelkit::tokenizer
