// modelkit eval: a model (and optionally a second one on the same inputs) over a data set, with
// task metrics (docs/run-eval.md).
#include "infer/model_io.hpp"

#include <modelkit/registry.hpp>

#include "report/json_fields.hpp"
#include "util/file.hpp"
#include "util/json_read.hpp"
#include "util/json_writer.hpp"
#include "util/output_guard.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <set>

namespace modelkit::infer {
namespace fs = std::filesystem;

// ---- metrics ---------------------------------------------------------------------------------

double accuracy(std::span<const std::size_t> predicted, std::span<const std::size_t> reference) {
  if (reference.empty() || predicted.size() != reference.size()) return 0.0;
  std::size_t hits = 0;
  for (std::size_t i = 0; i < reference.size(); ++i) hits += predicted[i] == reference[i];
  return static_cast<double>(hits) / static_cast<double>(reference.size());
}

double macro_f1(std::span<const std::size_t> predicted, std::span<const std::size_t> reference) {
  if (reference.empty() || predicted.size() != reference.size()) return 0.0;
  std::set<std::size_t> classes(reference.begin(), reference.end());
  classes.insert(predicted.begin(), predicted.end());
  double sum = 0;
  for (auto c : classes) {
    double tp = 0, fp = 0, fn = 0;
    for (std::size_t i = 0; i < reference.size(); ++i) {
      if (predicted[i] == c && reference[i] == c) ++tp;
      else if (predicted[i] == c) ++fp;
      else if (reference[i] == c) ++fn;
    }
    sum += tp == 0 ? 0.0 : 2 * tp / (2 * tp + fp + fn);
  }
  return sum / static_cast<double>(classes.size());
}

namespace {
std::vector<double> ranks(std::span<const double> v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double avg = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (std::size_t k = i; k <= j; ++k) r[order[k]] = avg;
    i = j + 1;
  }
  return r;
}
}  // namespace

double spearman(std::span<const double> a, std::span<const double> b) {
  if (a.size() != b.size() || a.size() < 2) return 0.0;
  auto ra = ranks(a), rb = ranks(b);
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / n, mb = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double cov = 0, va = 0, vb = 0;
  for (std::size_t i = 0; i < ra.size(); ++i) {
    cov += (ra[i] - ma) * (rb[i] - mb);
    va += (ra[i] - ma) * (ra[i] - ma);
    vb += (rb[i] - mb) * (rb[i] - mb);
  }
  if (va == 0 || vb == 0) return va == vb ? 1.0 : 0.0;
  return cov / std::sqrt(va * vb);
}

double kl_divergence(std::span<const double> p, std::span<const double> q) {
  constexpr double kFloor = 1e-12;
  double kl = 0;
  for (std::size_t i = 0; i < std::min(p.size(), q.size()); ++i)
    if (p[i] > 0) kl += p[i] * std::log(p[i] / std::max(q[i], kFloor));
  return kl;
}

// ---- data --------------------------------------------------------------------------------------

namespace {

struct Example {
  std::vector<Tensor> inputs;
  std::vector<std::int64_t> mask;
  std::optional<std::size_t> label;
  // Token classification with per-word tags: each word's first token, and the reference tags.
  std::vector<std::size_t> word_start;
  std::vector<std::string> word_tags;
  // Question answering with answers: the tokens fed and the gold answers.
  TokenView view;
  std::vector<std::string> answers;
};

struct Columns {
  std::string text = "text", pair = "text_pair", label = "label";
  std::string words = "tokens", tags = "ner_tags", answers = "answers";
  bool text_named = false, pair_named = false;
};

Result<Columns> columns_from(const std::vector<std::pair<std::string, std::string>>& given, bool question_answering) {
  Columns c;
  if (question_answering) c.text = "question", c.pair = "context";  // SQuAD's field names
  for (const auto& [role, name] : given) {
    if (role == "text") c.text = name, c.text_named = true;
    else if (role == "text_pair" || role == "pair") c.pair = name, c.pair_named = true;
    else if (role == "label") c.label = name;
    else if (role == "tokens") c.words = name;
    else if (role == "ner_tags") c.tags = name;
    else if (role == "answers") c.answers = name;
    else
      return usage_error("option '--column': expected text=, text_pair=, label=, tokens=, ner_tags= or answers=, got '" +
                         role + "='");
  }
  return c;
}

}  // namespace

Result<std::pair<std::string, std::string>> parse_column_option(std::string_view option, std::string_view value) {
  std::string roles;
  for (auto r : kEvalColumnRoles) roles += (roles.empty() ? "" : ", ") + std::string(r) + "=";
  const auto eq = value.find('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == value.size())
    return usage_error("option '" + std::string(option) + "': expected ROLE=NAME (" + roles + "), got '" +
                       std::string(value) + "'");
  std::string role(value.substr(0, eq));
  if (role == "pair") role = "text_pair";
  if (std::find(std::begin(kEvalColumnRoles), std::end(kEvalColumnRoles), role) == std::end(kEvalColumnRoles))
    return usage_error("option '" + std::string(option) + "': unknown role '" + role + "=' (roles: " + roles + ")");
  return std::pair{role, std::string(value.substr(eq + 1))};
}

namespace {

struct LabelledText {
  std::string text;
  std::optional<std::string> pair;
  std::optional<std::string> label;
  std::uint64_t line = 0;
  std::vector<std::string> words, word_tags;  // tokens / ner_tags
  std::optional<std::vector<std::string>> answers;
};

// A list of strings, or of integers (class ids, kept as their decimal text).
Result<std::optional<std::vector<std::string>>> string_or_id_list(simdjson::dom::object obj, const std::string& key,
                                                                  const std::string& where) {
  simdjson::dom::element e;
  if (obj[key].get(e) != simdjson::SUCCESS || e.is_null()) return std::optional<std::vector<std::string>>{};
  simdjson::dom::array arr;
  if (e.get(arr) != simdjson::SUCCESS) return failure(where + ": field '" + key + "' must be a list");
  std::vector<std::string> out;
  for (auto v : arr) {
    if (v.is_string()) out.emplace_back(v.get_string().value_unsafe());
    else if (v.is_int64()) out.push_back(std::to_string(v.get_int64().value_unsafe()));
    else return failure(where + ": field '" + key + "' must hold strings or integers");
  }
  return std::optional(std::move(out));
}

// SQuAD's {"text": [...], "answer_start": [...]}, or a plain list of answer strings.
Result<std::optional<std::vector<std::string>>> answers_of(simdjson::dom::object obj, const std::string& key,
                                                           const std::string& where) {
  simdjson::dom::element e;
  if (obj[key].get(e) != simdjson::SUCCESS || e.is_null()) return std::optional<std::vector<std::string>>{};
  simdjson::dom::object squad;
  if (e.get(squad) == simdjson::SUCCESS) {
    MODELKIT_TRY(auto texts, string_or_id_list(squad, "text", where + " field '" + key + "'"));
    if (!texts) return failure(where + ": field '" + key + "' is an object without a 'text' list");
    return texts;
  }
  MODELKIT_TRY(auto list, string_or_id_list(obj, key, where));
  return list;
}

// .jsonl: one object a line; the label may be a string (a name) or an integer (an id).
Result<std::vector<LabelledText>> read_jsonl(const fs::path& path, const Columns& cols, std::size_t max) {
  MODELKIT_TRY(auto reader, util::LineReader::open(path));
  simdjson::dom::parser parser;
  std::vector<LabelledText> out;
  constexpr std::size_t kMaxLine = std::size_t{16} << 20;
  while (out.size() < max) {
    MODELKIT_TRY(auto line, reader.next(kMaxLine));
    if (!line) break;
    const auto where = quoted(path) + " line " + std::to_string(line->number);
    if (line->cut()) return failure(where + ": longer than " + std::to_string(kMaxLine) + " bytes");
    if (util::trim(line->text).empty()) continue;
    auto doc = util::parse_json(parser, line->text);
    if (!doc) return doc.take_error().with_context(where);
    if (!doc->is_object()) return failure(where + ": expected a JSON object");
    auto obj = doc->get_object().value_unsafe();
    std::vector<std::string> keys;
    for (auto f : obj) keys.emplace_back(f.key);
    MODELKIT_TRY(auto words, string_or_id_list(obj, cols.words, where));
    auto text = util::optional_string(obj, cols.text);
    if (!text) return text.take_error().with_context(where);
    if (!*text && !(words && !cols.text_named))
      return failure(where + ": no field '" + cols.text + "' (fields: " + util::join(keys, ", ") +
                     "); name the text's field with --column text=NAME");
    LabelledText row{*text ? std::string(**text) : std::string(), std::nullopt, std::nullopt, line->number, {}, {}, {}};
    if (words && !*text) {
      // Pre-split words (CoNLL style): the text is the words joined by single spaces.
      if (words->empty()) return failure(where + ": field '" + cols.words + "' is an empty list");
      row.text = util::join(*words, " ");
      row.words = std::move(*words);
      MODELKIT_TRY(auto tags, string_or_id_list(obj, cols.tags, where));
      if (tags) {
        if (tags->size() != row.words.size())
          return failure(where + ": " + std::to_string(tags->size()) + " " + cols.tags + " for " +
                         std::to_string(row.words.size()) + " " + cols.words + "; give one tag per word");
        row.word_tags = std::move(*tags);
      }
    }
    MODELKIT_TRY(row.answers, answers_of(obj, cols.answers, where));
    auto pair = util::optional_string(obj, cols.pair);
    if (!pair) return pair.take_error().with_context(where);
    if (*pair) row.pair = std::string(**pair);
    else if (cols.pair_named) return failure(where + ": no field '" + cols.pair + "' (fields: " + util::join(keys, ", ") + ")");
    simdjson::dom::element label;
    if (obj[cols.label].get(label) == simdjson::SUCCESS && !label.is_null()) {
      if (label.is_string()) row.label = std::string(label.get_string().value_unsafe());
      else if (label.is_int64()) row.label = std::to_string(label.get_int64().value_unsafe());
      else return failure(where + ": field '" + cols.label + "' must be a label name or a class id");
    }
    out.push_back(std::move(row));
  }
  return out;
}

// .csv/.tsv through calibration's reader: once for the text (and pair), once for the label
// column read as text, row for row.
Result<std::vector<LabelledText>> read_table(const fs::path& path, const Columns& cols, std::size_t max) {
  calib::TextColumns tc;
  tc.text = cols.text;
  if (cols.pair_named) tc.pair = cols.pair;
  calib::TextReadLimits limits;
  limits.max_samples = max;
  auto texts = calib::read_text_samples(path, tc, limits);
  if (!texts) {
    if (texts.error().message.find("--text-column") != std::string::npos)
      return failure(texts.error().message.substr(0, texts.error().message.find("; name")) +
                     "; name the text's column with --column text=NAME");
    return texts.take_error();
  }
  std::vector<LabelledText> out;
  for (auto& t : *texts) out.push_back({std::move(t.text), std::move(t.pair), std::nullopt, 0, {}, {}, {}});
  calib::TextColumns lc;
  lc.text = cols.label;
  auto labels = calib::read_text_samples(path, lc, limits);
  if (labels) {
    if (labels->size() != out.size())
      return failure(quoted(path) + ": " + std::to_string(out.size()) + " rows have text but " +
                     std::to_string(labels->size()) + " have a label; give every row both or no label column");
    for (std::size_t i = 0; i < out.size(); ++i) out[i].label = std::move((*labels)[i].text);
  } else if (cols.label != "label") {
    return labels.take_error();  // a label column the user named must be there
  }
  return out;
}

Result<std::size_t> label_id(const LabelInfo& labels, const std::string& label, const std::string& where) {
  if (auto id = labels.id_of(label)) return *id;
  std::size_t id = 0;
  auto [ptr, ec] = std::from_chars(label.data(), label.data() + label.size(), id);
  if (ec == std::errc() && ptr == label.data() + label.size() && id < labels.id2label.size()) return id;
  std::vector<std::string> shown(labels.id2label.begin(),
                                 labels.id2label.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(labels.id2label.size(), 20)));
  return failure(where + ": label " + quoted(label) + " is not in the model's id2label (" +
                 (labels.id2label.empty() ? std::string("config.json has none") : util::join(shown, ", ")) +
                 (labels.id2label.size() > 20 ? ", ..." : "") + ")");
}

// Each word's first token in the encoded sentence (words joined by spaces): the words are
// tokenized alone and their tokens counted off the sentence's non-special tokens. A sentence whose
// words tokenize differently alone (a BPE that marks the space, truncation) is an error: that
// sample is skipped and counted, never scored on misaligned tags.
Result<std::vector<std::size_t>> word_starts(const tokenizer::Tokenizer& tok, const std::vector<std::string>& words,
                                             const TokenView& view) {
  std::vector<std::size_t> positions;
  for (std::size_t i = 0; i < view.tokens.size(); ++i)
    if (!(i < view.special.size() && view.special[i])) positions.push_back(i);
  std::vector<std::size_t> out;
  std::size_t next = 0;
  for (const auto& w : words) {
    MODELKIT_TRY(auto enc, tok.encode(w, std::nullopt, false));
    if (enc.ids.empty() || next + enc.ids.size() > positions.size())
      return failure("word " + quoted(w) + " does not line up with the sentence's tokens");
    for (std::size_t k = 0; k < enc.ids.size(); ++k)
      if (view.ids[positions[next + k]] != enc.ids[k])
        return failure("word " + quoted(w) + " tokenizes differently alone than in the sentence");
    out.push_back(positions[next]);
    next += enc.ids.size();
  }
  if (next != positions.size()) return failure("the words do not cover the sentence's tokens");
  return out;
}

struct Loaded {
  std::vector<Example> examples;
  std::string data_source;
  std::size_t skipped = 0;
  std::vector<std::string> skip_reasons;
  std::vector<std::string> notes;
};

void note_skip(Loaded& l, const std::string& why) {
  ++l.skipped;
  if (l.skip_reasons.size() < 5 && std::find(l.skip_reasons.begin(), l.skip_reasons.end(), why) == l.skip_reasons.end())
    l.skip_reasons.push_back(why);
}

Result<void> add_media(const LoadedModel& m, CalibrationKind kind, const std::optional<fs::path>& dir,
                       std::optional<std::size_t> label, std::size_t max, const std::vector<InputShape>& shapes,
                       Loaded& out) {
  if (out.examples.size() >= max) return {};
  MODELKIT_TRY(auto sel, media_source(m, kind, dir, static_cast<int>(max - out.examples.size()), shapes));
  while (out.examples.size() < max) {
    MODELKIT_TRY(auto sample, sel.source->next());
    if (!sample) break;
    out.examples.push_back({std::move(*sample), {}, label, {}, {}, {}, {}});
  }
  for (const auto& s : sel.source->skipped_inputs()) note_skip(out, s);
  for (const auto& w : sel.warnings)
    if (std::find(out.notes.begin(), out.notes.end(), w) == out.notes.end()) out.notes.push_back(w);
  if (out.data_source.empty()) out.data_source = sel.record.data_source;
  return {};
}

Result<Loaded> load_examples(const LoadedModel& m, const EvalRequest& req) {
  Loaded out;
  const auto task_kind = registry::calibration_kind_for_task(m.model.resolution.task_id);
  std::optional<std::string> data_kind;
  if (req.data) {
    std::error_code ec;
    // A folder of class sub-folders is judged by its first sub-folder.
    if (fs::is_directory(*req.data, ec)) {
      for (const auto& e : fs::directory_iterator(*req.data, ec))
        if (e.is_directory()) {
          auto k = calib::data_kind_of(e.path());
          if (k) data_kind = *k;
          break;
        }
    }
    if (!data_kind) {
      MODELKIT_TRY(auto k, calib::data_kind_of(*req.data));
      data_kind = k;
    }
    if (task_kind && std::string(setting_name(*task_kind)) != *data_kind)
      return usage_error("--data " + quoted(*req.data) + " holds " + *data_kind + " but the model's task '" + m.task() +
                         "' takes " + std::string(setting_name(*task_kind)));
  }
  if (!data_kind && !task_kind)
    return usage_error("the model has no task with a data kind (task '" + m.task() +
                       "'); give --data FILE|DIR (text, an image folder or audio) or --task");
  const std::string kind = data_kind.value_or(std::string(setting_name(*task_kind)));
  if (kind == "text") {
    MODELKIT_TRY(auto tok, load_tokenizer(m));
    std::vector<LabelledText> rows;
    if (req.data) {
      MODELKIT_TRY(auto cols, columns_from(req.columns, m.task() == "question-answering"));
      const auto ext = util::to_lower(req.data->extension().string());
      if (ext == ".jsonl") {
        MODELKIT_TRY(rows, read_jsonl(*req.data, cols, req.samples));
      } else if (ext == ".csv" || ext == ".tsv") {
        MODELKIT_TRY(rows, read_table(*req.data, cols, req.samples));
      } else {
        MODELKIT_TRY(auto plain, calib::read_text_samples(*req.data, {}, {req.samples, static_cast<std::size_t>(-1)}));
        for (auto& t : plain) rows.push_back({std::move(t.text), std::nullopt, std::nullopt, 0, {}, {}, {}});
      }
      out.data_source = req.data->string();
    } else {
      for (auto& t : calib::default_texts()) rows.push_back({std::move(t), std::nullopt, std::nullopt, 0, {}, {}, {}});
      if (rows.size() > req.samples) rows.resize(req.samples);
      out.data_source = "embedded default calibration text (unlabelled)";
    }
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& r = rows[i];
      const std::string where = (req.data ? quoted(*req.data) : std::string("default text")) + " sample " + std::to_string(i + 1);
      std::optional<std::size_t> label;
      if (r.label) {
        MODELKIT_TRY(label, label_id(m.labels, *r.label, where));
      }
      auto t = text_inputs(m, tok, r.text, r.pair);
      if (!t) {
        if (t.error().kind == ErrorKind::usage) return t.take_error();  // the model takes no text
        note_skip(out, where + ": " + t.error().message);
        continue;
      }
      Example ex{std::move(t->tensors), std::move(t->attention_mask), label, {}, {}, {}, {}};
      if (!r.word_tags.empty()) {
        std::vector<std::string> tags;
        for (const auto& tag : r.word_tags) {
          MODELKIT_TRY(auto id, label_id(m.labels, tag, where));
          tags.push_back(m.labels.label(id));
        }
        auto starts = word_starts(tok, r.words, t->view);
        if (!starts) {
          note_skip(out, where + ": " + starts.error().message);
          continue;
        }
        ex.word_start = std::move(*starts);
        ex.word_tags = std::move(tags);
      }
      if (r.answers) {
        ex.view = t->view;
        ex.answers = *r.answers;
      }
      // All three text tensors are kept: each model takes the ones it has (conform_inputs).
      out.examples.push_back(std::move(ex));
    }
    return out;
  }
  MODELKIT_TRY(auto media_kind, parse_setting<CalibrationKind>(kind));
  if (req.data) {
    std::error_code ec;
    std::vector<fs::path> classes;
    if (fs::is_directory(*req.data, ec))
      for (const auto& e : fs::directory_iterator(*req.data, ec))
        if (e.is_directory()) classes.push_back(e.path());
    std::sort(classes.begin(), classes.end());
    if (classes.empty()) {
      MODELKIT_TRY_VOID(add_media(m, media_kind, *req.data, std::nullopt, req.samples, req.input_shapes, out));
    } else {
      // One sub-folder per class: its name is the label. Samples are shared out across classes.
      const std::size_t per_class = std::max<std::size_t>(1, req.samples / classes.size());
      for (const auto& dir : classes) {
        MODELKIT_TRY(auto label, label_id(m.labels, dir.filename().string(), "--data folder " + quoted(dir)));
        const std::size_t before = out.examples.size();
        auto added = add_media(m, media_kind, dir, label, std::min(req.samples, before + per_class), req.input_shapes, out);
        if (!added) note_skip(out, "class folder " + quoted(dir) + ": " + added.error().message);
      }
    }
    out.data_source = req.data->string();
  } else {
    MODELKIT_TRY_VOID(add_media(m, media_kind, std::nullopt, std::nullopt, req.samples, req.input_shapes, out));
  }
  return out;
}

struct ModelRun {
  std::vector<std::vector<Tensor>> outputs;  // per example
};

Result<std::vector<Tensor>> run_one(LoadedModel& m, const Example& ex) {
  std::vector<Tensor> copy = ex.inputs;
  MODELKIT_TRY(auto inputs, conform_inputs(m, std::move(copy)));
  return m.session->run(inputs);
}

// The argmax label of each word's first token (how token classifiers are scored per word).
Result<std::vector<std::string>> word_tags_of(const LoadedModel& m, const std::vector<Tensor>& outputs,
                                              const std::vector<std::size_t>& word_start) {
  const auto* logits = find_output(outputs, "logits");
  if (!logits) logits = &outputs.front();
  if (logits->shape.size() != 3 || logits->shape[0] != 1)
    return failure("token classification output '" + logits->name + "' has shape [" + format_shape(logits->shape) +
                   "], expected [1, tokens, labels]");
  MODELKIT_TRY(auto v, as_floats(*logits));
  const auto tokens = static_cast<std::size_t>(logits->shape[1]), labels = static_cast<std::size_t>(logits->shape[2]);
  std::vector<std::string> out;
  for (auto t : word_start) {
    if (t >= tokens || labels == 0) return failure("token classification output is shorter than the tokens fed");
    const auto row = std::span<const float>(v).subspan(t * labels, labels);
    out.push_back(m.labels.label(static_cast<std::size_t>(std::max_element(row.begin(), row.end()) - row.begin())));
  }
  return out;
}

// The question answering pipeline's best span, as text.
Result<std::string> best_answer(const std::vector<Tensor>& outputs, const TokenView& view) {
  const auto* s = find_output(outputs, "start_logits");
  const auto* e = find_output(outputs, "end_logits");
  if (!s || !e) return failure("a question answering model has start_logits and end_logits outputs; this one has not");
  MODELKIT_TRY(auto sv, as_floats(*s));
  MODELKIT_TRY(auto ev, as_floats(*e));
  MODELKIT_TRY(auto spans, answer_spans(sv, ev, view, 1, kDefaultMaxAnswerTokens));
  return spans.empty() ? std::string() : spans.front().answer;
}

std::string kind_of_task(const std::string& task) {
  if (task == "text-classification" || task == "image-classification" || task == "audio-classification")
    return "classification";
  if (task == "feature-extraction" || task == "sentence-similarity" || task == "image-feature-extraction")
    return "feature-extraction";
  if (task == "token-classification" || task == "question-answering") return task;
  return "raw";
}

}  // namespace

Result<EvalReport> evaluate(const EvalRequest& req) {
  if (req.samples == 0) return usage_error("--samples must be at least 1");
  if (req.per_tensor && !req.compare)
    return usage_error("--per-tensor compares a QDQ model (-m) with its float model: give --compare FLOAT_MODEL");
  MODELKIT_TRY(auto a, load_model(req.spec, req.config, req.threads));
  std::optional<LoadedModel> b;
  if (req.compare) {
    ModelSpec other;
    other.model = *req.compare;
    other.task = req.spec.task;  // the user's --task binds both; otherwise each resolves its own
    MODELKIT_TRY(auto loaded, load_model(other, std::nullopt, req.threads));
    b = std::move(loaded);
  }
  EvalReport rep;
  rep.model = *req.spec.model;
  rep.compare = req.compare;
  rep.resolution = a.model.resolution;
  rep.notes = a.notes;
  MODELKIT_TRY(auto data, load_examples(a, req));
  rep.data_source = data.data_source;
  rep.skipped = data.skipped;
  rep.skip_reasons = data.skip_reasons;
  rep.notes.insert(rep.notes.end(), data.notes.begin(), data.notes.end());
  rep.samples = data.examples.size();
  if (data.examples.empty()) return failure("no sample of " + rep.data_source + " could be used" +
                                            (data.skip_reasons.empty() ? "" : " (" + data.skip_reasons.front() + ")"));
  const std::string kind = kind_of_task(a.task());
  std::vector<std::size_t> pred_a, pred_b, reference;
  std::vector<std::size_t> pred_a_labelled, pred_b_labelled;
  std::vector<double> cosines, kls;
  std::vector<std::vector<float>> emb_a, emb_b;
  std::map<std::string, OutputAgreement> per_output;
  std::vector<std::string> output_order;
  std::size_t agree = 0;
  EntityCounts entities_a, entities_b;
  double em_a = 0, f1_a = 0, em_b = 0, f1_b = 0;
  std::size_t tagged = 0, answered = 0;
  for (const auto& ex : data.examples) {
    MODELKIT_TRY(auto out_a, run_one(a, ex));
    std::vector<Tensor> out_b;
    if (b) {
      MODELKIT_TRY(out_b, run_one(*b, ex));
    }
    if (kind == "classification") {
      auto logits = [](const std::vector<Tensor>& o) -> const Tensor& {
        const auto* t = find_output(o, "logits");
        return t ? *t : o.front();
      };
      MODELKIT_TRY(auto la, as_floats(logits(out_a)));
      auto pa = class_probabilities(la, a.labels);
      const auto top_a = static_cast<std::size_t>(std::max_element(pa.begin(), pa.end()) - pa.begin());
      pred_a.push_back(top_a);
      if (ex.label) {
        reference.push_back(*ex.label);
        pred_a_labelled.push_back(top_a);
      }
      if (b) {
        MODELKIT_TRY(auto lb, as_floats(logits(out_b)));
        if (lb.size() != la.size())
          return failure("the two models give " + std::to_string(la.size()) + " and " + std::to_string(lb.size()) +
                         " classes; they do not answer the same question");
        auto pb = class_probabilities(lb, a.labels);
        const auto top_b = static_cast<std::size_t>(std::max_element(pb.begin(), pb.end()) - pb.begin());
        if (ex.label) pred_b_labelled.push_back(top_b);
        agree += top_a == top_b;
        kls.push_back(kl_divergence(pb, pa));  // the compared (reference) model's distribution first
      }
    } else if (kind == "token-classification" && !ex.word_tags.empty()) {
      MODELKIT_TRY(auto tags_a, word_tags_of(a, out_a, ex.word_start));
      entities_a.add(tags_a, ex.word_tags);
      if (b) {
        MODELKIT_TRY(auto tags_b, word_tags_of(*b, out_b, ex.word_start));
        entities_b.add(tags_b, ex.word_tags);
      }
      ++tagged;
    } else if (kind == "question-answering" && !ex.answers.empty()) {
      MODELKIT_TRY(auto ans_a, best_answer(out_a, ex.view));
      em_a += squad_exact_match(ans_a, ex.answers);
      f1_a += squad_f1(ans_a, ex.answers);
      if (b) {
        MODELKIT_TRY(auto ans_b, best_answer(out_b, ex.view));
        em_b += squad_exact_match(ans_b, ex.answers);
        f1_b += squad_f1(ans_b, ex.answers);
      }
      ++answered;
    } else if (kind == "feature-extraction") {
      MODELKIT_TRY(auto ea, embedding_from(a, out_a, ex.mask, req.pooling));
      emb_a.push_back(std::move(ea.first));
      if (b) {
        MODELKIT_TRY(auto eb, embedding_from(*b, out_b, ex.mask, req.pooling));
        cosines.push_back(cosine_similarity(emb_a.back(), eb.first));
        emb_b.push_back(std::move(eb.first));
      }
    }
    if (b) {
      // Every output the two models share, by name: cosine and largest absolute difference.
      for (const auto& ta : out_a) {
        const auto* tb = find_output(out_b, ta.name);
        if (!tb) continue;
        auto va = as_floats(ta), vb = as_floats(*tb);
        if (!va || !vb || va->size() != vb->size()) continue;
        auto [it, fresh] = per_output.try_emplace(ta.name, OutputAgreement{ta.name, 1.0, 0.0, 0.0});
        if (fresh) output_order.push_back(ta.name);
        const double cos = cosine_similarity(*va, *vb);
        it->second.min_cosine = std::min(it->second.min_cosine, cos);
        it->second.mean_cosine += cos;  // summed here, divided below
        for (std::size_t i = 0; i < va->size(); ++i)
          it->second.max_abs = std::max(it->second.max_abs, std::abs(static_cast<double>((*va)[i]) - (*vb)[i]));
      }
    }
  }
  rep.labelled = reference.size() + tagged + answered;
  if (tagged > 0) {
    rep.entity_f1 = entities_a.f1();
    rep.entity_precision = entities_a.precision();
    rep.entity_recall = entities_a.recall();
    if (b) rep.compare_entity_f1 = entities_b.f1();
  }
  if (answered > 0) {
    rep.exact_match = em_a / static_cast<double>(answered);
    rep.qa_f1 = f1_a / static_cast<double>(answered);
    if (b) {
      rep.compare_exact_match = em_b / static_cast<double>(answered);
      rep.compare_qa_f1 = f1_b / static_cast<double>(answered);
    }
  }
  if (!reference.empty()) {
    rep.accuracy = accuracy(pred_a_labelled, reference);
    rep.macro_f1 = macro_f1(pred_a_labelled, reference);
    if (b) {
      rep.compare_accuracy = accuracy(pred_b_labelled, reference);
      rep.compare_macro_f1 = macro_f1(pred_b_labelled, reference);
    }
  }
  const double n = static_cast<double>(rep.samples);
  if (b && kind == "classification") {
    rep.top1_agreement = static_cast<double>(agree) / n;
    rep.mean_kl = std::accumulate(kls.begin(), kls.end(), 0.0) / n;
  }
  if (b && kind == "feature-extraction") {
    rep.mean_cosine = std::accumulate(cosines.begin(), cosines.end(), 0.0) / n;
    rep.min_cosine = *std::min_element(cosines.begin(), cosines.end());
    if (emb_a.size() >= 3) {
      std::vector<double> sa, sb;
      for (std::size_t i = 0; i < emb_a.size(); ++i)
        for (std::size_t j = i + 1; j < emb_a.size(); ++j) {
          sa.push_back(cosine_similarity(emb_a[i], emb_a[j]));
          sb.push_back(cosine_similarity(emb_b[i], emb_b[j]));
        }
      rep.spearman = spearman(sa, sb);
    } else {
      rep.notes.push_back("the Spearman correlation of pairwise similarities needs 3 or more samples");
    }
  }
  for (const auto& name : output_order) {
    auto o = per_output[name];
    o.mean_cosine /= n;
    rep.outputs.push_back(o);
  }
  if (req.per_tensor) {
    std::vector<std::vector<Tensor>> samples;
    for (const auto& ex : data.examples) {
      MODELKIT_TRY(auto in, conform_inputs(a, ex.inputs));
      samples.push_back(std::move(in));
    }
    MODELKIT_TRY(rep.per_tensor, per_tensor_errors(b->onnx, a.onnx, samples, req.threads));
    rep.exclude_nodes = exclude_nodes_line(rep.per_tensor, req.worst);
  }
  if (!b && rep.labelled == 0)
    rep.notes.push_back("no labels and no --compare: the model ran on every sample, but there is nothing to score");
  if (b && (kind == "raw" || ((kind == "token-classification" || kind == "question-answering") && tagged + answered == 0)))
    rep.notes.push_back((a.task().empty() ? std::string("no task") : "task '" + a.task() + "'") +
                        ": the models are compared output by output");
  return rep;
}

Result<void> check_report_output(const fs::path& output, bool force, std::span<const fs::path> inputs) {
  return util::check_output(output, force, inputs);
}

Result<void> write_report(const fs::path& output, std::string_view json) { return util::write_file_atomic(output, json); }

std::string eval_report_json(const EvalReport& r) {
  util::JsonWriter w;
  w.begin_object();
  w.field("command", "eval");
  w.field("model", r.model);
  w.field("compare", r.compare);
  w.key("resolution");
  report::write_resolution(w, r.resolution);
  w.field("data", r.data_source);
  w.field("samples", static_cast<std::uint64_t>(r.samples));
  w.field("labelled", static_cast<std::uint64_t>(r.labelled));
  w.field("skipped", static_cast<std::uint64_t>(r.skipped));
  w.key("skip_reasons").string_array(r.skip_reasons);
  w.key("metrics").begin_object();
  w.field("accuracy", r.accuracy);
  w.field("macro_f1", r.macro_f1);
  w.field("compare_accuracy", r.compare_accuracy);
  w.field("compare_macro_f1", r.compare_macro_f1);
  w.field("top1_agreement", r.top1_agreement);
  w.field("mean_kl", r.mean_kl);
  w.field("mean_cosine", r.mean_cosine);
  w.field("min_cosine", r.min_cosine);
  w.field("spearman", r.spearman);
  w.field("entity_f1", r.entity_f1);
  w.field("entity_precision", r.entity_precision);
  w.field("entity_recall", r.entity_recall);
  w.field("compare_entity_f1", r.compare_entity_f1);
  w.field("exact_match", r.exact_match);
  w.field("qa_f1", r.qa_f1);
  w.field("compare_exact_match", r.compare_exact_match);
  w.field("compare_qa_f1", r.compare_qa_f1);
  w.end_object();
  w.key("outputs").begin_array();
  for (const auto& o : r.outputs) {
    w.begin_object();
    w.field("name", o.name);
    w.field("mean_cosine", o.mean_cosine);
    w.field("min_cosine", o.min_cosine);
    w.field("max_abs", o.max_abs);
    w.end_object();
  }
  w.end_array();
  if (!r.per_tensor.empty()) {
    w.key("per_tensor").begin_array();
    for (const auto& t : r.per_tensor) {
      w.begin_object();
      w.field("tensor", t.tensor);
      w.field("producer", t.producer);
      w.field("graph_index", static_cast<std::uint64_t>(t.graph_index));
      w.field("qdq_sqnr_db", t.qdq_sqnr);
      w.field("xmodel_sqnr_db", t.xmodel_sqnr);
      w.key("consumers").string_array(t.consumers);
      w.end_object();
    }
    w.end_array();
    w.field("exclude_nodes", r.exclude_nodes);
  }
  w.key("notes").string_array(r.notes);
  w.end_object();
  std::string out = w.take();
  if (!out.ends_with('\n')) out += '\n';
  return out;
}

std::string eval_report_text(const EvalReport& r) {
  std::string out;
  char buf[256];
  auto esc = [](std::string_view s) { return escape_control_characters(s); };
  out += "task           " + r.resolution.task.value_or("unresolved") + "\n";
  out += "data           " + esc(r.data_source) + "\n";
  out += "samples        " + std::to_string(r.samples) + " (" + std::to_string(r.labelled) + " labelled, " +
         std::to_string(r.skipped) + " skipped)\n";
  for (const auto& s : r.skip_reasons) out += "skipped        " + esc(s) + "\n";
  auto metric = [&](const char* name, const std::optional<double>& v) {
    if (!v) return;
    std::snprintf(buf, sizeof buf, "%-15s%.6f\n", name, *v);
    out += buf;
  };
  metric("accuracy", r.accuracy);
  metric("macro_f1", r.macro_f1);
  metric("compare acc.", r.compare_accuracy);
  metric("compare F1", r.compare_macro_f1);
  metric("top-1 agree", r.top1_agreement);
  metric("mean KL", r.mean_kl);
  metric("mean cosine", r.mean_cosine);
  metric("min cosine", r.min_cosine);
  metric("spearman", r.spearman);
  metric("entity F1", r.entity_f1);
  metric("entity prec.", r.entity_precision);
  metric("entity recall", r.entity_recall);
  metric("compare ent.F1", r.compare_entity_f1);
  metric("exact match", r.exact_match);
  metric("QA F1", r.qa_f1);
  metric("compare EM", r.compare_exact_match);
  metric("compare QA F1", r.compare_qa_f1);
  for (const auto& o : r.outputs) {
    std::snprintf(buf, sizeof buf, "output %-20s cosine mean %.6f min %.6f  max |diff| %.6g\n", esc(o.name).c_str(),
                  o.mean_cosine, o.min_cosine, o.max_abs);
    out += buf;
  }
  if (!r.per_tensor.empty()) {
    out += "per tensor, worst first (SQNR dB: own quantization / against the float model):\n";
    for (std::size_t i = 0; i < std::min<std::size_t>(r.per_tensor.size(), 10); ++i) {
      const auto& t = r.per_tensor[i];
      std::snprintf(buf, sizeof buf, "  %8.2f %8.2f  %s (%s)\n", t.qdq_sqnr, t.xmodel_sqnr, esc(t.tensor).c_str(),
                    esc(t.producer.empty() ? "graph input" : t.producer).c_str());
      out += buf;
    }
    out += "keep the worst in float: " + esc(r.exclude_nodes) + "\n";
  }
  for (const auto& n : r.notes) out += "note           " + esc(n) + "\n";
  return out;
}

}  // namespace modelkit::infer
