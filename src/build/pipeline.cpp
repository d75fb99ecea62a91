#include <modelkit/build.hpp>
#include <modelkit/calib_stats.hpp>
#include <modelkit/onnx.hpp>
#include <modelkit/quantize.hpp>
#include <modelkit/version.hpp>

#include "report/json_fields.hpp"
#include "util/file.hpp"
#include "util/output_guard.hpp"
#include "util/temp_folder.hpp"
#include "util/json_writer.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <unistd.h>

namespace modelkit {
namespace fs = std::filesystem;

namespace {

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

class Stopwatch {
 public:
  double lap() {
    auto now = std::chrono::steady_clock::now();
    double s = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    return s;
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// A window [offset, offset + count) of another source: calibration takes the first
// samples, validation the ones held back after them.
class WindowSource final : public calib::SampleSource {
 public:
  WindowSource(calib::SampleSource& inner, int offset, int count) : inner_(inner), offset_(offset), count_(count) {}
  Result<std::optional<calib::Sample>> next() override {
    if (!positioned_) {
      MODELKIT_TRY_VOID(rewind());
    }
    if (taken_ >= count_) return std::optional<calib::Sample>{};
    ++taken_;
    return inner_.next();
  }
  Result<void> rewind() override {
    MODELKIT_TRY_VOID(inner_.rewind());
    for (int i = 0; i < offset_; ++i) {
      auto s = inner_.next();
      if (!s) return s.take_error();
      if (!*s) break;
    }
    taken_ = 0;
    positioned_ = true;
    return {};
  }
  std::vector<std::string> produced_names() const override { return inner_.produced_names(); }
  std::string describe() const override { return inner_.describe(); }
  std::vector<std::string> skipped_inputs() const override { return inner_.skipped_inputs(); }

 private:
  calib::SampleSource& inner_;
  int offset_, count_;
  int taken_ = 0;
  bool positioned_ = false;
};

// How many samples [offset, offset + count) of a source yields (fewer when inputs are skipped).
Result<int> count_samples(calib::SampleSource& source, int offset, int count) {
  WindowSource window(source, offset, count);
  int n = 0;
  for (;;) {
    MODELKIT_TRY(auto sample, window.next());
    if (!sample) break;
    ++n;
  }
  return n;
}

bool inside(const fs::path& child, const fs::path& parent) {
  std::error_code ec;
  auto c = fs::weakly_canonical(fs::absolute(child, ec), ec);
  auto p = fs::weakly_canonical(fs::absolute(parent, ec), ec);
  auto [pe, ce] = std::mismatch(p.begin(), p.end(), c.begin(), c.end());
  return pe == p.end();
}

// Everything a build reads: the outputs may replace none of it (util::check_output).
std::vector<fs::path> inputs_read(const BuildRequest& req, const fs::path& float_model, const onnx::ModelInfo& info) {
  std::vector<fs::path> in = {float_model};
  const fs::path model_dir = float_model.has_parent_path() ? float_model.parent_path() : fs::path(".");
  for (const auto& f : info.external_data_files) in.push_back(model_dir / f.location);
  if (req.model.checkpoint) {
    const auto& src = req.model.checkpoint->source;
    in.push_back(src.folder);
    if (src.config_path) in.push_back(*src.config_path);
  }
  if (req.ranges_in) in.push_back(*req.ranges_in);
  if (req.config.calibration.data) in.push_back(fs::path(*req.config.calibration.data));
  return in;
}

Result<void> check_cancel(const BuildRequest& req) {
  if (req.cancel && req.cancel->load()) return failure("build cancelled; nothing was written");
  return {};
}

InputHints hints_from(const ResolvedModel& model) {
  InputHints h;
  const auto& c = model.facts.config;
  h.vocab_size = c.integer("vocab_size");
  h.image_size = c.integer("image_size");
  h.num_channels = c.integer("num_channels");
  h.sampling_rate = c.integer("sampling_rate");
  return h;
}

// A BuildConfig made by a library caller may hold any strings: a bad type is a usage error,
// not an exception.
Result<quant::QuantizeOptions> quantize_options(const QuantizationSettings& q) {
  quant::QuantizeOptions o;
  auto activation = quant::parse_quant_type(q.activation_type);
  if (!activation) return activation.take_error().with_context("activation type");
  auto weight = quant::parse_quant_type(q.weight_type);
  if (!weight) return weight.take_error().with_context("weight type");
  o.activation_type = *activation;
  o.weight_type = *weight;
  o.per_channel = q.per_channel;
  o.op_types = q.op_types;
  o.exclude_nodes = q.exclude_nodes;
  return o;
}

void write_record(util::JsonWriter& w, const calib::CalibrationRecord& r, const CalibrationSettings& s, int used,
                  int held_back, const std::optional<fs::path>& ranges_in) {
  w.begin_object();
  w.field("requested_kind", r.requested_kind);
  w.field("kind", ranges_in ? std::string("ranges-file") : r.kind);
  w.field("fallback", r.fallback_reason.has_value());
  w.field("fallback_reason", r.fallback_reason);
  w.field("data_source", ranges_in ? ranges_in->string() : r.data_source);
  w.field("samples", used);
  w.field("held_back_for_validation", held_back);
  w.field("seed", s.seed);
  w.field("method", s.method);
  if (s.method == "percentile") w.field("percentile", s.percentile);
  if (s.method != "minmax") w.field("histogram_bins", s.histogram_bins);
  w.key("dropped_inputs").string_array(r.dropped_inputs);
  w.key("filled_inputs").string_array(r.filled_inputs);
  w.key("casts").string_array(r.casts);
  w.key("notes").string_array(r.notes);
  if (r.kind == "random" || !r.filled_inputs.empty()) {
    w.key("random_inputs").begin_array();
    for (const auto& ri : r.random_inputs) {
      w.begin_object();
      w.field("name", ri.name);
      w.field("element_type", element_type_name(ri.type));
      w.key("shape").begin_array();
      for (auto d : ri.shape) w.value(d);
      w.end_array();
      w.field("fill", ri.fill);
      w.end_object();
    }
    w.end_array();
  }
  w.end_object();
}

// The op types to quantize when the user names none. Measured on a MiniLM-size encoder
// (bench/quantized_vs_float.sh): quantizing only MatMul/Gemm ran 2.1x faster than float at
// cosine 0.9999, quantizing every supported op 1.4x at 0.997 — the Q/DQ around elementwise
// Add/Mul (residuals, LayerNorm pieces) costs more than integer kernels save. On a ResNet-style
// CNN, every op (residual Adds included) was faster (2.8x vs 2.2x). So the default follows the
// graph: MatMul-dominated graphs quantize MatMul and Gemm, the others every supported op.
struct OpTypePolicy {
  std::vector<std::string> op_types;  // empty: every supported op type
  std::string reason;
};

OpTypePolicy default_op_types(const onnx::ModelInfo& info, quant::QuantizeOptions& options) {
  if (!options.op_types.empty()) return {options.op_types, "given with --op-types"};
  std::int64_t matmuls = 0, convs = 0;
  for (const auto& op : info.op_types) {
    if (op.op == "MatMul" || op.op == "Gemm") matmuls += op.count;
    if (op.op == "Conv" || op.op == "ConvTranspose") convs += op.count;
  }
  std::string counts = std::to_string(matmuls) + " MatMul/Gemm, " + std::to_string(convs) + " Conv";
  if (matmuls > convs) {
    options.op_types = {"MatMul", "Gemm"};
    options.op_types_from_user = false;
    return {options.op_types, "transformer-style graph (" + counts +
                                  "): MatMul and Gemm only; elementwise ops stay float, where Q/DQ costs more than it saves"};
  }
  return {{}, "convolutional graph (" + counts + "): every supported op type"};
}

Result<void> copy_into(const fs::path& from, const fs::path& to_dir) {
  std::error_code ec;
  fs::copy_file(from, to_dir / from.filename(), fs::copy_options::overwrite_existing, ec);
  if (ec) return failure("cannot copy " + quoted(from) + " into the output: " + ec.message());
  return {};
}

// Moves the finished temporary folder (or file) into place; with --force an existing
// output is replaced only once the new one is complete.
Result<void> publish(const fs::path& from, const fs::path& to, bool force) {
  std::error_code ec;
  fs::path backup;
  if (fs::exists(fs::symlink_status(to, ec))) {
    if (!force) return failure("output " + quoted(to) + " exists; pass --force to replace it");
    backup = to.string() + ".old-" + std::to_string(::getpid());
    fs::rename(to, backup, ec);
    if (ec) return failure("cannot move the existing output " + quoted(to) + " aside: " + ec.message());
  }
  fs::rename(from, to, ec);
  if (ec) {
    std::error_code ignored;
    if (!backup.empty()) fs::rename(backup, to, ignored);
    return failure("cannot write the output " + quoted(to) + ": " + ec.message());
  }
  if (!backup.empty()) fs::remove_all(backup, ec);
  return {};
}

}  // namespace

Result<fs::path> find_float_model(const BuildRequest& req) {
  if (req.onnx) {
    std::error_code ec;
    if (!fs::is_regular_file(*req.onnx, ec)) return failure("no ONNX model " + quoted(*req.onnx));
    return *req.onnx;
  }
  if (!req.model.checkpoint) return usage_error("name the ONNX model to build with --onnx FILE");
  const auto& src = req.model.checkpoint->source;
  if (src.onnx_path) return *src.onnx_path;
  auto files = onnx::scan_folder(src.folder);
  if (!files) return files.take_error();
  for (const auto& f : *files)
    if (f.is_float_model) return f.path;
  std::string found;
  for (const auto& f : *files) found += (found.empty() ? "" : ", ") + f.relative_path;
  return failure("no float ONNX model in " + quoted(src.folder) +
                 " (expected model.onnx or onnx/model.onnx" + (found.empty() ? "" : "; found " + found) +
                 "); export one (optimum-cli export onnx) or pass --onnx FILE");
}

Result<BuildResult> run_build(BuildRequest req) {
  BuildResult result;
  Stopwatch clock;
  auto warn = [&](std::string message) {
    if (req.events.warning) req.events.warning(message);
    result.warnings.push_back(std::move(message));
  };
  auto stage = [&](std::string_view name) {
    if (req.events.stage) req.events.stage(name);
  };
  auto lap = [&](const char* name) { result.timings.push_back({name, clock.lap()}); };

  // plan
  stage("plan");
  auto float_model = find_float_model(req);
  if (!float_model) return float_model.take_error();
  if (req.model.checkpoint && !req.output_is_file && inside(req.output, req.model.checkpoint->source.folder))
    return usage_error("output " + quoted(req.output) + " is inside the input folder " +
                       quoted(req.model.checkpoint->source.folder) + "; choose another folder");
  auto info = onnx::read_model_info(*float_model);
  if (!info) return info.take_error();
  {
    const auto inputs = inputs_read(req, *float_model, *info);
    MODELKIT_TRY_VOID(util::check_output(req.output, req.force, inputs));
    if (req.ranges_out) MODELKIT_TRY_VOID(util::check_output(*req.ranges_out, req.force, inputs));
  }
  if (info->quantization.quantized)
    return failure(quoted(*float_model) + " is already quantized (" + util::join(info->quantization.evidence, ", ") +
                   "); modelkit quantizes float models only");
  auto parsed_options = quantize_options(req.config.quantization);
  if (!parsed_options) return parsed_options.take_error();
  auto qopts = std::move(*parsed_options);
  auto op_policy = default_op_types(*info, qopts);
  auto qplan = quant::plan_quantization(*float_model, qopts);
  if (!qplan) return qplan.take_error();
  for (const auto& w : qplan->warnings) warn(w);
  lap("plan");
  MODELKIT_TRY_VOID(check_cancel(req));

  // calibrate
  stage("calibrate");
  const auto& cs = req.config.calibration;
  calib::SourceRequest sreq;
  sreq.kind = cs.kind;
  sreq.kind_reason = cs.kind_reason;
  if (cs.data) sreq.data = fs::path(*cs.data);
  sreq.checkpoint_folder = req.model.checkpoint ? req.model.checkpoint->source.folder : float_model->parent_path();
  sreq.model_inputs = info->inputs;
  sreq.hints = hints_from(req.model);
  sreq.input_shapes = req.input_shapes;
  sreq.samples = cs.samples + req.validation_samples;
  sreq.sequence_length = cs.sequence_length;
  sreq.seed = cs.seed;
  auto selected = calib::select_source(sreq);
  if (!selected) return selected.take_error();
  for (const auto& w : selected->warnings) warn(w);
  auto& source = *selected->source;
  int available = selected->record.samples;
  int held_back = std::min(req.validation_samples, std::max(available > 1 ? 1 : 0, available / 5));
  int calib_n = std::min(cs.samples, available - held_back);
  if (calib_n < 1) return failure("the calibration data holds no samples (" + selected->record.data_source + ")");
  WindowSource calib_view(source, 0, calib_n);
  calib::TensorRanges ranges;
  if (req.ranges_in) {
    auto read = calib::read_ranges_file(*req.ranges_in);
    if (!read) return read.take_error();
    ranges = std::move(*read);
    calib_n = static_cast<int>(ranges.samples);
  } else {
    calib::CollectOptions copts;
    auto method = calib::parse_method(cs.method);
    if (!method) return method.take_error();
    copts.method = *method;
    copts.max_samples = static_cast<std::uint64_t>(calib_n);
    copts.percentile = cs.percentile;
    copts.bins = static_cast<std::size_t>(cs.histogram_bins);
    copts.intra_op_threads = req.threads;
    copts.cancel = req.cancel;
    if (req.events.progress)
      copts.progress = [&](const calib::CollectProgress& p) {
        req.events.progress(p.samples_done, p.samples_total, p.elapsed_seconds);
      };
    auto collected = calib::collect_ranges(*float_model, qplan->tensors_to_calibrate, calib_view, copts);
    if (!collected) {
      if (req.cancel && req.cancel->load()) return failure("build cancelled during calibration; nothing was written");
      return collected.take_error();
    }
    ranges = std::move(*collected);
    if (req.ranges_out) MODELKIT_TRY_VOID(calib::write_ranges_file(ranges, *req.ranges_out));
  }
  lap("calibrate");
  MODELKIT_TRY_VOID(check_cancel(req));

  // quantize, into a temporary folder beside the output
  stage("quantize");
  // Named with this process's id, so a build killed before it could clean up (SIGKILL) leaves a
  // folder the next build to this output recognises as stale and removes.
  util::TempFolder tmp;
  MODELKIT_TRY_VOID(tmp.create_beside(req.output));
  util::remove_stale_temporaries(req.output);
  fs::path quantized = tmp.path() / (req.output_is_file ? req.output.filename() : fs::path("model.onnx"));
  auto qreport = quant::quantize(*float_model, ranges, qopts, quantized);
  if (!qreport) return qreport.take_error();
  for (const auto& w : qreport->warnings)
    if (std::find(result.warnings.begin(), result.warnings.end(), w) == result.warnings.end()) warn(w);
  lap("quantize");
  MODELKIT_TRY_VOID(check_cancel(req));

  // validate on held-back samples (the calibration ones when none could be held back)
  stage("validate");
  // Unreadable inputs (a truncated image) are skipped by the source: when every held-back one
  // was unreadable, validation falls back to calibration samples rather than failing.
  bool held_back_unreadable = false;
  if (held_back > 0) {
    MODELKIT_TRY(int usable, count_samples(source, calib_n, held_back));
    held_back_unreadable = usable == 0;
    if (held_back_unreadable) held_back = 0;
  }
  WindowSource held(source, held_back > 0 ? calib_n : 0, held_back > 0 ? held_back : std::min(calib_n, 3));
  quant::CompareOptions vopts;
  vopts.max_samples = static_cast<std::uint64_t>(held_back > 0 ? held_back : std::min(calib_n, 3));
  vopts.intra_op_threads = req.threads;
  auto validation = quant::compare_models(*float_model, quantized, held, vopts);
  if (!validation) return validation.take_error();
  if (held_back_unreadable) warn("validation reuses calibration samples: every held-back input was unreadable");
  else if (held_back == 0) warn("validation reuses calibration samples: the data held too few samples to hold some back");
  for (const auto& o : validation->outputs) {
    if (!o.compared) continue;
    result.min_cosine = std::min(result.min_cosine, o.cosine_similarity);
    if (o.cosine_similarity < req.cosine_warning) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "output '%s': cosine similarity %.4f to the float model is below %.2f",
                    o.name.c_str(), o.cosine_similarity, req.cosine_warning);
      warn(buf);
    }
  }
  auto& record = selected->record;
  for (auto& skipped : source.skipped_inputs()) {
    // The user's own data gets a warning; a broken file among the default photographs only a note.
    if (cs.data) warn(skipped);
    record.notes.push_back(std::move(skipped));
  }
  lap("validate");
  MODELKIT_TRY_VOID(check_cancel(req));

  // write
  stage("write");
  fs::path folder = tmp.path();
  std::vector<std::string> copied;
  if (req.model.checkpoint && !req.output_is_file) {
    const auto& ck = *req.model.checkpoint;
    std::vector<std::string> names = ck.tokenizer_files;
    names.insert(names.end(), ck.processor_files.begin(), ck.processor_files.end());
    if (ck.source.config_path) {
      MODELKIT_TRY_VOID(copy_into(*ck.source.config_path, folder));
      copied.push_back("config.json");
    }
    for (const auto& n : names) {
      MODELKIT_TRY_VOID(copy_into(ck.source.folder / n, folder));
      copied.push_back(n);
    }
    MODELKIT_TRY_VOID(util::write_file_atomic(folder / "build_config.json", build_config_json(req.config)));
    copied.push_back("build_config.json");
  }
  result.timings.push_back({"write", clock.lap()});

  util::JsonWriter w;
  w.begin_object();
  w.field("schema_version", kManifestSchemaVersion);
  w.field("modelkit_version", version());
  w.field("model", req.model.reference());
  w.field("model_id", req.model.facts.model_id);
  w.field("source_onnx", float_model->string());
  w.key("resolution");
  report::write_resolution(w, req.model.resolution);
  w.key("calibration");
  write_record(w, selected->record, cs, calib_n, held_back, req.ranges_in);
  // The report names where the model will live, not the temporary folder.
  qreport->output = req.output_is_file ? req.output.string() : (req.output / "model.onnx").string();
  w.key("quantization");
  quant::write_report_json(w, *qreport, false);
  w.key("op_type_policy").begin_object();
  w.key("op_types").string_array(op_policy.op_types.empty() ? quant::supported_op_types() : op_policy.op_types);
  w.field("reason", op_policy.reason);
  w.end_object();
  w.key("validation").begin_object();
  w.field("cosine_warning_below", req.cosine_warning);
  w.field("min_cosine_similarity", result.min_cosine);
  w.key("report");
  quant::write_validation_json(w, *validation);
  w.end_object();
  w.key("timings").begin_object();
  for (const auto& t : result.timings) w.field(t.stage, t.seconds);
  w.end_object();
  w.key("files").string_array(copied);
  w.key("warnings").string_array(result.warnings);
  w.end_object();
  result.manifest_json = w.take();
  fs::path manifest_name = req.output_is_file ? fs::path(req.output.stem().string() + ".manifest.json")
                                              : fs::path("build_manifest.json");
  MODELKIT_TRY_VOID(util::write_file_atomic(folder / manifest_name, result.manifest_json));
  MODELKIT_TRY_VOID(check_cancel(req));

  if (req.output_is_file) {
    // Move each file of the temporary folder beside the output, the model last.
    fs::path dir = req.output.parent_path().empty() ? fs::path(".") : req.output.parent_path();
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(folder, ec)) {
      if (e.path() == quantized) continue;
      MODELKIT_TRY_VOID(publish(e.path(), dir / e.path().filename(), true));
    }
    MODELKIT_TRY_VOID(publish(quantized, req.output, req.force));
    result.manifest_path = dir / manifest_name;
  } else {
    MODELKIT_TRY_VOID(publish(folder, req.output, req.force));
    tmp.release();
    result.manifest_path = req.output / manifest_name;
  }
  result.output = req.output;
  return result;
}

}  // namespace modelkit
