#include "onnx/onnx_json.hpp"
#include "onnx/model_proto.hpp"
#include "onnx/wire_scan.hpp"
#include "util/json_writer.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string_view>
#include <system_error>

namespace modelkit::onnx {
namespace fs = std::filesystem;

namespace {

// Operators that only appear in quantized graphs (ai.onnx and com.microsoft). Ops whose name
// starts with "QLinear" are matched by prefix as well.
constexpr std::string_view kQuantizedOps[] = {
    "QuantizeLinear",       "DequantizeLinear",      "MatMulInteger",      "ConvInteger",
    "DynamicQuantizeLinear", "DynamicQuantizeMatMul", "DynamicQuantizeLSTM", "MatMulIntegerToFloat",
    "QGemm",                "QAttention",            "QEmbedLayerNormalization", "QOrderedMatMul",
    "MatMulNBits",          "MatMulBnb4",            "GatherBlockQuantized", "DequantizeBFP",
    "QuantizeBFP",          "DynamicQuantizeConv",
};

bool is_quantized_op(std::string_view op) {
  if (op.starts_with("QLinear")) return true;
  return std::find(std::begin(kQuantizedOps), std::end(kQuantizedOps), op) != std::end(kQuantizedOps);
}

// Low-bit integer initializers at least this big are weights, not index constants or masks.
constexpr std::uint64_t kQuantizedWeightMinElements = 256;

bool is_low_bit_integer(std::int32_t type) {
  auto t = static_cast<ElementType>(type);
  return t == ElementType::int8 || t == ElementType::uint8 || t == ElementType::int4 || t == ElementType::uint4;
}

bool is_default_domain(std::string_view domain) { return domain.empty() || domain == "ai.onnx"; }

std::string op_key(const wire::Node& n) {
  return is_default_domain(n.domain) ? std::string(n.op_type) : std::string(n.domain) + "." + std::string(n.op_type);
}

std::vector<Dim> dims_of(const std::vector<wire::Dimension>& dims) {
  std::vector<Dim> out;
  out.reserve(dims.size());
  for (const auto& d : dims)
    out.push_back(d.which == 1 ? Dim{d.value, {}} : Dim{std::nullopt, d.which == 2 ? std::string(d.param) : ""});
  return out;
}

ValueInfo value_info(const wire::ValueInfo& v) {
  static const wire::Type kNoType;
  ValueInfo out;
  out.name = v.name;
  if (!v.has_type) {
    out.kind = "unknown";
    return out;
  }
  const wire::Type* type = &v.type;
  // Sequence/optional: describe the element tensor, keep the outer kind.
  if (type->which == 4) {
    out.kind = "sequence";
    type = type->inner ? type->inner.get() : &kNoType;
  } else if (type->which == 9) {
    out.kind = "optional";
    type = type->inner ? type->inner.get() : &kNoType;
  } else if (type->which == 5) {
    out.kind = "map";
    out.element_type = static_cast<ElementType>(type->elem_type);
    return out;
  }
  if (type->which == 8) {
    if (out.kind == "tensor") out.kind = "sparse_tensor";
  } else if (type->which != 1) {
    if (out.kind == "tensor") out.kind = "unknown";
    return out;
  }
  out.element_type = static_cast<ElementType>(type->elem_type);
  if (type->has_shape) {
    out.has_shape = true;
    out.shape = dims_of(type->shape);
  }
  return out;
}

struct Walk {
  std::map<std::string, std::int64_t> quant_ops;
  std::int64_t low_bit_initializers = 0;
  std::string low_bit_example;
  std::int64_t subgraph_nodes = 0;
  std::vector<const wire::Tensor*> tensors;  // every tensor, for external data checks
};

void walk_graph(const wire::Graph& g, Walk& w, bool is_subgraph);

void walk_nodes(const std::vector<wire::Node>& nodes, Walk& w) {
  for (const auto& n : nodes) {
    if (is_quantized_op(n.op_type)) ++w.quant_ops[op_key(n)];
    for (const auto& a : n.attributes) {
      if (a.has_t) w.tensors.push_back(&a.t);
      for (const auto& t : a.tensors) w.tensors.push_back(&t);
      if (a.g) walk_graph(*a.g, w, true);
      for (const auto& g : a.graphs) walk_graph(g, w, true);
    }
  }
}

void walk_graph(const wire::Graph& g, Walk& w, bool is_subgraph) {
  if (is_subgraph) w.subgraph_nodes += static_cast<std::int64_t>(g.nodes.size());
  for (const auto& t : g.initializers) {
    w.tensors.push_back(&t);
    if (!is_low_bit_integer(t.data_type)) continue;
    std::uint64_t count = 1;
    for (auto d : t.dims) count *= static_cast<std::uint64_t>(std::max<std::int64_t>(d, 0));
    if (count < kQuantizedWeightMinElements) continue;
    if (w.low_bit_initializers++ == 0) w.low_bit_example = t.name;
  }
  for (const auto& s : g.sparse_initializers) {
    w.tensors.push_back(&s.values);
    w.tensors.push_back(&s.indices);
  }
  walk_nodes(g.nodes, w);
}

Result<std::uint64_t> dense_bytes(const wire::Tensor& t) { return tensor_dense_bytes(t.name, t.data_type, t.dims); }

// An embedded tensor's data must be what its dims describe: sizes are reported from the dims,
// so a tensor claiming [1000000, 1000000] over 16 bytes would otherwise show as 3.6 TiB (and
// ONNX Runtime refuses the file anyway). External data is checked against its file elsewhere.
// The data's size comes from its length on the wire; the data itself is never read.
Result<void> check_embedded_data(const wire::Tensor& t, std::uint64_t dense_bytes) {
  if (t.external) return {};
  auto info = element_type_info(t.data_type);
  if (!info || info->bits == 0) return {};
  std::uint64_t held = 0;
  std::string unit = "bytes";
  std::uint64_t want = dense_bytes;
  if (t.has_raw_data) {
    held = t.raw_data_bytes;
  } else {
    // Typed fields hold one element per entry (two for complex types).
    held = t.typed_entries;
    std::uint64_t count = 1;
    for (auto d : t.dims) count *= static_cast<std::uint64_t>(d);
    want = count;
    unit = "elements";
    if (t.data_type == ::onnx::TensorProto::COMPLEX64 || t.data_type == ::onnx::TensorProto::COMPLEX128) want *= 2;
    // Packed 4-bit types store two elements per int32 entry.
    if (info->bits == 4) want = (count + 1) / 2;
  }
  if (held == want) return {};
  std::string dims;
  for (auto d : t.dims) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
  return failure("tensor " + quoted(t.name) + ": dims [" + dims + "] describe " + std::to_string(want) + " " + unit +
                 " but its data holds " + std::to_string(held));
}

// The scanner's view of a parsed model, with views into `model`'s strings (for callers that
// already hold a ModelProto: one description code path for both).
wire::Tensor wire_tensor(const ::onnx::TensorProto& t) {
  wire::Tensor w;
  w.name = t.name();
  w.dims.assign(t.dims().begin(), t.dims().end());
  w.data_type = t.data_type();
  w.external = t.data_location() == ::onnx::TensorProto::EXTERNAL;
  for (const auto& kv : t.external_data()) w.external_data.emplace_back(kv.key(), kv.value());
  w.has_raw_data = t.has_raw_data();
  w.raw_data_bytes = t.raw_data().size();
  w.typed_entries = static_cast<std::uint64_t>(t.float_data_size()) + static_cast<std::uint64_t>(t.int32_data_size()) +
                    static_cast<std::uint64_t>(t.int64_data_size()) + static_cast<std::uint64_t>(t.double_data_size()) +
                    static_cast<std::uint64_t>(t.uint64_data_size());
  return w;
}

void wire_type(const ::onnx::TypeProto& t, wire::Type& w) {
  w.which = static_cast<int>(t.value_case());
  auto shape = [&w](const ::onnx::TensorShapeProto& s) {
    w.has_shape = true;
    for (const auto& d : s.dim()) {
      auto& wd = w.shape.emplace_back();
      wd.which = static_cast<int>(d.value_case());
      if (d.has_dim_value()) wd.value = d.dim_value();
      if (d.has_dim_param()) wd.param = d.dim_param();
    }
  };
  if (t.has_tensor_type()) {
    w.elem_type = t.tensor_type().elem_type();
    if (t.tensor_type().has_shape()) shape(t.tensor_type().shape());
  } else if (t.has_sparse_tensor_type()) {
    w.elem_type = t.sparse_tensor_type().elem_type();
    if (t.sparse_tensor_type().has_shape()) shape(t.sparse_tensor_type().shape());
  } else if (t.has_map_type()) {
    w.elem_type = t.map_type().key_type();
  } else if (t.has_sequence_type() || t.has_optional_type()) {
    bool has_elem = t.has_sequence_type() ? t.sequence_type().has_elem_type() : t.optional_type().has_elem_type();
    if (has_elem) {
      w.inner = std::make_unique<wire::Type>();
      wire_type(t.has_sequence_type() ? t.sequence_type().elem_type() : t.optional_type().elem_type(), *w.inner);
    }
  }
}

wire::ValueInfo wire_value_info(const ::onnx::ValueInfoProto& v) {
  wire::ValueInfo w;
  w.name = v.name();
  w.has_type = v.has_type();
  if (v.has_type()) wire_type(v.type(), w.type);
  return w;
}

wire::Graph wire_graph(const ::onnx::GraphProto& g);

wire::Node wire_node(const ::onnx::NodeProto& n) {
  wire::Node w;
  w.op_type = n.op_type();
  w.domain = n.domain();
  for (const auto& i : n.input()) w.inputs.push_back(i);
  for (const auto& a : n.attribute()) {
    auto& wa = w.attributes.emplace_back();
    wa.name = a.name();
    wa.i = a.i();
    wa.has_t = a.has_t();
    if (a.has_t()) wa.t = wire_tensor(a.t());
    for (const auto& t : a.tensors()) wa.tensors.push_back(wire_tensor(t));
    if (a.has_g()) wa.g = std::make_unique<wire::Graph>(wire_graph(a.g()));
    for (const auto& g : a.graphs()) wa.graphs.push_back(wire_graph(g));
  }
  return w;
}

wire::Graph wire_graph(const ::onnx::GraphProto& g) {
  wire::Graph w;
  w.name = g.name();
  for (const auto& n : g.node()) w.nodes.push_back(wire_node(n));
  for (const auto& t : g.initializer()) w.initializers.push_back(wire_tensor(t));
  for (const auto& s : g.sparse_initializer()) w.sparse_initializers.push_back({wire_tensor(s.values()), wire_tensor(s.indices())});
  for (const auto& v : g.input()) w.inputs.push_back(wire_value_info(v));
  for (const auto& v : g.output()) w.outputs.push_back(wire_value_info(v));
  return w;
}

wire::Model wire_model(const ::onnx::ModelProto& m) {
  wire::Model w;
  w.ir_version = m.ir_version();
  w.producer_name = m.producer_name();
  w.producer_version = m.producer_version();
  w.domain = m.domain();
  w.model_version = m.model_version();
  w.has_graph = m.has_graph();
  w.graph = wire_graph(m.graph());
  for (const auto& o : m.opset_import()) w.opset_imports.push_back({o.domain(), o.version()});
  for (const auto& p : m.metadata_props()) w.metadata_props.emplace_back(p.key(), p.value());
  for (const auto& f : m.functions()) {
    auto& nodes = w.function_nodes.emplace_back();
    for (const auto& n : f.node()) nodes.push_back(wire_node(n));
  }
  return w;
}

std::string human_bytes(std::uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

void write_value_json(util::JsonWriter& json, const ValueInfo& v, bool is_input) {
  json.begin_object();
  json.field("name", v.name);
  json.field("kind", v.kind);
  json.field("element_type", element_type_name(v.element_type));
  json.key("shape");
  if (!v.has_shape) {
    json.null();
  } else {
    json.begin_array();
    for (const auto& d : v.shape) {
      if (d.value) json.value(*d.value);
      else if (!d.symbol.empty()) json.value(d.symbol);
      else json.null();
    }
    json.end_array();
  }
  if (is_input) {
    json.key("index_bound");
    if (v.index_bound) json.value(*v.index_bound);
    else json.null();
  }
  json.end_object();
}

}  // namespace

std::int64_t ModelInfo::default_opset() const {
  for (const auto& o : opset_imports)
    if (o.domain.empty() || o.domain == "ai.onnx") return o.version;
  return 0;
}

Result<ModelInfo> model_info_from_scan(const wire::Model& model, const fs::path& path, std::uint64_t file_bytes) {
  ModelInfo info;
  info.path = path.string();
  info.file_bytes = file_bytes;
  info.ir_version = model.ir_version;
  info.producer_name = model.producer_name;
  info.producer_version = model.producer_version;
  info.domain = model.domain;
  info.model_version = model.model_version;
  const auto& g = model.graph;
  info.graph_name = g.name;
  for (const auto& o : model.opset_imports) info.opset_imports.push_back({std::string(o.domain), o.version});
  for (const auto& [k, v] : model.metadata_props) info.metadata_props.emplace_back(k, v);
  info.function_count = static_cast<std::int64_t>(model.function_nodes.size());

  std::map<std::string_view, const wire::Tensor*> initializers;
  for (const auto& t : g.initializers) initializers.emplace(t.name, &t);

  // index_bound: an input used as Gather indices into an initializer (an embedding table).
  std::map<std::string, std::int64_t, std::less<>> index_bounds;
  for (const auto& n : g.nodes) {
    if (n.op_type != "Gather" || n.inputs.size() < 2 || !is_default_domain(n.domain)) continue;
    auto table = initializers.find(n.inputs[0]);
    if (table == initializers.end() || table->second->dims.empty()) continue;
    std::int64_t axis = 0;
    for (const auto& a : n.attributes)
      if (a.name == "axis") axis = a.i;
    if (axis != 0) continue;
    auto rows = table->second->dims[0];
    auto [it, inserted] = index_bounds.emplace(std::string(n.inputs[1]), rows);
    if (!inserted) it->second = std::min(it->second, rows);
  }
  for (const auto& v : g.inputs) {
    if (initializers.count(v.name)) continue;  // IR < 4 lists initializers as inputs too
    auto vi = value_info(v);
    if (auto b = index_bounds.find(v.name); b != index_bounds.end()) vi.index_bound = b->second;
    info.inputs.push_back(std::move(vi));
  }
  for (const auto& v : g.outputs) info.outputs.push_back(value_info(v));

  info.node_count = static_cast<std::int64_t>(g.nodes.size());
  std::map<std::string, std::int64_t> ops;
  for (const auto& n : g.nodes) ++ops[op_key(n)];
  for (auto& [op, count] : ops) info.op_types.push_back({op, count});
  std::stable_sort(info.op_types.begin(), info.op_types.end(),
                   [](const OpCount& a, const OpCount& b) { return a.count > b.count; });

  Walk walk;
  walk_graph(g, walk, false);
  for (const auto& nodes : model.function_nodes) walk_nodes(nodes, walk);
  info.subgraph_node_count = walk.subgraph_nodes;

  info.initializer_count = static_cast<std::int64_t>(g.initializers.size());
  for (const auto& t : g.initializers) {
    MODELKIT_TRY_CTX(auto bytes, dense_bytes(t), quoted(info.path));
    if (auto checked = check_embedded_data(t, bytes); !checked) return checked.error().with_context(quoted(info.path));
    info.initializer_bytes += bytes;
  }

  // External data: every reference must resolve inside the model's folder to a file that holds it.
  const fs::path model_dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::map<std::string, std::size_t> file_index;
  for (const auto* t : walk.tensors) {
    MODELKIT_TRY_CTX(auto ref, external_ref(t->name, t->external, t->external_data), quoted(info.path));
    if (!ref.has_value()) continue;
    const auto& r = *ref;
    MODELKIT_TRY_CTX(auto dense, dense_bytes(*t), quoted(info.path));
    // The same check load_external_data makes: a model described here must also load.
    if (r.length && *r.length != dense)
      return failure(quoted(info.path) + ": tensor " + quoted(t->name) + ": external data length " +
                     std::to_string(*r.length) + " does not match its shape and type (" + std::to_string(dense) +
                     " bytes)");
    std::uint64_t length = dense;
    auto it = file_index.find(r.location);
    if (it == file_index.end()) {
      MODELKIT_TRY_CTX(auto file, resolve_external_location(model_dir, r.location), quoted(info.path));
      std::error_code ec;
      if (!fs::is_regular_file(file, ec))
        return failure(quoted(info.path) + ": external data file " + quoted(r.location) + " not found (looked for " +
                       quoted(file.string()) + ")");
      auto size = fs::file_size(file, ec);
      if (ec) return failure(quoted(info.path) + ": cannot read external data file " + quoted(file.string()));
      it = file_index.emplace(r.location, info.external_data_files.size()).first;
      info.external_data_files.push_back({r.location, size, 0});
    }
    auto& file = info.external_data_files[it->second];
    if (r.offset > file.file_bytes || length > file.file_bytes - r.offset)
      return failure(quoted(info.path) + ": tensor " + quoted(t->name) + " reads bytes " + std::to_string(r.offset) +
                     "+" + std::to_string(length) + " of " + quoted(r.location) + ", which has only " +
                     std::to_string(file.file_bytes));
    ++file.tensor_count;
    info.external_data_bytes += length;
  }

  for (const auto& [op, count] : walk.quant_ops) info.quantization.evidence.push_back(op + " x" + std::to_string(count));
  if (walk.low_bit_initializers > 0)
    info.quantization.evidence.push_back("8/4-bit integer weights x" + std::to_string(walk.low_bit_initializers) +
                                         " (e.g. " + quoted(walk.low_bit_example) + ")");
  info.quantization.quantized = !info.quantization.evidence.empty();
  return info;
}

Result<ModelInfo> model_info_from_proto(const ::onnx::ModelProto& model, const fs::path& path,
                                        std::uint64_t file_bytes) {
  return model_info_from_scan(wire_model(model), path, file_bytes);
}

// The file is mapped and scanned, not parsed: only the graph's pages are read, never the weights.
Result<ModelInfo> read_model_info(const fs::path& path) {
  MODELKIT_TRY(auto file, wire::MappedFile::open(path));
  MODELKIT_TRY(auto model, wire::scan_model(file.bytes(), quoted(path.string())));
  return model_info_from_scan(model, path, file.bytes().size());
}

std::string format_dims(const ValueInfo& v) {
  if (!v.has_shape) return "unknown rank";
  std::string out = "[";
  for (std::size_t i = 0; i < v.shape.size(); ++i) {
    if (i) out += ", ";
    const auto& d = v.shape[i];
    out += d.value ? std::to_string(*d.value) : (d.symbol.empty() ? "?" : d.symbol);
  }
  return out + "]";
}

void write_model_info_json(util::JsonWriter& json, const ModelInfo& info) {
  json.begin_object();
  json.field("path", info.path);
  json.field("file_bytes", info.file_bytes);
  json.field("ir_version", info.ir_version);
  json.field("producer_name", info.producer_name);
  json.field("producer_version", info.producer_version);
  json.field("domain", info.domain);
  json.field("model_version", info.model_version);
  json.field("graph_name", info.graph_name);
  json.key("opset_imports").begin_array();
  for (const auto& o : info.opset_imports) {
    json.begin_object();
    json.field("domain", o.domain);
    json.field("version", o.version);
    json.end_object();
  }
  json.end_array();
  json.key("metadata_props").begin_object();
  for (const auto& [k, v] : info.metadata_props) json.field(k, v);
  json.end_object();
  json.key("inputs").begin_array();
  for (const auto& v : info.inputs) write_value_json(json, v, true);
  json.end_array();
  json.key("outputs").begin_array();
  for (const auto& v : info.outputs) write_value_json(json, v, false);
  json.end_array();
  json.field("node_count", info.node_count);
  json.field("subgraph_node_count", info.subgraph_node_count);
  json.field("function_count", info.function_count);
  json.key("op_types").begin_object();
  for (const auto& o : info.op_types) json.field(o.op, o.count);
  json.end_object();
  json.field("initializer_count", info.initializer_count);
  json.field("initializer_bytes", info.initializer_bytes);
  json.key("external_data").begin_object();
  json.field("bytes", info.external_data_bytes);
  json.key("files").begin_array();
  for (const auto& f : info.external_data_files) {
    json.begin_object();
    json.field("location", f.location);
    json.field("file_bytes", f.file_bytes);
    json.field("tensor_count", f.tensor_count);
    json.end_object();
  }
  json.end_array();
  json.end_object();
  json.key("quantization").begin_object();
  json.field("quantized", info.quantization.quantized);
  json.key("evidence").string_array(info.quantization.evidence);
  json.end_object();
  json.end_object();
}

std::string format_model_info_table(const ModelInfo& info) {
  std::string out;
  auto row = [&out](std::string_view label, const std::string& text) {
    std::string l(label);
    l.resize(14, ' ');
    out += l + escape_control_characters(text) + "\n";  // names from the file: no raw control characters
  };
  row("model", info.path + " (" + human_bytes(info.file_bytes) + ")");
  std::string producer = info.producer_name.empty() ? "unknown producer" : info.producer_name;
  if (!info.producer_version.empty()) producer += " " + info.producer_version;
  row("format", "ONNX IR " + std::to_string(info.ir_version) + ", " + producer);
  std::string opsets;
  for (const auto& o : info.opset_imports) {
    if (!opsets.empty()) opsets += ", ";
    opsets += (o.domain.empty() ? "ai.onnx" : o.domain) + " " + std::to_string(o.version);
  }
  row("opsets", opsets.empty() ? "none" : opsets);
  auto io_rows = [&](std::string_view label, const std::vector<ValueInfo>& values) {
    if (values.empty()) row(label, "none");
    for (std::size_t i = 0; i < values.size(); ++i) {
      const auto& v = values[i];
      std::string type = v.kind == "tensor" ? element_type_name(v.element_type)
                                            : v.kind + "<" + element_type_name(v.element_type) + ">";
      std::string text = v.name + "  " + type + " " + format_dims(v);
      if (v.index_bound) text += "  (indexes " + std::to_string(*v.index_bound) + " rows)";
      row(i == 0 ? label : "", text);
    }
  };
  io_rows("inputs", info.inputs);
  io_rows("outputs", info.outputs);
  std::string ops;
  for (std::size_t i = 0; i < info.op_types.size() && i < 10; ++i) {
    if (i) ops += ", ";
    ops += info.op_types[i].op + " " + std::to_string(info.op_types[i].count);
  }
  if (info.op_types.size() > 10) ops += ", ... (" + std::to_string(info.op_types.size()) + " op types)";
  std::string nodes = std::to_string(info.node_count);
  if (info.subgraph_node_count) nodes += " (+" + std::to_string(info.subgraph_node_count) + " in subgraphs)";
  row("nodes", nodes + (ops.empty() ? "" : ": " + ops));
  std::string weights = std::to_string(info.initializer_count) + " initializers, " + human_bytes(info.initializer_bytes);
  row("weights", weights);
  if (info.external_data_files.empty()) {
    row("external data", "none");
  } else {
    for (std::size_t i = 0; i < info.external_data_files.size(); ++i) {
      const auto& f = info.external_data_files[i];
      row(i == 0 ? "external data" : "", f.location + " (" + human_bytes(f.file_bytes) + ", " +
                                             std::to_string(f.tensor_count) + " tensors)");
    }
  }
  bool qdq = false;
  for (const auto& e : info.quantization.evidence) qdq = qdq || e.starts_with("QuantizeLinear") || e.starts_with("DequantizeLinear");
  std::string quant = info.quantization.quantized ? (qdq ? "yes (QDQ): " : "yes: ") : "no";
  for (std::size_t i = 0; i < info.quantization.evidence.size(); ++i)
    quant += (i ? ", " : "") + info.quantization.evidence[i];
  row("quantized", quant);
  for (std::size_t i = 0; i < info.metadata_props.size(); ++i)
    row(i == 0 ? "metadata" : "", info.metadata_props[i].first + " = " + info.metadata_props[i].second);
  return out;
}

}  // namespace modelkit::onnx
