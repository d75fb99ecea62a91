#include "tokenizer/tokenizer_impl.hpp"

#include "tokenizer/unicode.hpp"

#include <util/file.hpp>
#include <util/json_read.hpp>
#include <util/json_writer.hpp>

#include <cinttypes>
#include <cstdio>

#include <algorithm>

namespace modelkit::tokenizer {

std::string encoding_json_line(const Encoding& e) {
  std::string out = "{\"ids\": [";
  for (std::size_t i = 0; i < e.ids.size(); ++i) out += (i ? ", " : "") + std::to_string(e.ids[i]);
  out += "], \"tokens\": [";
  for (std::size_t i = 0; i < e.tokens.size(); ++i) {
    if (i) out += ", ";
    util::append_json_string(out, e.tokens[i]);
  }
  out += "]}\n";
  return out;
}

std::string encoding_table(const Encoding& e, std::size_t input_index) {
  char line[128];
  std::snprintf(line, sizeof line, "input %zu: %zu tokens\n", input_index, e.ids.size());
  std::string out = line;
  std::snprintf(line, sizeof line, "%6s  %8s  %4s  %s\n", "index", "id", "type", "token");
  out += line;
  for (std::size_t i = 0; i < e.ids.size(); ++i) {
    std::string shown;
    util::append_json_string(shown, e.tokens[i]);
    std::snprintf(line, sizeof line, "%6zu  %8" PRIu32 "  %4" PRIu32 "  ", i, e.ids[i],
                  i < e.type_ids.size() ? e.type_ids[i] : 0u);
    out += line + shown + "\n";
  }
  return out;
}

// ---------------- added vocabulary ----------------

void AddedVocabulary::Trie::insert(std::string_view pattern, std::uint32_t id) {
  if (pattern.empty()) return;
  std::uint32_t node = 0;
  for (unsigned char b : pattern) {
    auto [it, inserted] =
        children.try_emplace((static_cast<std::uint64_t>(node) << 8) | b, static_cast<std::uint32_t>(value.size()));
    if (inserted) value.push_back(-1);
    node = it->second;
  }
  value[node] = static_cast<std::int32_t>(id);
  first_byte[static_cast<unsigned char>(pattern[0])] = true;
  empty = false;
}

std::pair<std::size_t, std::uint32_t> AddedVocabulary::Trie::longest_at(std::string_view s, std::size_t pos) const {
  std::pair<std::size_t, std::uint32_t> best{0, 0};
  if (!first_byte[static_cast<unsigned char>(s[pos])]) return best;
  std::uint32_t node = 0;
  for (std::size_t k = pos; k < s.size(); ++k) {
    auto it = children.find((static_cast<std::uint64_t>(node) << 8) | static_cast<unsigned char>(s[k]));
    if (it == children.end()) break;
    node = it->second;
    if (value[node] >= 0) best = {k + 1 - pos, static_cast<std::uint32_t>(value[node])};
  }
  return best;
}

namespace {

std::size_t normalized_bytes_bound(std::size_t input_bytes) {
  return input_bytes * kNormalizedGrowthFactor + kNormalizedSlackBytes;
}

std::string normalizer_overflow(std::size_t input_bytes, std::size_t bound) {
  return "the normalizer grows " + std::to_string(input_bytes) + " bytes of text past " + std::to_string(bound) +
         " bytes (" + std::to_string(kNormalizedGrowthFactor) +
         " times the input); the tokenizer.json normalizer expands text without bound";
}

}  // namespace

Result<void> AddedVocabulary::add_tokens(const std::vector<AddedToken>& tokens, const Model& model,
                                         const Normalizer* normalizer) {
  std::uint32_t next_id = static_cast<std::uint32_t>(model.vocab_size());
  if (!by_id_.empty()) {
    std::uint32_t max = by_id_.rbegin()->first;
    next_id = (max >= model.vocab_size() || model.vocab_size() == 0) ? max + 1 : next_id;
  }
  Scratch scratch;
  for (const AddedToken& token : tokens) {
    if (token.content.empty()) continue;
    if (auto it = by_content_.find(token.content); it != by_content_.end()) {
      auto r = by_id_.find(it->second);
      if (r != by_id_.end() && r->second == token) continue;
    }
    std::uint32_t id;
    if (auto known = find(token.content)) id = *known;
    else if (auto in_model = model.token_to_id(token.content)) id = *in_model;
    else id = next_id++;
    if (token.normalized && normalizer != nullptr) {
      Segment seg = make_segment(token.content, false);
      scratch.max_text_bytes = normalized_bytes_bound(token.content.size());
      scratch.overflowed = false;
      normalizer->normalize(seg, scratch);
      if (scratch.overflowed || seg.text.size() > scratch.max_text_bytes)
        return failure("added token '" + token.content + "': " +
                       normalizer_overflow(token.content.size(), scratch.max_text_bytes));
      if (seg.text != token.content) normalized_form_[id] = seg.text;
    }
    by_content_[token.content] = id;
    by_id_[id] = token;
  }
  raw_trie_ = Trie{};
  normalized_trie_ = Trie{};
  for (const auto& [id, token] : by_id_) {
    if (token.normalized) {
      auto nf = normalized_form_.find(id);
      normalized_trie_.insert(nf != normalized_form_.end() ? std::string_view(nf->second) : token.content, id);
    } else {
      raw_trie_.insert(token.content, id);
    }
  }
  return {};
}

std::optional<std::uint32_t> AddedVocabulary::find(std::string_view content) const {
  auto it = by_content_.find(content);
  if (it == by_content_.end()) return std::nullopt;
  return it->second;
}

namespace {

bool ends_with_word(std::string_view s) {
  if (s.empty()) return false;
  std::size_t k = s.size() - 1;
  while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
  std::size_t len = 0;
  return unicode::is_regex_word(unicode::decode(s, k, len));
}

bool starts_with_word(std::string_view s) {
  if (s.empty()) return false;
  std::size_t len = 0;
  return unicode::is_regex_word(unicode::decode(s, 0, len));
}

// Start of the whitespace run that ends s (regex \s*$).
std::size_t trailing_space_start(std::string_view s) {
  std::size_t end = s.size();
  while (end > 0) {
    std::size_t k = end - 1;
    while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
    std::size_t len = 0;
    if (!unicode::is_whitespace(unicode::decode(s, k, len))) break;
    end = k;
  }
  return end;
}

// Length of the whitespace run that starts s (regex ^\s*).
std::size_t leading_space_length(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t len = 0;
    if (!unicode::is_whitespace(unicode::decode(s, i, len))) break;
    i += len;
  }
  return i;
}

}  // namespace

void AddedVocabulary::split_segment(Segment& seg, const Trie& trie, bool track, std::vector<Segment>& out) const {
  const std::string& s = seg.text;
  if (s.empty()) return;
  auto push = [&](std::size_t b, std::size_t e, std::int32_t id) {
    if (b == e) return;
    Segment piece = (b == 0 && e == s.size()) ? seg : slice(seg, b, e, track);
    if (b == 0 && e == s.size() && track) piece.origin = seg.align.empty() ? seg.origin : seg.align[0];
    piece.added_id = id;
    out.push_back(std::move(piece));
  };
  if (trie.empty) {
    push(0, s.size(), -1);
    return;
  }
  std::size_t start_offset = 0;
  std::size_t pos = 0;
  while (pos < s.size()) {
    auto [len, id] = trie.longest_at(s, pos);
    if (len == 0) {
      ++pos;
      continue;
    }
    std::size_t start = pos;
    std::size_t stop = pos + len;
    pos = stop;  // matches never overlap, skipped ones included
    const AddedToken& token = by_id_.at(id);
    if (token.single_word) {
      bool start_space = start == 0 || !ends_with_word(std::string_view(s).substr(0, start));
      bool stop_space = stop == s.size() || !starts_with_word(std::string_view(s).substr(stop));
      if (!start_space || !stop_space) continue;
    }
    if (token.lstrip) start = std::max(trailing_space_start(std::string_view(s).substr(0, start)), start_offset);
    if (token.rstrip) stop += leading_space_length(std::string_view(s).substr(stop));
    if (start_offset < start) push(start_offset, start, -1);
    push(start, stop, static_cast<std::int32_t>(id));
    start_offset = stop;
  }
  if (start_offset != s.size()) push(start_offset, s.size(), -1);
}

Result<void> AddedVocabulary::extract_and_normalize(std::string_view text, const Normalizer* normalizer,
                                                    Scratch& scratch, std::vector<Segment>& out) const {
  out.clear();
  scratch.max_text_bytes = normalized_bytes_bound(text.size());
  scratch.overflowed = false;
  Segment whole = make_segment(text, scratch.track);
  thread_local std::vector<Segment> first;
  first.clear();
  split_segment(whole, raw_trie_, scratch.track, first);
  for (Segment& seg : first) {
    if (seg.added_id >= 0) {
      out.push_back(std::move(seg));
      continue;
    }
    if (normalizer != nullptr) normalizer->normalize(seg, scratch);
    if (scratch.overflowed || seg.text.size() > scratch.max_text_bytes)
      return failure(normalizer_overflow(text.size(), scratch.max_text_bytes));
    split_segment(seg, normalized_trie_, scratch.track, out);
  }
  return {};
}

// ---------------- post-processors ----------------

TemplateProcessor::TemplateProcessor(std::vector<Piece> single, std::vector<Piece> pair,
                                     std::unordered_map<std::string, SpecialTokenSpec> specials)
    : single_(std::move(single)), pair_(std::move(pair)), specials_(std::move(specials)) {
  auto count = [&](const std::vector<Piece>& pieces) {
    std::size_t n = 0;
    for (const auto& p : pieces)
      if (!p.is_sequence)
        if (auto it = specials_.find(p.special); it != specials_.end()) n += it->second.ids.size();
    return n;
  };
  added_single_ = count(single_);
  added_pair_ = count(pair_);
}

Result<void> TemplateProcessor::process(std::vector<RawEncoding>& encodings, bool add_special_tokens) const {
  const auto& pieces = encodings.size() == 2 ? pair_ : single_;
  std::vector<RawEncoding> result;
  result.reserve(pieces.size());
  for (const Piece& p : pieces) {
    if (p.is_sequence) {
      if (static_cast<std::size_t>(p.sequence) >= encodings.size())
        return failure("post_processor: the template uses sequence $B but only one sequence was given");
      RawEncoding e = encodings[static_cast<std::size_t>(p.sequence)];
      std::fill(e.type_ids.begin(), e.type_ids.end(), p.type_id);
      result.push_back(std::move(e));
    } else if (add_special_tokens) {
      auto it = specials_.find(p.special);
      if (it == specials_.end()) return failure("post_processor: special token '" + p.special + "' is not defined");
      RawEncoding e;
      const auto& spec = it->second;
      e.ids = spec.ids;
      e.tokens = spec.tokens;
      e.type_ids.assign(spec.ids.size(), p.type_id);
      e.special_mask.assign(spec.ids.size(), 1);
      e.attention.assign(spec.ids.size(), 1);
      e.offsets.assign(spec.ids.size(), {0, 0});
      result.push_back(std::move(e));
    }
  }
  encodings.swap(result);
  return {};
}

Result<void> BertProcessor::process(std::vector<RawEncoding>& encodings, bool add_special_tokens) const {
  if (roberta_)
    for (auto& e : encodings) std::fill(e.type_ids.begin(), e.type_ids.end(), 0u);
  if (!add_special_tokens) return {};
  for (std::size_t i = 0; i < encodings.size(); ++i) {
    RawEncoding& e = encodings[i];
    RawEncoding out;
    const bool first = i == 0;
    const auto& head = first || roberta_ ? (first ? cls_ : sep_) : sep_;
    const bool has_head = first || roberta_;
    const std::uint32_t type = first || roberta_ ? 0u : 1u;
    if (has_head) {
      out.ids.push_back(head.second);
      out.tokens.push_back(head.first);
      out.type_ids.push_back(0);
      out.special_mask.push_back(1);
      out.attention.push_back(1);
      out.offsets.emplace_back(0, 0);
    }
    out.append(e);
    out.ids.push_back(sep_.second);
    out.tokens.push_back(sep_.first);
    out.type_ids.push_back(type);
    out.special_mask.push_back(1);
    out.attention.push_back(1);
    out.offsets.emplace_back(0, 0);
    e = std::move(out);
  }
  return {};
}

// ---------------- tokenizer ----------------

Tokenizer::Tokenizer(std::shared_ptr<Impl> impl)
    : impl_(std::move(impl)), truncation_(impl_->truncation), padding_(impl_->padding) {}
Tokenizer::Tokenizer(const Tokenizer&) = default;
Tokenizer& Tokenizer::operator=(const Tokenizer&) = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Result<Tokenizer> Tokenizer::from_json(std::string_view json, std::string_view source) {
  MODELKIT_TRY(auto impl, load_tokenizer_json(json, source));
  return Tokenizer(std::move(impl));
}

namespace {

// tokenizer_config.json's model_max_length. The on-demand parser is used because transformers
// writes int(1e30) there, an integer the DOM parser refuses.
Result<std::optional<std::size_t>> read_model_max_length(const std::string& text) {
  simdjson::padded_string padded(text);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  if (auto err = parser.iterate(padded).get(doc); err != simdjson::SUCCESS)
    return failure(std::string("invalid JSON (") + simdjson::error_message(err) + ")");
  simdjson::ondemand::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) return failure("expected a JSON object at the top level");
  simdjson::ondemand::value v;
  auto err = obj.find_field_unordered("model_max_length").get(v);
  if (err == simdjson::NO_SUCH_FIELD) return std::optional<std::size_t>{};
  if (err != simdjson::SUCCESS) return failure(std::string("invalid JSON (") + simdjson::error_message(err) + ")");
  simdjson::ondemand::json_type type;
  if (v.type().get(type) != simdjson::SUCCESS) return failure("invalid JSON at field 'model_max_length'");
  if (type == simdjson::ondemand::json_type::null) return std::optional<std::size_t>{};
  double n = 0;
  if (type != simdjson::ondemand::json_type::number || v.get_double().get(n) != simdjson::SUCCESS)
    return failure("field 'model_max_length' must be a number");
  // transformers writes int(1e30) for "no limit".
  if (n >= 1 && n < 1e15) return std::optional<std::size_t>{static_cast<std::size_t>(n)};
  return std::optional<std::size_t>{};
}

}  // namespace

Result<Tokenizer> Tokenizer::from_file(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::path file = path;
  if (std::filesystem::is_directory(path, ec)) file = path / "tokenizer.json";
  if (!std::filesystem::exists(file, ec)) return failure("no tokenizer.json at '" + file.string() + "'");
  MODELKIT_TRY(auto text, util::read_file(file));
  MODELKIT_TRY(auto impl, load_tokenizer_json(text, file.string()));
  std::filesystem::path config = file.parent_path() / "tokenizer_config.json";
  if (std::filesystem::exists(config, ec)) {
    MODELKIT_TRY(auto config_text, util::read_file(config));
    MODELKIT_TRY_CTX(auto max_length, read_model_max_length(config_text), config.string());
    impl->model_max_length = max_length;
  }
  return Tokenizer(std::move(impl));
}

const std::optional<TruncationParams>& Tokenizer::truncation() const { return truncation_; }
const std::optional<PaddingParams>& Tokenizer::padding() const { return padding_; }
void Tokenizer::set_truncation(std::optional<TruncationParams> params) {
  truncation_ = std::move(params);
  fixed_length_.reset();
}
void Tokenizer::set_padding(std::optional<PaddingParams> params) {
  padding_ = std::move(params);
  fixed_length_.reset();
}
std::optional<std::size_t> Tokenizer::model_max_length() const { return impl_->model_max_length; }

std::optional<std::uint32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (auto id = impl_->added.find(token)) return id;
  return impl_->model->token_to_id(token);
}

std::size_t Tokenizer::vocab_size() const {
  std::size_t n = impl_->model->vocab_size();
  // Added tokens outside the model vocabulary.
  return n + impl_->added.size();
}

void Tokenizer::set_fixed_length(std::size_t length) {
  TruncationParams t = truncation_.value_or(TruncationParams{});
  t.max_length = length;
  truncation_ = t;
  PaddingParams p = padding_.value_or(PaddingParams{});
  if (!padding_) {
    for (const char* name : {"[PAD]", "<pad>", "<|endoftext|>", "<|pad|>"})
      if (auto id = token_to_id(name)) {
        p.pad_id = *id;
        p.pad_token = name;
        break;
      }
  }
  p.fixed_length = length;
  p.pad_to_multiple_of.reset();  // a stored multiple would pad past `length` (8 -> 12 for 6)
  padding_ = p;
  fixed_length_ = length;
}

namespace {

void truncate_one(RawEncoding& e, std::size_t max_len, Direction direction) {
  if (max_len >= e.size()) return;
  std::size_t begin = direction == Direction::right ? 0 : e.size() - max_len;
  std::size_t end = begin + max_len;
  auto cut = [&](auto& v) {
    v.erase(v.begin() + static_cast<std::ptrdiff_t>(end), v.end());
    v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(begin));
  };
  cut(e.ids);
  cut(e.tokens);
  cut(e.type_ids);
  cut(e.special_mask);
  cut(e.attention);
  cut(e.offsets);
}

Result<void> truncate_encodings(RawEncoding& a, RawEncoding* b, const TruncationParams& params) {
  auto check_stride = [&](std::size_t len, const RawEncoding& e) -> Result<void> {
    if (len > 0 && len < e.size() && params.stride >= len)
      return failure("truncation stride " + std::to_string(params.stride) + " must be below the length " +
                     std::to_string(len) + " left after special tokens");
    return {};
  };
  if (params.max_length == 0) {
    truncate_one(a, 0, params.direction);
    if (b) truncate_one(*b, 0, params.direction);
    return {};
  }
  std::size_t total = a.size() + (b ? b->size() : 0);
  if (total <= params.max_length) return {};
  std::size_t to_remove = total - params.max_length;
  switch (params.strategy) {
    case TruncationStrategy::longest_first: {
      if (b) {
        std::size_t n1 = a.size();
        std::size_t n2 = b->size();
        bool swap = n1 > n2;
        if (swap) std::swap(n1, n2);
        if (n1 > params.max_length) n2 = n1;
        else n2 = std::max(n1, params.max_length - n1);
        if (n1 + n2 > params.max_length) {
          n1 = params.max_length / 2;
          n2 = n1 + params.max_length % 2;
        }
        if (swap) std::swap(n1, n2);
        MODELKIT_TRY_VOID(check_stride(n1, a));
        MODELKIT_TRY_VOID(check_stride(n2, *b));
        truncate_one(a, n1, params.direction);
        truncate_one(*b, n2, params.direction);
      } else {
        MODELKIT_TRY_VOID(check_stride(total - to_remove, a));
        truncate_one(a, total - to_remove, params.direction);
      }
      return {};
    }
    case TruncationStrategy::only_first:
    case TruncationStrategy::only_second: {
      RawEncoding* target = params.strategy == TruncationStrategy::only_first ? &a : b;
      if (target == nullptr) return failure("truncation strategy only_second needs a second sequence");
      if (target->size() <= to_remove)
        return failure("the sequence to truncate is too short to respect max_length " +
                       std::to_string(params.max_length));
      MODELKIT_TRY_VOID(check_stride(target->size() - to_remove, *target));
      truncate_one(*target, target->size() - to_remove, params.direction);
      return {};
    }
  }
  return {};
}

Result<void> pad_encoding(RawEncoding& e, const PaddingParams& params) {
  std::size_t target = params.fixed_length.value_or(e.size());
  if (target > kMaxEncodingTokens)
    return failure("padding to " + std::to_string(target) + " tokens is more than the " +
                   std::to_string(kMaxEncodingTokens) + " an encoding may hold");
  if (params.pad_to_multiple_of && *params.pad_to_multiple_of > 0 && target % *params.pad_to_multiple_of != 0) {
    if (*params.pad_to_multiple_of > kMaxEncodingTokens)
      return failure("padding to a multiple of " + std::to_string(*params.pad_to_multiple_of) + " tokens is more than the " +
                     std::to_string(kMaxEncodingTokens) + " an encoding may hold");
    target += *params.pad_to_multiple_of - target % *params.pad_to_multiple_of;
  }
  if (e.size() >= target) return {};
  std::size_t n = target - e.size();
  auto pad = [&](auto& v, const auto& value) {
    if (params.direction == Direction::right) v.insert(v.end(), n, value);
    else v.insert(v.begin(), n, value);
  };
  pad(e.ids, params.pad_id);
  pad(e.type_ids, params.pad_type_id);
  pad(e.tokens, params.pad_token);
  pad(e.attention, 0u);
  pad(e.special_mask, 1u);
  pad(e.offsets, std::pair<std::uint32_t, std::uint32_t>{0, 0});
  return {};
}

struct EncodeState {
  Scratch scratch;
  std::vector<Segment> pieces;
  std::vector<Token> tokens;
  bool offsets_failed = false;
};

}  // namespace

// Original byte span of the normalized bytes [begin, end) of seg (HF convert_offsets: from the
// start of the first byte's source character to the end of the last one's).
static std::pair<std::uint32_t, std::uint32_t> original_span(const Segment& seg, std::string_view text,
                                                             std::size_t begin, std::size_t end) {
  if (begin >= end || end > seg.align.size()) return {seg.origin, seg.origin};
  const std::uint32_t last = seg.align[end - 1];
  std::size_t last_end = last;
  if (last < text.size())
    last_end = std::min(text.size(), last + unicode::sequence_length(static_cast<unsigned char>(text[last])));
  return {seg.align[begin], static_cast<std::uint32_t>(last_end)};
}

static Result<RawEncoding> encode_sequence(const Tokenizer::Impl& impl, const std::optional<TruncationParams>& trunc,
                                           std::string_view text, std::uint32_t type_id, bool want_offsets,
                                           EncodeState& st) {
  st.scratch.track = impl.track_offsets || want_offsets;
  MODELKIT_TRY_VOID(impl.added.extract_and_normalize(text, impl.normalizer.get(), st.scratch, st.pieces));
  if (impl.pre_tokenizer) MODELKIT_TRY_VOID(impl.pre_tokenizer->pre_tokenize(st.pieces, st.scratch));

  // The Rust core stops tokenizing once max_length tokens exist (tokenize_with_limit).
  std::optional<std::size_t> limit;
  Direction direction = Direction::right;
  if (trunc && (trunc->strategy != TruncationStrategy::only_second || type_id != 0)) {
    limit = trunc->max_length;
    direction = trunc->direction;
  }
  const std::size_t n = st.pieces.size();
  std::vector<std::vector<Token>> per_piece;
  RawEncoding enc;
  // With offsets: the original span of each token, beside st.tokens (or per_piece).
  std::vector<std::pair<std::uint32_t, std::uint32_t>> spans;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> piece_spans;
  auto tokenize_piece = [&](Segment& seg, std::vector<Token>& out) -> Result<void> {
    const std::size_t first = out.size();
    if (seg.added_id >= 0) out.push_back({static_cast<std::uint32_t>(seg.added_id), seg.text});
    else MODELKIT_TRY_VOID(impl.model->tokenize(seg.text, out));
    if (!want_offsets) return {};
    piece_spans.clear();
    if (seg.added_id >= 0) piece_spans.emplace_back(0, static_cast<std::uint32_t>(seg.text.size()));
    else if (!impl.model->token_spans(seg.text, out.data() + first, out.size() - first, piece_spans)) {
      // Unexpected tokens: report no offsets rather than wrong ones.
      st.offsets_failed = true;
      piece_spans.assign(out.size() - first, {0, 0});
    }
    for (const auto& [b, e] : piece_spans) spans.push_back(original_span(seg, text, b, e));
    return {};
  };
  if (!limit) {
    st.tokens.clear();
    for (Segment& seg : st.pieces) MODELKIT_TRY_VOID(tokenize_piece(seg, st.tokens));
  } else if (direction == Direction::right) {
    st.tokens.clear();
    for (std::size_t i = 0; i < n; ++i) {
      MODELKIT_TRY_VOID(tokenize_piece(st.pieces[i], st.tokens));
      if (st.tokens.size() >= *limit) break;
    }
  } else {
    per_piece.resize(n);
    std::size_t total = 0;
    std::size_t first = n;
    // Pieces are tokenized last to first: their spans come in that order, a piece at a time.
    std::vector<std::size_t> span_begin(n + 1, 0);
    for (std::size_t i = n; i-- > 0;) {
      span_begin[i] = spans.size();
      MODELKIT_TRY_VOID(tokenize_piece(st.pieces[i], per_piece[i]));
      total += per_piece[i].size();
      first = i;
      if (total >= *limit) break;
    }
    st.tokens.clear();
    for (std::size_t i = first; i < n; ++i)
      for (auto& t : per_piece[i]) st.tokens.push_back(std::move(t));
    if (want_offsets) {
      std::vector<std::pair<std::uint32_t, std::uint32_t>> ordered;
      ordered.reserve(spans.size());
      for (std::size_t i = first; i < n; ++i)
        ordered.insert(ordered.end(), spans.begin() + static_cast<std::ptrdiff_t>(span_begin[i]),
                       spans.begin() + static_cast<std::ptrdiff_t>(span_begin[i] + per_piece[i].size()));
      spans.swap(ordered);
    }
  }
  const std::size_t count = st.tokens.size();
  enc.ids.reserve(count);
  enc.tokens.reserve(count);
  for (auto& t : st.tokens) {
    enc.ids.push_back(t.id);
    enc.tokens.push_back(std::move(t.value));
  }
  enc.type_ids.assign(count, type_id);
  enc.special_mask.assign(count, 0);
  enc.attention.assign(count, 1);
  if (want_offsets) enc.offsets = std::move(spans);
  else enc.offsets.assign(count, {0, 0});
  return enc;
}

Result<Encoding> Tokenizer::encode(std::string_view text, std::optional<std::string_view> pair,
                                   bool add_special_tokens) const {
  for (auto piece : {std::optional<std::string_view>(text), pair})
    if (piece && piece->size() > kMaxTextBytes)
      return failure((piece->data() == text.data() ? std::string("text") : std::string("pair text")) + " is " +
                     std::to_string(piece->size()) + " bytes, more than the " + std::to_string(kMaxTextBytes) +
                     " one encoding takes; split it");
  if (!unicode::valid_utf8(text)) return failure("text is not valid UTF-8");
  if (pair && !unicode::valid_utf8(*pair)) return failure("pair text is not valid UTF-8");
  const Impl& impl = *impl_;
  thread_local EncodeState state;
  const bool want_offsets = offsets_ && supports_offsets();
  state.offsets_failed = false;
  MODELKIT_TRY(auto a, encode_sequence(impl, truncation_, text, 0, want_offsets, state));
  std::optional<RawEncoding> b;
  if (pair) {
    MODELKIT_TRY(auto rb, encode_sequence(impl, truncation_, *pair, 1, want_offsets, state));
    b = std::move(rb);
  }
  if (truncation_) {
    TruncationParams params = *truncation_;
    std::size_t n_added = impl.post_processor ? impl.post_processor->added_tokens(b.has_value()) : 0;
    if (add_special_tokens && n_added > 0) {
      if (n_added > params.max_length)
        return failure("truncation max_length " + std::to_string(params.max_length) + " is below the " +
                       std::to_string(n_added) + " special tokens the post-processor adds");
      params.max_length -= n_added;
    }
    MODELKIT_TRY_VOID(truncate_encodings(a, b ? &*b : nullptr, params));
  }
  std::vector<RawEncoding> parts;
  parts.push_back(std::move(a));
  if (b) parts.push_back(std::move(*b));
  if (impl.post_processor) {
    for (std::size_t i = 0; i < parts.size(); ++i)
      std::fill(parts[i].type_ids.begin(), parts[i].type_ids.end(), static_cast<std::uint32_t>(i));
    MODELKIT_TRY_VOID(impl.post_processor->process(parts, add_special_tokens));
  }
  RawEncoding merged;
  for (auto& p : parts) {
    if (merged.ids.empty()) merged = std::move(p);
    else merged.append(p);
  }
  if (merged.ids.size() > kMaxEncodingTokens)
    return failure("the post-processor makes " + std::to_string(merged.ids.size()) + " tokens, more than the " +
                   std::to_string(kMaxEncodingTokens) + " an encoding may hold");
  if (padding_) MODELKIT_TRY_VOID(pad_encoding(merged, *padding_));
  if (fixed_length_ && merged.ids.size() != *fixed_length_)
    return failure("encoding has " + std::to_string(merged.ids.size()) + " tokens, more than the fixed length " +
                   std::to_string(*fixed_length_) + " (the post-processor adds more than truncation allowed for)");
  Encoding out;
  out.ids = std::move(merged.ids);
  out.tokens = std::move(merged.tokens);
  out.type_ids = std::move(merged.type_ids);
  out.attention_mask = std::move(merged.attention);
  out.special_tokens_mask = std::move(merged.special_mask);
  if (want_offsets && !state.offsets_failed) out.offsets.assign(merged.offsets.begin(), merged.offsets.end());
  return out;
}

bool Tokenizer::supports_offsets() const {
  return impl_->model->offsets_supported() && (!impl_->post_processor || impl_->post_processor->keeps_offsets());
}

std::vector<std::pair<std::size_t, std::size_t>> char_offsets(
    std::string_view text, const std::vector<std::pair<std::size_t, std::size_t>>& byte_offsets) {
  // chars_before[i]: characters that start before byte i.
  std::vector<std::size_t> chars_before(text.size() + 1, 0);
  std::size_t count = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    chars_before[i] = count;
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++count;
  }
  chars_before[text.size()] = count;
  auto at = [&](std::size_t b, bool end) {
    if (b >= text.size()) return count;
    // A byte inside a character: the start counts that character, the end includes it.
    std::size_t n = chars_before[b];
    if (end && (static_cast<unsigned char>(text[b]) & 0xC0) == 0x80) return n;
    if (!end && (static_cast<unsigned char>(text[b]) & 0xC0) == 0x80) return n - 1;
    return n;
  };
  std::vector<std::pair<std::size_t, std::size_t>> out;
  out.reserve(byte_offsets.size());
  for (const auto& [b, e] : byte_offsets) out.emplace_back(at(b, false), at(e, true));
  return out;
}

Result<void> encode_file_lines(const Tokenizer& tokenizer, const std::filesystem::path& file, bool add_special_tokens,
                               const std::function<Result<void>(const Encoding&, std::size_t)>& emit) {
  MODELKIT_TRY(auto lines, util::LineReader::open(file));
  for (std::size_t index = 0;; ++index) {
    MODELKIT_TRY(auto line, lines.next(kMaxTextBytes));
    if (!line) return {};
    const std::string where = file.string() + ": line " + std::to_string(line->number);
    if (line->cut())
      return failure(where + ": " + std::to_string(line->full_bytes) + " bytes, more than the " +
                     std::to_string(kMaxTextBytes) + " one encoding takes; split the line");
    MODELKIT_TRY_CTX(auto enc, tokenizer.encode(line->text, std::nullopt, add_special_tokens), where);
    MODELKIT_TRY_VOID(emit(enc, index));
  }
}

}  // namespace modelkit::tokenizer
