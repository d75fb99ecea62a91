// Tokenization models of tokenizer.json ("model"): BPE, WordPiece, Unigram, WordLevel.
#pragma once

#include "tokenizer/pipeline.hpp"

#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace modelkit::tokenizer {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept;
};
struct StringEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
};
using Vocab = std::unordered_map<std::string, std::uint32_t, StringHash, StringEq>;

// Reverse vocabulary: id -> token text.
class ReverseVocab {
 public:
  void build(const Vocab& vocab);
  [[nodiscard]] const std::string* find(std::uint32_t id) const {
    if (id < dense_.size()) return dense_[id];
    auto it = sparse_.find(id);
    return it == sparse_.end() ? nullptr : it->second;
  }

 private:
  // Real vocabularies number their tokens densely, but a file may use any u32 id: ids far past
  // the vocabulary size go to a map, so one id of 246666665 does not allocate a 2 GB table.
  std::vector<const std::string*> dense_;
  std::unordered_map<std::uint32_t, const std::string*> sparse_;
};

struct BpeConfig {
  Vocab vocab;
  std::vector<std::pair<std::string, std::string>> merges;
  std::optional<std::string> unk_token;
  std::optional<std::string> continuing_subword_prefix;
  std::optional<std::string> end_of_word_suffix;
  bool fuse_unk = false;
  bool byte_fallback = false;
  bool ignore_merges = false;
};

class BpeModel final : public Model {
 public:
  // Errors: a merge whose parts or result are not in the vocabulary (names the merge).
  [[nodiscard]] static Result<std::unique_ptr<BpeModel>> create(BpeConfig config);
  Result<void> tokenize(std::string_view piece, std::vector<Token>& out) const override;
  [[nodiscard]] std::optional<std::uint32_t> token_to_id(std::string_view token) const override;
  [[nodiscard]] std::size_t vocab_size() const override { return config_.vocab.size(); }

 private:
  struct Symbol {
    std::uint32_t id;
    std::int32_t prev;
    std::int32_t next;
    std::uint32_t len;
  };
  Result<void> merge_word(std::string_view word, std::vector<std::uint32_t>& ids) const;
  [[nodiscard]] const std::pair<std::uint32_t, std::uint32_t>* find_merge(std::uint32_t a, std::uint32_t b) const;

  BpeConfig config_;
  ReverseVocab reverse_;
  std::unordered_map<std::uint64_t, std::pair<std::uint32_t, std::uint32_t>> merges_;  // (a,b) -> (rank, new id)
  std::optional<std::uint32_t> unk_id_;
  std::array<std::optional<std::uint32_t>, 256> byte_ids_{};  // "<0xNN>" ids for byte_fallback
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<std::uint32_t>, StringHash, StringEq> cache_;
};

class WordPieceModel final : public Model {
 public:
  static Result<std::unique_ptr<WordPieceModel>> create(Vocab vocab, std::string unk_token, std::string prefix,
                                                        std::size_t max_input_chars_per_word);
  Result<void> tokenize(std::string_view piece, std::vector<Token>& out) const override;
  [[nodiscard]] std::optional<std::uint32_t> token_to_id(std::string_view token) const override;
  [[nodiscard]] std::size_t vocab_size() const override { return vocab_.size(); }
  [[nodiscard]] bool offsets_supported() const override { return true; }
  [[nodiscard]] bool token_spans(std::string_view piece, const Token* tokens, std::size_t count,
                                 std::vector<std::pair<std::uint32_t, std::uint32_t>>& spans) const override;

 private:
  Vocab vocab_;
  std::string unk_token_;
  std::string prefix_;
  std::size_t max_chars_ = 100;
  std::size_t max_token_bytes_ = 0;
};

class WordLevelModel final : public Model {
 public:
  WordLevelModel(Vocab vocab, std::string unk_token) : vocab_(std::move(vocab)), unk_token_(std::move(unk_token)) {}
  Result<void> tokenize(std::string_view piece, std::vector<Token>& out) const override;
  [[nodiscard]] std::optional<std::uint32_t> token_to_id(std::string_view token) const override;
  [[nodiscard]] std::size_t vocab_size() const override { return vocab_.size(); }

 private:
  Vocab vocab_;
  std::string unk_token_;
};

class UnigramModel final : public Model {
 public:
  static Result<std::unique_ptr<UnigramModel>> create(std::vector<std::pair<std::string, double>> pieces,
                                                      std::optional<std::size_t> unk_id, bool byte_fallback);
  Result<void> tokenize(std::string_view piece, std::vector<Token>& out) const override;
  [[nodiscard]] std::optional<std::uint32_t> token_to_id(std::string_view token) const override;
  [[nodiscard]] std::size_t vocab_size() const override { return pieces_.size(); }

 private:
  Result<void> encode(std::string_view sentence, std::vector<std::string>& out) const;

  std::vector<std::pair<std::string, double>> pieces_;
  Vocab token_to_id_;
  // Byte trie over the pieces: child lookup by (node << 8 | byte); node -> piece id or -1.
  std::unordered_map<std::uint64_t, std::uint32_t> children_;
  std::vector<std::int32_t> node_piece_;
  double min_score_ = 0;
  std::optional<std::size_t> unk_id_;
  bool byte_fallback_ = false;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<std::string>, StringHash, StringEq> cache_;
};

}  // namespace modelkit::tokenizer
