// export_model: resolve what to build, check the weights, write the graph tensor by tensor into a
// temporary folder, then move the result into place (never over an input, never over an existing
// output without force).
#include <modelkit/export.hpp>

#include "export/audio.hpp"
#include "export/families.hpp"
#include "export/vision_families.hpp"
#include "util/file.hpp"
#include "util/json_writer.hpp"

#include <algorithm>
#include <cstdlib>
#include <unistd.h>

namespace modelkit {
namespace fs = std::filesystem;
using exporter::Family;
using exporter::GraphPlan;
using exporter::Head;

namespace {

std::string family_list() {
  std::string out;
  for (const auto& f : exporter::families()) out += (out.empty() ? "" : ", ") + std::string(f.model_type);
  for (const auto& f : exporter::vision_families()) out += ", " + std::string(f.model_type);
  return out;
}

std::string class_list(const Family& f) {
  std::string out;
  for (auto head : f.heads)
    for (const auto& h : exporter::kHeads)
      if (h.head == head) out += (out.empty() ? "" : ", ") + std::string(f.class_prefix) + std::string(h.class_suffix);
  return out;
}

constexpr std::string_view kOnnxWay = "; export the ONNX model another way and pass it with --onnx FILE";

bool is_sentence_embedding_task(const TaskResolution& r) {
  return r.library == "sentence-transformers" &&
         (r.task == "feature-extraction" || r.task == "sentence-similarity");
}

Result<GraphPlan> plan_for(const ResolvedModel& model) {
  const auto& type = model.facts.config.model_type;
  if (!type) return failure(quoted(model.reference()) + ": config.json names no model_type; cannot export it natively");
  const Family* family = exporter::find_family(*type);
  if (!family)
    return failure("model_type " + quoted(*type) + " is not supported by the exporter (families: " + family_list() +
                   ", and sentence-transformers checkpoints of these)" + std::string(kOnnxWay));
  MODELKIT_TRY_VOID(require_resolved(model.resolution, model.reference()));
  GraphPlan plan;
  plan.family = family;
  plan.model_class = model.resolution.model_class.value_or("");
  if (is_sentence_embedding_task(model.resolution)) {
    plan.head = Head::base;
    return plan;
  }
  const auto& cls = plan.model_class;
  for (const auto& h : exporter::kHeads) {
    if (cls == std::string(family->class_prefix) + std::string(h.class_suffix)) {
      if (std::find(family->heads.begin(), family->heads.end(), h.head) == family->heads.end()) break;
      plan.head = h.head;
      return plan;
    }
  }
  return failure("model class " + quoted(cls.empty() ? "(none)" : cls) + " (task " +
                 quoted(model.resolution.task.value_or("?")) + ") is not supported by the exporter (" +
                 std::string(family->model_type) + " exports " + class_list(*family) + ")" + std::string(kOnnxWay));
}

std::string_view head_name(Head head) {
  for (const auto& h : exporter::kHeads)
    if (h.head == head) return h.name;
  return "?";
}

// Whether `inner` is `outer` or lies inside it (after resolving what exists of both).
bool within(const fs::path& inner, const fs::path& outer) {
  std::error_code ec;
  auto a = fs::weakly_canonical(inner, ec);
  auto b = fs::weakly_canonical(outer, ec);
  auto ai = a.begin(), bi = b.begin();
  for (; bi != b.end(); ++ai, ++bi) {
    if (bi->empty()) continue;  // trailing separator
    if (ai == a.end() || *ai != *bi) return false;
  }
  return true;
}

// A temporary folder beside the output, removed unless released.
class Staging {
 public:
  ~Staging() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  Result<void> create(const fs::path& beside) {
    auto parent = beside.parent_path().empty() ? fs::path(".") : beside.parent_path();
    std::error_code ec;
    if (!fs::is_directory(parent, ec)) return failure("output folder " + quoted(parent.string()) + " does not exist");
    std::string tmpl = (parent / ("." + beside.filename().string() + ".tmp-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr)
      return failure("cannot create a temporary folder beside " + quoted(beside.string()));
    path_ = tmpl;
    return {};
  }
  [[nodiscard]] const fs::path& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  fs::path path_;
};

// Moves `from` to `to`; with force an existing `to` is replaced (moved aside first, removed after).
Result<void> move_into_place(const fs::path& from, const fs::path& to, bool force) {
  std::error_code ec;
  fs::path aside;
  if (fs::exists(fs::symlink_status(to, ec))) {
    if (!force) return failure(quoted(to.string()) + " exists; pass --force to replace it");
    aside = to.string() + ".old-" + std::to_string(::getpid());
    fs::rename(to, aside, ec);
    if (ec) return failure("cannot replace " + quoted(to.string()) + ": " + ec.message());
  }
  fs::rename(from, to, ec);
  if (ec) {
    std::error_code ignored;
    if (!aside.empty()) fs::rename(aside, to, ignored);
    return failure("cannot write " + quoted(to.string()) + ": " + ec.message());
  }
  if (!aside.empty()) fs::remove_all(aside, ec);
  return {};
}

}  // namespace

std::vector<std::string> supported_export_classes() {
  std::vector<std::string> out;
  for (const auto& f : exporter::families())
    for (auto head : f.heads)
      for (const auto& h : exporter::kHeads)
        if (h.head == head) out.push_back(std::string(f.class_prefix) + std::string(h.class_suffix));
  for (const auto& f : exporter::vision_families())
    for (const auto& c : f.classes) out.push_back(std::string(c.name));
  for (auto& c : exporter::audio_export_classes()) out.push_back(std::move(c));
  return out;
}

// Whether the folder holds safetensors weights (single file or shards).
static bool has_safetensors(const fs::path& folder) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(folder, ec))
    if (e.path().extension() == ".safetensors") return true;
  return false;
}

Result<ExportSupport> export_support(const ResolvedModel& model) {
  if (!model.checkpoint || !model.checkpoint->source.config_path)
    return failure(quoted(model.reference()) + ": native export needs a checkpoint folder with config.json");
  // Audio encoders (audio_encoder.cpp) and vision families (vision.cpp) have their own plans; the
  // text encoders' plan otherwise.
  ExportSupport support;
  if (exporter::is_audio_model_type(model.facts.config.model_type.value_or(""))) {
    MODELKIT_TRY(auto audio, exporter::audio_plan(model));
    support = ExportSupport{audio.model_type, audio.head_name};
  } else {
    MODELKIT_TRY(auto vision, exporter::vision_plan(model));
    if (vision) {
      support = ExportSupport{std::string(vision->family->model_type), std::string(exporter::vision_head_name(vision->head))};
    } else {
      MODELKIT_TRY(auto plan, plan_for(model));
      support = ExportSupport{std::string(plan.family->model_type), std::string(head_name(plan.head))};
    }
  }
  const auto& folder = model.checkpoint->source.folder;
  if (!has_safetensors(folder)) {
    std::error_code ec;
    if (fs::exists(folder / "pytorch_model.bin", ec))
      return failure(quoted(folder.string()) +
                     " holds pytorch_model.bin but no *.safetensors weights (modelkit never unpickles)");
    return failure(quoted(folder.string()) + " holds no *.safetensors weights to export from");
  }
  return support;
}

Result<std::optional<std::array<std::int64_t, 2>>> export_image_size(const std::vector<InputShape>& shapes,
                                                                   bool only_pixel_values) {
  std::optional<std::array<std::int64_t, 2>> size;
  for (const auto& s : shapes) {
    if (s.name != "pixel_values") {
      if (only_pixel_values)
        return usage_error("--input-shape " + quoted(s.name) + ": export takes an input shape for pixel_values only");
      continue;
    }
    if (s.shape.size() != 4 || s.shape[2] < 1 || s.shape[3] < 1)
      return usage_error("--input-shape pixel_values must be NxCxHxW with a positive height and width");
    size = std::array<std::int64_t, 2>{s.shape[2], s.shape[3]};
  }
  return size;
}

Result<ExportResult> export_model(const ExportRequest& request) {
  const auto& model = request.model;
  if (request.opset < kMinExportOpset || request.opset > kMaxExportOpset)
    return usage_error("--opset " + std::to_string(request.opset) + " is not supported (" +
                       std::to_string(kMinExportOpset) + ".." + std::to_string(kMaxExportOpset) + ")");
  if (!model.checkpoint || !model.checkpoint->source.config_path)
    return failure(quoted(model.reference()) + ": export needs a checkpoint with config.json");
  const auto& ck = *model.checkpoint;
  if (ck.source.onnx_path) return failure(quoted(model.reference()) + " is already an ONNX model");
  // Audio encoders (audio_encoder.cpp) and vision families (vision.cpp) have their own plans; the
  // text encoders' is below.
  std::optional<exporter::AudioPlan> audio;
  std::optional<exporter::VisionPlan> vision;
  GraphPlan plan;
  if (exporter::is_audio_model_type(model.facts.config.model_type.value_or(""))) {
    MODELKIT_TRY(audio, exporter::audio_plan(model));
  } else {
    MODELKIT_TRY(vision, exporter::vision_plan(model));
  }
  if (!audio && !vision) {
    MODELKIT_TRY(plan, plan_for(model));
  }
  if (request.image_size && !vision)
    return usage_error("--input-shape pixel_values: " + (audio ? audio->model_type : std::string(plan.family->model_type)) +
                       " takes no pixel_values");
  const std::string family_name = audio    ? audio->model_type
                                  : vision ? std::string(vision->family->model_type)
                                           : std::string(plan.family->model_type);
  const std::string head = audio    ? audio->head_name
                           : vision ? std::string(exporter::vision_head_name(vision->head))
                                    : std::string(head_name(plan.head));
  const std::string model_class = audio ? audio->model_class : vision ? vision->model_class : plan.model_class;
  const fs::path folder = ck.source.folder;
  if (!audio && !vision && is_sentence_embedding_task(model.resolution)) {
    MODELKIT_TRY(plan, exporter::sentence_transformers_plan(std::move(plan), folder));
  }
  MODELKIT_TRY(auto config_text, util::read_file(*ck.source.config_path, kMaxConfigBytes));

  // Output checks first: nothing is read or written for a request that cannot be honoured.
  if (request.output.empty()) return usage_error("name the output with -o FILE.onnx or -o DIR");
  const bool to_file = request.output.extension() == ".onnx";
  if (within(folder, request.output) || (within(request.output, folder) && fs::exists(request.output)))
    return failure("output " + quoted(request.output.string()) + " would overwrite the input checkpoint " +
                   quoted(folder.string()));
  std::error_code ec;
  if (!request.force && fs::exists(fs::symlink_status(request.output, ec)))
    return failure(quoted(request.output.string()) + " exists; pass --force to replace it");

  // Weights.
  std::unique_ptr<exporter::WeightSource> owned;
  exporter::RandomWeights* random = nullptr;
  if (request.random_weights) {
    MODELKIT_TRY(auto range, exporter::initializer_range(config_text));
    auto r = std::make_unique<exporter::RandomWeights>(request.seed, range);
    random = r.get();
    owned = std::move(r);
  } else {
    MODELKIT_TRY(owned, exporter::open_safetensors(folder));
  }
  exporter::GraphBuilder g(request.opset);
  if (vision) {
    std::optional<exporter::ImageSize> size;
    if (request.image_size) size = exporter::ImageSize{(*request.image_size)[0], (*request.image_size)[1]};
    MODELKIT_TRY_VOID(exporter::build_vision(g, *vision, config_text, folder, owned, random, size));
  } else if (audio) {
    MODELKIT_TRY(owned, exporter::build_audio_graph(g, *audio, config_text, std::move(owned), random));
  } else {
    MODELKIT_TRY_VOID(exporter::build_encoder(g, plan, config_text, *owned, random));
  }
  MODELKIT_TRY_VOID(exporter::check_weights(g.weights(), *owned));

  auto& proto = g.model();
  // The IR version each opset was released with (ONNX's versioning table): 17-18 -> 8, 19-20 -> 9, 21 -> 10.
  proto.set_ir_version(request.opset >= 21 ? 10 : request.opset >= 19 ? 9 : 8);
  proto.set_producer_name("modelkit");
  proto.set_producer_version(std::string(kExporterVersion));
  auto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(request.opset);
  proto.mutable_graph()->set_name(model_class.empty() ? "main_graph" : model_class);
  auto meta = [&](const std::string& k, const std::string& v) {
    auto* p = proto.add_metadata_props();
    p->set_key(k);
    p->set_value(v);
  };
  meta("modelkit.exporter_version", std::string(kExporterVersion));
  meta("modelkit.family", family_name);
  meta("modelkit.head", head);
  if (audio && !audio->component.empty()) meta("modelkit.component", audio->component);
  if (model.resolution.task) meta("modelkit.task", *model.resolution.task);

  Staging staging;
  MODELKIT_TRY_VOID(staging.create(request.output));
  const fs::path model_name =
      to_file ? request.output.filename() : fs::path(audio ? audio->model_file : std::string("model.onnx"));
  MODELKIT_TRY(auto stats, exporter::write_model(proto, g.weights(), *owned, staging.path() / model_name));

  ExportResult result;
  if (!to_file) {
    std::vector<std::string> copies = {"config.json"};
    copies.insert(copies.end(), ck.tokenizer_files.begin(), ck.tokenizer_files.end());
    copies.insert(copies.end(), ck.processor_files.begin(), ck.processor_files.end());
    for (const auto& name : copies) {
      if (std::find(result.copied_files.begin(), result.copied_files.end(), name) != result.copied_files.end()) continue;
      fs::copy_file(folder / name, staging.path() / name, ec);
      if (ec) return failure("cannot copy " + quoted((folder / name).string()) + ": " + ec.message());
      result.copied_files.push_back(name);
    }
    MODELKIT_TRY_VOID(move_into_place(staging.path(), request.output, request.force));
    staging.release();
    result.model_path = request.output / model_name;
  } else {
    if (stats.external_data) {
      auto data_name = model_name.string() + "_data";
      MODELKIT_TRY_VOID(move_into_place(staging.path() / data_name, request.output.parent_path() / data_name,
                                        request.force));
    }
    MODELKIT_TRY_VOID(move_into_place(staging.path() / model_name, request.output, request.force));
    result.model_path = request.output;
  }

  result.exporter_version = std::string(kExporterVersion);
  result.opset = request.opset;
  result.family = family_name;
  result.head = head;
  result.model_class = model_class;
  if (audio) result.component = audio->component;
  result.task = model.resolution.task.value_or("");
  result.sentence_transformers = plan.sentence_pooling.has_value();
  if (plan.sentence_pooling) result.pooling = plan.sentence_pooling->describe();
  result.normalize = plan.normalize;
  result.random_weights = request.random_weights;
  result.seed = request.seed;
  result.source_weights = owned->summary();
  result.parameters = stats.parameters;
  result.inputs = g.input_names();
  result.outputs = g.output_names();
  result.output = request.output;
  result.external_data = stats.external_data;
  result.onnx_bytes = stats.bytes;
  return result;
}

std::string export_result_json(const ExportResult& r) {
  util::JsonWriter w;
  w.begin_object();
  w.field("output", r.output.string());
  w.field("model_path", r.model_path.string());
  w.field("exporter_version", r.exporter_version);
  w.field("opset", r.opset);
  w.field("family", r.family);
  w.field("head", r.head);
  w.field("model_class", r.model_class);
  w.field("component", r.component);
  w.field("task", r.task);
  w.field("sentence_transformers", r.sentence_transformers);
  w.field("pooling", r.pooling);
  w.field("normalize", r.normalize);
  w.field("random_weights", r.random_weights);
  if (r.random_weights) w.field("seed", r.seed);
  else w.null_field("seed");
  w.key("source_weights").begin_object();
  w.key("files").string_array(r.source_weights.files);
  w.key("dtypes").begin_array();
  for (const auto& d : r.source_weights.dtypes) {
    w.begin_object();
    w.field("dtype", d.dtype).field("tensors", d.tensors).field("parameters", d.parameters).field("bytes", d.bytes);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  w.field("parameters", r.parameters);
  w.key("inputs").string_array(r.inputs);
  w.key("outputs").string_array(r.outputs);
  w.field("external_data", r.external_data);
  w.field("onnx_bytes", r.onnx_bytes);
  w.key("copied_files").string_array(r.copied_files);
  w.end_object();
  return w.take() + "\n";
}

}  // namespace modelkit
