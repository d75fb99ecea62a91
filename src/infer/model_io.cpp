#include "infer/model_io.hpp"

#include <modelkit/export.hpp>

#include "util/file.hpp"
#include "util/json_read.hpp"
#include "util/strings.hpp"

#include <algorithm>

namespace modelkit::infer {
namespace fs = std::filesystem;

namespace {

// The task a built folder's manifest recorded (its resolution.task).
Result<std::optional<std::string>> manifest_task(const fs::path& manifest) {
  MODELKIT_TRY(auto text, util::read_file(manifest, kMaxConfigBytes));
  simdjson::dom::parser parser;
  auto doc = util::parse_json(parser, text);
  if (!doc) return doc.take_error().with_context(quoted(manifest));
  simdjson::dom::object root, res;
  if (doc->get(root) != simdjson::SUCCESS || root["resolution"].get(res) != simdjson::SUCCESS)
    return failure(quoted(manifest) + ": no 'resolution' object; is it a modelkit build manifest?");
  auto task = util::optional_string(res, "task");
  if (!task) return task.take_error().with_context(quoted(manifest) + " resolution");
  if (!*task) return std::optional<std::string>{};
  return std::optional<std::string>(std::string(**task));
}

// A built folder's build_config.json: the image settings and input shapes its calibration used.
Result<void> read_recorded_inputs(LoadedModel& m) {
  const auto path = m.folder / "build_config.json";
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return {};  // a folder built before the config was written
  MODELKIT_TRY(auto config, read_build_config(path.string()));
  const auto& cal = config.calibration;
  for (const auto& text : cal.input_shapes) {
    auto shape = parse_input_shape(text);
    if (!shape) return failure(quoted(path) + " calibration.input_shapes: " + shape.error().message);
    m.recorded_shapes.push_back(std::move(*shape));
  }
  m.recorded_image = cal.image;
  const auto& i = cal.image;
  if (i.input || i.layout || i.resize_mode || i.mean || i.std || i.rescale || i.bgr)
    m.notes.push_back("image pre-processing as the build recorded it (build_config.json); flags given override it");
  return {};
}

bool has_safetensors(const fs::path& folder) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(folder, ec))
    if (e.path().extension() == ".safetensors") return true;
  return false;
}

}  // namespace

Result<LoadedModel> load_model(const ModelSpec& given, const std::optional<fs::path>& config, int threads) {
  if (!given.model) return usage_error("name the model with -m (a built folder, a checkpoint folder or an .onnx file)");
  LoadedModel m;
  ModelSpec spec = given;
  MODELKIT_TRY(auto source, locate_model(*given.model, CacheLocation::from_environment()));
  std::error_code ec;
  if (source.onnx_path) {
    m.kind = "onnx";
    m.onnx = *source.onnx_path;
    m.folder = source.folder;
    if (config) {
      // --config: the config.json (or the checkpoint folder holding it) that says what the .onnx is.
      m.folder = fs::is_directory(*config, ec) ? *config : config->parent_path();
      if (m.folder.empty()) m.folder = ".";
      spec.model = (fs::is_directory(*config, ec) ? *config / "config.json" : *config).string();
      if (!fs::is_regular_file(*spec.model, ec)) return usage_error("--config " + quoted(*config) + ": no config.json there");
    } else if (source.config_path) {
      m.folder = source.config_path->parent_path();
    }
  } else {
    if (config) return usage_error("--config goes with an .onnx file given to -m; " + quoted(*given.model) + " is not one");
    m.folder = source.folder;
    if (source.kind == SourceKind::config_file) m.folder = source.config_path->parent_path();
    const auto manifest = m.folder / "build_manifest.json";
    if (fs::is_regular_file(manifest, ec)) {
      m.kind = "built";
      MODELKIT_TRY(auto task, manifest_task(manifest));
      if (!spec.task && task) spec.task = task;
      m.onnx = m.folder / "model.onnx";
      MODELKIT_TRY_VOID(read_recorded_inputs(m));
    } else {
      auto found = onnx::resolve_model_path(m.folder);
      if (found) {
        m.kind = "checkpoint";
        m.onnx = *found;
      } else if (has_safetensors(m.folder)) {
        m.kind = "exported";
      } else {
        return failure(quoted(m.folder) + " holds no ONNX model and no .safetensors weights to export (" +
                       found.error().message + ")");
      }
    }
  }
  if (source.onnx_path && !config && !source.config_path) {
    // A bare .onnx: nothing to resolve from; the task is the user's, else none (raw outputs).
    m.model.spec = spec;
    if (spec.task) {
      MODELKIT_TRY(auto task_id, registry::parse_task(*spec.task));
      m.model.resolution.task = std::string(registry::task_name(task_id));
      m.model.resolution.task_id = task_id;
      m.model.resolution.source = "user-task";
    } else {
      m.notes.push_back("no config.json and no --task: the outputs are shown raw");
    }
  } else {
    ModelSpec resolve_spec = spec;
    if (m.kind == "onnx" && !config) resolve_spec.model = source.config_path->string();
    if (m.kind == "built" || m.kind == "checkpoint" || m.kind == "exported") resolve_spec.model = m.folder.string();
    MODELKIT_TRY(m.model, resolve_model(resolve_spec, CacheLocation::from_environment()));
    m.model.spec.model = given.model;
  }
  if (m.kind == "exported") {
    m.export_dir = std::make_unique<util::TempFolder>();
    MODELKIT_TRY_VOID(m.export_dir->create_beside(fs::temp_directory_path() / "modelkit-run-export"));
    ExportRequest er;
    er.model = m.model;
    er.output = m.export_dir->path() / "model.onnx";
    er.force = true;  // our own temporary folder
    auto exported = export_model(er);
    if (!exported) return exported.take_error().with_context("exporting " + quoted(m.folder) + " natively");
    m.onnx = exported->model_path;
    m.notes.push_back("exported natively from the checkpoint's safetensors (" + exported->family + ", " +
                      exported->head + ")");
  }
  if (fs::is_regular_file(m.folder / "config.json", ec)) {
    MODELKIT_TRY(m.labels, read_label_info(m.folder / "config.json"));
  }
  runtime::SessionOptions so;
  so.intra_op_threads = threads;
  MODELKIT_TRY(auto session, runtime::Session::open(m.onnx, so));
  m.session = std::make_unique<runtime::Session>(std::move(session));
  // The inputs as the session sees them: parsing the model a second time (read_model_info) would
  // cost a third of `run`'s time on a MiniLM-size model.
  for (const auto& spec : m.session->inputs()) {
    onnx::ValueInfo in;
    in.name = spec.name;
    in.kind = spec.is_tensor ? "tensor" : "unknown";
    in.element_type = spec.type;
    in.has_shape = true;
    for (std::size_t i = 0; i < spec.shape.size(); ++i) {
      onnx::Dim d;
      if (spec.shape[i] >= 0) d.value = spec.shape[i];
      if (i < spec.symbols.size()) d.symbol = spec.symbols[i];
      in.shape.push_back(std::move(d));
    }
    m.inputs.push_back(std::move(in));
  }
  return m;
}

Result<tokenizer::Tokenizer> load_tokenizer(const LoadedModel& m) {
  const bool takes_ids = std::any_of(m.inputs.begin(), m.inputs.end(), [](const auto& in) { return in.name == "input_ids"; });
  if (!takes_ids) {
    std::vector<std::string> names;
    for (const auto& in : m.inputs) names.push_back(in.name + " " + onnx::format_dims(in));
    return usage_error("the model takes " + util::join(names, ", ") + ", not text (no input_ids input)");
  }
  auto path = m.folder / "tokenizer.json";
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    return failure("text input needs the checkpoint's tokenizer.json; there is none in " + quoted(m.folder) +
                   (m.kind == "onnx" ? " (name the checkpoint with --config)" : ""));
  MODELKIT_TRY(auto tok, tokenizer::Tokenizer::from_file(path));
  tok.set_offsets(true);  // entities and answers report character offsets where the tokenizer can
  // One input at a time: no padding beyond what a static sequence dim needs.
  tok.set_padding(std::nullopt);
  for (const auto& in : m.inputs)
    if (in.name == "input_ids" && in.has_shape && in.shape.size() == 2 && in.shape[1].value)
      tok.set_fixed_length(static_cast<std::size_t>(*in.shape[1].value));
  return tok;
}

Result<TextInputs> text_inputs(const LoadedModel& m, const tokenizer::Tokenizer& tok, const std::string& text,
                               const std::optional<std::string>& pair) {
  const bool takes_ids = std::any_of(m.inputs.begin(), m.inputs.end(), [](const auto& in) { return in.name == "input_ids"; });
  if (!takes_ids) {
    std::vector<std::string> names;
    for (const auto& in : m.inputs) names.push_back(in.name + " " + onnx::format_dims(in));
    return usage_error("the model takes " + util::join(names, ", ") + ", not text (no input_ids input)");
  }
  std::optional<std::string_view> second;
  if (pair) second = *pair;
  MODELKIT_TRY(auto enc, tok.encode(text, second, true));
  TextInputs out;
  const std::size_t n = enc.ids.size();
  out.view.ids = enc.ids;
  out.view.tokens = enc.tokens;
  out.view.special.resize(n);
  out.view.sequence.assign(n, -1);
  for (std::size_t i = 0; i < n; ++i) out.view.special[i] = i < enc.special_tokens_mask.size() && enc.special_tokens_mask[i];
  // Sequence ids: the first text's non-special tokens come first; the pair's follow.
  std::size_t first_len = n;
  if (pair) {
    MODELKIT_TRY(auto alone, tok.encode(text, std::nullopt, false));
    first_len = alone.ids.size();
  }
  std::size_t seen = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (out.view.special[i]) continue;
    out.view.sequence[i] = seen++ < first_len ? 0 : 1;
  }
  if (enc.offsets.size() == n) {
    out.view.texts.push_back(text);
    if (pair) out.view.texts.push_back(*pair);
    std::vector<std::vector<std::pair<std::size_t, std::size_t>>> chars;
    for (const auto& t : out.view.texts) chars.push_back(tokenizer::char_offsets(t, enc.offsets));
    out.view.byte_offsets.assign(n, {0, 0});
    out.view.char_offsets.assign(n, {0, 0});
    for (std::size_t i = 0; i < n; ++i) {
      const int seq = out.view.sequence[i];
      if (seq < 0 || static_cast<std::size_t>(seq) >= chars.size()) continue;
      out.view.byte_offsets[i] = enc.offsets[i];
      out.view.char_offsets[i] = chars[static_cast<std::size_t>(seq)][i];
    }
  }
  auto to_tensor = [n](std::string name, const std::vector<std::uint32_t>& v) {
    std::vector<std::int64_t> values(v.begin(), v.end());
    return Tensor::from_values<std::int64_t>(std::move(name), {1, static_cast<std::int64_t>(n)}, values);
  };
  out.attention_mask.assign(enc.attention_mask.begin(), enc.attention_mask.end());
  out.tensors.push_back(to_tensor("input_ids", enc.ids));
  out.tensors.push_back(to_tensor("attention_mask", enc.attention_mask));
  out.tensors.push_back(to_tensor("token_type_ids", enc.type_ids));
  return out;
}

Result<calib::SelectedSource> media_source(const LoadedModel& m, CalibrationKind kind,
                                           const std::optional<fs::path>& data, int samples,
                                           const std::vector<InputShape>& input_shapes, const ImageSettings& image) {
  calib::SourceRequest req;
  req.kind = kind;
  req.data = data;
  req.checkpoint_folder = m.folder;
  req.model_inputs = m.inputs;
  req.samples = samples;
  req.input_shapes = merge_input_shapes(m.recorded_shapes, input_shapes);
  MODELKIT_TRY(req.image, image_options(merge_image_settings(m.recorded_image, image)));
  MODELKIT_TRY(auto sel, calib::select_source(req));
  if (sel.record.kind != setting_name(kind))
    return failure("the model's inputs cannot take " + std::string(setting_name(kind)) + " (" +
                   sel.record.fallback_reason.value_or("no " + std::string(setting_name(kind)) + " input") + ")");
  // Inputs the data does not make (a recurrent state, ...) are filled as calibration fills them;
  // sel.warnings says so and callers show it.
  return sel;
}

namespace {
template <class From>
Tensor convert_from(const Tensor& t, ElementType to, bool& ok) {
  auto src = t.values<From>();
  auto make = [&](auto tag) {
    using To = decltype(tag);
    std::vector<To> out(src.size());
    for (std::size_t i = 0; i < src.size(); ++i) out[i] = static_cast<To>(src[i]);
    return Tensor::from_values<To>(t.name, t.shape, out);
  };
  ok = true;
  switch (to) {
    case ElementType::int64: return make(std::int64_t{});
    case ElementType::int32: return make(std::int32_t{});
    case ElementType::float32: return make(float{});
    case ElementType::float64: return make(double{});
    default: ok = false; return t;
  }
}
}  // namespace

Result<std::vector<Tensor>> conform_inputs(const LoadedModel& m, std::vector<Tensor> tensors) {
  std::vector<Tensor> out;
  std::vector<std::string> missing;
  for (const auto& in : m.inputs) {
    auto it = std::find_if(tensors.begin(), tensors.end(), [&](const Tensor& t) { return t.name == in.name; });
    if (it == tensors.end()) {
      missing.push_back(in.name);
      continue;
    }
    if (it->type == in.element_type || in.element_type == ElementType::undefined) {
      out.push_back(std::move(*it));
      continue;
    }
    bool ok = false;
    Tensor cast;
    switch (it->type) {
      case ElementType::int64: cast = convert_from<std::int64_t>(*it, in.element_type, ok); break;
      case ElementType::int32: cast = convert_from<std::int32_t>(*it, in.element_type, ok); break;
      case ElementType::float32: cast = convert_from<float>(*it, in.element_type, ok); break;
      case ElementType::float64: cast = convert_from<double>(*it, in.element_type, ok); break;
      default: break;
    }
    if (!ok)
      return failure("input '" + in.name + "': cannot convert " + element_type_name(it->type) + " to the model's " +
                     element_type_name(in.element_type));
    out.push_back(std::move(cast));
  }
  if (!missing.empty()) return failure("the model needs input(s) " + util::join(missing, ", ") + " that were not given");
  return out;
}

Result<std::vector<float>> as_floats(const Tensor& t) {
  std::vector<float> out;
  auto copy = [&](auto tag) {
    using T = decltype(tag);
    for (auto v : t.values<T>()) out.push_back(static_cast<float>(v));
  };
  switch (t.type) {
    case ElementType::float32: copy(float{}); break;
    case ElementType::float64: copy(double{}); break;
    case ElementType::int64: copy(std::int64_t{}); break;
    case ElementType::int32: copy(std::int32_t{}); break;
    case ElementType::int8: copy(std::int8_t{}); break;
    case ElementType::uint8: copy(std::uint8_t{}); break;
    case ElementType::boolean: copy(std::uint8_t{}); break;
    default: return failure("output '" + t.name + "' is " + element_type_name(t.type) + ", which is not read");
  }
  return out;
}

Result<std::vector<std::string>> vocabulary_by_id(const fs::path& tokenizer_json) {
  MODELKIT_TRY(auto text, util::read_file(tokenizer_json, std::uint64_t{1} << 30));
  simdjson::dom::parser parser;
  auto doc = util::parse_json(parser, text);
  if (!doc) return doc.take_error().with_context(quoted(tokenizer_json));
  std::vector<std::string> out;
  constexpr std::uint64_t kMaxVocab = std::uint64_t{1} << 24;
  auto put = [&](std::uint64_t id, std::string_view token) -> Result<void> {
    if (id >= kMaxVocab) return failure(quoted(tokenizer_json) + ": token id " + std::to_string(id) + " is out of range");
    if (id >= out.size()) out.resize(id + 1);
    out[id] = std::string(token);
    return {};
  };
  simdjson::dom::object root, model, vocab_object;
  simdjson::dom::array vocab_array, added;
  if (doc->get(root) != simdjson::SUCCESS) return failure(quoted(tokenizer_json) + ": not a JSON object");
  if (root["model"].get(model) == simdjson::SUCCESS) {
    if (model["vocab"].get(vocab_object) == simdjson::SUCCESS) {
      for (auto f : vocab_object) {
        std::uint64_t id = 0;
        if (f.value.get(id) == simdjson::SUCCESS) MODELKIT_TRY_VOID(put(id, f.key));
      }
    } else if (model["vocab"].get(vocab_array) == simdjson::SUCCESS) {
      std::uint64_t id = 0;
      for (auto row : vocab_array) {
        simdjson::dom::array pair;
        std::string_view piece;
        if (row.get(pair) == simdjson::SUCCESS && pair.at(0).get(piece) == simdjson::SUCCESS) MODELKIT_TRY_VOID(put(id, piece));
        ++id;
      }
    }
  }
  if (root["added_tokens"].get(added) == simdjson::SUCCESS)
    for (auto t : added) {
      simdjson::dom::object entry;
      std::uint64_t id = 0;
      std::string_view content;
      if (t.get(entry) == simdjson::SUCCESS && entry["id"].get(id) == simdjson::SUCCESS &&
          entry["content"].get(content) == simdjson::SUCCESS)
        MODELKIT_TRY_VOID(put(id, content));
    }
  return out;
}

const Tensor* find_output(const std::vector<Tensor>& outputs, std::string_view name) {
  for (const auto& t : outputs)
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace modelkit::infer
