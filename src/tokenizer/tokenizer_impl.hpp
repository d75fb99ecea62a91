// Internals shared by the loader and the encoder: added vocabulary, post-processors, the Impl.
#pragma once

#include <modelkit/tokenizer.hpp>

#include "tokenizer/models.hpp"
#include "tokenizer/pipeline.hpp"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace modelkit::tokenizer {

struct AddedToken {
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
  bool operator==(const AddedToken&) const = default;
};

// HF AddedVocabulary: tokens matched in the raw text (normalized=false) or in the normalized
// text (normalized=true), leftmost-longest, before the pre-tokenizer.
class AddedVocabulary {
 public:
  // Adds the tokens of the file's "added_tokens" as the Rust core does (ids come from the model
  // vocabulary when the content is in it, else are assigned after it; the file's ids are not used).
  Result<void> add_tokens(const std::vector<AddedToken>& tokens, const Model& model, const Normalizer* normalizer);
  [[nodiscard]] std::optional<std::uint32_t> find(std::string_view content) const;
  [[nodiscard]] std::size_t size() const { return by_content_.size(); }

  // Splits `text` into segments, normalizing the parts that are not added tokens.
  Result<void> extract_and_normalize(std::string_view text, const Normalizer* normalizer, Scratch& scratch,
                                     std::vector<Segment>& out) const;

 private:
  struct Trie {
    // node -> children by byte; node value: token id or -1.
    std::vector<std::int32_t> value{-1};
    std::unordered_map<std::uint64_t, std::uint32_t> children;
    std::array<bool, 256> first_byte{};
    bool empty = true;
    void insert(std::string_view pattern, std::uint32_t id);
    // Longest pattern starting at s[pos]: (length, id) or length 0.
    [[nodiscard]] std::pair<std::size_t, std::uint32_t> longest_at(std::string_view s, std::size_t pos) const;
  };
  void split_segment(Segment& seg, const Trie& trie, bool track, std::vector<Segment>& out) const;

  std::unordered_map<std::string, std::uint32_t, StringHash, StringEq> by_content_;
  std::map<std::uint32_t, AddedToken> by_id_;
  std::unordered_map<std::uint32_t, std::string> normalized_form_;
  Trie raw_trie_;
  Trie normalized_trie_;
};

// ---- post-processors ----

struct SpecialTokenSpec {
  std::vector<std::uint32_t> ids;
  std::vector<std::string> tokens;
};

class TemplateProcessor final : public PostProcessor {
 public:
  struct Piece {
    bool is_sequence;
    int sequence;  // 0 = A, 1 = B
    std::string special;
    std::uint32_t type_id;
  };
  TemplateProcessor(std::vector<Piece> single, std::vector<Piece> pair,
                    std::unordered_map<std::string, SpecialTokenSpec> specials);
  [[nodiscard]] std::size_t added_tokens(bool is_pair) const override { return is_pair ? added_pair_ : added_single_; }
  Result<void> process(std::vector<RawEncoding>& encodings, bool add_special_tokens) const override;

 private:
  std::vector<Piece> single_, pair_;
  std::unordered_map<std::string, SpecialTokenSpec> specials_;
  std::size_t added_single_ = 0, added_pair_ = 0;
};

class BertProcessor final : public PostProcessor {
 public:
  BertProcessor(std::pair<std::string, std::uint32_t> sep, std::pair<std::string, std::uint32_t> cls, bool roberta)
      : sep_(std::move(sep)), cls_(std::move(cls)), roberta_(roberta) {}
  [[nodiscard]] std::size_t added_tokens(bool is_pair) const override {
    return is_pair ? (roberta_ ? 4 : 3) : 2;
  }
  [[nodiscard]] bool keeps_offsets() const override { return !roberta_; }  // RobertaProcessing trims
  Result<void> process(std::vector<RawEncoding>& encodings, bool add_special_tokens) const override;

 private:
  std::pair<std::string, std::uint32_t> sep_, cls_;
  bool roberta_;
};

class ByteLevelProcessor final : public PostProcessor {
 public:
  [[nodiscard]] std::size_t added_tokens(bool) const override { return 0; }
  [[nodiscard]] bool keeps_offsets() const override { return false; }  // trim_offsets
  Result<void> process(std::vector<RawEncoding>&, bool) const override { return {}; }
};

class SequenceProcessor final : public PostProcessor {
 public:
  explicit SequenceProcessor(std::vector<std::unique_ptr<PostProcessor>> parts) : parts_(std::move(parts)) {}
  [[nodiscard]] std::size_t added_tokens(bool is_pair) const override {
    std::size_t n = 0;
    for (const auto& p : parts_) n += p->added_tokens(is_pair);
    return n;
  }
  [[nodiscard]] bool keeps_offsets() const override {
    for (const auto& p : parts_)
      if (!p->keeps_offsets()) return false;
    return true;
  }
  Result<void> process(std::vector<RawEncoding>& encodings, bool add_special_tokens) const override {
    for (const auto& p : parts_) MODELKIT_TRY_VOID(p->process(encodings, add_special_tokens));
    return {};
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> parts_;
};

struct Tokenizer::Impl {
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<Model> model;
  std::unique_ptr<PostProcessor> post_processor;
  AddedVocabulary added;
  bool track_offsets = false;
  std::optional<std::size_t> model_max_length;
  std::optional<TruncationParams> truncation;  // as stored in the file
  std::optional<PaddingParams> padding;
  std::string source;
};

// Parses tokenizer.json content into an Impl (loader.cpp).
Result<std::shared_ptr<Tokenizer::Impl>> load_tokenizer_json(std::string_view json, std::string_view source);

}  // namespace modelkit::tokenizer
