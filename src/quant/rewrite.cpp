// Helpers of the non-QDQ precisions (rewrite.hpp).
#include "quant/rewrite.hpp"

#include <modelkit/runtime.hpp>

#include <functional>

namespace modelkit::quant {
namespace fs = std::filesystem;

std::uint64_t file_size_or_zero(const fs::path& p) {
  std::error_code ec;
  auto n = fs::file_size(p, ec);
  return ec ? 0 : n;
}

std::uint64_t model_bytes(const fs::path& path, const onnx::ModelInfo* info) {
  std::uint64_t n = file_size_or_zero(path);
  if (info)
    for (const auto& f : info->external_data_files) n += f.file_bytes;
  return n;
}

std::optional<std::string> matmul_weight_refusal(const ::onnx::NodeProto& n, const GraphScope& s,
                                                 const std::vector<util::NamePattern>& excludes,
                                                 std::vector<bool>& exclude_used, const ::onnx::TensorProto*& weight) {
  bool excluded = false;
  for (std::size_t p = 0; p < excludes.size() && !n.name().empty(); ++p)
    if (excludes[p].matches(n.name())) excluded = exclude_used[p] = true;
  if (excluded) return "excluded by --exclude-nodes";
  auto a_type = s.type_of(n.input(0));
  if (a_type && *a_type != ElementType::float32) return "input A is not float32";
  weight = s.find_initializer(n.input(1));
  if (!weight) return "weight is not a constant";
  if (weight->data_type() != ::onnx::TensorProto::FLOAT || weight->dims_size() != 2)
    return "weight is not a 2-D float32 tensor";
  return std::nullopt;
}

std::set<std::string> names_read(const ::onnx::GraphProto& g) {
  std::set<std::string> read;
  std::function<void(const ::onnx::GraphProto&)> collect = [&](const ::onnx::GraphProto& graph) {
    for (const auto& n : graph.node()) {
      for (const auto& in : n.input()) read.insert(in);
      for (const auto& a : n.attribute()) {
        if (a.has_g()) collect(a.g());
        for (const auto& sub : a.graphs()) collect(sub);
      }
    }
    for (const auto& o : graph.output()) read.insert(o.name());
  };
  collect(g);
  return read;
}

void drop_initializers_not_in(::onnx::GraphProto& g, const std::set<std::string>& read) {
  ::google::protobuf::RepeatedPtrField<::onnx::TensorProto> kept;
  std::set<std::string> dropped;
  for (auto& t : *g.mutable_initializer()) {
    if (read.count(t.name())) *kept.Add() = std::move(t);
    else dropped.insert(t.name());
  }
  g.mutable_initializer()->Swap(&kept);
  if (dropped.empty()) return;
  ::google::protobuf::RepeatedPtrField<::onnx::ValueInfoProto> inputs;
  for (auto& v : *g.mutable_input())
    if (!dropped.count(v.name())) *inputs.Add() = std::move(v);
  g.mutable_input()->Swap(&inputs);
}

Result<FloatModel> load_model_for(const fs::path& path, std::string_view precision) {
  MODELKIT_TRY(auto model, onnx::read_model_proto(path));
  MODELKIT_TRY(auto info, onnx::model_info_from_proto(model, path, file_size_or_zero(path)));
  if (info.quantization.quantized) {
    std::string evidence;
    for (std::size_t i = 0; i < info.quantization.evidence.size() && i < 4; ++i)
      evidence += (i ? ", " : "") + info.quantization.evidence[i];
    return failure(quoted(path.string()) + " is already quantized (" + evidence + "); precision " +
                   std::string(precision) + " converts float models: give its float model");
  }
  return FloatModel{std::move(model), std::move(info), path.has_parent_path() ? path.parent_path() : fs::path(".")};
}

NameSet::NameSet(const ::onnx::ModelProto& model) { add_graph(model.graph()); }

void NameSet::add_graph(const ::onnx::GraphProto& g) {
  for (const auto& v : g.input()) names_.insert(v.name());
  for (const auto& v : g.output()) names_.insert(v.name());
  for (const auto& t : g.initializer()) names_.insert(t.name());
  for (const auto& n : g.node()) {
    names_.insert(n.name());
    for (const auto& o : n.output()) names_.insert(o);
    for (const auto& i : n.input()) names_.insert(i);
    for (const auto& a : n.attribute()) {
      if (a.has_g()) add_graph(a.g());
      for (const auto& sub : a.graphs()) add_graph(sub);
    }
  }
}

std::string NameSet::unique(const std::string& base) {
  std::string name = base;
  for (int k = 1; names_.count(name); ++k) name = base + "_" + std::to_string(k);
  names_.insert(name);
  return name;
}

void rename_uses(::onnx::GraphProto& graph, const std::string& from, const std::string& to) {
  for (auto& n : *graph.mutable_node()) {
    for (auto& i : *n.mutable_input())
      if (i == from) i = to;
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_g()) {
        rename_uses(*a.mutable_g(), from, to);
        for (auto& o : *a.mutable_g()->mutable_output())
          if (o.name() == from) o.set_name(to);
      }
      for (auto& sub : *a.mutable_graphs()) {
        rename_uses(sub, from, to);
        for (auto& o : *sub.mutable_output())
          if (o.name() == from) o.set_name(to);
      }
    }
  }
}

void summarize(QuantizeReport& report, std::vector<NodeOutcome> outcomes) {
  std::map<std::string, OpTypeSummary> by_op;
  for (auto& o : outcomes) {
    auto& sum = by_op[o.op_type];
    sum.op_type = o.op_type;
    if (o.status == "converted" || o.status == "quantized") ++sum.quantized;
    else {
      ++sum.skipped;
      ++sum.skip_reasons[o.reason];
    }
    report.nodes.push_back({o.name, o.op_type, o.graph, o.status, o.reason});
  }
  for (auto& [op, sum] : by_op) {
    report.nodes_quantized += sum.quantized;
    report.nodes_skipped += sum.skipped;
    report.op_types.push_back(std::move(sum));
  }
}

QuantizeReport start_report(const FloatModel& m, const fs::path& model_path, const fs::path& output_path,
                            std::string_view precision) {
  QuantizeReport r;
  r.model = model_path.string();
  r.output = output_path.string();
  r.precision = std::string(precision);
  r.activation_type = "float32";
  r.weight_type = "float32";
  r.qdq_domain = "none";
  r.calibration_method = "none";
  r.opset = m.info.default_opset();
  r.input_bytes = model_bytes(model_path, &m.info);
  return r;
}

Result<void> save_and_check(::onnx::ModelProto& model, const fs::path& source_dir, const fs::path& output_path,
                            QuantizeReport& report) {
  onnx::SaveOptions save;
  save.external_source_dir = source_dir;
  MODELKIT_TRY_VOID(onnx::save_model_proto(model, output_path, save));
  auto out_info = onnx::read_model_info(output_path);
  report.output_bytes = model_bytes(output_path, out_info ? &*out_info : nullptr);
  runtime::SessionOptions check;
  check.intra_op_threads = 1;
  auto session = runtime::Session::open(output_path, check);
  if (!session) return session.error().with_context("the " + report.precision + " model does not load");
  return {};
}

void ensure_opset(::onnx::ModelProto& model, const std::string& domain, std::int64_t version) {
  for (const auto& o : model.opset_import())
    if (o.domain() == domain) return;
  auto* o = model.add_opset_import();
  o->set_domain(domain);
  o->set_version(version);
}

}  // namespace modelkit::quant
