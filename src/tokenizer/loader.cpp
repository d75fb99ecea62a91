// tokenizer.json -> pipeline objects. Field rules follow the Rust core's deserializers: required
// fields are required, defaults are its defaults, and a file without "type" in "model" (the old
// serialization) is recognized by its fields in the same order the core tries them.
#include "tokenizer/normalizers.hpp"
#include "tokenizer/pre_tokenizers.hpp"
#include "tokenizer/tokenizer_impl.hpp"
#include "tokenizer/unicode.hpp"

#include <util/json_read.hpp>

#include <simdjson.h>

namespace modelkit::tokenizer {

namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

std::string type_name(element e) { return std::string(util::json_type_name(e)); }

Error field_error(std::string_view path, std::string_view message) {
  return failure("field '" + std::string(path) + "': " + std::string(message));
}

Error type_error(std::string_view path, std::string_view expected, element got) {
  return failure("field '" + std::string(path) + "' must be " + std::string(expected) + ", got " + type_name(got));
}

std::string join(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : std::string(path) + "." + std::string(key);
}

// A field that may be absent or null.
std::optional<element> get(object obj, std::string_view key) {
  element e;
  if (obj.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) return std::nullopt;
  return e;
}

bool has_key(object obj, std::string_view key) {
  element e;
  return obj.at_key(key).get(e) == simdjson::SUCCESS;
}

Result<object> as_object(element e, std::string_view path) {
  object o;
  if (e.get_object().get(o) != simdjson::SUCCESS) return type_error(path, "an object", e);
  return o;
}

Result<array> as_array(element e, std::string_view path) {
  array a;
  if (e.get_array().get(a) != simdjson::SUCCESS) return type_error(path, "a list", e);
  return a;
}

Result<std::string_view> as_string(element e, std::string_view path) {
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) return type_error(path, "a string", e);
  return s;
}

Result<std::uint64_t> as_uint(element e, std::string_view path) {
  std::uint64_t v = 0;
  if (e.get_uint64().get(v) != simdjson::SUCCESS) return type_error(path, "a non-negative integer", e);
  return v;
}

Result<std::uint32_t> as_u32(element e, std::string_view path) {
  MODELKIT_TRY(auto v, as_uint(e, path));
  if (v > 0xFFFFFFFFull) return field_error(path, "value " + std::to_string(v) + " is out of range");
  return static_cast<std::uint32_t>(v);
}

Result<double> as_number(element e, std::string_view path) {
  if (e.is_int64()) return static_cast<double>(e.get_int64().value_unsafe());
  if (e.is_uint64()) return static_cast<double>(e.get_uint64().value_unsafe());
  double d = 0;
  if (e.get_double().get(d) != simdjson::SUCCESS) return type_error(path, "a number", e);
  return d;
}

Result<bool> as_bool(element e, std::string_view path) {
  bool b = false;
  if (e.get_bool().get(b) != simdjson::SUCCESS) return type_error(path, "true or false", e);
  return b;
}

Result<element> required(object obj, std::string_view key, std::string_view path) {
  element e;
  if (obj.at_key(key).get(e) != simdjson::SUCCESS) return failure("missing field '" + join(path, key) + "'");
  return e;
}

Result<std::string_view> required_string(object obj, std::string_view key, std::string_view path) {
  MODELKIT_TRY(auto e, required(obj, key, path));
  return as_string(e, join(path, key));
}

Result<bool> required_bool(object obj, std::string_view key, std::string_view path) {
  MODELKIT_TRY(auto e, required(obj, key, path));
  return as_bool(e, join(path, key));
}

Result<bool> bool_or(object obj, std::string_view key, std::string_view path, bool fallback) {
  auto e = get(obj, key);
  if (!e) return fallback;
  return as_bool(*e, join(path, key));
}

Result<std::optional<std::string>> optional_string(object obj, std::string_view key, std::string_view path) {
  auto e = get(obj, key);
  if (!e) return std::optional<std::string>{};
  MODELKIT_TRY(auto s, as_string(*e, join(path, key)));
  return std::optional<std::string>{std::string(s)};
}

Result<char32_t> as_char(element e, std::string_view path) {
  MODELKIT_TRY(auto s, as_string(e, path));
  if (s.empty() || unicode::count_chars(s) != 1)
    return field_error(path, "expected a single character, got '" + std::string(s) + "'");
  std::size_t len = 0;
  return unicode::decode(s, 0, len);
}

Result<std::string> decode_base64(std::string_view in, std::string_view path) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(in.size() / 4 * 3);
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t i = 0;
  for (; i < in.size() && in[i] != '='; ++i) {
    int v = value(in[i]);
    if (v < 0) return field_error(path, "not valid base64 (character " + std::to_string(i) + ")");
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  for (; i < in.size(); ++i)
    if (in[i] != '=') return field_error(path, "not valid base64 (data after padding)");
  return out;
}

Result<Regex> parse_pattern(element e, std::string_view path) {
  MODELKIT_TRY(auto obj, as_object(e, path));
  if (auto s = get(obj, "String")) {
    MODELKIT_TRY(auto str, as_string(*s, join(path, "String")));
    MODELKIT_TRY_CTX(auto re, Regex::compile_literal(str), "field '" + std::string(path) + "'");
    return re;
  }
  if (auto r = get(obj, "Regex")) {
    MODELKIT_TRY(auto str, as_string(*r, join(path, "Regex")));
    MODELKIT_TRY_CTX(auto re, Regex::compile_onig(str), "field '" + std::string(path) + "'");
    return re;
  }
  return field_error(path, "expected {\"String\": ...} or {\"Regex\": ...}");
}

Result<SplitBehavior> parse_behavior(element e, std::string_view path) {
  MODELKIT_TRY(auto s, as_string(e, path));
  if (s == "Removed") return SplitBehavior::removed;
  if (s == "Isolated") return SplitBehavior::isolated;
  if (s == "MergedWithPrevious") return SplitBehavior::merged_with_previous;
  if (s == "MergedWithNext") return SplitBehavior::merged_with_next;
  if (s == "Contiguous") return SplitBehavior::contiguous;
  return field_error(path, "unknown behavior '" + std::string(s) +
                               "' (expected Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous)");
}

Result<std::string_view> component_type(object obj, std::string_view path) {
  auto t = get(obj, "type");
  if (!t) return failure("missing field '" + join(path, "type") + "'");
  return as_string(*t, join(path, "type"));
}

// ---------------- normalizers ----------------

// The members of a "Sequence" component: a required list, each item parsed by `parse`.
template <class Component, class Parse>
Result<std::vector<std::unique_ptr<Component>>> parse_list(object obj, const char* key, const std::string& path,
                                                          Parse parse) {
  MODELKIT_TRY(auto list, required(obj, key, path));
  MODELKIT_TRY(auto arr, as_array(list, join(path, key)));
  std::vector<std::unique_ptr<Component>> parts;
  std::size_t i = 0;
  for (element item : arr) {
    MODELKIT_TRY(auto part, parse(item, join(path, key) + "[" + std::to_string(i++) + "]"));
    parts.push_back(std::move(part));
  }
  return parts;
}

Result<std::unique_ptr<Normalizer>> parse_normalizer(element e, const std::string& path) {
  MODELKIT_TRY(auto obj, as_object(e, path));
  MODELKIT_TRY(auto type, component_type(obj, path));
  const std::string_view t = type;
  if (t == "BertNormalizer") {
    MODELKIT_TRY(auto clean, required_bool(obj, "clean_text", path));
    MODELKIT_TRY(auto chinese, required_bool(obj, "handle_chinese_chars", path));
    MODELKIT_TRY(auto lower, required_bool(obj, "lowercase", path));
    std::optional<bool> strip;
    if (auto s = get(obj, "strip_accents")) {
      MODELKIT_TRY(auto b, as_bool(*s, join(path, "strip_accents")));
      strip = b;
    }
    return std::unique_ptr<Normalizer>(std::make_unique<BertNormalizer>(clean, chinese, strip, lower));
  }
  if (t == "Lowercase") return std::unique_ptr<Normalizer>(std::make_unique<LowercaseNormalizer>());
  if (t == "StripAccents") return std::unique_ptr<Normalizer>(std::make_unique<StripAccentsNormalizer>());
  if (t == "NFC") return std::unique_ptr<Normalizer>(std::make_unique<UnicodeNormalizer>(unicode::NormalForm::nfc));
  if (t == "NFD") return std::unique_ptr<Normalizer>(std::make_unique<UnicodeNormalizer>(unicode::NormalForm::nfd));
  if (t == "NFKC") return std::unique_ptr<Normalizer>(std::make_unique<UnicodeNormalizer>(unicode::NormalForm::nfkc));
  if (t == "NFKD") return std::unique_ptr<Normalizer>(std::make_unique<UnicodeNormalizer>(unicode::NormalForm::nfkd));
  if (t == "Nmt") return std::unique_ptr<Normalizer>(std::make_unique<NmtNormalizer>());
  if (t == "ByteLevel") return std::unique_ptr<Normalizer>(std::make_unique<ByteLevelNormalizer>());
  if (t == "Strip") {
    MODELKIT_TRY(auto left, required_bool(obj, "strip_left", path));
    MODELKIT_TRY(auto right, required_bool(obj, "strip_right", path));
    return std::unique_ptr<Normalizer>(std::make_unique<StripNormalizer>(left, right));
  }
  if (t == "Replace") {
    MODELKIT_TRY(auto pe, required(obj, "pattern", path));
    MODELKIT_TRY(auto pattern, parse_pattern(pe, join(path, "pattern")));
    MODELKIT_TRY(auto content, required_string(obj, "content", path));
    return std::unique_ptr<Normalizer>(
        std::make_unique<ReplaceNormalizer>(std::move(pattern), std::string(content)));
  }
  if (t == "Prepend") {
    MODELKIT_TRY(auto prepend, required_string(obj, "prepend", path));
    return std::unique_ptr<Normalizer>(std::make_unique<PrependNormalizer>(std::string(prepend)));
  }
  if (t == "Precompiled") {
    MODELKIT_TRY(auto s, required_string(obj, "precompiled_charsmap", path));
    MODELKIT_TRY(auto blob, decode_base64(s, join(path, "precompiled_charsmap")));
    MODELKIT_TRY_CTX(auto p, PrecompiledNormalizer::parse(blob), "field '" + join(path, "precompiled_charsmap") + "'");
    return std::unique_ptr<Normalizer>(std::move(p));
  }
  if (t == "Sequence") {
    MODELKIT_TRY(auto parts, parse_list<Normalizer>(obj, "normalizers", path, parse_normalizer));
    return std::unique_ptr<Normalizer>(std::make_unique<SequenceNormalizer>(std::move(parts)));
  }
  return field_error(join(path, "type"), "unknown normalizer type '" + std::string(t) + "'");
}

// ---------------- pre-tokenizers ----------------

Result<std::unique_ptr<PreTokenizer>> parse_pre_tokenizer(element e, const std::string& path) {
  MODELKIT_TRY(auto obj, as_object(e, path));
  MODELKIT_TRY(auto type, component_type(obj, path));
  const std::string_view t = type;
  if (t == "BertPreTokenizer") return std::unique_ptr<PreTokenizer>(std::make_unique<BertPreTokenizer>());
  if (t == "Whitespace") return std::unique_ptr<PreTokenizer>(std::make_unique<WhitespacePreTokenizer>());
  if (t == "WhitespaceSplit") return std::unique_ptr<PreTokenizer>(std::make_unique<WhitespaceSplitPreTokenizer>());
  if (t == "ByteLevel") {
    MODELKIT_TRY(auto prefix, required_bool(obj, "add_prefix_space", path));
    MODELKIT_TRY_VOID(required_bool(obj, "trim_offsets", path));  // read for its checks only
    MODELKIT_TRY(auto use_regex, bool_or(obj, "use_regex", path, true));
    MODELKIT_TRY(auto p, ByteLevelPreTokenizer::create(prefix, use_regex));
    return std::unique_ptr<PreTokenizer>(std::move(p));
  }
  if (t == "Metaspace") {
    MODELKIT_TRY(auto re, required(obj, "replacement", path));
    MODELKIT_TRY(auto replacement, as_char(re, join(path, "replacement")));
    PrependScheme scheme = PrependScheme::always;
    if (auto s = get(obj, "prepend_scheme")) {
      MODELKIT_TRY(auto name, as_string(*s, join(path, "prepend_scheme")));
      if (name == "first") scheme = PrependScheme::first;
      else if (name == "never") scheme = PrependScheme::never;
      else if (name == "always") scheme = PrependScheme::always;
      else
        return field_error(join(path, "prepend_scheme"),
                           "unknown prepend_scheme '" + std::string(name) + "' (expected first, never, always)");
    }
    if (auto a = get(obj, "add_prefix_space")) {
      MODELKIT_TRY(auto b, as_bool(*a, join(path, "add_prefix_space")));
      if (!b) {
        if (scheme != PrependScheme::never)
          return field_error(join(path, "add_prefix_space"), "add_prefix_space does not match declared prepend_scheme");
        scheme = PrependScheme::never;
      }
    }
    MODELKIT_TRY(auto split, bool_or(obj, "split", path, true));
    return std::unique_ptr<PreTokenizer>(std::make_unique<MetaspacePreTokenizer>(replacement, scheme, split));
  }
  if (t == "Split") {
    MODELKIT_TRY(auto pe, required(obj, "pattern", path));
    MODELKIT_TRY(auto pattern, parse_pattern(pe, join(path, "pattern")));
    MODELKIT_TRY(auto be, required(obj, "behavior", path));
    MODELKIT_TRY(auto behavior, parse_behavior(be, join(path, "behavior")));
    MODELKIT_TRY(auto invert, required_bool(obj, "invert", path));
    return std::unique_ptr<PreTokenizer>(
        std::make_unique<SplitPreTokenizer>(std::move(pattern), behavior, invert));
  }
  if (t == "Punctuation") {
    SplitBehavior behavior = SplitBehavior::isolated;
    if (auto be = get(obj, "behavior")) {
      MODELKIT_TRY(auto b, parse_behavior(*be, join(path, "behavior")));
      behavior = b;
    }
    return std::unique_ptr<PreTokenizer>(std::make_unique<PunctuationPreTokenizer>(behavior));
  }
  if (t == "Digits") {
    MODELKIT_TRY(auto individual, required_bool(obj, "individual_digits", path));
    return std::unique_ptr<PreTokenizer>(std::make_unique<DigitsPreTokenizer>(individual));
  }
  if (t == "CharDelimiterSplit") {
    MODELKIT_TRY(auto de, required(obj, "delimiter", path));
    MODELKIT_TRY(auto c, as_char(de, join(path, "delimiter")));
    return std::unique_ptr<PreTokenizer>(std::make_unique<CharDelimiterPreTokenizer>(c));
  }
  if (t == "Sequence") {
    MODELKIT_TRY(auto parts, parse_list<PreTokenizer>(obj, "pretokenizers", path, parse_pre_tokenizer));
    return std::unique_ptr<PreTokenizer>(std::make_unique<SequencePreTokenizer>(std::move(parts)));
  }
  if (t == "UnicodeScripts" || t == "FixedLength")
    return field_error(join(path, "type"), "pre-tokenizer type '" + std::string(t) + "' is not supported");
  return field_error(join(path, "type"), "unknown pre-tokenizer type '" + std::string(t) + "'");
}

// ---------------- models ----------------

Result<Vocab> parse_vocab_object(element e, std::string_view path) {
  MODELKIT_TRY(auto obj, as_object(e, path));
  Vocab vocab;
  vocab.reserve(obj.size());
  for (auto field : obj) {
    std::uint64_t id = 0;
    if (field.value.get_uint64().get(id) != simdjson::SUCCESS || id > 0xFFFFFFFFull)
      return failure("field '" + std::string(path) + "': token '" + std::string(field.key) +
                     "' must map to a non-negative integer id, got " + type_name(field.value));
    vocab[std::string(field.key)] = static_cast<std::uint32_t>(id);
  }
  return vocab;
}

Result<std::unique_ptr<Model>> parse_bpe(object obj, const std::string& path) {
  BpeConfig config;
  MODELKIT_TRY(auto ve, required(obj, "vocab", path));
  auto vocab = parse_vocab_object(ve, join(path, "vocab"));
  if (!vocab) return vocab.take_error();
  config.vocab = std::move(vocab.value());
  MODELKIT_TRY(auto me, required(obj, "merges", path));
  MODELKIT_TRY(auto merges, as_array(me, join(path, "merges")));
  std::size_t rank = 0;
  const std::string merges_path = join(path, "merges");
  for (element m : merges) {
    std::string_view line;
    if (m.get_string().get(line) == simdjson::SUCCESS) {
      if (line.starts_with("#version")) continue;
      auto space = line.find(' ');
      if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos)
        return field_error(merges_path, "merge " + std::to_string(rank + 1) + " '" + std::string(line) +
                                            "' is not two tokens separated by one space");
      config.merges.emplace_back(std::string(line.substr(0, space)), std::string(line.substr(space + 1)));
    } else {
      array pair;
      if (m.get_array().get(pair) != simdjson::SUCCESS || pair.size() != 2)
        return field_error(merges_path, "merge " + std::to_string(rank + 1) +
                                            " must be a string \"a b\" or a pair [\"a\", \"b\"], got " + type_name(m));
      std::string_view a;
      std::string_view b;
      if (pair.at(0).get_string().get(a) != simdjson::SUCCESS || pair.at(1).get_string().get(b) != simdjson::SUCCESS)
        return field_error(merges_path, "merge " + std::to_string(rank + 1) + " must hold two strings");
      config.merges.emplace_back(std::string(a), std::string(b));
    }
    ++rank;
  }
  if (auto d = get(obj, "dropout")) {
    MODELKIT_TRY(auto v, as_number(*d, join(path, "dropout")));
    if (v != 0.0)
      return field_error(join(path, "dropout"),
                         "BPE dropout " + std::to_string(v) + " is random at encode time and not supported (use null)");
  }
  MODELKIT_TRY(auto unk, optional_string(obj, "unk_token", path));
  config.unk_token = std::move(unk);
  MODELKIT_TRY(auto prefix, optional_string(obj, "continuing_subword_prefix", path));
  config.continuing_subword_prefix = std::move(prefix);
  MODELKIT_TRY(auto suffix, optional_string(obj, "end_of_word_suffix", path));
  config.end_of_word_suffix = std::move(suffix);
  MODELKIT_TRY(auto fuse, bool_or(obj, "fuse_unk", path, false));
  config.fuse_unk = fuse;
  MODELKIT_TRY(auto fallback, bool_or(obj, "byte_fallback", path, false));
  config.byte_fallback = fallback;
  MODELKIT_TRY(auto ignore, bool_or(obj, "ignore_merges", path, false));
  config.ignore_merges = ignore;
  MODELKIT_TRY_CTX(auto model, BpeModel::create(std::move(config)), "field '" + std::string(path) + "'");
  return std::unique_ptr<Model>(std::move(model));
}

Result<std::unique_ptr<Model>> parse_wordpiece(object obj, const std::string& path) {
  MODELKIT_TRY(auto ve, required(obj, "vocab", path));
  MODELKIT_TRY(auto vocab, parse_vocab_object(ve, join(path, "vocab")));
  MODELKIT_TRY(auto unk, required_string(obj, "unk_token", path));
  MODELKIT_TRY(auto prefix, required_string(obj, "continuing_subword_prefix", path));
  MODELKIT_TRY(auto me, required(obj, "max_input_chars_per_word", path));
  MODELKIT_TRY(auto max_chars, as_uint(me, join(path, "max_input_chars_per_word")));
  MODELKIT_TRY(auto model, WordPieceModel::create(std::move(vocab), std::string(unk), std::string(prefix),
                                      static_cast<std::size_t>(max_chars)));
  return std::unique_ptr<Model>(std::move(model));
}

Result<std::unique_ptr<Model>> parse_wordlevel(object obj, const std::string& path) {
  MODELKIT_TRY(auto ve, required(obj, "vocab", path));
  MODELKIT_TRY(auto vocab, parse_vocab_object(ve, join(path, "vocab")));
  MODELKIT_TRY(auto unk, required_string(obj, "unk_token", path));
  return std::unique_ptr<Model>(std::make_unique<WordLevelModel>(std::move(vocab), std::string(unk)));
}

Result<std::unique_ptr<Model>> parse_unigram(object obj, const std::string& path) {
  MODELKIT_TRY(auto ve, required(obj, "vocab", path));
  const std::string vocab_path = join(path, "vocab");
  MODELKIT_TRY(auto arr, as_array(ve, vocab_path));
  std::vector<std::pair<std::string, double>> pieces;
  pieces.reserve(arr.size());
  std::size_t i = 0;
  for (element item : arr) {
    array pair;
    std::string_view piece;
    if (item.get_array().get(pair) != simdjson::SUCCESS || pair.size() != 2 ||
        pair.at(0).get_string().get(piece) != simdjson::SUCCESS)
      return field_error(vocab_path, "entry " + std::to_string(i) + " must be [piece, score], got " + type_name(item));
    MODELKIT_TRY(auto score, as_number(pair.at(1).value_unsafe(), vocab_path + "[" + std::to_string(i) + "][1]"));
    pieces.emplace_back(std::string(piece), score);
    ++i;
  }
  std::optional<std::size_t> unk_id;
  if (auto u = get(obj, "unk_id")) {
    MODELKIT_TRY(auto v, as_uint(*u, join(path, "unk_id")));
    unk_id = static_cast<std::size_t>(v);
  }
  MODELKIT_TRY(auto fallback, bool_or(obj, "byte_fallback", path, false));
  MODELKIT_TRY_CTX(auto model, UnigramModel::create(std::move(pieces), unk_id, fallback), "field '" + std::string(path) + "'");
  return std::unique_ptr<Model>(std::move(model));
}

Result<std::unique_ptr<Model>> parse_model(element e, const std::string& path) {
  MODELKIT_TRY(auto obj, as_object(e, path));
  if (auto t = get(obj, "type")) {
    MODELKIT_TRY(auto type, as_string(*t, join(path, "type")));
    if (type == "BPE") return parse_bpe(obj, path);
    if (type == "WordPiece") return parse_wordpiece(obj, path);
    if (type == "WordLevel") return parse_wordlevel(obj, path);
    if (type == "Unigram") return parse_unigram(obj, path);
    return field_error(join(path, "type"),
                       "unknown model type '" + std::string(type) + "' (expected BPE, WordPiece, WordLevel, Unigram)");
  }
  // Old serialization without "type": the core tries BPE, WordPiece, WordLevel, Unigram in turn.
  element vocab;
  bool vocab_is_object = obj.at_key("vocab").get(vocab) == simdjson::SUCCESS && vocab.is_object();
  if (vocab_is_object && has_key(obj, "merges")) return parse_bpe(obj, path);
  if (vocab_is_object && has_key(obj, "unk_token") && has_key(obj, "continuing_subword_prefix") &&
      has_key(obj, "max_input_chars_per_word"))
    return parse_wordpiece(obj, path);
  if (vocab_is_object && has_key(obj, "unk_token")) return parse_wordlevel(obj, path);
  if (has_key(obj, "vocab") && vocab.is_array()) return parse_unigram(obj, path);
  return field_error(path, "no \"type\" and the fields match no model (BPE, WordPiece, WordLevel, Unigram)");
}

// ---------------- post-processors ----------------

Result<std::pair<std::string, std::uint32_t>> parse_token_pair(object obj, std::string_view key, std::string_view path) {
  MODELKIT_TRY(auto e, required(obj, key, path));
  const std::string p = join(path, key);
  array arr;
  std::string_view token;
  std::uint64_t id = 0;
  if (e.get_array().get(arr) != simdjson::SUCCESS || arr.size() != 2 ||
      arr.at(0).get_string().get(token) != simdjson::SUCCESS || arr.at(1).get_uint64().get(id) != simdjson::SUCCESS)
    return field_error(p, "expected [token, id], got " + type_name(e));
  return std::pair<std::string, std::uint32_t>{std::string(token), static_cast<std::uint32_t>(id)};
}

Result<std::vector<TemplateProcessor::Piece>> parse_template(element e, const std::string& path) {
  MODELKIT_TRY(auto arr, as_array(e, path));
  std::vector<TemplateProcessor::Piece> pieces;
  std::size_t i = 0;
  for (element item : arr) {
    const std::string ip = path + "[" + std::to_string(i++) + "]";
    MODELKIT_TRY(auto obj, as_object(item, ip));
    TemplateProcessor::Piece piece{};
    object inner;
    if (auto s = get(obj, "Sequence")) {
      MODELKIT_TRY(auto o, as_object(*s, ip + ".Sequence"));
      MODELKIT_TRY(auto id, required_string(o, "id", ip + ".Sequence"));
      if (id != "A" && id != "B") return field_error(ip + ".Sequence.id", "expected A or B, got '" + std::string(id) + "'");
      piece.is_sequence = true;
      piece.sequence = id == "A" ? 0 : 1;
      inner = o;
      MODELKIT_TRY(auto te, required(inner, "type_id", ip + ".Sequence"));
      auto type_id = as_u32(te, ip + ".Sequence.type_id");
      if (!type_id) return type_id.take_error();
      piece.type_id = *type_id;
    } else if (auto t = get(obj, "SpecialToken")) {
      MODELKIT_TRY(auto o, as_object(*t, ip + ".SpecialToken"));
      MODELKIT_TRY(auto id, required_string(o, "id", ip + ".SpecialToken"));
      piece.is_sequence = false;
      piece.special = std::string(id);
      MODELKIT_TRY(auto te, required(o, "type_id", ip + ".SpecialToken"));
      auto type_id = as_u32(te, ip + ".SpecialToken.type_id");
      if (!type_id) return type_id.take_error();
      piece.type_id = *type_id;
    } else {
      return field_error(ip, "expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
    }
    pieces.push_back(std::move(piece));
  }
  return pieces;
}

Result<std::unique_ptr<PostProcessor>> parse_post_processor(element e, const std::string& path) {
  MODELKIT_TRY(auto obj, as_object(e, path));
  MODELKIT_TRY(auto type, component_type(obj, path));
  const std::string_view t = type;
  if (t == "TemplateProcessing") {
    MODELKIT_TRY(auto se, required(obj, "single", path));
    MODELKIT_TRY(auto single, parse_template(se, join(path, "single")));
    MODELKIT_TRY(auto pe, required(obj, "pair", path));
    MODELKIT_TRY(auto pair, parse_template(pe, join(path, "pair")));
    MODELKIT_TRY(auto ste, required(obj, "special_tokens", path));
    const std::string sp = join(path, "special_tokens");
    MODELKIT_TRY(auto specials_obj, as_object(ste, sp));
    std::unordered_map<std::string, SpecialTokenSpec> specials;
    for (auto field : specials_obj) {
      const std::string fp = sp + "." + std::string(field.key);
      MODELKIT_TRY(auto o, as_object(field.value, fp));
      SpecialTokenSpec spec;
      MODELKIT_TRY(auto ids, required(o, "ids", fp));
      MODELKIT_TRY(auto ids_arr, as_array(ids, fp + ".ids"));
      for (element id : ids_arr) {
        MODELKIT_TRY(auto v, as_u32(id, fp + ".ids"));
        spec.ids.push_back(v);
      }
      MODELKIT_TRY(auto toks, required(o, "tokens", fp));
      MODELKIT_TRY(auto toks_arr, as_array(toks, fp + ".tokens"));
      for (element tok : toks_arr) {
        MODELKIT_TRY(auto v, as_string(tok, fp + ".tokens"));
        spec.tokens.emplace_back(v);
      }
      if (spec.ids.size() != spec.tokens.size())
        return field_error(fp, "ids and tokens must be of the same length");
      specials[std::string(field.key)] = std::move(spec);
    }
    for (const auto* list : {&single, &pair})
      for (const auto& p : *list)
        if (!p.is_sequence && !specials.contains(p.special))
          return field_error(sp, "the template uses special token '" + p.special + "' which is not defined here");
    return std::unique_ptr<PostProcessor>(
        std::make_unique<TemplateProcessor>(std::move(single), std::move(pair), std::move(specials)));
  }
  if (t == "BertProcessing" || t == "RobertaProcessing") {
    MODELKIT_TRY(auto sep, parse_token_pair(obj, "sep", path));
    MODELKIT_TRY(auto cls, parse_token_pair(obj, "cls", path));
    const bool roberta = t == "RobertaProcessing";
    if (roberta) {
      MODELKIT_TRY_VOID(bool_or(obj, "trim_offsets", path, true));  // read for its checks only
      MODELKIT_TRY_VOID(bool_or(obj, "add_prefix_space", path, true));  // read for its checks only
    }
    return std::unique_ptr<PostProcessor>(
        std::make_unique<BertProcessor>(std::move(sep), std::move(cls), roberta));
  }
  if (t == "ByteLevel") {
    for (const char* key : {"add_prefix_space", "trim_offsets", "use_regex"}) {
      MODELKIT_TRY_VOID(bool_or(obj, key, path, true));  // read for its checks only
    }
    return std::unique_ptr<PostProcessor>(std::make_unique<ByteLevelProcessor>());
  }
  if (t == "Sequence") {
    MODELKIT_TRY(auto parts, parse_list<PostProcessor>(obj, "processors", path, parse_post_processor));
    return std::unique_ptr<PostProcessor>(std::make_unique<SequenceProcessor>(std::move(parts)));
  }
  return field_error(join(path, "type"), "unknown post-processor type '" + std::string(t) + "'");
}

// ---------------- truncation / padding ----------------

Result<Direction> parse_direction(object obj, std::string_view path) {
  auto d = get(obj, "direction");
  if (!d) return Direction::right;
  MODELKIT_TRY(auto s, as_string(*d, join(path, "direction")));
  if (s == "Right") return Direction::right;
  if (s == "Left") return Direction::left;
  return field_error(join(path, "direction"), "expected Left or Right, got '" + std::string(s) + "'");
}

Result<TruncationParams> parse_truncation(element e) {
  const std::string path = "truncation";
  MODELKIT_TRY(auto obj, as_object(e, path));
  TruncationParams params;
  auto direction = parse_direction(obj, path);
  if (!direction) return direction.take_error();
  params.direction = *direction;
  MODELKIT_TRY(auto me, required(obj, "max_length", path));
  auto max_length = as_uint(me, "truncation.max_length");
  if (!max_length) return max_length.take_error();
  params.max_length = static_cast<std::size_t>(*max_length);
  MODELKIT_TRY(auto se, required(obj, "strategy", path));
  auto strategy = as_string(se, "truncation.strategy");
  if (!strategy) return strategy.take_error();
  if (*strategy == "LongestFirst") params.strategy = TruncationStrategy::longest_first;
  else if (*strategy == "OnlyFirst") params.strategy = TruncationStrategy::only_first;
  else if (*strategy == "OnlySecond") params.strategy = TruncationStrategy::only_second;
  else
    return field_error("truncation.strategy", "unknown strategy '" + std::string(*strategy) +
                                                  "' (expected LongestFirst, OnlyFirst, OnlySecond)");
  MODELKIT_TRY(auto st, required(obj, "stride", path));
  auto stride = as_uint(st, "truncation.stride");
  if (!stride) return stride.take_error();
  params.stride = static_cast<std::size_t>(*stride);
  return params;
}

Result<PaddingParams> parse_padding(element e) {
  const std::string path = "padding";
  MODELKIT_TRY(auto obj, as_object(e, path));
  PaddingParams params;
  MODELKIT_TRY(auto se, required(obj, "strategy", path));
  std::string_view name;
  object fixed;
  if (se.get_string().get(name) == simdjson::SUCCESS) {
    if (name != "BatchLongest")
      return field_error("padding.strategy", "expected \"BatchLongest\" or {\"Fixed\": n}, got '" + std::string(name) + "'");
  } else if (se.get_object().get(fixed) == simdjson::SUCCESS) {
    MODELKIT_TRY(auto fe, required(fixed, "Fixed", "padding.strategy"));
    MODELKIT_TRY(auto n, as_uint(fe, "padding.strategy.Fixed"));
    if (n > kMaxEncodingTokens)
      return field_error("padding.strategy.Fixed", std::to_string(n) + " is more than the " +
                                                       std::to_string(kMaxEncodingTokens) + " tokens an encoding may hold");
    params.fixed_length = static_cast<std::size_t>(n);
  } else {
    return type_error("padding.strategy", "\"BatchLongest\" or {\"Fixed\": n}", se);
  }
  auto direction = parse_direction(obj, path);
  if (!direction) return direction.take_error();
  params.direction = *direction;
  if (auto m = get(obj, "pad_to_multiple_of")) {
    MODELKIT_TRY(auto v, as_uint(*m, "padding.pad_to_multiple_of"));
    if (v > kMaxEncodingTokens)
      return field_error("padding.pad_to_multiple_of", std::to_string(v) + " is more than the " +
                                                           std::to_string(kMaxEncodingTokens) + " tokens an encoding may hold");
    params.pad_to_multiple_of = static_cast<std::size_t>(v);
  }
  MODELKIT_TRY(auto pid, required(obj, "pad_id", path));
  auto pad_id = as_u32(pid, "padding.pad_id");
  if (!pad_id) return pad_id.take_error();
  params.pad_id = *pad_id;
  MODELKIT_TRY(auto ptid, required(obj, "pad_type_id", path));
  auto pad_type_id = as_u32(ptid, "padding.pad_type_id");
  if (!pad_type_id) return pad_type_id.take_error();
  params.pad_type_id = *pad_type_id;
  MODELKIT_TRY(auto token, required_string(obj, "pad_token", path));
  params.pad_token = std::string(token);
  return params;
}

Result<std::vector<AddedToken>> parse_added_tokens(element e) {
  MODELKIT_TRY(auto arr, as_array(e, "added_tokens"));
  std::vector<AddedToken> tokens;
  std::size_t i = 0;
  for (element item : arr) {
    const std::string path = "added_tokens[" + std::to_string(i++) + "]";
    MODELKIT_TRY(auto obj, as_object(item, path));
    AddedToken t;
    auto content = required_string(obj, "content", path);
    if (!content) return content.take_error();
    t.content = std::string(*content);
    auto special = bool_or(obj, "special", path, false);
    if (!special) return special.take_error();
    t.special = *special;
    auto normalized = bool_or(obj, "normalized", path, !t.special);
    if (!normalized) return normalized.take_error();
    t.normalized = *normalized;
    auto single_word = bool_or(obj, "single_word", path, false);
    if (!single_word) return single_word.take_error();
    t.single_word = *single_word;
    auto lstrip = bool_or(obj, "lstrip", path, false);
    if (!lstrip) return lstrip.take_error();
    t.lstrip = *lstrip;
    auto rstrip = bool_or(obj, "rstrip", path, false);
    if (!rstrip) return rstrip.take_error();
    t.rstrip = *rstrip;
    if (auto id = get(obj, "id")) {
      MODELKIT_TRY_VOID(as_u32(*id, path + ".id"));  // read for its checks only
    }
    tokens.push_back(std::move(t));
  }
  return tokens;
}

Result<std::shared_ptr<Tokenizer::Impl>> load(std::string_view json) {
  simdjson::dom::parser parser;
  MODELKIT_TRY(auto doc, util::parse_json(parser, json));
  auto root = as_object(doc, "(top level)");
  if (!root) return failure("expected a JSON object at the top level, got " + type_name(doc));
  auto impl = std::make_shared<Tokenizer::Impl>();
  if (auto v = get(*root, "version")) {
    MODELKIT_TRY(auto s, as_string(*v, "version"));
    if (s != "1.0") return field_error("version", "unknown tokenizer version '" + std::string(s) + "'");
  }
  auto me = get(*root, "model");
  if (!me) return failure("missing field 'model'");
  auto model = parse_model(*me, "model");
  if (!model) return model.take_error();
  impl->model = std::move(model.value());
  if (auto n = get(*root, "normalizer")) {
    auto normalizer = parse_normalizer(*n, "normalizer");
    if (!normalizer) return normalizer.take_error();
    impl->normalizer = std::move(normalizer.value());
  }
  if (auto p = get(*root, "pre_tokenizer")) {
    MODELKIT_TRY(auto pre, parse_pre_tokenizer(*p, "pre_tokenizer"));
    impl->pre_tokenizer = std::move(pre);
    impl->track_offsets = impl->pre_tokenizer->needs_offsets();
  }
  if (auto p = get(*root, "post_processor")) {
    MODELKIT_TRY(auto post, parse_post_processor(*p, "post_processor"));
    impl->post_processor = std::move(post);
  }
  if (auto t = get(*root, "truncation")) {
    MODELKIT_TRY(auto trunc, parse_truncation(*t));
    impl->truncation = trunc;
  }
  if (auto p = get(*root, "padding")) {
    MODELKIT_TRY(auto pad, parse_padding(*p));
    impl->padding = std::move(pad);
  }
  if (auto a = get(*root, "added_tokens")) {
    MODELKIT_TRY(auto tokens, parse_added_tokens(*a));
    MODELKIT_TRY_VOID(impl->added.add_tokens(tokens, *impl->model, impl->normalizer.get()));
  }
  return impl;
}

}  // namespace

Result<std::shared_ptr<Tokenizer::Impl>> load_tokenizer_json(std::string_view json, std::string_view source) {
  MODELKIT_TRY_CTX(auto impl, load(json), source);
  impl->source = std::string(source);
  return impl;
}

}  // namespace modelkit::tokenizer
