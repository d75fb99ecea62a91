// Metrics against labels for token classification (entity-level F1 over BIO/IOB2 tags, as seqeval
// counts it by default) and question answering (SQuAD's exact match and token F1 after its answer
// normalisation). docs/run-eval.md has the definitions.
#include <modelkit/run.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

namespace modelkit::infer {

namespace {
// "B-PER" -> ('B', "PER"), "I-PER" -> ('I', "PER"), "O" -> ('O', ""); any other tag is one type
// with inside semantics (as the token-classification pipeline's get_tag reads it).
std::pair<char, std::string_view> split_tag(std::string_view tag) {
  if (tag == "O") return {'O', {}};
  if (tag.size() > 2 && (tag[0] == 'B' || tag[0] == 'I') && (tag[1] == '-' || tag[1] == '_')) return {tag[0], tag.substr(2)};
  return {'I', tag};
}
}  // namespace

std::vector<TaggedSpan> bio_entities(std::span<const std::string> tags) {
  std::vector<TaggedSpan> out;
  std::optional<TaggedSpan> open;
  for (std::size_t i = 0; i < tags.size(); ++i) {
    const auto [prefix, type] = split_tag(tags[i]);
    // A chunk ends at O, at B, and at a change of type; an I after O or another type starts one.
    if (open && (prefix != 'I' || open->type != type)) {
      out.push_back(*open);
      open.reset();
    }
    if (prefix == 'O') continue;
    if (open) open->end = i;
    else open = TaggedSpan{std::string(type), i, i};
  }
  if (open) out.push_back(*open);
  return out;
}

void EntityCounts::add(std::span<const std::string> predicted, std::span<const std::string> reference) {
  auto p = bio_entities(predicted), r = bio_entities(reference);
  auto key = [](const TaggedSpan& s) { return std::tuple(s.type, s.start, s.end); };
  std::multiset<std::tuple<std::string, std::size_t, std::size_t>> gold;
  for (const auto& s : r) gold.insert(key(s));
  for (const auto& s : p)
    if (auto it = gold.find(key(s)); it != gold.end()) {
      ++correct;
      gold.erase(it);
    }
  this->predicted += p.size();
  this->reference += r.size();
}

double EntityCounts::precision() const { return predicted == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(predicted); }
double EntityCounts::recall() const { return reference == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(reference); }
double EntityCounts::f1() const {
  const double p = precision(), r = recall();
  return p + r == 0 ? 0.0 : 2 * p * r / (p + r);
}

std::string squad_normalize(std::string_view text) {
  // lower case, punctuation dropped, the articles a/an/the dropped as words, blanks collapsed.
  std::string s;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && std::ispunct(u)) continue;
    s += u < 0x80 ? static_cast<char>(std::tolower(u)) : c;
  }
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    if (!word.empty() && word != "a" && word != "an" && word != "the") words.push_back(word);
    word.clear();
  };
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) flush();
    else word += c;
  }
  flush();
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

namespace {
std::vector<std::string> words_of(const std::string& normalized) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < normalized.size()) {
    auto end = normalized.find(' ', start);
    if (end == std::string::npos) end = normalized.size();
    out.push_back(normalized.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

double token_f1(std::string_view prediction, std::string_view gold) {
  const auto p = words_of(squad_normalize(prediction)), g = words_of(squad_normalize(gold));
  if (p.empty() || g.empty()) return p.empty() && g.empty() ? 1.0 : 0.0;
  std::map<std::string, std::size_t> left;
  for (const auto& w : g) ++left[w];
  std::size_t same = 0;
  for (const auto& w : p)
    if (auto it = left.find(w); it != left.end() && it->second > 0) ++same, --it->second;
  if (same == 0) return 0.0;
  const double precision = static_cast<double>(same) / static_cast<double>(p.size());
  const double recall = static_cast<double>(same) / static_cast<double>(g.size());
  return 2 * precision * recall / (precision + recall);
}
}  // namespace

double squad_exact_match(std::string_view prediction, std::span<const std::string> answers) {
  const auto p = squad_normalize(prediction);
  for (const auto& a : answers)
    if (squad_normalize(a) == p) return 1.0;
  return 0.0;
}

double squad_f1(std::string_view prediction, std::span<const std::string> answers) {
  double best = 0;
  for (const auto& a : answers) best = std::max(best, token_f1(prediction, a));
  return best;
}

}  // namespace modelkit::infer
