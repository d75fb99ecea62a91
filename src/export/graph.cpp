#include "export/graph.hpp"

#include "export/transpose.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <system_error>
#include <thread>
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
// Writeback of what is written is started every this many bytes, so the closing fsync waits for
// the last stretch only instead of the whole file.
constexpr std::uint64_t kWritebackStride = std::uint64_t{32} << 20;

// Writes `size` bytes at `offset` of `fd`; 0 or the errno of the failure.
int pwrite_all(int fd, const void* data, std::size_t size, std::uint64_t offset) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::pwrite(fd, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return 0;
}

// Appends to one file (each write at its own offset, so threads can fill disjoint parts of a
// tensor at once); close() fsyncs.
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
    if (int e = pwrite_all(fd_, data, size, offset_)) return failed(e);
    offset_ += size;
    start_writeback();
    return {};
  }
  Result<void> write(std::string_view s) { return write(s.data(), s.size()); }
  // Appends `length` bytes at `offset` of the file `src` by copying them inside the kernel
  // (copy_file_range: no trip through user space); false, with nothing written, when the kernel
  // cannot copy between these files (other file systems, an old kernel) and the caller must write.
  Result<bool> copy_from(int src, std::uint64_t offset, std::uint64_t length) {
    auto in = static_cast<off_t>(offset);
    auto out = static_cast<off_t>(offset_);
    std::uint64_t done = 0;
    while (done < length) {
      ssize_t n = ::copy_file_range(src, &in, fd_, &out, length - done, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (done == 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)) return false;
        return failed(errno);
      }
      if (n == 0)
        return failure("cannot write '" + path_.string() + "': its source file ended early (changed while it was read?)");
      done += static_cast<std::uint64_t>(n);
    }
    offset_ += length;
    start_writeback();
    return true;
  }
  // Appends the transpose of the row-major rows x cols `in` (cols x rows floats): band by band, each
  // band transposed into a buffer that stays in cache and written from there at its offset, the
  // bands shared out between threads.
  Result<void> write_transposed(const float* in, std::size_t rows, std::size_t cols) {
    const std::size_t band = transpose_band_rows(rows);
    const std::size_t bands = (cols + band - 1) / band;
    std::size_t workers = rows * cols < kParallelTranspose ? 1 : std::min<std::size_t>(transpose_threads(), bands);
    const std::uint64_t base = offset_;
    std::atomic<std::size_t> next{0};
    std::atomic<int> error{0};
    auto work = [&] {
      std::vector<float> buffer(band * rows);
      while (error.load(std::memory_order_relaxed) == 0) {
        const std::size_t b = next.fetch_add(1);
        if (b >= bands) return;
        const std::size_t c0 = b * band, c1 = std::min(cols, c0 + band);
        transpose_band(in, rows, cols, c0, c1, buffer.data());
        if (int e = pwrite_all(fd_, buffer.data(), (c1 - c0) * rows * sizeof(float), base + c0 * rows * sizeof(float))) {
          int none = 0;
          error.compare_exchange_strong(none, e);
        }
      }
    };
    std::vector<std::thread> pool;
    for (std::size_t w = 1; w < workers; ++w) {
      try {
        pool.emplace_back(work);
      } catch (const std::system_error&) {
        break;  // no more threads to be had: the ones running (and this one) take all the bands
      }
    }
    work();
    for (auto& t : pool) t.join();
    if (int e = error.load()) return failed(e);
    offset_ += static_cast<std::uint64_t>(rows) * cols * sizeof(float);
    start_writeback();
    return {};
  }
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
  // Below this many elements a transpose runs on the calling thread alone.
  static constexpr std::size_t kParallelTranspose = std::size_t{1} << 16;
  Error failed(int e) const { return failure("cannot write '" + path_.string() + "': " + std::strerror(e)); }
  // Asks the kernel to start writing back (not to wait for) what was written since last time; the
  // closing fsync is still what makes the file durable.
  void start_writeback() {
    if (offset_ - writeback_ < kWritebackStride) return;
    ::sync_file_range(fd_, static_cast<off_t>(writeback_), static_cast<off_t>(offset_ - writeback_),
                      SYNC_FILE_RANGE_WRITE);
    writeback_ = offset_;
  }
  fs::path path_;
  int fd_ = -1;
  std::uint64_t offset_ = 0;
  std::uint64_t writeback_ = 0;
};

// Appends one weight's float32 bytes: float32 stored unchanged is copied file to file in the kernel
// or written from the mapping; a transposed weight is transposed from the mapping band by band;
// other dtypes (and random weights) are read, converted, into `scratch` first.
Result<void> write_weight(Writer& file, const WeightSpec& w, const WeightSource& source, std::vector<float>& scratch) {
  const auto count = element_count(w.shape);
  const std::uint64_t raw = count * 4;
  auto changed = [&] { return failure("tensor '" + w.source + "' changed size while it was read"); };
  if (!w.transpose) {
    if (auto range = source.f32_file_range(w.source)) {
      if (range->length != raw) return changed();
      MODELKIT_TRY(bool copied, file.copy_from(range->fd, range->offset, range->length));
      if (copied) return {};
    }
    MODELKIT_TRY(bool direct, source.write_f32(w.source, [&](const void* p, std::size_t n) -> Result<void> {
      if (n != raw) return changed();
      return file.write(p, n);
    }));
    if (direct) return {};
    scratch.resize(count);
    MODELKIT_TRY_VOID(source.read(w.source, w.init, scratch));
    return file.write(scratch.data(), raw);
  }
  const auto rows = static_cast<std::size_t>(w.shape[0]), cols = static_cast<std::size_t>(w.shape[1]);
  MODELKIT_TRY(bool direct, source.visit_f32(w.source, [&](const float* in, std::size_t n) -> Result<void> {
    if (n != count) return changed();
    return file.write_transposed(in, rows, cols);
  }));
  if (direct) return {};
  scratch.resize(count);
  MODELKIT_TRY_VOID(source.read(w.source, w.init, scratch));
  return file.write_transposed(scratch.data(), rows, cols);
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
  std::vector<float> scratch;

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
      add("length", std::to_string(element_count(w.shape) * 4));
      MODELKIT_TRY_VOID(write_weight(side, w, source, scratch));
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
    MODELKIT_TRY_VOID(write_weight(file, weights[i], source, scratch));
  }
  stats.bytes = file.offset();
  MODELKIT_TRY_VOID(file.close());
  return stats;
}

}  // namespace modelkit::exporter
