#include <modelkit/runtime.hpp>

#include "onnx/model_proto.hpp"
#include "runtime/extremes_op.hpp"
#include "runtime/ort_loader.hpp"
#include "util/strings.hpp"

// The C++ API runs on the OrtApi ort_loader opens on first use (the library is not linked).
#define ORT_API_MANUAL_INIT
#include <onnxruntime_cxx_api.h>
#include <onnxruntime_session_options_config_keys.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

namespace modelkit::runtime {
namespace fs = std::filesystem;

namespace {

void discard_log(void*, OrtLoggingLevel, const char*, const char*, const char*, const char*) {}

// One ORT environment per process, made on first use (ORT wants exactly one).
Ort::Env& env() {
  static Ort::Env instance(ORT_LOGGING_LEVEL_WARNING, "modelkit", discard_log, nullptr);
  return instance;
}

// ORT's messages can span lines (and carry trailing whitespace); errors are one line.
std::string ort_message(const std::exception& e) {
  std::string message = e.what();
  std::replace(message.begin(), message.end(), '\n', ' ');
  std::replace(message.begin(), message.end(), '\r', ' ');
  while (!message.empty() && (message.back() == ' ' || message.back() == '.')) message.pop_back();
  return message;
}

// The model as the user named it ("'m.onnx'" of "'m.onnx' (with extra outputs)"), for a hint.
std::string_view model_named(std::string_view what) {
  if (what.size() > 1 && what.front() == '\'') {
    auto end = what.find("' ", 1);
    if (end != std::string_view::npos) return what.substr(0, end + 1);
  }
  return what;
}

// ORT's own words, inside a sentence that says what to do about them.
Error ort_load_error(std::string_view what, const std::exception& e) {
  return failure("onnxruntime: cannot load " + std::string(what) + ": " + ort_message(e) +
                 "; the model may need a newer opset or ONNX Runtime than " + onnxruntime_version() +
                 ", or be corrupt: check it with `modelkit inspect -m " + std::string(model_named(what)) + "`");
}

Error ort_run_error(std::string_view what, const std::exception& e) {
  return failure("onnxruntime: running " + std::string(what) + " failed: " + ort_message(e) +
                 "; check that the inputs match what `modelkit inspect -m " + std::string(model_named(what)) +
                 "` lists (names, types, shapes, and index ranges such as the vocabulary size)");
}

Ort::SessionOptions make_options(const SessionOptions& o) {
  Ort::SessionOptions opts;
  if (o.intra_op_threads > 0) opts.SetIntraOpNumThreads(o.intra_op_threads);
  if (o.inter_op_threads > 0) opts.SetInterOpNumThreads(o.inter_op_threads);
  opts.SetExecutionMode(o.parallel_execution ? ORT_PARALLEL : ORT_SEQUENTIAL);
  GraphOptimizationLevel level = ORT_ENABLE_ALL;
  switch (o.optimization) {
    case GraphOptimization::disabled: level = ORT_DISABLE_ALL; break;
    case GraphOptimization::basic: level = ORT_ENABLE_BASIC; break;
    case GraphOptimization::extended: level = ORT_ENABLE_EXTENDED; break;
    case GraphOptimization::all: level = ORT_ENABLE_ALL; break;
  }
  opts.SetGraphOptimizationLevel(level);
  if (!o.external_data_dir.empty())
    opts.AddConfigEntry(kOrtSessionOptionsModelExternalInitializersFileFolderPath, o.external_data_dir.c_str());
  if (!o.optimized_model_path.empty()) opts.SetOptimizedModelFilePath(o.optimized_model_path.c_str());
  if (!o.disabled_optimizers.empty()) {
    std::string names;
    for (const auto& n : o.disabled_optimizers) names += (names.empty() ? "" : ",") + n;
    opts.AddConfigEntry(kOrtSessionOptionsDisableSpecifiedOptimizers, names.c_str());
  }
  if (o.calibration_ops) add_calibration_ops(opts);
  return opts;
}

TensorSpec spec_of(const std::string& name, const Ort::TypeInfo& info) {
  TensorSpec spec;
  spec.name = name;
  if (info.GetONNXType() != ONNX_TYPE_TENSOR) {
    spec.is_tensor = false;
    return spec;
  }
  auto t = info.GetTensorTypeAndShapeInfo();
  spec.type = static_cast<ElementType>(t.GetElementType());
  spec.shape = t.GetShape();
  std::vector<const char*> symbols(spec.shape.size(), nullptr);
  t.GetSymbolicDimensions(symbols.data(), symbols.size());
  for (const char* s : symbols) spec.symbols.emplace_back(s ? s : "");
  return spec;
}

}  // namespace

std::string onnxruntime_version() {
  auto version = loaded_onnxruntime_version();
  return version.ok() ? *version : "unavailable (" + version.error().message + ")";
}

std::string onnxruntime_header_version() { return "1." + std::to_string(ORT_API_VERSION); }

struct Session::Impl {
  Ort::Session session{nullptr};
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  std::string what;
  Ort::MemoryInfo memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);

  void read_specs() {
    Ort::AllocatorWithDefaultOptions allocator;
    for (std::size_t i = 0; i < session.GetInputCount(); ++i)
      inputs.push_back(spec_of(session.GetInputNameAllocated(i, allocator).get(), session.GetInputTypeInfo(i)));
    for (std::size_t i = 0; i < session.GetOutputCount(); ++i)
      outputs.push_back(spec_of(session.GetOutputNameAllocated(i, allocator).get(), session.GetOutputTypeInfo(i)));
  }
};

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

const std::vector<TensorSpec>& Session::inputs() const { return impl_->inputs; }
const std::vector<TensorSpec>& Session::outputs() const { return impl_->outputs; }

Result<Session> Session::open(const fs::path& model, const SessionOptions& options) {
  std::error_code ec;
  if (!fs::is_regular_file(model, ec)) return failure("cannot open " + quoted(model.string()) + ": no such file");
  if (auto api = load_onnxruntime(); !api.ok()) return api.error();
  try {
    auto impl = std::make_unique<Impl>();
    impl->what = quoted(model.string());
    impl->session = Ort::Session(env(), model.c_str(), make_options(options));
    impl->read_specs();
    return Session(std::move(impl));
  } catch (const std::exception& e) {
    return ort_load_error(quoted(model.string()), e);
  }
}

Result<Session> Session::from_bytes(std::string_view model_bytes, const SessionOptions& options,
                                    std::string_view what) {
  if (auto api = load_onnxruntime(); !api.ok()) return api.error();
  try {
    auto impl = std::make_unique<Impl>();
    impl->what = std::string(what);
    impl->session = Ort::Session(env(), model_bytes.data(), model_bytes.size(), make_options(options));
    impl->read_specs();
    return Session(std::move(impl));
  } catch (const std::exception& e) {
    return ort_load_error(what, e);
  }
}

Result<std::vector<Tensor>> Session::run(std::span<const Tensor> inputs, std::span<const std::string> output_names) {
  auto& impl = *impl_;
  std::vector<const char*> in_names;
  std::vector<Ort::Value> in_values;
  in_names.reserve(impl.inputs.size());
  in_values.reserve(impl.inputs.size());
  for (const auto& t : inputs) {
    bool known = std::any_of(impl.inputs.begin(), impl.inputs.end(), [&](const auto& s) { return s.name == t.name; });
    if (!known) return failure(impl.what + " has no input named " + quoted(t.name));
  }
  try {
    for (const auto& spec : impl.inputs) {
      auto it = std::find_if(inputs.begin(), inputs.end(), [&](const Tensor& t) { return t.name == spec.name; });
      if (it == inputs.end()) return failure(impl.what + ": input " + quoted(spec.name) + " was not given");
      if (spec.is_tensor && it->type != spec.type)
        return failure(impl.what + ": input " + quoted(spec.name) + " is " + element_type_name(it->type) +
                       ", the model wants " + element_type_name(spec.type));
      if (it->bytes.size() != element_storage_bytes(it->type, it->element_count()))
        return failure("input " + quoted(spec.name) + ": holds " + std::to_string(it->bytes.size()) +
                       " bytes, its shape [" + format_shape(it->shape) + "] needs " +
                       std::to_string(element_storage_bytes(it->type, it->element_count())));
      // ORT reads inputs only; its API takes a non-const pointer.
      in_values.push_back(Ort::Value::CreateTensor(impl.memory, const_cast<std::byte*>(it->bytes.data()),
                                                   it->bytes.size(), it->shape.data(), it->shape.size(),
                                                   static_cast<ONNXTensorElementDataType>(it->type)));
      in_names.push_back(spec.name.c_str());
    }
    std::vector<const char*> out_names;
    if (output_names.empty()) {
      for (const auto& s : impl.outputs) out_names.push_back(s.name.c_str());
    } else {
      for (const auto& n : output_names) {
        bool known = std::any_of(impl.outputs.begin(), impl.outputs.end(), [&](const auto& s) { return s.name == n; });
        if (!known) return failure(impl.what + " has no output named " + quoted(n));
        out_names.push_back(n.c_str());
      }
    }
    auto values = impl.session.Run(Ort::RunOptions{nullptr}, in_names.data(), in_values.data(), in_values.size(),
                                   out_names.data(), out_names.size());
    std::vector<Tensor> out;
    out.reserve(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      auto& v = values[i];
      if (!v.IsTensor()) return failure(impl.what + ": output " + quoted(out_names[i]) + " is not a tensor");
      auto info = v.GetTensorTypeAndShapeInfo();
      auto type = static_cast<ElementType>(info.GetElementType());
      if (element_bits(type) == 0)
        return failure(impl.what + ": output " + quoted(out_names[i]) + " has element type " +
                       element_type_name(type) + ", which a Tensor cannot hold");
      Tensor t;
      t.name = out_names[i];
      t.type = type;
      t.shape = info.GetShape();
      // Copied straight in (no zero-fill first: outputs can be large).
      const auto* raw = static_cast<const std::byte*>(v.GetTensorRawData());
      const std::size_t size = element_storage_bytes(type, t.element_count());
      if (size > 0) t.bytes.assign(raw, raw + size);
      out.push_back(std::move(t));
    }
    return out;
  } catch (const std::exception& e) {
    return ort_run_error(impl.what, e);
  }
}

Result<Session> open_with_extra_outputs(const fs::path& model_path, std::span<const std::string> tensor_names,
                                        const SessionOptions& options) {
  auto model = onnx::read_model_proto(model_path);
  if (!model) return model.take_error();
  auto& graph = *model->mutable_graph();

  // Every named value of the main graph and its declared type where there is one.
  std::map<std::string, const ::onnx::ValueInfoProto*, std::less<>> typed;
  for (const auto& v : graph.input()) typed.emplace(v.name(), &v);
  for (const auto& v : graph.value_info()) typed.emplace(v.name(), &v);
  std::set<std::string, std::less<>> values;
  for (const auto& v : graph.input()) values.insert(v.name());
  for (const auto& t : graph.initializer()) values.insert(t.name());
  for (const auto& n : graph.node())
    for (const auto& o : n.output())
      if (!o.empty()) values.insert(o);
  std::set<std::string, std::less<>> outputs;
  for (const auto& o : graph.output()) outputs.insert(o.name());

  std::vector<::onnx::ValueInfoProto> added;
  for (const auto& name : tensor_names) {
    if (!values.count(name)) {
      std::vector<std::pair<std::size_t, std::string>> close;
      for (const auto& v : values) close.emplace_back(util::edit_distance(v, name), v);
      std::sort(close.begin(), close.end());
      std::vector<std::string> suggestions;
      for (std::size_t i = 0; i < close.size() && i < 3; ++i) suggestions.push_back(quoted(close[i].second));
      return failure(quoted(model_path.string()) + " has no tensor named " + quoted(name) +
                     (suggestions.empty() ? "" : " (closest: " + util::join(suggestions, ", ") + ")"));
    }
    if (!outputs.insert(name).second) continue;  // already an output
    ::onnx::ValueInfoProto v;
    if (auto it = typed.find(name); it != typed.end()) {
      v = *it->second;
    } else {
      // Untyped outputs are fine for ORT: it types them from the producing node.
      v.set_name(name);
    }
    added.push_back(std::move(v));
  }
  for (auto& v : added) *graph.add_output() = std::move(v);

  std::string bytes;
  if (!model->SerializeToString(&bytes))
    return failure("cannot serialize " + quoted(model_path.string()) + " with extra outputs");
  SessionOptions with_dir = options;
  if (with_dir.external_data_dir.empty())
    with_dir.external_data_dir = model_path.has_parent_path() ? model_path.parent_path() : fs::path(".");
  return Session::from_bytes(bytes, with_dir, quoted(model_path.string()) + " (with extra outputs)");
}

}  // namespace modelkit::runtime
