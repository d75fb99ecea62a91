#include "tokenizer/models.hpp"

#include "tokenizer/unicode.hpp"

#include <algorithm>
#include <cstdio>
#include <queue>

namespace modelkit::tokenizer {

namespace {

constexpr std::size_t kCacheCapacity = 10000;  // the Rust core's DEFAULT_CACHE_CAPACITY
constexpr std::size_t kCacheMaxLength = 256;   // and MAX_LENGTH: longer pieces are not cached

std::uint64_t pair_key(std::uint32_t a, std::uint32_t b) { return (static_cast<std::uint64_t>(a) << 32) | b; }

std::string byte_token(unsigned char b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "<0x%02X>", b);
  return buf;
}

}  // namespace

std::size_t StringHash::operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }

void ReverseVocab::build(const Vocab& vocab) {
  const std::size_t dense_limit = 2 * vocab.size() + 1024;
  std::size_t dense_size = 0;
  for (const auto& [tok, id] : vocab)
    if (id < dense_limit) dense_size = std::max(dense_size, static_cast<std::size_t>(id) + 1);
  dense_.assign(dense_size, nullptr);
  sparse_.clear();
  for (const auto& [tok, id] : vocab) {
    if (id < dense_size) dense_[id] = &tok;
    else sparse_[id] = &tok;
  }
}

// ---------------- BPE ----------------

Result<std::unique_ptr<BpeModel>> BpeModel::create(BpeConfig config) {
  auto m = std::unique_ptr<BpeModel>(new BpeModel());
  m->config_ = std::move(config);
  const Vocab& vocab = m->config_.vocab;
  std::size_t prefix_len =
      m->config_.continuing_subword_prefix ? m->config_.continuing_subword_prefix->size() : 0;
  m->merges_.reserve(m->config_.merges.size() * 2);
  std::string joined;
  for (std::size_t rank = 0; rank < m->config_.merges.size(); ++rank) {
    const auto& [a, b] = m->config_.merges[rank];
    auto ia = vocab.find(a);
    if (ia == vocab.end()) return failure("merge '" + a + " " + b + "': '" + a + "' is not in the vocabulary");
    auto ib = vocab.find(b);
    if (ib == vocab.end()) return failure("merge '" + a + " " + b + "': '" + b + "' is not in the vocabulary");
    if (b.size() < prefix_len)
      return failure("merge '" + a + " " + b + "': '" + b + "' is shorter than the continuing_subword_prefix");
    joined.assign(a).append(b, prefix_len, std::string::npos);
    auto inew = vocab.find(joined);
    if (inew == vocab.end())
      return failure("merge '" + a + " " + b + "': the merged token '" + joined + "' is not in the vocabulary");
    m->merges_[pair_key(ia->second, ib->second)] = {static_cast<std::uint32_t>(rank), inew->second};
  }
  m->config_.merges.clear();
  m->config_.merges.shrink_to_fit();
  m->reverse_.build(vocab);
  if (m->config_.unk_token) {
    auto it = vocab.find(*m->config_.unk_token);
    if (it != vocab.end()) m->unk_id_ = it->second;
  }
  for (int b = 0; b < 256; ++b) {
    auto it = vocab.find(byte_token(static_cast<unsigned char>(b)));
    if (it != vocab.end()) m->byte_ids_[b] = it->second;
  }
  return m;
}

std::optional<std::uint32_t> BpeModel::token_to_id(std::string_view token) const {
  auto it = config_.vocab.find(token);
  if (it == config_.vocab.end()) return std::nullopt;
  return it->second;
}

const std::pair<std::uint32_t, std::uint32_t>* BpeModel::find_merge(std::uint32_t a, std::uint32_t b) const {
  auto it = merges_.find(pair_key(a, b));
  return it == merges_.end() ? nullptr : &it->second;
}

Result<void> BpeModel::merge_word(std::string_view w, std::vector<std::uint32_t>& ids) const {
  thread_local std::vector<Symbol> symbols;
  thread_local std::string buffer;
  symbols.clear();
  auto add = [&](std::uint32_t id, std::size_t len) {
    auto n = static_cast<std::int32_t>(symbols.size());
    if (!symbols.empty()) symbols.back().next = n;
    symbols.push_back({id, n - 1, -1, static_cast<std::uint32_t>(len)});
  };
  const Vocab& vocab = config_.vocab;
  const bool has_prefix = config_.continuing_subword_prefix && !config_.continuing_subword_prefix->empty();
  const bool has_suffix = config_.end_of_word_suffix && !config_.end_of_word_suffix->empty();
  bool have_unk = false;
  std::uint32_t unk_id = 0;
  std::size_t unk_len = 0;
  std::size_t i = 0;
  while (i < w.size()) {
    std::size_t byte_len = unicode::sequence_length(static_cast<unsigned char>(w[i]));
    bool is_first = i == 0;
    bool is_last = i + byte_len >= w.size();
    std::string_view s = w.substr(i, byte_len);
    if ((!is_first && has_prefix) || (is_last && has_suffix)) {
      buffer.clear();
      if (!is_first && has_prefix) buffer.append(*config_.continuing_subword_prefix);
      buffer.append(s);
      if (is_last && has_suffix) buffer.append(*config_.end_of_word_suffix);
      s = buffer;
    }
    i += byte_len;
    auto it = vocab.find(s);
    if (it != vocab.end()) {
      if (have_unk) {
        add(unk_id, unk_len);
        have_unk = false;
      }
      add(it->second, byte_len);
      continue;
    }
    if (config_.byte_fallback) {
      bool all = true;
      for (unsigned char b : s)
        if (!byte_ids_[b]) {
          all = false;
          break;
        }
      if (all) {
        for (unsigned char b : s) add(*byte_ids_[b], 1);
        continue;
      }
    }
    if (config_.unk_token) {
      if (!unk_id_) return failure("unk_token '" + *config_.unk_token + "' is not in the vocabulary");
      if (have_unk && config_.fuse_unk) {
        unk_len += byte_len;
      } else {
        if (have_unk) add(unk_id, unk_len);
        have_unk = true;
        unk_id = *unk_id_;
        unk_len = byte_len;
      }
    }
  }
  if (have_unk) add(unk_id, unk_len);

  // Word::merge_all: a min-heap on (rank, position), stale entries skipped.
  struct Merge {
    std::uint32_t rank;
    std::uint32_t pos;
    std::uint32_t new_id;
    bool operator<(const Merge& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  thread_local std::vector<Merge> heap_storage;
  heap_storage.clear();
  std::priority_queue<Merge, std::vector<Merge>> queue(std::less<Merge>(), std::move(heap_storage));
  for (std::size_t k = 0; k + 1 < symbols.size(); ++k)
    if (const auto* m = find_merge(symbols[k].id, symbols[k + 1].id))
      queue.push({m->first, static_cast<std::uint32_t>(k), m->second});
  const auto n = static_cast<std::int32_t>(symbols.size());
  while (!queue.empty()) {
    Merge top = queue.top();
    queue.pop();
    Symbol& cur = symbols[top.pos];
    if (cur.len == 0 || cur.next == -1) continue;
    const std::int32_t next_pos = cur.next;
    const Symbol right = symbols[static_cast<std::size_t>(next_pos)];
    const auto* m = find_merge(cur.id, right.id);
    if (m == nullptr || m->second != top.new_id) continue;
    cur.id = top.new_id;
    cur.len += right.len;
    cur.next = right.next;
    symbols[static_cast<std::size_t>(next_pos)].len = 0;
    if (right.next > -1 && right.next < n) symbols[static_cast<std::size_t>(right.next)].prev = static_cast<std::int32_t>(top.pos);
    if (cur.prev >= 0) {
      const Symbol& prev = symbols[static_cast<std::size_t>(cur.prev)];
      if (const auto* pm = find_merge(prev.id, cur.id))
        queue.push({pm->first, static_cast<std::uint32_t>(cur.prev), pm->second});
    }
    if (cur.next > -1 && cur.next < n) {
      const Symbol& nx = symbols[static_cast<std::size_t>(cur.next)];
      if (const auto* nm = find_merge(cur.id, nx.id)) queue.push({nm->first, top.pos, nm->second});
    }
  }
  ids.clear();
  for (const Symbol& s : symbols)
    if (s.len != 0) ids.push_back(s.id);
  return {};
}

Result<void> BpeModel::tokenize(std::string_view piece, std::vector<Token>& out) const {
  if (piece.empty()) return {};
  if (config_.ignore_merges) {
    auto it = config_.vocab.find(piece);
    if (it != config_.vocab.end()) {
      out.push_back({it->second, std::string(piece)});
      return {};
    }
  }
  thread_local std::vector<std::uint32_t> ids;
  bool hit = false;
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(piece);
    if (it != cache_.end()) {
      ids = it->second;
      hit = true;
    }
  }
  if (!hit) {
    MODELKIT_TRY_VOID(merge_word(piece, ids));
    if (piece.size() < kCacheMaxLength) {
      std::lock_guard<std::mutex> lock(cache_mutex_);
      if (cache_.size() < kCacheCapacity) cache_.emplace(std::string(piece), ids);
    }
  }
  for (std::uint32_t id : ids) {
    const std::string* value = reverse_.find(id);
    out.push_back({id, value != nullptr ? *value : std::string()});
  }
  return {};
}

// ---------------- WordPiece ----------------

Result<std::unique_ptr<WordPieceModel>> WordPieceModel::create(Vocab vocab, std::string unk_token, std::string prefix,
                                                               std::size_t max_input_chars_per_word) {
  auto m = std::unique_ptr<WordPieceModel>(new WordPieceModel());
  m->vocab_ = std::move(vocab);
  m->unk_token_ = std::move(unk_token);
  m->prefix_ = std::move(prefix);
  m->max_chars_ = max_input_chars_per_word;
  for (const auto& [tok, id] : m->vocab_) m->max_token_bytes_ = std::max(m->max_token_bytes_, tok.size());
  return m;
}

std::optional<std::uint32_t> WordPieceModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

Result<void> WordPieceModel::tokenize(std::string_view seq, std::vector<Token>& out) const {
  auto unk = [&]() -> Result<void> {
    auto it = vocab_.find(unk_token_);
    if (it == vocab_.end()) return failure("unk_token '" + unk_token_ + "' is not in the vocabulary");
    out.push_back({it->second, unk_token_});
    return {};
  };
  if (unicode::count_chars(seq) > max_chars_) return unk();
  const std::size_t first_out = out.size();
  thread_local std::string candidate;
  std::size_t start = 0;
  while (start < seq.size()) {
    const std::size_t extra = start > 0 ? prefix_.size() : 0;
    // No vocabulary entry is longer than max_token_bytes_: shorter candidates only.
    std::size_t end = seq.size();
    if (end - start + extra > max_token_bytes_) {
      end = start + (max_token_bytes_ > extra ? max_token_bytes_ - extra : 0);
      while (end > start && end < seq.size() && (static_cast<unsigned char>(seq[end]) & 0xC0) == 0x80) --end;
    }
    bool found = false;
    while (start < end) {
      candidate.clear();
      if (start > 0) candidate.append(prefix_);
      candidate.append(seq.substr(start, end - start));
      auto it = vocab_.find(candidate);
      if (it != vocab_.end()) {
        out.push_back({it->second, candidate});
        found = true;
        break;
      }
      // Step back one character.
      std::size_t k = end - 1;
      while (k > start && (static_cast<unsigned char>(seq[k]) & 0xC0) == 0x80) --k;
      end = k;
    }
    if (!found) {
      out.resize(first_out);
      return unk();
    }
    start = end;
  }
  return {};
}

// HF WordPiece: a word that became one token (itself, or the unknown token when it does not
// split) spans the whole word; otherwise the pieces are consecutive slices of it, the continuing
// ones written with the prefix. A token that does not match its slice means no spans at all.
bool WordPieceModel::token_spans(std::string_view piece, const Token* tokens, std::size_t count,
                                 std::vector<std::pair<std::uint32_t, std::uint32_t>>& spans) const {
  if (count == 1) {
    spans.emplace_back(0, static_cast<std::uint32_t>(piece.size()));
    return true;
  }
  std::size_t pos = 0;
  for (std::size_t i = 0; i < count; ++i) {
    std::string_view v = tokens[i].value;
    if (i > 0) {
      if (v.substr(0, prefix_.size()) != prefix_) return false;
      v.remove_prefix(prefix_.size());
    }
    if (piece.substr(pos, v.size()) != v) return false;
    spans.emplace_back(static_cast<std::uint32_t>(pos), static_cast<std::uint32_t>(pos + v.size()));
    pos += v.size();
  }
  return pos == piece.size();
}

// ---------------- WordLevel ----------------

std::optional<std::uint32_t> WordLevelModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

Result<void> WordLevelModel::tokenize(std::string_view piece, std::vector<Token>& out) const {
  auto it = vocab_.find(piece);
  if (it != vocab_.end()) {
    out.push_back({it->second, std::string(piece)});
    return {};
  }
  auto unk = vocab_.find(unk_token_);
  if (unk == vocab_.end()) return failure("unk_token '" + unk_token_ + "' is not in the vocabulary");
  out.push_back({unk->second, unk_token_});
  return {};
}

// ---------------- Unigram ----------------

Result<std::unique_ptr<UnigramModel>> UnigramModel::create(std::vector<std::pair<std::string, double>> pieces,
                                                           std::optional<std::size_t> unk_id, bool byte_fallback) {
  if (unk_id) {
    if (pieces.empty()) return failure("the vocabulary is empty but at least <unk> is needed");
    if (*unk_id >= pieces.size())
      return failure("unk_id " + std::to_string(*unk_id) + " is not below the vocabulary size " +
                     std::to_string(pieces.size()));
  }
  auto m = std::unique_ptr<UnigramModel>(new UnigramModel());
  m->pieces_ = std::move(pieces);
  m->unk_id_ = unk_id;
  m->byte_fallback_ = byte_fallback;
  m->min_score_ = std::numeric_limits<double>::infinity();
  m->token_to_id_.reserve(m->pieces_.size());
  for (std::size_t id = 0; id < m->pieces_.size(); ++id) {
    m->token_to_id_[m->pieces_[id].first] = static_cast<std::uint32_t>(id);
    m->min_score_ = std::min(m->min_score_, m->pieces_[id].second);
  }
  m->node_piece_.push_back(-1);
  m->children_.reserve(m->pieces_.size() * 4);
  for (const auto& [piece, score] : m->pieces_) {
    std::uint32_t node = 0;
    for (unsigned char b : piece) {
      auto [it, inserted] =
          m->children_.try_emplace((static_cast<std::uint64_t>(node) << 8) | b,
                                   static_cast<std::uint32_t>(m->node_piece_.size()));
      if (inserted) m->node_piece_.push_back(-1);
      node = it->second;
    }
    // The id a piece resolves to is token_to_ids' (the last duplicate wins).
    m->node_piece_[node] = static_cast<std::int32_t>(m->token_to_id_[piece]);
  }
  return m;
}

std::optional<std::uint32_t> UnigramModel::token_to_id(std::string_view token) const {
  auto it = token_to_id_.find(token);
  if (it == token_to_id_.end()) return std::nullopt;
  return it->second;
}

Result<void> UnigramModel::encode(std::string_view sentence, std::vector<std::string>& results) const {
  results.clear();
  if (sentence.empty()) return {};
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(sentence);
    if (it != cache_.end()) {
      results = it->second;
      return {};
    }
  }
  struct Best {
    std::uint32_t id = 0;
    double score = 0;
    std::int64_t starts_at = -1;
  };
  const std::size_t size = sentence.size();
  const double unk_score = min_score_ - 10.0;
  thread_local std::vector<Best> best;
  best.assign(size + 1, Best{});
  std::size_t starts_at = 0;
  while (starts_at < size) {
    const double here = best[starts_at].score;
    bool has_single = false;
    const std::size_t mblen = unicode::sequence_length(static_cast<unsigned char>(sentence[starts_at]));
    std::uint32_t node = 0;
    for (std::size_t k = starts_at; k < size; ++k) {
      auto it = children_.find((static_cast<std::uint64_t>(node) << 8) | static_cast<unsigned char>(sentence[k]));
      if (it == children_.end()) break;
      node = it->second;
      const std::int32_t id = node_piece_[node];
      if (id < 0) continue;
      const std::size_t key_pos = k + 1;
      Best& target = best[key_pos];
      const double candidate = pieces_[static_cast<std::size_t>(id)].second + here;
      if (target.starts_at < 0 || candidate > target.score) {
        target.score = candidate;
        target.starts_at = static_cast<std::int64_t>(starts_at);
        target.id = static_cast<std::uint32_t>(id);
      }
      if (!has_single && key_pos - starts_at == mblen) has_single = true;
    }
    if (!has_single) {
      Best& target = best[starts_at + mblen];
      const double candidate = unk_score + here;
      if (target.starts_at < 0 || candidate > target.score) {
        if (!unk_id_) return failure("encountered an unknown token but the Unigram model has no unk_id");
        target.score = candidate;
        target.starts_at = static_cast<std::int64_t>(starts_at);
        target.id = static_cast<std::uint32_t>(*unk_id_);
      }
    }
    starts_at += mblen;
  }
  std::size_t ends_at = size;
  std::string fused;  // consecutive unknown pieces, collected backwards
  thread_local std::vector<std::string_view> unk_parts;
  unk_parts.clear();
  auto flush = [&] {
    if (unk_parts.empty()) return;
    fused.clear();
    for (auto it = unk_parts.rbegin(); it != unk_parts.rend(); ++it) fused.append(*it);
    results.push_back(fused);
    unk_parts.clear();
  };
  while (ends_at > 0) {
    const Best& node = best[ends_at];
    const auto start = static_cast<std::size_t>(node.starts_at);
    std::string_view piece = sentence.substr(start, ends_at - start);
    if (unk_id_ && node.id == *unk_id_) {
      unk_parts.push_back(piece);
    } else {
      flush();
      results.emplace_back(piece);
    }
    ends_at = start;
  }
  flush();
  std::reverse(results.begin(), results.end());
  if (sentence.size() < kCacheMaxLength) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() < kCacheCapacity) cache_.emplace(std::string(sentence), results);
  }
  return {};
}

Result<void> UnigramModel::tokenize(std::string_view piece, std::vector<Token>& out) const {
  thread_local std::vector<std::string> strings;
  MODELKIT_TRY_VOID(encode(piece, strings));
  for (auto& s : strings) {
    auto it = token_to_id_.find(s);
    if (it != token_to_id_.end()) {
      out.push_back({it->second, std::move(s)});
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      const std::size_t first = out.size();
      for (unsigned char b : s) {
        std::string name = byte_token(b);
        auto bt = token_to_id_.find(name);
        if (bt == token_to_id_.end()) {
          all = false;
          break;
        }
        out.push_back({bt->second, std::move(name)});
      }
      if (all) continue;
      out.resize(first);
    }
    if (!unk_id_) return failure("encountered an unknown token but the Unigram model has no unk_id");
    out.push_back({static_cast<std::uint32_t>(*unk_id_), std::move(s)});
  }
  return {};
}

}  // namespace modelkit::tokenizer
