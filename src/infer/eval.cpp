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
};

struct Columns {
  std::string text = "text", pair = "text_pair", label = "label";
  bool pair_named = false;
};

Result<Columns> columns_from(const std::vector<std::pair<std::string, std::string>>& given) {
  Columns c;
  for (const auto& [role, name] : given) {
    if (role == "text") c.text = name;
    else if (role == "text_pair" || role == "pair") c.pair = name, c.pair_named = true;
    else if (role == "label") c.label = name;
    else return usage_error("option '--column': expected text=, text_pair= or label=, got '" + role + "='");
  }
  return c;
}

struct LabelledText {
  std::string text;
  std::optional<std::string> pair;
  std::optional<std::string> label;
  std::uint64_t line = 0;
};

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
    auto text = util::optional_string(obj, cols.text);
    if (!text) return text.take_error().with_context(where);
    if (!*text)
      return failure(where + ": no field '" + cols.text + "' (fields: " + util::join(keys, ", ") +
                     "); name the text's field with --column text=NAME");
    LabelledText row{std::string(**text), std::nullopt, std::nullopt, line->number};
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
  for (auto& t : *texts) out.push_back({std::move(t.text), std::move(t.pair), std::nullopt, 0});
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
    out.examples.push_back({std::move(*sample), {}, label});
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
      MODELKIT_TRY(auto cols, columns_from(req.columns));
      const auto ext = util::to_lower(req.data->extension().string());
      if (ext == ".jsonl") {
        MODELKIT_TRY(rows, read_jsonl(*req.data, cols, req.samples));
      } else if (ext == ".csv" || ext == ".tsv") {
        MODELKIT_TRY(rows, read_table(*req.data, cols, req.samples));
      } else {
        MODELKIT_TRY(auto plain, calib::read_text_samples(*req.data, {}, {req.samples, static_cast<std::size_t>(-1)}));
        for (auto& t : plain) rows.push_back({std::move(t.text), std::nullopt, std::nullopt, 0});
      }
      out.data_source = req.data->string();
    } else {
      for (auto& t : calib::default_texts()) rows.push_back({std::move(t), std::nullopt, std::nullopt, 0});
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
      // All three text tensors are kept: each model takes the ones it has (conform_inputs).
      out.examples.push_back({std::move(t->tensors), std::move(t->attention_mask), label});
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

std::string kind_of_task(const std::string& task) {
  if (task == "text-classification" || task == "image-classification" || task == "audio-classification")
    return "classification";
  if (task == "feature-extraction" || task == "sentence-similarity" || task == "image-feature-extraction")
    return "feature-extraction";
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
  rep.labelled = reference.size();
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
  if (!b && reference.empty())
    rep.notes.push_back("no labels and no --compare: the model ran on every sample, but there is nothing to score");
  if (kind == "raw" && b)
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
