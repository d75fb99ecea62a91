#include "export/graph.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace modelkit::exporter {
namespace fs = std::filesystem;

namespace {

using Dims = std::vector<std::variant<std::int64_t, std::string>>;

void set_type(::onnx::ValueInfoProto& v, ::onnx::TensorProto_DataType type, const Dims& dims) {
  auto* t = v.mutable_type()->mutable_tensor_type();
  t->set_elem_type(type);
  auto* shape = t->mutable_shape();
  for (const auto& d : dims) {
    auto* dim = shape->add_dim();
    if (const auto* n = std::get_if<std::int64_t>(&d)) dim->set_dim_value(*n);
    else dim->set_dim_param(std::get<std::string>(d));
  }
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::uint64_t element_count(const std::vector<std::int64_t>& shape) {
  std::uint64_t n = 1;
  for (auto d : shape) n *= static_cast<std::uint64_t>(d);
  return n;
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}
std::uint64_t varint_size(std::uint64_t v) {
  std::uint64_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Protobuf field tags (field number << 3 | wire type 2, length-delimited) the streamed writer emits.
constexpr char kModelGraphTag = (7 << 3) | 2;          // ModelProto.graph
constexpr char kGraphInitializerTag = (5 << 3) | 2;    // GraphProto.initializer
constexpr char kTensorRawDataTag = (9 << 3) | 2;       // TensorProto.raw_data

constexpr std::uint64_t kExternalAlignment = 4096;

class Writer {
 public:
  ~Writer() {
    if (fd_ >= 0) ::close(fd_);
  }
  Result<void> open(const fs::path& path) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return failure("cannot write '" + path.string() + "': " + std::strerror(errno));
    return {};
  }
  Result<void> write(const void* data, std::size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      ssize_t n = ::write(fd_, p, size);
      if (n < 0) {
        if (errno == EINTR) continue;
        return failure("cannot write '" + path_.string() + "': " + std::strerror(errno));
      }
      p += n;
      size -= static_cast<std::size_t>(n);
      offset_ += static_cast<std::uint64_t>(n);
    }
    return {};
  }
  Result<void> write(std::string_view s) { return write(s.data(), s.size()); }
  Result<void> pad_to(std::uint64_t alignment) {
    std::uint64_t pad = (alignment - offset_ % alignment) % alignment;
    std::string zeros(pad, '\0');
    return write(zeros);
  }
  Result<void> close() {
    int fd = fd_;
    fd_ = -1;
    if (::fsync(fd) != 0 || ::close(fd) != 0)
      return failure("cannot write '" + path_.string() + "': " + std::strerror(errno));
    return {};
  }
  [[nodiscard]] std::uint64_t offset() const { return offset_; }

 private:
  fs::path path_;
  int fd_ = -1;
  std::uint64_t offset_ = 0;
};

// Reads one weight as float32, transposed when its spec asks.
Result<void> read_weight(const WeightSpec& w, const WeightSource& source, std::vector<float>& scratch,
                         std::vector<float>& out) {
  auto count = element_count(w.shape);
  out.resize(count);
  if (!w.transpose) return source.read(w.source, w.init, out);
  auto rows = static_cast<std::size_t>(w.shape[0]), cols = static_cast<std::size_t>(w.shape[1]);
  auto transpose = [&](const float* in) {
    // In tiles, so both the reads and the writes stay in cache.
    constexpr std::size_t kTile = 32;
    for (std::size_t r0 = 0; r0 < rows; r0 += kTile)
      for (std::size_t c0 = 0; c0 < cols; c0 += kTile) {
        const std::size_t r1 = std::min(rows, r0 + kTile), c1 = std::min(cols, c0 + kTile);
        for (std::size_t r = r0; r < r1; ++r)
          for (std::size_t c = c0; c < c1; ++c) out[c * rows + r] = in[r * cols + c];
      }
  };
  // float32 in the checkpoint: transposed straight from the mapping, without a copy first.
  MODELKIT_TRY(bool direct, source.visit_f32(w.source, [&](const float* in, std::size_t n) -> Result<void> {
    if (n != count) return failure("tensor '" + w.source + "' changed size while it was read");
    transpose(in);
    return {};
  }));
  if (direct) return {};
  scratch.resize(count);
  MODELKIT_TRY_VOID(source.read(w.source, w.init, scratch));
  transpose(scratch.data());
  return {};
}

::onnx::TensorProto weight_header(const WeightSpec& w) {
  ::onnx::TensorProto t;
  t.set_name(w.initializer);
  t.set_data_type(::onnx::TensorProto_DataType_FLOAT);
  if (w.transpose) {
    t.add_dims(w.shape[1]);
    t.add_dims(w.shape[0]);
  } else {
    for (auto d : w.shape) t.add_dims(d);
  }
  return t;
}

}  // namespace

std::string GraphBuilder::fresh(const std::string& hint) {
  int n = counters_[hint]++;
  return hint + "_" + std::to_string(n);
}

std::string GraphBuilder::input(const std::string& name, ::onnx::TensorProto_DataType type, const Dims& dims) {
  auto* v = model_.mutable_graph()->add_input();
  v->set_name(name);
  set_type(*v, type, dims);
  inputs_.push_back(name);
  return name;
}

void GraphBuilder::output(const std::string& value, const std::string& name, ::onnx::TensorProto_DataType type,
                          const Dims& dims) {
  if (value != name) {
    auto* n = model_.mutable_graph()->add_node();
    n->set_op_type("Identity");
    n->set_name(name + "_identity");
    n->add_input(value);
    n->add_output(name);
  }
  auto* v = model_.mutable_graph()->add_output();
  v->set_name(name);
  set_type(*v, type, dims);
  outputs_.push_back(name);
}

std::vector<std::string> GraphBuilder::node_n(const std::string& op, const std::vector<std::string>& inputs,
                                              int outputs, const std::map<std::string, Attr>& attrs,
                                              const std::string& hint) {
  auto* n = model_.mutable_graph()->add_node();
  n->set_op_type(op);
  std::string base = fresh(hint.empty() ? op : hint);
  n->set_name(base);
  for (const auto& i : inputs) n->add_input(i);
  std::vector<std::string> outs;
  for (int i = 0; i < outputs; ++i) {
    outs.push_back(outputs == 1 ? base : base + "_" + std::to_string(i));
    n->add_output(outs.back());
  }
  for (const auto& [key, value] : attrs) {
    auto* a = n->add_attribute();
    a->set_name(key);
    if (const auto* i = std::get_if<std::int64_t>(&value)) {
      a->set_type(::onnx::AttributeProto_AttributeType_INT);
      a->set_i(*i);
    } else if (const auto* f = std::get_if<float>(&value)) {
      a->set_type(::onnx::AttributeProto_AttributeType_FLOAT);
      a->set_f(*f);
    } else if (const auto* v = std::get_if<std::vector<std::int64_t>>(&value)) {
      a->set_type(::onnx::AttributeProto_AttributeType_INTS);
      for (auto x : *v) a->add_ints(x);
    } else {
      a->set_type(::onnx::AttributeProto_AttributeType_STRING);
      a->set_s(std::get<std::string>(value));
    }
  }
  return outs;
}

std::string GraphBuilder::const_i64(const std::vector<std::int64_t>& values, bool scalar) {
  auto* t = model_.mutable_graph()->add_initializer();
  std::string name = "const_" + std::to_string(constants_++);
  t->set_name(name);
  t->set_data_type(::onnx::TensorProto_DataType_INT64);
  if (!scalar) t->add_dims(static_cast<std::int64_t>(values.size()));
  t->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * 8));
  return name;
}

std::string GraphBuilder::const_f32(float value) {
  auto* t = model_.mutable_graph()->add_initializer();
  std::string name = "const_" + std::to_string(constants_++);
  t->set_name(name);
  t->set_data_type(::onnx::TensorProto_DataType_FLOAT);
  t->set_raw_data(std::string(reinterpret_cast<const char*>(&value), 4));
  return name;
}

std::string GraphBuilder::const_f32s(const std::vector<float>& values) {
  auto* t = model_.mutable_graph()->add_initializer();
  std::string name = "const_" + std::to_string(constants_++);
  t->set_name(name);
  t->set_data_type(::onnx::TensorProto_DataType_FLOAT);
  t->add_dims(static_cast<std::int64_t>(values.size()));
  t->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4));
  return name;
}

std::string GraphBuilder::weight(const std::string& source, std::vector<std::int64_t> shape, Init init,
                                 bool transpose) {
  std::string key = source + (transpose ? "#T" : "");
  if (auto it = weight_names_.find(key); it != weight_names_.end()) return it->second;
  std::string name = transpose ? source + "_transposed" : source;
  weights_.push_back({name, source, std::move(shape), transpose, init});
  weight_names_[key] = name;
  return name;
}

std::string GraphBuilder::reduce(const std::string& op, const std::string& x, std::vector<std::int64_t> axes,
                                 bool keepdims) {
  std::map<std::string, Attr> attrs{{"keepdims", std::int64_t{keepdims ? 1 : 0}}};
  // ReduceSum took axes as an input at 13, the other Reduce ops at 18.
  if (op == "ReduceSum" || opset_ >= 18) return node(op, {x, const_i64(axes)}, attrs);
  attrs["axes"] = axes;
  return node(op, {x}, attrs);
}

Result<void> check_weights(const std::vector<WeightSpec>& weights, const WeightSource& source) {
  std::uint64_t total = 0;
  for (const auto& w : weights) {
    std::uint64_t count = 1;
    for (auto d : w.shape) {
      if (d <= 0 || (count > 0 && static_cast<std::uint64_t>(d) > kMaxTensorElements / count)) {
        count = kMaxTensorElements + 1;
        break;
      }
      count *= static_cast<std::uint64_t>(d);
    }
    if (count > kMaxTensorElements)
      return failure("tensor '" + w.source + "' of shape " + shape_text(w.shape) + " is larger than the " +
                     std::to_string(kMaxTensorElements) + " elements the exporter handles (check config.json)");
    total += count;
    if (total > kMaxModelElements)
      return failure("the model described by config.json has more than " + std::to_string(kMaxModelElements) +
                     " parameters, more than the exporter handles");
    auto info = source.find(w.source);
    if (!info) return failure("tensor '" + w.source + "' is missing from the checkpoint's weights");
    if (info->shape != w.shape)
      return failure("tensor '" + w.source + "' has shape " + shape_text(info->shape) + ", config.json calls for " +
                     shape_text(w.shape));
    if (!convertible_dtype(info->dtype))
      return failure("tensor '" + w.source + "' has dtype " + info->dtype + "; export reads F32, F16 and BF16 weights");
  }
  return {};
}

Result<WriteStats> write_model(const ::onnx::ModelProto& model, const std::vector<WeightSpec>& weights,
                               const WeightSource& source, const fs::path& path,
                               std::uint64_t external_threshold) {
  WriteStats stats;
  for (const auto& w : weights) {
    stats.parameters += element_count(w.shape);
  }
  std::uint64_t weight_bytes = stats.parameters * 4;
  std::vector<float> data, scratch;

  if (weight_bytes + static_cast<std::uint64_t>(model.ByteSizeLong()) >= external_threshold) {
    // External data: weights go to "<file name>_data", page aligned; the proto holds references.
    stats.external_data = true;
    std::string location = path.filename().string() + "_data";
    Writer side;
    MODELKIT_TRY_VOID(side.open(path.parent_path() / location));
    ::onnx::ModelProto out = model;
    auto* graph = out.mutable_graph();
    for (const auto& w : weights) {
      MODELKIT_TRY_VOID(side.pad_to(kExternalAlignment));
      MODELKIT_TRY_VOID(read_weight(w, source, scratch, data));
      auto* t = graph->add_initializer();
      *t = weight_header(w);
      t->set_data_location(::onnx::TensorProto_DataLocation_EXTERNAL);
      auto add = [t](const std::string& k, const std::string& v) {
        auto* e = t->add_external_data();
        e->set_key(k);
        e->set_value(v);
      };
      add("location", location);
      add("offset", std::to_string(side.offset()));
      add("length", std::to_string(data.size() * 4));
      MODELKIT_TRY_VOID(side.write(data.data(), data.size() * 4));
    }
    MODELKIT_TRY_VOID(side.close());
    std::string bytes;
    if (!out.SerializeToString(&bytes)) return failure("cannot serialize the ONNX model");
    Writer file;
    MODELKIT_TRY_VOID(file.open(path));
    MODELKIT_TRY_VOID(file.write(bytes));
    MODELKIT_TRY_VOID(file.close());
    stats.bytes = bytes.size() + side.offset();
    return stats;
  }

  // Inline: the model's fields, then the graph as one length-delimited field whose weights are
  // streamed as initializer entries after the rest of the graph (protobuf accepts fields in any
  // order and concatenates repeated ones).
  ::onnx::ModelProto rest = model;
  rest.clear_graph();
  std::string rest_bytes, graph_bytes;
  if (!rest.SerializeToString(&rest_bytes) || !model.graph().SerializeToString(&graph_bytes))
    return failure("cannot serialize the ONNX model");
  std::vector<std::string> headers;
  std::uint64_t graph_size = graph_bytes.size();
  for (const auto& w : weights) {
    headers.push_back(weight_header(w).SerializeAsString());
    std::uint64_t raw = element_count(w.shape) * 4;
    std::uint64_t tensor = headers.back().size() + 1 + varint_size(raw) + raw;
    graph_size += 1 + varint_size(tensor) + tensor;
  }
  Writer file;
  MODELKIT_TRY_VOID(file.open(path));
  std::string prefix = rest_bytes;
  prefix += kModelGraphTag;
  put_varint(prefix, graph_size);
  prefix += graph_bytes;
  MODELKIT_TRY_VOID(file.write(prefix));
  for (std::size_t i = 0; i < weights.size(); ++i) {
    std::uint64_t raw = element_count(weights[i].shape) * 4;
    std::uint64_t tensor = headers[i].size() + 1 + varint_size(raw) + raw;
    std::string head;
    head += kGraphInitializerTag;
    put_varint(head, tensor);
    head += headers[i];
    head += kTensorRawDataTag;
    put_varint(head, raw);
    MODELKIT_TRY_VOID(file.write(head));
    if (!weights[i].transpose) {
      // float32 in the checkpoint: written from the mapping, no copy.
      MODELKIT_TRY(bool direct, source.write_f32(weights[i].source, [&](const void* p, std::size_t n) -> Result<void> {
        if (n != raw) return failure("tensor '" + weights[i].source + "' changed size while it was read");
        return file.write(p, n);
      }));
      if (direct) continue;
    }
    MODELKIT_TRY_VOID(read_weight(weights[i], source, scratch, data));
    MODELKIT_TRY_VOID(file.write(data.data(), raw));
  }
  stats.bytes = file.offset();
  MODELKIT_TRY_VOID(file.close());
  return stats;
}

}  // namespace modelkit::exporter
