// Hugging Face tokenizer.json engine: loads the file the `tokenizers` library writes (current and
// old serializations) and encodes text exactly as its Rust core does: added tokens, normalizer,
// pre-tokenizer, model (WordPiece, BPE, Unigram, WordLevel), post-processor, truncation, padding.
#pragma once

#include <modelkit/result.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace modelkit::tokenizer {

// Bounds on what one encoding may take, whatever a tokenizer.json asks for: text longer than
// kMaxTextBytes is refused (split it; one input byte costs tens of bytes in flight), and no
// encoding grows past kMaxEncodingTokens, so a file padding to a billion tokens is an error at
// load, not a multi-gigabyte allocation. Hugging Face models take at most a few thousand tokens.
inline constexpr std::size_t kMaxTextBytes = std::size_t{1} << 20;
inline constexpr std::size_t kMaxEncodingTokens = std::size_t{1} << 20;

struct Encoding {
  std::vector<std::uint32_t> ids;
  std::vector<std::string> tokens;
  std::vector<std::uint32_t> type_ids;
  std::vector<std::uint32_t> attention_mask;
  std::vector<std::uint32_t> special_tokens_mask;
  // Per token [start, end) as UTF-8 byte offsets into the text of the token's own sequence (the
  // pair's second text for its tokens), as Hugging Face's Rust core reports them; special and
  // padding tokens get (0, 0). Empty unless offsets were asked for (Tokenizer::set_offsets) and
  // the tokenizer supports them (Tokenizer::supports_offsets).
  std::vector<std::pair<std::size_t, std::size_t>> offsets;
};

// Code point index of each byte offset of `text` in `byte_offsets` (Python str indices, as
// transformers' pipelines report): a byte offset inside a character counts as that character.
[[nodiscard]] std::vector<std::pair<std::size_t, std::size_t>> char_offsets(
    std::string_view text, const std::vector<std::pair<std::size_t, std::size_t>>& byte_offsets);

// `modelkit tokenize` output: {"ids": [...], "tokens": [...]} on one line (with its newline), and
// the table form: a header line, then index, id, type id and the token as a JSON string.
[[nodiscard]] std::string encoding_json_line(const Encoding& encoding);
[[nodiscard]] std::string encoding_table(const Encoding& encoding, std::size_t input_index);

enum class TruncationStrategy { longest_first, only_first, only_second };
enum class Direction { left, right };

struct TruncationParams {
  std::size_t max_length = 512;
  TruncationStrategy strategy = TruncationStrategy::longest_first;
  Direction direction = Direction::right;
  std::size_t stride = 0;
};

struct PaddingParams {
  // nullopt: pad to the longest of the batch (a single encoding: no padding); else to this length.
  std::optional<std::size_t> fixed_length;
  Direction direction = Direction::right;
  std::optional<std::size_t> pad_to_multiple_of;
  std::uint32_t pad_id = 0;
  std::uint32_t pad_type_id = 0;
  std::string pad_token = "[PAD]";
};

class Tokenizer {
 public:
  // Reads tokenizer.json (or the tokenizer.json inside a folder) and, when present beside it,
  // tokenizer_config.json for model_max_length. Errors name the file and the field.
  [[nodiscard]] static Result<Tokenizer> from_file(const std::filesystem::path& path);
  // Parses tokenizer.json content; `source` names it in errors.
  [[nodiscard]] static Result<Tokenizer> from_json(std::string_view json, std::string_view source = "tokenizer.json");

  // Encodes one text or a pair. Truncation and padding apply as configured.
  // Errors: text that is not valid UTF-8 or longer than kMaxTextBytes, truncation that cannot be
  // satisfied, a normalizer that grows the text without bound, more than kMaxEncodingTokens.
  [[nodiscard]] Result<Encoding> encode(std::string_view text, std::optional<std::string_view> pair = std::nullopt,
                                        bool add_special_tokens = true) const;

  [[nodiscard]] const std::optional<TruncationParams>& truncation() const;
  [[nodiscard]] const std::optional<PaddingParams>& padding() const;
  void set_truncation(std::optional<TruncationParams> params);
  void set_padding(std::optional<PaddingParams> params);
  // Fixed sequence length (calibration): truncate to `length` and pad to exactly `length` with the
  // padding token of the stored padding, else the tokenizer's pad/[PAD]/<pad> token, else id 0.
  // An encoding that still comes out longer (a post-processor template that repeats a sequence
  // adds more than truncation can allow for) is an error. set_truncation/set_padding undo it.
  void set_fixed_length(std::size_t length);

  // Whether encode can report token offsets for this tokenizer: WordPiece models (BERT and
  // its kin) so far; for others offsets stay empty rather than risk wrong ones.
  [[nodiscard]] bool supports_offsets() const;
  // Asks encode to fill Encoding::offsets (when supports_offsets()); off by default, as it costs
  // alignment tracking through the normalizer.
  void set_offsets(bool on) { offsets_ = on; }

  // model_max_length from tokenizer_config.json, when given there and not a "very large" sentinel.
  [[nodiscard]] std::optional<std::size_t> model_max_length() const;
  [[nodiscard]] std::optional<std::uint32_t> token_to_id(std::string_view token) const;
  // Model vocabulary plus added tokens not in it.
  [[nodiscard]] std::size_t vocab_size() const;

  // Copies share the loaded pipeline (immutable, thread-safe to encode with) and carry their own
  // truncation/padding settings.
  Tokenizer(const Tokenizer&);
  Tokenizer& operator=(const Tokenizer&);
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
  std::optional<TruncationParams> truncation_;
  std::optional<PaddingParams> padding_;
  std::optional<std::size_t> fixed_length_;  // set_fixed_length's promise, checked by encode
  bool offsets_ = false;
};

// Encodes each line of a text file (without its '\n' and a trailing '\r') read a line at a time,
// so memory follows one line, not the file; `emit` gets each encoding and the line's 0-based
// index and may stop the loop with an error. A line longer than kMaxTextBytes is an error naming
// its number and length (it is never held whole); so is a line that does not encode.
[[nodiscard]] Result<void> encode_file_lines(const Tokenizer& tokenizer, const std::filesystem::path& file,
                                             bool add_special_tokens,
                                             const std::function<Result<void>(const Encoding&, std::size_t)>& emit);

}  // namespace modelkit::tokenizer
