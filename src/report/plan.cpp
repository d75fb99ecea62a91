#include <modelkit/plan.hpp>
#include <modelkit/registry.hpp>
#include <modelkit/version.hpp>

#include "report/json_fields.hpp"
#include "util/file.hpp"
#include "util/json_read.hpp"
#include "util/json_writer.hpp"
#include "util/output_guard.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <array>
#include <set>

namespace modelkit {
namespace report {

void write_resolution(util::JsonWriter& w, const TaskResolution& r) {
  w.begin_object();
  w.field("task", r.task);
  w.field("optimum_task", r.optimum_task);
  w.field("source", r.source);
  w.field("model_class", r.model_class);
  w.field("modality", r.modality);
  w.key("notes").string_array(r.notes);
  w.end_object();
}

}  // namespace report

std::pair<CalibrationKind, std::string> calibration_kind_for(const TaskResolution& resolution) {
  if (!resolution.task) return {CalibrationKind::random, "no task"};
  // Feature extraction serves text, image and audio models alike: the modality decides.
  if (resolution.modality == "audio" &&
      (*resolution.task == "feature-extraction" || *resolution.task == "image-feature-extraction"))
    return {CalibrationKind::audio, "task '" + *resolution.task + "' of an audio model calibrates on audio"};
  auto kind = registry::calibration_kind_for_task(registry::find_task(*resolution.task));
  if (!kind) return {CalibrationKind::random, "task '" + *resolution.task + "' has no dataset kind"};
  return {*kind, "task '" + *resolution.task + "' calibrates on " + std::string(setting_name(*kind))};
}

// The text positions a model takes: max_position_embeddings, else transformers' default for the
// families whose configs often leave it out.
std::optional<std::int64_t> text_positions(const ResolvedModel& model) {
  auto max_positions = model.facts.config.integer("max_position_embeddings");
  if (max_positions && *max_positions > 0) return max_positions;
  const std::string type = model.facts.config.model_type.value_or("");
  if (type == "siglip" || type == "siglip_text_model") return 64;
  if (type == "clip" || type == "clip_text_model") return 77;
  return std::nullopt;
}

Result<BuildConfig> make_build_config(const ResolvedModel& model) {
  MODELKIT_TRY_VOID(require_resolved(model.resolution, model.reference()));
  BuildConfig c;
  c.request = model.spec;
  c.resolution = model.resolution;
  c.model_type = model.facts.config.model_type;
  c.model_id = model.facts.model_id;
  auto [kind, reason] = calibration_kind_for(model.resolution);
  c.calibration.kind = kind;
  c.calibration.kind_reason = reason;
  // The default sequence length never passes the positions the model has: SigLIP's text tower takes
  // 64 and CLIP's 77 (transformers' defaults when config.json leaves them out), below the 128 used
  // elsewhere. An explicit --sequence-length is still checked against them (check_sequence_length).
  if (auto positions = text_positions(model); positions && *positions < c.calibration.sequence_length)
    c.calibration.sequence_length = static_cast<int>(*positions);
  return c;
}

Result<void> check_sequence_length(const ResolvedModel& model, int sequence_length) {
  auto max_positions = text_positions(model);
  if (max_positions && *max_positions > 0 && sequence_length > *max_positions)
    return usage_error("sequence length " + std::to_string(sequence_length) + " is above the " +
                       std::to_string(*max_positions) + " positions the model takes (max_position_embeddings in " +
                       model.reference() + "'s config.json)");
  return {};
}

BuildConfig make_quantize_config(const ResolvedModel& model, std::string_view onnx_reference) {
  if (model.resolution.resolved()) {
    auto made = make_build_config(model);
    if (made) return std::move(*made);
  }
  BuildConfig config;
  config.request = model.spec;
  config.resolution = model.resolution;
  config.calibration.kind = CalibrationKind::random;
  config.calibration.kind_reason = "no task is known for " + quoted(onnx_reference) + " (pass --task or --hf-config)";
  return config;
}

Result<ReplayedBuild> replay_build_config(const std::string& path, const ModelSpec& command_line,
                                          const CacheLocation& cache) {
  MODELKIT_TRY(BuildConfig recorded, read_build_config(path));
  ModelSpec spec = recorded.request;
  if (command_line.model || command_line.model_type || command_line.model_class) {
    spec.model = command_line.model;
    spec.model_type = command_line.model_type;
    spec.model_class = command_line.model_class;
  }
  if (command_line.task) spec.task = command_line.task;
  MODELKIT_TRY(ResolvedModel model, resolve_model(spec, cache));
  MODELKIT_TRY(BuildConfig config, make_build_config(model));
  const auto& r = recorded.request;
  bool same_request = r.model == spec.model && r.model_type == spec.model_type && r.model_class == spec.model_class &&
                      r.task == spec.task;
  if (same_request) {
    auto check = check_replayed_resolution(recorded.resolution, config.resolution);
    if (!check) return check.take_error().with_context(quoted(path));
  }
  // Settings come from the file; the data kind follows today's resolution.
  replay_build_settings(config, recorded);
  return ReplayedBuild{std::move(model), std::move(config)};
}

namespace {

void write_request(util::JsonWriter& w, const ModelSpec& s) {
  w.begin_object();
  w.field("model", s.model);
  w.field("model_type", s.model_type);
  w.field("model_class", s.model_class);
  w.field("task", s.task);
  w.end_object();
}

void write_settings(util::JsonWriter& w, const BuildConfig& c) {
  w.key("loader").begin_object();
  w.field("task", c.resolution.task);
  w.field("model_class", c.resolution.model_class);
  w.field("model_type", c.model_type);
  w.field("model_id", c.model_id);
  w.field("library", c.resolution.library);
  w.end_object();
  const auto& cal = c.calibration;
  w.key("calibration").begin_object();
  w.field("kind", setting_name(cal.kind));
  w.field("kind_reason", cal.kind_reason);
  w.field("data", cal.data);
  w.field("text_column", cal.text_column);
  w.field("pair_column", cal.pair_column);
  w.field("samples", cal.samples);
  w.field("sequence_length", cal.sequence_length);
  if (cal.sample_rate) w.field("sample_rate", *cal.sample_rate);
  w.field("method", setting_name(cal.method));
  w.field("percentile", cal.percentile);
  w.field("histogram_bins", cal.histogram_bins);
  w.field("seed", cal.seed);
  w.key("input_shapes").string_array(cal.input_shapes);
  const auto& img = cal.image;
  w.key("image").begin_object();
  w.field("input", img.input);
  if (img.layout) w.field("layout", setting_name(*img.layout));
  else w.null_field("layout");
  if (img.resize_mode) w.field("resize_mode", setting_name(*img.resize_mode));
  else w.null_field("resize_mode");
  for (auto [name, values] : {std::pair{"mean", &img.mean}, std::pair{"std", &img.std}}) {
    w.key(name);
    if (!*values) {
      w.null();
      continue;
    }
    w.begin_array();
    for (double v : **values) w.value(v);
    w.end_array();
  }
  w.field("rescale", img.rescale);
  w.field("bgr", img.bgr);
  w.end_object();
  w.end_object();
  const auto& q = c.quantization;
  w.key("quantization").begin_object();
  w.field("format", q.format);
  w.field("activation_type", setting_name(q.activation_type));
  w.field("weight_type", setting_name(q.weight_type));
  w.field("per_channel", q.per_channel);
  w.key("op_types").string_array(q.op_types);
  w.key("exclude_nodes").string_array(q.exclude_nodes);
  w.field("precision", setting_name(q.precision));
  w.field("block_size", q.block_size);
  w.field("symmetric", q.symmetric);
  w.field("accuracy_level", q.accuracy_level);
  w.field("int4_embeddings", q.int4_embeddings);
  w.field("reduce_range", q.reduce_range);
  w.field("optimize", setting_name(q.optimize));
  w.end_object();
  w.key("validation").begin_object();
  w.field("min_cosine", c.min_cosine);
  w.field("eval_data", c.eval_data);
  w.key("eval_columns").string_array(c.eval_columns);
  w.field("eval_samples", static_cast<std::int64_t>(c.eval_samples));
  w.end_object();
}

}  // namespace

std::string build_config_json(const BuildConfig& c) {
  util::JsonWriter w;
  w.begin_object();
  w.field("schema_version", c.schema_version);
  w.field("modelkit_version", version());
  w.key("request");
  write_request(w, c.request);
  w.key("resolution");
  report::write_resolution(w, c.resolution);
  write_settings(w, c);
  w.end_object();
  return w.take();
}

namespace {

// Typed accessors over an object, each error naming the dotted field path.
class Fields {
 public:
  Fields(simdjson::dom::object obj, std::string path) : obj_(obj), path_(std::move(path)) {}

  Result<Fields> object(std::string_view k) const {
    known_.insert(std::string(k));
    simdjson::dom::element e;
    if (obj_.at_key(k).get(e) != simdjson::SUCCESS) return failure("missing field '" + name(k) + "'");
    if (!e.is_object())
      return failure("field '" + name(k) + "' must be an object, got " + std::string(util::json_type_name(e)));
    return Fields(e.get_object().value_unsafe(), name(k));
  }
  template <class T>
  Result<void> get(std::string_view k, std::optional<T>& out) const {
    known_.insert(std::string(k));
    if constexpr (std::is_same_v<T, std::string>) {
      MODELKIT_TRY(auto v, dotted(util::optional_string(obj_, k), k));
      if (v) out = std::string(*v);
    }
    return {};
  }
  Result<void> get(std::string_view k, std::string& out) const {
    known_.insert(std::string(k));
    MODELKIT_TRY(auto v, dotted(util::optional_string(obj_, k), k));
    if (v) out = std::string(*v);
    return {};
  }
  Result<void> get(std::string_view k, int& out, int min, int max) const {
    known_.insert(std::string(k));
    MODELKIT_TRY(auto v, dotted(util::optional_int(obj_, k), k));
    if (v) {
      if (*v < min || *v > max)
        return failure("field '" + name(k) + "' must be from " + std::to_string(min) + " to " + std::to_string(max) +
                       ", got " + std::to_string(*v));
      out = static_cast<int>(*v);
    }
    return {};
  }
  Result<void> get(std::string_view k, double& out) const {
    known_.insert(std::string(k));
    MODELKIT_TRY(auto v, dotted(util::optional_number(obj_, k), k));
    if (v) out = *v;
    return {};
  }
  Result<void> get(std::string_view k, bool& out) const {
    known_.insert(std::string(k));
    MODELKIT_TRY(auto v, dotted(util::optional_bool(obj_, k), k));
    if (v) out = *v;
    return {};
  }
  Result<void> get(std::string_view k, std::uint64_t& out) const {
    known_.insert(std::string(k));
    MODELKIT_TRY(auto v, dotted(util::optional_int(obj_, k), k));
    if (v) {
      if (*v < 0) return failure("field '" + name(k) + "' must not be negative");
      out = static_cast<std::uint64_t>(*v);
    }
    return {};
  }
  Result<void> get(std::string_view k, std::optional<double>& out) const {
    known_.insert(std::string(k));
    MODELKIT_TRY(auto v, dotted(util::optional_number(obj_, k), k));
    out = v;
    return {};
  }
  // A list of numbers, or null/absent.
  Result<void> get(std::string_view k, std::optional<std::vector<double>>& out, size_t size) const {
    known_.insert(std::string(k));
    simdjson::dom::element e;
    if (obj_.at_key(k).get(e) != simdjson::SUCCESS || e.is_null()) return {};
    simdjson::dom::array a;
    if (e.get_array().get(a) != simdjson::SUCCESS || a.size() != size)
      return failure("field '" + name(k) + "' must be a list of " + std::to_string(size) + " numbers");
    std::vector<double> values;
    for (auto x : a) {
      double d = 0;
      if (x.get_double().get(d) != simdjson::SUCCESS && x.is_int64()) d = static_cast<double>(x.get_int64().value());
      else if (!x.is_number()) return failure("field '" + name(k) + "' must be a list of " + std::to_string(size) + " numbers");
      values.push_back(d);
    }
    out = std::move(values);
    return {};
  }
  std::optional<Fields> optional_object(std::string_view k) const {
    known_.insert(std::string(k));
    simdjson::dom::element e;
    if (obj_.at_key(k).get(e) != simdjson::SUCCESS || !e.is_object()) return std::nullopt;
    return Fields(e.get_object().value_unsafe(), name(k));
  }
  Result<void> get(std::string_view k, std::vector<std::string>& out) const {
    known_.insert(std::string(k));
    MODELKIT_TRY(auto v, dotted(util::optional_string_list(obj_, k), k));
    if (v) out = std::move(*v);
    return {};
  }
  Result<void> one_of(std::string_view k, std::string& out, std::initializer_list<std::string_view> allowed) const {
    known_.insert(std::string(k));
    MODELKIT_TRY_VOID(get(k, out));
    for (auto a : allowed)
      if (out == a) return {};
    std::string list;
    for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    return failure("field '" + name(k) + "' must be one of " + list + ", got '" + out + "'");
  }
  // An optional setting: absent or null stays unset.
  template <class E>
  Result<void> optional_setting(std::string_view k, std::optional<E>& out) const {
    std::optional<std::string> text;
    MODELKIT_TRY_VOID(get(k, text));
    if (!text) return {};
    auto parsed = parse_setting<E>(*text);
    if (!parsed)
      return failure("field '" + name(k) + "' must be one of " + setting_list<E>() + ", got " + quoted(*text));
    out = *parsed;
    return {};
  }
  // A setting from its table (settings.hpp); absent keeps `out`.
  template <class E>
  Result<void> setting(std::string_view k, E& out) const {
    known_.insert(std::string(k));
    std::string text(setting_name(out));
    MODELKIT_TRY_VOID(get(k, text));
    auto parsed = parse_setting<E>(text);
    if (!parsed)
      return failure("field '" + name(k) + "' must be one of " + setting_list<E>() + ", got " + quoted(text));
    out = *parsed;
    return {};
  }

  // A key this reader never asked for is a typo or a field of another version: an error naming
  // it, not a setting silently ignored. `written_only` are keys written for readers, not read back.
  Result<void> no_unknown_fields(std::initializer_list<std::string_view> written_only = {}) const {
    for (auto [key, value] : obj_) {
      (void)value;
      if (known_.count(std::string(key))) continue;
      if (std::find(written_only.begin(), written_only.end(), key) != written_only.end()) continue;
      std::string known;
      for (const auto& k : known_) known += (known.empty() ? "" : ", ") + k;
      return failure("unknown field '" + name(key) + "' (" + (path_.empty() ? "the top level" : "'" + path_ + "'") +
                     " holds " + known + ")");
    }
    return {};
  }

 private:
  std::string name(std::string_view k) const { return path_.empty() ? std::string(k) : path_ + "." + std::string(k); }
  // util's readers name the key alone ("field 'samples' must be an integer"); errors here name
  // its dotted path from the top ("field 'calibration.samples' ..."), as the range checks do.
  template <class T>
  Result<T> dotted(Result<T> r, std::string_view k) const {
    if (r.ok() || path_.empty()) return r;
    std::string message = r.error().message;
    const std::string bare = "field '" + std::string(k) + "'";
    if (auto at = message.find(bare); at != std::string::npos) message.replace(at, bare.size(), "field '" + name(k) + "'");
    else message = path_ + ": " + message;
    return failure(message);
  }
  simdjson::dom::object obj_;
  std::string path_;
  mutable std::set<std::string> known_;
};

}  // namespace

Result<BuildConfig> parse_build_config(std::string_view json) {
  simdjson::dom::parser parser;
  MODELKIT_TRY(auto doc, util::parse_json(parser, json));
  if (!doc.is_object())
    return failure("expected a JSON object at the top level, got " + std::string(util::json_type_name(doc)));
  simdjson::dom::object root_obj = doc.get_object().value_unsafe();
  BuildConfig c;
  MODELKIT_TRY(auto version, util::optional_int(root_obj, "schema_version"));
  if (!version) return failure("missing field 'schema_version'");
  if (*version != kBuildConfigSchemaVersion)
    return failure("schema_version " + std::to_string(*version) + " is not supported (this modelkit reads " +
                   std::to_string(kBuildConfigSchemaVersion) + ")");
  Fields root(root_obj, "");
  MODELKIT_TRY(auto request, root.object("request"));
  MODELKIT_TRY_VOID(request.get("model", c.request.model));
  MODELKIT_TRY_VOID(request.get("model_type", c.request.model_type));
  MODELKIT_TRY_VOID(request.get("model_class", c.request.model_class));
  MODELKIT_TRY_VOID(request.get("task", c.request.task));
  MODELKIT_TRY(auto resolution, root.object("resolution"));
  MODELKIT_TRY_VOID(resolution.get("task", c.resolution.task));
  MODELKIT_TRY_VOID(resolution.get("optimum_task", c.resolution.optimum_task));
  MODELKIT_TRY_VOID(resolution.get("source", c.resolution.source));
  MODELKIT_TRY_VOID(resolution.get("model_class", c.resolution.model_class));
  MODELKIT_TRY_VOID(resolution.get("modality", c.resolution.modality));
  MODELKIT_TRY_VOID(resolution.get("notes", c.resolution.notes));
  MODELKIT_TRY(auto loader, root.object("loader"));
  MODELKIT_TRY_VOID(loader.get("model_type", c.model_type));
  MODELKIT_TRY_VOID(loader.get("model_id", c.model_id));
  MODELKIT_TRY_VOID(loader.get("library", c.resolution.library));
  MODELKIT_TRY(auto cal, root.object("calibration"));
  auto& cs = c.calibration;
  MODELKIT_TRY_VOID(cal.setting("kind", cs.kind));
  MODELKIT_TRY_VOID(cal.get("kind_reason", cs.kind_reason));
  MODELKIT_TRY_VOID(cal.get("data", cs.data));
  MODELKIT_TRY_VOID(cal.get("text_column", cs.text_column));
  MODELKIT_TRY_VOID(cal.get("pair_column", cs.pair_column));
  MODELKIT_TRY_VOID(cal.get("samples", cs.samples, 1, 1'000'000));
  MODELKIT_TRY_VOID(cal.get("sequence_length", cs.sequence_length, 1, 1'000'000));
  int sample_rate = 0;
  MODELKIT_TRY_VOID(cal.get("sample_rate", sample_rate, 1000, 768000));
  if (sample_rate != 0) cs.sample_rate = sample_rate;
  MODELKIT_TRY_VOID(cal.setting("method", cs.method));
  MODELKIT_TRY_VOID(cal.get("percentile", cs.percentile));
  MODELKIT_TRY_VOID(cal.get("histogram_bins", cs.histogram_bins, 16, 1 << 20));
  MODELKIT_TRY_VOID(cal.get("seed", cs.seed));
  MODELKIT_TRY_VOID(cal.get("input_shapes", cs.input_shapes));
  if (auto img = cal.optional_object("image")) {
    auto& is = cs.image;
    MODELKIT_TRY_VOID(img->get("input", is.input));
    MODELKIT_TRY_VOID(img->optional_setting("layout", is.layout));
    MODELKIT_TRY_VOID(img->optional_setting("resize_mode", is.resize_mode));
    MODELKIT_TRY_VOID(img->get("mean", is.mean, 3));
    MODELKIT_TRY_VOID(img->get("std", is.std, 3));
    MODELKIT_TRY_VOID(img->get("rescale", is.rescale));
    MODELKIT_TRY_VOID(img->get("bgr", is.bgr));
  }
  MODELKIT_TRY(auto quant, root.object("quantization"));
  auto& q = c.quantization;
  MODELKIT_TRY_VOID(quant.one_of("format", q.format, {"qdq"}));
  MODELKIT_TRY_VOID(quant.setting("activation_type", q.activation_type));
  MODELKIT_TRY_VOID(quant.setting("weight_type", q.weight_type));
  MODELKIT_TRY_VOID(quant.get("per_channel", q.per_channel));
  MODELKIT_TRY_VOID(quant.get("op_types", q.op_types));
  MODELKIT_TRY_VOID(quant.get("exclude_nodes", q.exclude_nodes));
  // Absent in configs written before these fields: the defaults (static int8).
  MODELKIT_TRY_VOID(quant.setting("precision", q.precision));
  MODELKIT_TRY_VOID(quant.get("block_size", q.block_size, kMinBlockSize, kMaxBlockSize));
  if ((q.block_size & (q.block_size - 1)) != 0)
    return failure("field '.quantization.block_size' must be a power of two from " + std::to_string(kMinBlockSize) +
                   " to " + std::to_string(kMaxBlockSize) + ", got " + std::to_string(q.block_size));
  MODELKIT_TRY_VOID(quant.get("symmetric", q.symmetric));
  MODELKIT_TRY_VOID(quant.get("accuracy_level", q.accuracy_level, 0, kMaxAccuracyLevel));
  MODELKIT_TRY_VOID(quant.get("int4_embeddings", q.int4_embeddings));
  MODELKIT_TRY_VOID(quant.get("reduce_range", q.reduce_range));
  MODELKIT_TRY_VOID(quant.setting("optimize", q.optimize));
  if (auto validation = root.optional_object("validation")) {
    MODELKIT_TRY_VOID(validation->get("min_cosine", c.min_cosine));
    if (c.min_cosine && !(*c.min_cosine >= -1.0 && *c.min_cosine <= 1.0))
      return failure("field '.validation.min_cosine' must be from -1 to 1");
    // Absent in configs written before --eval-data: no evaluation.
    MODELKIT_TRY_VOID(validation->get("eval_data", c.eval_data));
    // Absent in configs written before --eval-column/--eval-samples: eval's defaults.
    MODELKIT_TRY_VOID(validation->get("eval_columns", c.eval_columns));
    MODELKIT_TRY_VOID(validation->get("eval_samples", c.eval_samples, 1, kMaxEvalSamples));
  }
  MODELKIT_TRY_VOID(root.no_unknown_fields({"schema_version", "modelkit_version"}));
  MODELKIT_TRY_VOID(request.no_unknown_fields());
  MODELKIT_TRY_VOID(resolution.no_unknown_fields());
  MODELKIT_TRY_VOID(loader.no_unknown_fields({"task", "model_class"}));
  MODELKIT_TRY_VOID(cal.no_unknown_fields());
  MODELKIT_TRY_VOID(quant.no_unknown_fields());
  if (!c.request.model && !c.request.model_type && !c.request.model_class)
    return failure("field 'request' names no model (model, model_type or model_class)");
  return c;
}

Result<void> write_build_config(const BuildConfig& config, const std::string& path) {
  return util::write_file_atomic(path, build_config_json(config));
}

Result<void> write_build_config(const BuildConfig& config, const std::string& path, const ResolvedModel& model,
                                bool force) {
  std::vector<std::filesystem::path> inputs;
  if (model.checkpoint) {
    inputs.push_back(model.checkpoint->source.folder);
    if (model.checkpoint->source.config_path) inputs.push_back(*model.checkpoint->source.config_path);
  }
  MODELKIT_TRY_VOID(util::check_output(path, force, inputs));
  return write_build_config(config, path);
}

Result<BuildConfig> read_build_config(const std::string& path) {
  MODELKIT_TRY(auto text, util::read_file(path, 16u << 20));
  MODELKIT_TRY_CTX(auto parsed, parse_build_config(text), "'" + path + "'");
  return parsed;
}

void replay_build_settings(BuildConfig& fresh, const BuildConfig& recorded) {
  auto kind = std::move(fresh.calibration.kind);
  auto kind_reason = std::move(fresh.calibration.kind_reason);
  fresh.calibration = recorded.calibration;
  fresh.calibration.kind = std::move(kind);
  fresh.calibration.kind_reason = std::move(kind_reason);
  fresh.quantization = recorded.quantization;
  fresh.min_cosine = recorded.min_cosine;
  fresh.eval_data = recorded.eval_data;
  fresh.eval_columns = recorded.eval_columns;
  fresh.eval_samples = recorded.eval_samples;
}

Result<void> check_replayed_resolution(const TaskResolution& recorded, const TaskResolution& fresh) {
  auto show = [](const TaskResolution& r) {
    return "task '" + r.task.value_or("null") + "', class '" + r.model_class.value_or("null") + "', source '" +
           r.source + "'";
  };
  if (recorded.task != fresh.task || recorded.model_class != fresh.model_class || recorded.source != fresh.source)
    return failure("the config records " + show(recorded) + " but the model now resolves to " + show(fresh) +
                   "; write the config again with 'modelkit config'");
  return {};
}

std::string resolution_json(const TaskResolution& resolution, bool pretty) {
  util::JsonWriter w(pretty);
  report::write_resolution(w, resolution);
  return w.take();
}

std::string render_plan(const BuildConfig& c, const std::optional<std::string>& output, OutputFormat format) {
  if (format == OutputFormat::json) {
    util::JsonWriter w;
    w.begin_object();
    w.field("schema_version", c.schema_version);
    w.field("command", "build");
    w.field("dry_run", true);
    w.key("request");
    write_request(w, c.request);
    w.key("resolution");
    report::write_resolution(w, c.resolution);
    w.key("plan").begin_object();
    write_settings(w, c);
    w.key("stages").begin_array();
    for (const auto& s : kBuildStages) w.value(s.name);
    w.end_array();
    w.field("output", output);
    w.end_object();
    w.end_object();
    return w.take();
  }
  std::string out;
  // Values come from files (config.json strings may hold NUL or terminal escapes): escaped as
  // errors are, so no value can cut a line short or forge another.
  auto line = [&](std::string_view k, std::string_view v) {
    out.append(k).append(k.size() < 18 ? 18 - k.size() : 1, ' ').append(escape_control_characters(v)).append("\n");
  };
  line("task", c.resolution.task.value_or("unresolved"));
  line("optimum task", c.resolution.optimum_task.value_or("-"));
  line("source", c.resolution.source);
  line("model class", c.resolution.model_class.value_or("-"));
  line("modality", c.resolution.modality);
  for (const auto& n : c.resolution.notes) line("note", n);
  line("calibration", std::string(setting_name(c.calibration.kind)) + " (" + c.calibration.kind_reason + "), " +
                          std::to_string(c.calibration.samples) + " samples, sequence length " +
                          std::to_string(c.calibration.sequence_length) + ", " +
                          std::string(setting_name(c.calibration.method)));
  const auto& q = c.quantization;
  const auto& precision = setting_info(q.precision);
  switch (precision.kind) {
    case PrecisionKind::static_qdq:
      line("quantization", std::string(precision.name) + ": QDQ, activations " +
                               std::string(setting_name(q.activation_type)) +
                               (q.symmetric ? " symmetric" : " asymmetric") + ", weights " +
                               std::string(setting_name(q.weight_type)) + " symmetric" +
                               (q.reduce_range ? " (7-bit)" : "") + ", " + (q.per_channel ? "per-channel" : "per-tensor"));
      break;
    case PrecisionKind::float16:
      line("quantization", "fp16: float16 weights and compute, float32 inputs/outputs; no calibration");
      break;
    case PrecisionKind::weight_only:
      line("quantization", "int4: MatMul weights in 4-bit blocks of " + std::to_string(q.block_size) +
                               (q.symmetric ? ", symmetric" : ", asymmetric") + ", accuracy level " +
                               std::to_string(q.accuracy_level) +
                               (q.int4_embeddings ? "; Gather tables too (GatherBlockQuantized)" : "") + "; no calibration");
      break;
    case PrecisionKind::dynamic_int8:
      line("quantization", std::string("dynamic: int8 weights") + (q.reduce_range ? " (7-bit)" : "") +
                               ", activations quantized at run time; no calibration");
      break;
  }
  line("optimize", std::string(setting_name(q.optimize)));
  line("evaluation", c.eval_data ? "modelkit eval --compare on " + quoted(*c.eval_data) : "none (no --eval-data)");
  line("stages", setting_list<BuildStage>(" -> "));
  line("output", output.value_or("(none: dry run)"));
  return out;
}

}  // namespace modelkit
