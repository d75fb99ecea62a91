// Task post-processing, as transformers' pipelines compute it (docs/run-eval.md has the facts
// each function follows).
#include <modelkit/run.hpp>

#include "util/file.hpp"
#include "util/json_read.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

namespace modelkit::infer {

std::string LabelInfo::label(std::size_t id) const {
  if (id < id2label.size()) return id2label[id];
  return "LABEL_" + std::to_string(id);
}

std::optional<std::size_t> LabelInfo::id_of(std::string_view name) const {
  for (std::size_t i = 0; i < id2label.size(); ++i)
    if (id2label[i] == name) return i;
  return std::nullopt;
}

Result<LabelInfo> read_label_info(const std::filesystem::path& config_json) {
  LabelInfo out;
  MODELKIT_TRY(auto text, util::read_file(config_json, kMaxConfigBytes));
  simdjson::dom::parser parser;
  auto doc = util::parse_json(parser, text);
  if (!doc) return doc.take_error().with_context(quoted(config_json));
  if (!doc->is_object()) return failure(quoted(config_json) + ": not a JSON object");
  auto obj = doc->get_object().value_unsafe();
  auto pt = util::optional_string(obj, "problem_type");
  if (!pt) return pt.take_error().with_context(quoted(config_json));
  if (*pt) out.problem_type = std::string(**pt);
  simdjson::dom::element labels;
  if (obj["id2label"].get(labels) != simdjson::SUCCESS || labels.is_null()) return out;
  simdjson::dom::object label_object;
  if (labels.get(label_object) != simdjson::SUCCESS)
    return failure(quoted(config_json) + ": field 'id2label' must be an object");
  std::vector<std::pair<std::size_t, std::string>> rows;
  for (auto field : label_object) {
    std::size_t id = 0;
    auto key = field.key;
    auto [ptr, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
    if (ec != std::errc() || ptr != key.data() + key.size())
      return failure(quoted(config_json) + ": id2label key '" + std::string(key) + "' is not a class id");
    std::string_view name;
    if (field.value.get(name) != simdjson::SUCCESS)
      return failure(quoted(config_json) + ": id2label[" + std::string(key) + "] must be a string");
    rows.emplace_back(id, std::string(name));
  }
  std::sort(rows.begin(), rows.end());
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (rows[i].first != i)
      return failure(quoted(config_json) + ": id2label ids must be 0.." + std::to_string(rows.size() - 1) +
                     " without gaps or repeats");
  for (auto& r : rows) out.id2label.push_back(std::move(r.second));
  return out;
}

std::vector<double> softmax(std::span<const float> logits) {
  std::vector<double> out(logits.size());
  if (logits.empty()) return out;
  const double mx = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (std::size_t i = 0; i < logits.size(); ++i) sum += out[i] = std::exp(static_cast<double>(logits[i]) - mx);
  for (auto& v : out) v /= sum;
  return out;
}

std::vector<double> sigmoid(std::span<const float> logits) {
  std::vector<double> out(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i) out[i] = 1.0 / (1.0 + std::exp(-static_cast<double>(logits[i])));
  return out;
}

namespace {
bool multi_label(std::size_t classes, const LabelInfo& labels) {
  return labels.problem_type == "multi_label_classification" || classes == 1;
}
}  // namespace

std::vector<double> class_probabilities(std::span<const float> logits, const LabelInfo& labels) {
  return multi_label(logits.size(), labels) ? sigmoid(logits) : softmax(logits);
}

std::vector<ClassScore> classify(std::span<const float> logits, const LabelInfo& labels, std::size_t top_k) {
  auto p = class_probabilities(logits, labels);
  std::vector<std::size_t> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] > p[b]; });
  if (order.size() > top_k) order.resize(top_k);
  std::vector<ClassScore> out;
  for (auto i : order) out.push_back({i, labels.label(i), p[i]});
  return out;
}

std::string tokens_to_text(std::span<const std::string> tokens) {
  static constexpr std::string_view kBpeSpace = "\xC4\xA0";        // Ġ
  static constexpr std::string_view kSentencePiece = "\xE2\x96\x81";  // ▁
  bool marked = std::any_of(tokens.begin(), tokens.end(), [](const std::string& t) {
    return t.starts_with(kBpeSpace) || t.starts_with(kSentencePiece);
  });
  std::string out;
  for (const auto& t : tokens) {
    if (marked) {
      std::string_view v = t;
      if (v.starts_with(kBpeSpace)) out += ' ', v.remove_prefix(kBpeSpace.size());
      else if (v.starts_with(kSentencePiece)) out += ' ', v.remove_prefix(kSentencePiece.size());
      out += v;
    } else if (t.starts_with("##")) {
      out += std::string_view(t).substr(2);
    } else {
      if (!out.empty()) out += ' ';
      out += t;
    }
  }
  auto first = out.find_first_not_of(' ');
  return first == std::string::npos ? std::string() : out.substr(first);
}

Result<std::vector<Entity>> token_entities(std::span<const float> logits, std::size_t num_labels,
                                           const TokenView& tokens, const LabelInfo& labels) {
  const std::size_t n = tokens.tokens.size();
  if (num_labels == 0 || logits.size() != n * num_labels)
    return failure("token classification logits hold " + std::to_string(logits.size()) + " values, expected " +
                   std::to_string(n) + " tokens x " + std::to_string(num_labels) + " labels");
  struct Group {
    std::string tag;
    std::vector<double> scores;
    std::vector<std::string> words;
    std::size_t start = 0, end = 0;
  };
  std::vector<Entity> out;
  std::optional<Group> group;
  auto flush = [&] {
    if (!group) return;
    if (group->tag != "O") {
      double mean = std::accumulate(group->scores.begin(), group->scores.end(), 0.0) /
                    static_cast<double>(group->scores.size());
      Entity entity{group->tag, mean, tokens_to_text(group->words), group->start, group->end, std::nullopt};
      if (group->end < tokens.char_offsets.size())
        entity.chars = std::pair{tokens.char_offsets[group->start].first, tokens.char_offsets[group->end].second};
      out.push_back(std::move(entity));
    }
    group.reset();
  };
  for (std::size_t i = 0; i < n; ++i) {
    if (i < tokens.special.size() && tokens.special[i]) continue;  // gather_pre_entities skips them
    auto p = softmax(logits.subspan(i * num_labels, num_labels));
    auto best = static_cast<std::size_t>(std::max_element(p.begin(), p.end()) - p.begin());
    std::string entity = labels.label(best);
    // get_tag: "B-X" -> (B, X), "I-X" -> (I, X), anything else -> (I, itself).
    std::string bi = "I", tag = entity;
    if (entity.starts_with("B-")) bi = "B", tag = entity.substr(2);
    else if (entity.starts_with("I-")) tag = entity.substr(2);
    if (group && (tag != group->tag || bi == "B")) flush();
    if (!group) group = Group{tag, {}, {}, i, i};
    group->scores.push_back(p[best]);
    group->words.push_back(tokens.tokens[i]);
    group->end = i;
  }
  flush();
  return out;
}

Result<std::vector<Answer>> answer_spans(std::span<const float> start_logits, std::span<const float> end_logits,
                                         const TokenView& tokens, std::size_t top_k, std::size_t max_answer_tokens) {
  const std::size_t n = tokens.tokens.size();
  if (start_logits.size() != n || end_logits.size() != n)
    return failure("question answering logits hold " + std::to_string(start_logits.size()) + " and " +
                   std::to_string(end_logits.size()) + " values for " + std::to_string(n) + " tokens");
  if (max_answer_tokens == 0) return failure("the maximum answer length must be at least 1 token");
  // Desired tokens: the context's, and CLS (first token, when special) as the pipeline keeps it.
  std::vector<bool> desired(n, false);
  for (std::size_t i = 0; i < n; ++i) desired[i] = i < tokens.sequence.size() && tokens.sequence[i] == 1;
  const bool cls = n > 0 && !tokens.special.empty() && tokens.special[0];
  if (cls) desired[0] = true;
  constexpr float kMasked = -10000.0F;
  std::vector<float> s(start_logits.begin(), start_logits.end()), e(end_logits.begin(), end_logits.end());
  for (std::size_t i = 0; i < n; ++i)
    if (!desired[i]) s[i] = e[i] = kMasked;
  auto ps = softmax(s), pe = softmax(e);
  if (cls) ps[0] = pe[0] = 0.0;
  std::vector<Answer> spans;
  for (std::size_t a = 0; a < n; ++a) {
    if (!desired[a]) continue;
    for (std::size_t b = a; b < n && b < a + max_answer_tokens; ++b)
      if (desired[b]) spans.push_back({ps[a] * pe[b], a, b, {}, std::nullopt});
  }
  std::stable_sort(spans.begin(), spans.end(), [](const Answer& x, const Answer& y) { return x.score > y.score; });
  if (spans.size() > top_k) spans.resize(top_k);
  for (auto& sp : spans) {
    std::vector<std::string> words(tokens.tokens.begin() + static_cast<std::ptrdiff_t>(sp.start_token),
                                   tokens.tokens.begin() + static_cast<std::ptrdiff_t>(sp.end_token) + 1);
    sp.answer = tokens_to_text(words);
    // transformers slices the context with the offsets (an answer on CLS has none: empty).
    const auto seq = sp.start_token < tokens.sequence.size() ? tokens.sequence[sp.start_token] : -1;
    if (sp.end_token < tokens.byte_offsets.size() && seq >= 0 && static_cast<std::size_t>(seq) < tokens.texts.size()) {
      const std::string& text = tokens.texts[static_cast<std::size_t>(seq)];
      const std::size_t b = tokens.byte_offsets[sp.start_token].first, e = tokens.byte_offsets[sp.end_token].second;
      if (b <= e && e <= text.size()) {
        sp.answer = text.substr(b, e - b);
        sp.chars = std::pair{tokens.char_offsets[sp.start_token].first, tokens.char_offsets[sp.end_token].second};
      }
    }
  }
  return spans;
}

std::vector<std::vector<MaskCandidate>> fill_mask(std::span<const float> logits, std::size_t vocab,
                                                  std::span<const std::size_t> mask_positions, std::size_t top_k,
                                                  const std::vector<std::string>& vocabulary) {
  std::vector<std::vector<MaskCandidate>> out;
  for (auto pos : mask_positions) {
    if ((pos + 1) * vocab > logits.size()) continue;
    auto p = softmax(logits.subspan(pos * vocab, vocab));
    std::vector<std::uint32_t> order(vocab);
    std::iota(order.begin(), order.end(), 0U);
    const auto k = std::min(top_k, vocab);
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                      [&](std::uint32_t a, std::uint32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    std::vector<MaskCandidate> cands;
    for (std::size_t i = 0; i < k; ++i)
      cands.push_back({p[order[i]], order[i], order[i] < vocabulary.size() ? vocabulary[order[i]] : std::to_string(order[i])});
    out.push_back(std::move(cands));
  }
  return out;
}

std::vector<float> pool_embeddings(std::span<const float> token_embeddings, std::size_t width,
                                   std::span<const std::int64_t> attention_mask, Pooling pooling) {
  if (width == 0 || token_embeddings.size() < width) return {};
  const std::size_t n = token_embeddings.size() / width;
  if (pooling == Pooling::cls || pooling == Pooling::none)
    return {token_embeddings.begin(), token_embeddings.begin() + static_cast<std::ptrdiff_t>(width)};
  // sentence-transformers' mean pooling: sum of masked rows / max(mask sum, 1e-9), then Normalize.
  std::vector<double> sum(width, 0.0);
  double count = 0;
  for (std::size_t t = 0; t < n; ++t) {
    const double m = t < attention_mask.size() ? static_cast<double>(attention_mask[t]) : 1.0;
    if (m == 0) continue;
    count += m;
    for (std::size_t j = 0; j < width; ++j) sum[j] += m * token_embeddings[t * width + j];
  }
  count = std::max(count, 1e-9);
  double norm = 0;
  for (auto& v : sum) v /= count, norm += v * v;
  norm = std::max(std::sqrt(norm), 1e-12);  // torch.nn.functional.normalize's eps
  std::vector<float> out(width);
  for (std::size_t j = 0; j < width; ++j) out[j] = static_cast<float>(sum[j] / norm);
  return out;
}

double cosine_similarity(std::span<const float> a, std::span<const float> b) {
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  if (aa == 0 && bb == 0) return 1.0;
  if (aa == 0 || bb == 0) return 0.0;
  return ab / std::sqrt(aa * bb);
}

}  // namespace modelkit::infer
