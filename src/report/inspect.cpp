#include <modelkit/plan.hpp>
#include <modelkit/registry.hpp>

#include "onnx/onnx_json.hpp"
#include "report/json_fields.hpp"
#include "util/json_writer.hpp"
#include "util/strings.hpp"

#include <cstdio>

namespace modelkit {

Result<InspectReport> inspect_model(ResolvedModel model) {
  InspectReport report;
  if (const auto& mt = model.facts.config.model_type) {
    report.exportable_tasks = registry::exportable_tasks(*mt);
    if (const auto* row = registry::find_model_type(*mt); row && !row->config_class.empty())
      report.config_class = std::string(row->config_class);
  }
  if (model.checkpoint) {
    const auto& src = model.checkpoint->source;
    auto weights = summarize_weights(src.folder);
    if (!weights) return weights.take_error();
    report.weights = std::move(*weights);
    std::optional<std::filesystem::path> onnx_path = src.onnx_path;
    if (!onnx_path) {
      MODELKIT_TRY(auto files, onnx::scan_folder(src.folder));
      report.onnx_files = std::move(files);
      for (const auto& f : report.onnx_files)
        if (f.is_float_model) onnx_path = f.path;
    }
    if (onnx_path) {
      MODELKIT_TRY(auto info, onnx::read_model_info(*onnx_path));
      report.onnx_model = std::move(info);
      // File names only suggest a variant; the graph says what it is. A built output's
      // model.onnx is named like a float model but holds Q/DQ pairs.
      if (report.onnx_model->quantization.quantized)
        for (auto& f : report.onnx_files)
          if (f.path == *onnx_path) {
            f.variant = onnx::OnnxVariant::quantized;
            f.is_float_model = false;
          }
    }
  }
  report.model = std::move(model);
  return report;
}

namespace {

std::string kind_name(SourceKind k) {
  switch (k) {
    case SourceKind::folder: return "folder";
    case SourceKind::config_file: return "config-file";
    case SourceKind::onnx_file: return "onnx-file";
    case SourceKind::hf_cache: return "hf-cache";
  }
  return "folder";
}

std::string human_bytes(std::uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string human_count(std::uint64_t n) {
  char buf[32];
  if (n >= 1'000'000'000) std::snprintf(buf, sizeof buf, "%.2fB", static_cast<double>(n) / 1e9);
  else if (n >= 1'000'000) std::snprintf(buf, sizeof buf, "%.2fM", static_cast<double>(n) / 1e6);
  else if (n >= 1'000) std::snprintf(buf, sizeof buf, "%.1fK", static_cast<double>(n) / 1e3);
  else std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(n));
  return buf;
}

std::string render_json(const InspectReport& r) {
  const auto& m = r.model;
  const auto& cfg = m.facts.config;
  util::JsonWriter w;
  w.begin_object();
  w.field("schema_version", 1);
  w.field("command", "inspect");
  w.key("model").begin_object();
  w.field("reference", m.reference());
  if (m.checkpoint) {
    w.field("kind", kind_name(m.checkpoint->source.kind));
    w.field("path", m.checkpoint->source.folder.string());
  } else {
    w.field("kind", m.spec.model_type ? "model-type" : "model-class");
    w.null_field("path");
  }
  w.field("model_id", m.facts.model_id);
  w.field("model_type", cfg.model_type);
  w.field("config_class", r.config_class);
  w.key("architectures").string_array(cfg.architectures);
  w.field("library", m.resolution.library);
  w.key("sub_configs").begin_array();
  for (const auto& s : cfg.sub_configs) {
    w.begin_object();
    w.field("field", s.field);
    w.field("model_type", s.model_type);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  w.key("resolution");
  report::write_resolution(w, m.resolution);
  w.key("candidates").string_array(m.resolution.candidates);
  w.key("exportable_tasks").string_array(r.exportable_tasks);
  w.key("files");
  if (m.checkpoint) {
    const auto& ck = *m.checkpoint;
    w.begin_object();
    w.field("config", ck.source.config_path ? std::optional<std::string>(ck.source.config_path->filename().string())
                                            : std::nullopt);
    w.key("tokenizer").string_array(ck.tokenizer_files);
    w.key("processor").string_array(ck.processor_files);
    w.field("sentence_transformers", ck.sentence_transformers);
    w.key("model_card").begin_object();
    w.field("pipeline_tag", ck.card.pipeline_tag);
    w.field("library_name", ck.card.library_name);
    w.end_object();
    w.end_object();
  } else {
    w.null();
  }
  w.key("onnx_files");
  onnx::write_onnx_files_json(w, r.onnx_files);
  w.key("onnx");
  if (r.onnx_model) onnx::write_model_info_json(w, *r.onnx_model);
  else w.null();
  w.key("weights");
  if (r.weights) {
    const auto& ws = *r.weights;
    w.begin_object();
    w.key("files").string_array(ws.files);
    w.field("tensors", ws.tensors);
    w.field("parameters", ws.parameters);
    w.field("bytes", ws.bytes);
    w.key("dtypes").begin_array();
    for (const auto& d : ws.dtypes) {
      w.begin_object();
      w.field("dtype", d.dtype);
      w.field("tensors", d.tensors);
      w.field("parameters", d.parameters);
      w.field("bytes", d.bytes);
      w.end_object();
    }
    w.end_array();
    w.end_object();
  } else {
    w.null();
  }
  w.end_object();
  return w.take();
}

std::string render_table(const InspectReport& r) {
  const auto& m = r.model;
  const auto& cfg = m.facts.config;
  const auto& res = m.resolution;
  std::string out;
  // Values come from files (config.json strings may hold NUL or terminal escapes): escaped as
  // errors are, so no value can cut a line short or forge another.
  auto line = [&](std::string_view k, std::string_view v) {
    out.append(k).append(k.size() < 18 ? 18 - k.size() : 1, ' ').append(escape_control_characters(v)).append("\n");
  };
  line("model", m.reference());
  if (m.checkpoint) line("path", m.checkpoint->source.folder.string());
  if (m.facts.model_id) line("model id", *m.facts.model_id);
  line("model type", cfg.model_type.value_or("-"));
  if (r.config_class) line("config class", *r.config_class);
  line("architectures", cfg.architectures.empty() ? "-" : util::join(cfg.architectures, ", "));
  out.append("\n");
  line("task", res.task.value_or("unresolved"));
  line("optimum task", res.optimum_task.value_or("-"));
  line("source", res.source);
  line("model class", res.model_class.value_or("-"));
  line("modality", res.modality);
  line("library", res.library);
  for (const auto& n : res.notes) line("note", n);
  if (!res.resolved())
    line("candidates", res.candidates.empty() ? "(none known: pass --task)" : util::join(res.candidates, ", "));
  line("exportable tasks", r.exportable_tasks.empty() ? "-" : util::join(r.exportable_tasks, ", "));
  if (m.checkpoint) {
    const auto& ck = *m.checkpoint;
    out.append("\n");
    line("tokenizer files", ck.tokenizer_files.empty() ? "-" : util::join(ck.tokenizer_files, ", "));
    line("processor files", ck.processor_files.empty() ? "-" : util::join(ck.processor_files, ", "));
    if (ck.card.pipeline_tag || ck.card.library_name)
      line("model card", "pipeline_tag " + ck.card.pipeline_tag.value_or("-") + ", library_name " +
                             ck.card.library_name.value_or("-"));
  }
  if (r.weights && r.weights->tensors > 0) {
    const auto& ws = *r.weights;
    line("weights", human_count(ws.parameters) + " parameters, " + human_bytes(ws.bytes) + " in " +
                        std::to_string(ws.tensors) + " tensors, " + std::to_string(ws.files.size()) + " file(s)");
    for (const auto& d : ws.dtypes)
      line("  " + d.dtype, human_count(d.parameters) + " parameters, " + human_bytes(d.bytes));
  } else if (r.weights) {
    line("weights", "no safetensors files");
  }
  if (!r.onnx_files.empty()) {
    out.append("\n");
    for (const auto& f : r.onnx_files)
      line(f.is_float_model ? "onnx (float)" : "onnx", f.relative_path + " (" + std::string(onnx::variant_name(f.variant)) + ")");
  }
  if (r.onnx_model) {
    out.append("\n");
    out.append(onnx::format_model_info_table(*r.onnx_model));
  }
  return out;
}

}  // namespace

std::string render_inspect(const InspectReport& report, OutputFormat format) {
  return format == OutputFormat::json ? render_json(report) : render_table(report);
}

}  // namespace modelkit
