// modelkit run: one input through a model, the answer by task.
#include "infer/model_io.hpp"

#include <modelkit/image.hpp>

#include "report/json_fields.hpp"
#include "util/file.hpp"
#include "util/json_writer.hpp"
#include "util/output_guard.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

namespace modelkit::infer {
namespace fs = std::filesystem;

Result<std::pair<std::vector<float>, std::string>> embedding_from(const LoadedModel& m, const std::vector<Tensor>& outputs,
                                                                 std::span<const std::int64_t> mask, Pooling pooling) {
  if (pooling == Pooling::automatic) {
    if (const auto* se = find_output(outputs, "sentence_embedding")) {
      MODELKIT_TRY(auto v, as_floats(*se));
      return std::pair{std::move(v), std::string("sentence_embedding output")};
    }
    pooling = m.model.facts.sentence_transformers ? Pooling::mean : Pooling::none;
  }
  const Tensor* tokens = find_output(outputs, "last_hidden_state");
  if (!tokens) tokens = find_output(outputs, "token_embeddings");
  if (!tokens) tokens = &outputs.front();
  MODELKIT_TRY(auto v, as_floats(*tokens));
  if (tokens->shape.size() != 3)
    return std::pair{std::move(v), "none (output '" + tokens->name + "' is not [1, tokens, width])"};
  auto pooled = pool_embeddings(v, static_cast<std::size_t>(tokens->shape[2]), mask, pooling);
  return std::pair{std::move(pooled), std::string(setting_name(pooling)) + " of '" + tokens->name + "'"};
}

namespace {

struct PostContext {
  const LoadedModel& model;
  const RunRequest& request;
  const std::vector<Tensor>& outputs;
  const TextInputs* text;  // text inputs, else nullptr
  const tokenizer::Tokenizer* tokenizer;
  RunResult& result;
};

// The output a task reads: `name` when the model has it, else the first output.
const Tensor& output_named(const std::vector<Tensor>& outputs, std::string_view name) {
  if (const auto* t = find_output(outputs, name)) return *t;
  return outputs.front();
}

Result<void> post_classification(PostContext& c) {
  const auto& logits = output_named(c.outputs, "logits");
  MODELKIT_TRY(auto v, as_floats(logits));
  if (logits.shape.size() != 2 || logits.shape[0] != 1)
    return failure("classification output '" + logits.name + "' has shape [" + format_shape(logits.shape) +
                   "], expected [1, classes]");
  c.result.classes = classify(v, c.model.labels, c.request.top_k);
  return {};
}

Result<const TextInputs*> need_text(PostContext& c, std::string_view task) {
  if (!c.text) return usage_error(std::string(task) + " answers need --text");
  return c.text;
}

Result<void> post_token_classification(PostContext& c) {
  MODELKIT_TRY(auto text, need_text(c, "token classification"));
  const auto& logits = output_named(c.outputs, "logits");
  if (logits.shape.size() != 3) return failure("token classification output '" + logits.name + "' is not [1, tokens, labels]");
  MODELKIT_TRY(auto v, as_floats(logits));
  MODELKIT_TRY(c.result.entities, token_entities(v, static_cast<std::size_t>(logits.shape[2]), text->view, c.model.labels));
  return {};
}

Result<void> post_question_answering(PostContext& c) {
  MODELKIT_TRY(auto text, need_text(c, "question answering"));
  if (!c.request.pair) return usage_error("question answering needs --text QUESTION --pair CONTEXT");
  const auto* s = find_output(c.outputs, "start_logits");
  const auto* e = find_output(c.outputs, "end_logits");
  if (!s || !e) return failure("a question answering model has start_logits and end_logits outputs; this one has not");
  MODELKIT_TRY(auto sv, as_floats(*s));
  MODELKIT_TRY(auto ev, as_floats(*e));
  MODELKIT_TRY(c.result.answers, answer_spans(sv, ev, text->view, c.request.top_k, kDefaultMaxAnswerTokens));
  return {};
}

Result<void> post_fill_mask(PostContext& c) {
  MODELKIT_TRY(auto text, need_text(c, "fill-mask"));
  const auto& logits = output_named(c.outputs, "logits");
  if (logits.shape.size() != 3) return failure("fill-mask output '" + logits.name + "' is not [1, tokens, vocab]");
  std::vector<std::size_t> masks;
  for (const auto& name : {"[MASK]", "<mask>"})
    if (auto id = c.tokenizer->token_to_id(name))
      for (std::size_t i = 0; i < text->view.ids.size(); ++i)
        if (text->view.ids[i] == *id) masks.push_back(i);
  if (masks.empty()) return usage_error("--text holds no mask token ([MASK] or <mask>) for fill-mask");
  const auto vocab = static_cast<std::size_t>(logits.shape[2]);
  MODELKIT_TRY(auto v, as_floats(logits));
  c.result.masks = fill_mask(v, vocab, masks, c.request.top_k, {});  // token strings: run_model
  return {};
}

Result<void> post_zero_shot(PostContext& c) {
  if (c.request.labels.empty()) {  // --input tensors alone (run_model refuses --image without labels)
    c.result.answer_kind = "raw";
    c.result.notes.push_back("zero-shot image classification without --labels: raw outputs");
    return {};
  }
  const auto* logits = find_output(c.outputs, "logits_per_image");
  if (!logits) return failure("a zero-shot image classification model has a logits_per_image output; this one has not");
  MODELKIT_TRY(auto v, as_floats(*logits));
  if (logits->shape.size() != 2 || logits->shape[0] != 1 ||
      static_cast<std::size_t>(logits->shape[1]) != c.request.labels.size())
    return failure("output 'logits_per_image' has shape [" + format_shape(logits->shape) + "], expected [1, " +
                   std::to_string(c.request.labels.size()) + "] for one image and the labels");
  const bool sig = zero_shot_sigmoid(c.model.model.facts.config.model_type.value_or(""));
  c.result.classes = zero_shot_scores(v, c.request.labels, sig);
  c.result.scoring = sig ? "sigmoid" : "softmax";
  c.result.candidate_labels = c.request.labels;
  return {};
}

Result<void> post_feature_extraction(PostContext& c) {
  std::vector<std::int64_t> mask;
  if (c.text) mask = c.text->attention_mask;
  MODELKIT_TRY(auto e, embedding_from(c.model, c.outputs, mask, c.request.pooling));
  c.result.embedding = std::move(e.first);
  c.result.pooling = std::move(e.second);
  return {};
}

// The answer of each task, keyed by task name (registry vocabulary); others get raw outputs.
struct PostProcessor {
  std::string_view task;
  std::string_view answer_kind;
  Result<void> (*apply)(PostContext&);
};
constexpr PostProcessor kPostProcessors[] = {
    {"text-classification", "classification", post_classification},
    {"image-classification", "classification", post_classification},
    {"audio-classification", "classification", post_classification},
    {"token-classification", "token-classification", post_token_classification},
    {"question-answering", "question-answering", post_question_answering},
    {"fill-mask", "fill-mask", post_fill_mask},
    {"zero-shot-image-classification", "classification", post_zero_shot},
    {"feature-extraction", "feature-extraction", post_feature_extraction},
    {"sentence-similarity", "feature-extraction", post_feature_extraction},
    {"image-feature-extraction", "feature-extraction", post_feature_extraction},
};

const PostProcessor* post_processor(std::string_view task) {
  for (const auto& p : kPostProcessors)
    if (p.task == task) return &p;
  return nullptr;
}

RawOutput raw_of(const Tensor& t) {
  RawOutput r{t.name, element_type_name(t.type), t.shape, {}};
  if (auto v = as_floats(t))
    for (std::size_t i = 0; i < std::min(kRawPreview, v->size()); ++i) r.first_values.push_back((*v)[i]);
  return r;
}

Result<void> save_outputs(const fs::path& dir, const std::vector<Tensor>& outputs, std::span<const fs::path> inputs,
                          RunResult& result) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return failure("--save-outputs " + quoted(dir) + ": " + ec.message());
  for (const auto& t : outputs) {
    // Output names come from the model file: only a plain file name is written.
    std::string file = t.name;
    for (auto& ch : file)
      if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.')) ch = '_';
    if (file.empty() || file.front() == '.') file = "_" + file;
    auto path = dir / (file + ".npy");
    MODELKIT_TRY_VOID(util::check_output(path, true, inputs));
    MODELKIT_TRY(auto bytes, npy_bytes(t));
    MODELKIT_TRY_VOID(util::write_file_atomic(path, bytes));
    result.saved.push_back(path.string());
  }
  return {};
}

}  // namespace

Result<RunResult> run_model(const RunRequest& req) {
  const int given = (req.text ? 1 : 0) + (req.image ? 1 : 0) + (req.audio ? 1 : 0) + (req.npy_inputs.empty() ? 0 : 1);
  if (given != 1) return usage_error("give one kind of input: --text (with --pair), --image, --audio or --input NAME=FILE.npy");
  if (req.pair && !req.text) return usage_error("--pair goes with --text");
  if (req.top_k == 0) return usage_error("--top-k must be at least 1");
  constexpr std::string_view kZeroShot = "zero-shot-image-classification";
  ModelSpec spec = req.spec;
  if (!req.labels.empty()) {
    // With --input, the labels name the rows of the input_ids the user made.
    if (!req.image && req.npy_inputs.empty())
      return usage_error("--labels goes with --image (zero-shot image classification)");
    if (!spec.task) spec.task = std::string(kZeroShot);  // the labels say what the user asks of the model
  }
  auto loaded = load_model(spec, req.config, req.threads);
  if (!loaded && !req.labels.empty() && !req.spec.task) {
    auto message = loaded.error().message;
    message = message.substr(0, message.find('\n'));
    return usage_error("--labels: " + quoted(*req.spec.model) +
                       " cannot be loaded as a zero-shot image classification model (CLIP, SigLIP): " + message);
  }
  if (!loaded) return loaded.take_error();
  auto m = std::move(*loaded);
  if (!req.labels.empty() && m.task() != kZeroShot)
    return usage_error("--labels is for zero-shot image classification models (CLIP, SigLIP); the task of " +
                       quoted(*req.spec.model) + " is '" + (m.task().empty() ? std::string("unresolved") : m.task()) +
                       "'");
  if (!req.labels.empty() && (std::none_of(m.inputs.begin(), m.inputs.end(), [](const auto& in) { return in.name == "input_ids"; }) ||
                              (req.image && std::none_of(m.inputs.begin(), m.inputs.end(),
                                                         [](const auto& in) { return in.name == "pixel_values"; }))))
    return usage_error("--labels is for zero-shot image classification models (CLIP, SigLIP) taking pixel_values and "
                       "input_ids; " + quoted(*req.spec.model) + " does not take both");
  if (req.labels.empty() && m.task() == kZeroShot && (req.image || req.text))
    return usage_error("zero-shot image classification needs --image FILE --labels a,b,c (the candidate labels)");
  RunResult result;
  result.model = *req.spec.model;
  result.onnx = m.onnx;
  result.model_kind = m.kind;
  result.files_from = m.folder;
  result.resolution = m.model.resolution;
  result.notes = m.notes;

  std::vector<Tensor> inputs;
  std::optional<TextInputs> text;
  std::optional<tokenizer::Tokenizer> tok;
  std::vector<fs::path> input_files;
  if (req.text) {
    MODELKIT_TRY(tok, load_tokenizer(m));
    auto t = text_inputs(m, *tok, *req.text, req.pair);
    if (!t) return t.take_error().with_context("--text");
    text = std::move(*t);
    result.tokens = text->view.tokens;
    inputs = text->tensors;
    // Text sources make input_ids, attention_mask, token_type_ids; models take a subset.
    std::erase_if(inputs, [&](const Tensor& x) {
      return std::none_of(m.inputs.begin(), m.inputs.end(), [&](const auto& in) { return in.name == x.name; });
    });
  } else if (req.image || req.audio) {
    const auto& file = req.image ? *req.image : *req.audio;
    const std::string flag = req.image ? "--image" : "--audio";
    input_files.push_back(file);
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) return usage_error(flag + " " + quoted(file) + ": no such file");
    std::optional<fs::path> data = file;
    util::TempFolder holder;
    if (req.image) {
      // A file that does not decode is an error here (a calibration source would skip it).
      auto decoded = image::decode_image(file);
      if (!decoded) return decoded.take_error().with_context("--image");
      // The image source reads a folder: the one image is linked into a temporary one.
      MODELKIT_TRY_VOID(holder.create_beside(fs::temp_directory_path() / "modelkit-run-image"));
      fs::create_symlink(fs::absolute(file, ec), holder.path() / ("input" + util::to_lower(file.extension().string())), ec);
      if (ec) return failure("cannot link " + quoted(file) + " into a temporary folder: " + ec.message());
      data = holder.path();
    }
    auto sel = media_source(m, req.image ? CalibrationKind::image : CalibrationKind::audio, data, 1);
    if (!sel) return sel.take_error().with_context(flag + " " + quoted(file));
    MODELKIT_TRY(auto sample, sel->source->next());
    if (!sample) {
      auto skipped = sel->source->skipped_inputs();
      return failure(flag + " " + quoted(file) + ": no input was made" +
                     (skipped.empty() ? std::string() : " (" + skipped.front() + ")"));
    }
    inputs = std::move(*sample);
    result.notes.insert(result.notes.end(), sel->record.notes.begin(), sel->record.notes.end());
    if (!req.labels.empty()) {
      // The image source filled the text inputs as calibration would; the labels replace them.
      MODELKIT_TRY(auto texts, zero_shot_text_inputs(m, req.labels));
      std::erase_if(inputs, [&](const Tensor& x) {
        return std::any_of(texts.begin(), texts.end(), [&](const Tensor& t) { return t.name == x.name; });
      });
      for (auto& t : texts)
        if (std::any_of(m.inputs.begin(), m.inputs.end(), [&](const auto& in) { return in.name == t.name; }))
          inputs.push_back(std::move(t));
    } else {
      result.notes.insert(result.notes.end(), sel->warnings.begin(), sel->warnings.end());
    }
  } else {
    for (const auto& [name, path] : req.npy_inputs) {
      input_files.push_back(path);
      MODELKIT_TRY(auto t, read_npy(path, name));
      const std::string& wanted = name;  // a structured binding: clang 14 cannot capture it in a lambda
      if (std::none_of(m.inputs.begin(), m.inputs.end(), [&](const auto& in) { return in.name == wanted; })) {
        std::vector<std::string> names;
        for (const auto& in : m.inputs) names.push_back(in.name);
        return usage_error("--input " + name + ": the model has no such input (inputs: " + util::join(names, ", ") + ")");
      }
      inputs.push_back(std::move(t));
    }
  }
  MODELKIT_TRY(inputs, conform_inputs(m, std::move(inputs)));
  MODELKIT_TRY(auto outputs, m.session->run(inputs));
  if (outputs.empty()) return failure("the model returned no outputs");
  for (const auto& t : outputs) result.raw.push_back(raw_of(t));
  if (req.save_outputs) MODELKIT_TRY_VOID(save_outputs(*req.save_outputs, outputs, input_files, result));

  const auto* post = post_processor(m.task());
  if (!post) {
    result.answer_kind = "raw";
    if (!m.task().empty()) result.notes.push_back("no answer post-processing for task '" + m.task() + "': raw outputs");
    return result;
  }
  result.answer_kind = std::string(post->answer_kind);
  PostContext ctx{m, req, outputs, text ? &*text : nullptr, tok ? &*tok : nullptr, result};
  MODELKIT_TRY_VOID(post->apply(ctx));
  if (!result.masks.empty()) {
    MODELKIT_TRY(auto vocab, vocabulary_by_id(m.folder / "tokenizer.json"));
    for (auto& cands : result.masks)
      for (auto& cand : cands)
        if (cand.token_id < vocab.size() && !vocab[cand.token_id].empty()) cand.token = vocab[cand.token_id];
  }
  return result;
}

namespace {

void write_answer(util::JsonWriter& w, const RunResult& r) {
  w.field("answer_kind", r.answer_kind);
  if (!r.scoring.empty()) {
    w.field("scoring", r.scoring);
    w.key("candidate_labels").string_array(r.candidate_labels);
  }
  w.key("answer");
  if (r.answer_kind == "classification") {
    w.begin_array();
    for (const auto& c : r.classes) {
      w.begin_object();
      w.field("label", c.label);
      w.field("id", static_cast<std::uint64_t>(c.id));
      w.field("score", c.score);
      w.end_object();
    }
    w.end_array();
  } else if (r.answer_kind == "token-classification") {
    w.begin_array();
    for (const auto& e : r.entities) {
      w.begin_object();
      w.field("entity_group", e.entity_group);
      w.field("score", e.score);
      w.field("word", e.word);
      w.field("start_token", static_cast<std::uint64_t>(e.start_token));
      w.field("end_token", static_cast<std::uint64_t>(e.end_token));
      w.end_object();
    }
    w.end_array();
  } else if (r.answer_kind == "question-answering") {
    w.begin_array();
    for (const auto& a : r.answers) {
      w.begin_object();
      w.field("answer", a.answer);
      w.field("score", a.score);
      w.field("start_token", static_cast<std::uint64_t>(a.start_token));
      w.field("end_token", static_cast<std::uint64_t>(a.end_token));
      w.end_object();
    }
    w.end_array();
  } else if (r.answer_kind == "fill-mask") {
    w.begin_array();
    for (const auto& cands : r.masks) {
      w.begin_array();
      for (const auto& c : cands) {
        w.begin_object();
        w.field("token", c.token);
        w.field("token_id", static_cast<std::uint64_t>(c.token_id));
        w.field("score", c.score);
        w.end_object();
      }
      w.end_array();
    }
    w.end_array();
  } else if (r.answer_kind == "feature-extraction") {
    w.begin_object();
    w.field("pooling", r.pooling);
    w.field("dims", static_cast<std::uint64_t>(r.embedding.size()));
    w.key("embedding").begin_array();
    for (float v : r.embedding) w.value(static_cast<double>(v));
    w.end_array();
    w.end_object();
  } else {
    w.null();
  }
}

}  // namespace

std::string run_result_json(const RunResult& r) {
  util::JsonWriter w;
  w.begin_object();
  w.field("command", "run");
  w.field("model", r.model);
  w.field("model_kind", r.model_kind);
  w.field("onnx", r.onnx.string());
  w.field("files_from", r.files_from.string());
  w.key("resolution");
  report::write_resolution(w, r.resolution);
  if (!r.tokens.empty()) w.key("tokens").string_array(r.tokens);
  write_answer(w, r);
  w.key("outputs").begin_array();
  for (const auto& o : r.raw) {
    w.begin_object();
    w.field("name", o.name);
    w.field("type", o.type);
    w.key("shape").begin_array();
    for (auto d : o.shape) w.value(d);
    w.end_array();
    w.key("first_values").begin_array();
    for (auto v : o.first_values) w.value(v);
    w.end_array();
    w.end_object();
  }
  w.end_array();
  w.key("saved").string_array(r.saved);
  w.key("notes").string_array(r.notes);
  w.end_object();
  std::string out = w.take();
  if (!out.ends_with('\n')) out += '\n';
  return out;
}

std::string run_result_text(const RunResult& r) {
  std::string out;
  char buf[512];
  auto esc = [](std::string_view s) { return escape_control_characters(s); };
  out += "task      " + r.resolution.task.value_or("unresolved") + " (" + r.resolution.source + ")\n";
  out += "model     " + esc(r.onnx.string()) + " (" + r.model_kind + ")\n";
  if (r.answer_kind == "classification") {
    for (const auto& c : r.classes) {
      std::snprintf(buf, sizeof buf, "%8.4f  %s\n", c.score, esc(c.label).c_str());
      out += buf;
    }
  } else if (r.answer_kind == "token-classification") {
    if (r.entities.empty()) out += "(no entities)\n";
    for (const auto& e : r.entities) {
      std::snprintf(buf, sizeof buf, "%-8s %8.4f  %s\n", esc(e.entity_group).c_str(), e.score, esc(e.word).c_str());
      out += buf;
    }
  } else if (r.answer_kind == "question-answering") {
    for (const auto& a : r.answers) {
      std::snprintf(buf, sizeof buf, "%8.4f  %s  (tokens %zu..%zu)\n", a.score, esc(a.answer).c_str(), a.start_token, a.end_token);
      out += buf;
    }
  } else if (r.answer_kind == "fill-mask") {
    for (std::size_t i = 0; i < r.masks.size(); ++i)
      for (const auto& c : r.masks[i]) {
        std::snprintf(buf, sizeof buf, "mask %zu %8.4f  %s\n", i, c.score, esc(c.token).c_str());
        out += buf;
      }
  } else if (r.answer_kind == "feature-extraction") {
    out += "embedding " + std::to_string(r.embedding.size()) + " values (" + r.pooling + "):";
    for (std::size_t i = 0; i < std::min<std::size_t>(8, r.embedding.size()); ++i) {
      std::snprintf(buf, sizeof buf, " %.5g", r.embedding[i]);
      out += buf;
    }
    out += r.embedding.size() > 8 ? " ...\n" : "\n";
  }
  for (const auto& o : r.raw) {
    out += "output    " + esc(o.name) + " " + o.type + " [" + format_shape(o.shape) + "]:";
    for (auto v : o.first_values) {
      std::snprintf(buf, sizeof buf, " %.5g", v);
      out += buf;
    }
    out += "\n";
  }
  for (const auto& s : r.saved) out += "saved     " + esc(s) + "\n";
  for (const auto& n : r.notes) out += "note      " + esc(n) + "\n";
  return out;
}

}  // namespace modelkit::infer
