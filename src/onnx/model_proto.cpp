#include "onnx/model_proto.hpp"

#include "onnx/deferred_data.hpp"
#include "onnx/tensor_walk.hpp"
#include "util/file.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream.h>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

namespace modelkit::onnx {
namespace fs = std::filesystem;

namespace {

// Tensors this large and more in total make `automatic` move weights to a side file: room is
// left under protobuf's 2 GiB for the graph itself.
constexpr std::uint64_t kAutomaticExternalThreshold = std::uint64_t{3} << 29;  // 1.5 GiB
constexpr std::uint64_t kExternalAlignment = 4096;  // page-aligned offsets let ORT map tensors
constexpr std::uint64_t kMaxTensorBytes = std::uint64_t{1} << 40;

Result<std::uint64_t> parse_u64(std::string_view text, std::string_view key, std::string_view tensor) {
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size())
    return failure("tensor " + quoted(tensor) + ": external data " + std::string(key) + " " + quoted(text) +
                   " is not a non-negative integer");
  return v;
}

}  // namespace

Result<std::uint64_t> tensor_dense_bytes(std::string_view name, std::int32_t data_type,
                                         std::span<const std::int64_t> dims) {
  auto info = element_type_info(data_type);
  if (!info || info->bits == 0)
    return failure("tensor " + quoted(name) + ": element type " + std::to_string(data_type) +
                   " has no dense byte layout");
  std::uint64_t count = 1;
  for (auto d : dims) {
    if (d < 0) return failure("tensor " + quoted(name) + ": negative dimension " + std::to_string(d));
    if (d != 0 && count > kMaxTensorBytes / static_cast<std::uint64_t>(d))
      return failure("tensor " + quoted(name) + ": dimensions describe more than 1 TiB");
    count *= static_cast<std::uint64_t>(d);
  }
  return element_storage_bytes(info->type, count);
}

Result<std::uint64_t> tensor_dense_bytes(const ::onnx::TensorProto& t) {
  return tensor_dense_bytes(t.name(), t.data_type(), std::span<const std::int64_t>(t.dims().data(), t.dims().size()));
}

namespace {

Result<std::uint64_t> expected_bytes(const ::onnx::TensorProto& t) { return tensor_dense_bytes(t); }

Result<std::uint64_t> file_size_of(const fs::path& path, std::string_view location) {
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (ec || !fs::exists(status))
    return failure("external data file " + quoted(location) + " not found (looked for " + quoted(path.string()) + ")");
  if (!fs::is_regular_file(status))
    return failure("external data location " + quoted(location) + " is not a regular file");
  auto size = fs::file_size(path, ec);
  if (ec) return failure("cannot read external data file " + quoted(path.string()) + ": " + ec.message());
  return size;
}

// Reads one external tensor's bytes, checking the range lies within the file.
Result<std::string> read_external(const ::onnx::TensorProto& t, const ExternalRef& ref, const fs::path& model_dir) {
  MODELKIT_TRY(auto file, resolve_external_location(model_dir, ref.location));
  MODELKIT_TRY(auto size, file_size_of(file, ref.location));
  MODELKIT_TRY(auto want, expected_bytes(t));
  std::uint64_t length = ref.length.value_or(want);
  if (ref.offset > size || length > size - ref.offset)
    return failure("tensor " + quoted(t.name()) + ": external data range " + std::to_string(ref.offset) + "+" +
                   std::to_string(length) + " lies past the end of " + quoted(ref.location) + " (" +
                   std::to_string(size) + " bytes)");
  if (length != want)
    return failure("tensor " + quoted(t.name()) + ": external data length " + std::to_string(length) +
                   " does not match its shape and type (" + std::to_string(want) + " bytes)");
  MODELKIT_TRY(auto bytes, util::read_file_range(file, ref.offset, length));
  if (bytes.size() != length)
    return failure("external data file " + quoted(ref.location) + " ended early while reading tensor " +
                   quoted(t.name()));
  return bytes;
}

// Converts the typed repeated fields (float_data, int32_data, ...) to dense little-endian bytes.
Result<std::string> typed_field_bytes(const ::onnx::TensorProto& t, std::uint64_t want) {
  auto type = static_cast<ElementType>(t.data_type());
  std::string out;
  auto put = [&out](const void* p, std::size_t n) { out.append(static_cast<const char*>(p), n); };
  auto mismatch = [&](std::size_t have) {
    return failure("tensor " + quoted(t.name()) + ": holds " + std::to_string(have) +
                   " bytes of typed data, its shape and type need " + std::to_string(want));
  };
  switch (type) {
    case ElementType::float32:
    case ElementType::complex64:
      for (float v : t.float_data()) put(&v, 4);
      break;
    case ElementType::float64:
    case ElementType::complex128:
      for (double v : t.double_data()) put(&v, 8);
      break;
    case ElementType::int64:
      for (std::int64_t v : t.int64_data()) put(&v, 8);
      break;
    case ElementType::uint64:
      for (std::uint64_t v : t.uint64_data()) put(&v, 8);
      break;
    case ElementType::uint32:
      for (std::uint64_t v : t.uint64_data()) {
        auto n = static_cast<std::uint32_t>(v);
        put(&n, 4);
      }
      break;
    case ElementType::int32:
      for (std::int32_t v : t.int32_data()) put(&v, 4);
      break;
    case ElementType::int16:
    case ElementType::uint16:
    case ElementType::float16:
    case ElementType::bfloat16:
      for (std::int32_t v : t.int32_data()) {
        auto n = static_cast<std::uint16_t>(v);
        put(&n, 2);
      }
      break;
    case ElementType::int8:
    case ElementType::uint8:
    case ElementType::boolean:
    case ElementType::float8e4m3fn:
    case ElementType::float8e4m3fnuz:
    case ElementType::float8e5m2:
    case ElementType::float8e5m2fnuz:
    case ElementType::int4:  // 4-bit types: two values packed per int32_data entry's low byte
    case ElementType::uint4:
    case ElementType::float4e2m1:
      for (std::int32_t v : t.int32_data()) {
        auto n = static_cast<std::uint8_t>(v);
        put(&n, 1);
      }
      break;
    default:
      return failure("tensor " + quoted(t.name()) + ": element type " + element_type_name(type) +
                     " has no dense byte layout");
  }
  if (out.size() != want) return mismatch(out.size());
  return out;
}

// Bytes a tensor's data takes in the proto now (inline only), for deciding on a side file.
std::uint64_t inline_bytes(const ::onnx::TensorProto& t) {
  if (t.data_location() == ::onnx::TensorProto_DataLocation_EXTERNAL) return 0;
  return t.raw_data().size() + 4 * static_cast<std::uint64_t>(t.float_data_size() + t.int32_data_size()) +
         8 * static_cast<std::uint64_t>(t.int64_data_size() + t.double_data_size() + t.uint64_data_size());
}

class OutFile {
 public:
  OutFile() = default;
  OutFile(const OutFile&) = delete;
  OutFile& operator=(const OutFile&) = delete;
  ~OutFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!tmp_.empty()) ::unlink(tmp_.c_str());
  }
  Result<void> open(const fs::path& final_path) {
    final_ = final_path;
    tmp_ = final_path.string() + ".tmp-XXXXXX";
    fd_ = ::mkstemp(tmp_.data());
    if (fd_ < 0) {
      tmp_.clear();
      return failure("cannot write " + quoted(final_path.string()) + ": " + std::strerror(errno));
    }
    return {};
  }
  Result<void> write_at(std::uint64_t offset, std::string_view bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return failure("cannot write " + quoted(final_.string()) + ": " + std::strerror(errno));
      }
      done += static_cast<std::size_t>(n);
    }
    start_writeback(offset + bytes.size());
    return {};
  }
  Result<void> commit() {
    if (::fsync(fd_) != 0 || ::close(fd_) != 0) {
      fd_ = -1;
      return failure("cannot write " + quoted(final_.string()) + ": " + std::strerror(errno));
    }
    fd_ = -1;
    ::chmod(tmp_.c_str(), 0644);
    if (::rename(tmp_.c_str(), final_.c_str()) != 0)
      return failure("cannot write " + quoted(final_.string()) + ": " + std::strerror(errno));
    tmp_.clear();
    return {};
  }

 private:
  // Asks the kernel to start writing back (not to wait for) what was written up to `end` every
  // kWritebackStride bytes, so the closing fsync waits for the last stretch only.
  static constexpr std::uint64_t kWritebackStride = std::uint64_t{32} << 20;
  void start_writeback(std::uint64_t end) {
    if (end < writeback_ + kWritebackStride) return;
    ::sync_file_range(fd_, static_cast<off_t>(writeback_), static_cast<off_t>(end - writeback_), SYNC_FILE_RANGE_WRITE);
    writeback_ = end;
  }
  fs::path final_;
  std::string tmp_;
  int fd_ = -1;
  std::uint64_t writeback_ = 0;
};

// Runs the producer of a deferred tensor's placeholder, writing its bytes at `offset` of `file`;
// checks it handed exactly `size` bytes.
Result<void> write_deferred(OutFile& file, std::uint64_t offset, std::uint64_t size, const ByteProducer& produce,
                            const std::string& what) {
  std::uint64_t done = 0;
  MODELKIT_TRY_VOID(produce([&](std::span<const unsigned char> piece) -> Result<void> {
    if (piece.size() > size - done)
      return failure("cannot save " + what + ": a streamed tensor produced more than its " + std::to_string(size) +
                     " bytes");
    MODELKIT_TRY_VOID(file.write_at(offset + done, std::string_view(reinterpret_cast<const char*>(piece.data()),
                                                                    piece.size())));
    done += piece.size();
    return {};
  }));
  if (done != size)
    return failure("cannot save " + what + ": a streamed tensor produced " + std::to_string(done) + " of its " +
                   std::to_string(size) + " bytes");
  return {};
}

// The serialized model, streamed to its file: protobuf fills the buffer and hands large strings
// (raw_data) by address, which are written from where they lie, or, for a deferred tensor's
// placeholder, replaced by what its producer writes. No serialized copy of the model is made.
class SerializedFile final : public google::protobuf::io::ZeroCopyOutputStream {
 public:
  SerializedFile(OutFile& file, const DeferredTensors* deferred, std::string what, std::uint64_t& produced)
      : file_(file), deferred_(deferred), what_(std::move(what)), produced_(produced), buffer_(kBufferBytes) {}

  bool Next(void** data, int* size) override {
    if (!flush()) return false;
    *data = buffer_.data();
    *size = static_cast<int>(buffer_.size());
    used_ = buffer_.size();
    return true;
  }
  void BackUp(int count) override { used_ -= static_cast<std::size_t>(count); }
  std::int64_t ByteCount() const override { return static_cast<std::int64_t>(offset_ + used_); }
  bool AllowsAliasing() const override { return true; }
  bool WriteAliasedRaw(const void* data, int size) override {
    if (!flush()) return false;
    const auto n = static_cast<std::uint64_t>(size);
    const ByteProducer* produce = deferred_ ? deferred_->find(data, n) : nullptr;
    Result<void> r = produce ? write_deferred(file_, offset_, n, *produce, what_)
                             : file_.write_at(offset_, std::string_view(static_cast<const char*>(data), n));
    if (!r) {
      error_ = r.take_error();
      return false;
    }
    if (produce) ++produced_;
    offset_ += n;
    return true;
  }
  // Writes what is still buffered; the first error met, if any.
  Result<void> finish() {
    if (!flush()) return *error_;
    if (error_) return *error_;
    return {};
  }

 private:
  static constexpr std::size_t kBufferBytes = std::size_t{1} << 16;
  bool flush() {
    if (error_) return false;
    if (used_ == 0) return true;
    if (auto r = file_.write_at(offset_, std::string_view(buffer_.data(), used_)); !r) {
      error_ = r.take_error();
      return false;
    }
    offset_ += used_;
    used_ = 0;
    return true;
  }
  OutFile& file_;
  const DeferredTensors* deferred_;
  std::string what_;
  std::uint64_t& produced_;
  std::vector<char> buffer_;
  std::size_t used_ = 0;
  std::uint64_t offset_ = 0;
  std::optional<Error> error_;
};

bool path_within(const fs::path& base, const fs::path& p) {
  auto b = base.begin(), be = base.end();
  auto q = p.begin(), qe = p.end();
  for (; b != be; ++b, ++q) {
    if (b->empty()) continue;  // trailing separator
    if (q == qe || *b != *q) return false;
  }
  return q != qe;
}

}  // namespace

Result<::onnx::ModelProto> parse_model_proto(std::string_view bytes, std::string_view what) {
  if (bytes.size() > kProtobufLimit)
    return failure(std::string(what) + " is " + std::to_string(bytes.size()) +
                   " bytes; protobuf cannot read one message of 2 GiB or more (store the tensors as external data)");
  ::onnx::ModelProto model;
  if (bytes.empty()) return failure(std::string(what) + " is empty, not an ONNX model");
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return failure(std::string(what) + " is not a valid ONNX model (protobuf parsing failed: truncated or corrupt)");
  if (!model.has_graph())
    return failure(std::string(what) + " is not an ONNX model (it has no graph)");
  if (model.ir_version() <= 0)
    return failure(std::string(what) + " is not an ONNX model (ir_version " + std::to_string(model.ir_version()) +
                   ")");
  return model;
}

Result<::onnx::ModelProto> read_model_proto(const fs::path& path) {
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) return failure("cannot read " + quoted(path.string()) + ": no such file");
  if (fs::is_directory(status))
    return failure("cannot read " + quoted(path.string()) + ": is a folder, expected an .onnx file");
  auto size = fs::file_size(path, ec);
  if (!ec && size > kProtobufLimit)
    return failure(quoted(path.string()) + " is " + std::to_string(size) +
                   " bytes; protobuf cannot read one message of 2 GiB or more (store the tensors as external data)");
  MODELKIT_TRY(auto bytes, util::read_file(path, kProtobufLimit));
  return parse_model_proto(bytes, quoted(path.string()));
}

Result<std::optional<ExternalRef>> external_ref(std::string_view name, bool external,
                                                std::span<const std::pair<std::string_view, std::string_view>> entries) {
  if (!external) return std::optional<ExternalRef>{};
  ExternalRef ref;
  bool has_location = false;
  for (const auto& [key, value] : entries) {
    if (key == "location") {
      ref.location = value;
      has_location = true;
    } else if (key == "offset") {
      MODELKIT_TRY(auto v, parse_u64(value, "offset", name));
      ref.offset = v;
    } else if (key == "length") {
      MODELKIT_TRY(auto v, parse_u64(value, "length", name));
      ref.length = v;
    }
  }
  if (!has_location || ref.location.empty())
    return failure("tensor " + quoted(name) + " is stored externally but names no location");
  return std::optional<ExternalRef>(std::move(ref));
}

Result<std::optional<ExternalRef>> external_ref(const ::onnx::TensorProto& tensor) {
  bool external = tensor.data_location() == ::onnx::TensorProto_DataLocation_EXTERNAL;
  std::vector<std::pair<std::string_view, std::string_view>> entries;
  if (external)
    for (const auto& kv : tensor.external_data()) entries.emplace_back(kv.key(), kv.value());
  return external_ref(tensor.name(), external, entries);
}

Result<fs::path> resolve_external_location(const fs::path& model_dir, std::string_view location) {
  if (location.empty()) return failure("external data location is empty");
  if (location.find('\0') != std::string_view::npos)
    return failure("external data location " + quoted(location) + " contains a NUL byte");
  fs::path rel(location);
  if (rel.is_absolute() || rel.has_root_name() || rel.has_root_directory())
    return failure("external data location " + quoted(location) +
                   " is an absolute path; it must be relative to the model's folder");
  std::error_code ec;
  fs::path base = fs::weakly_canonical(fs::absolute(model_dir.empty() ? fs::path(".") : model_dir, ec), ec);
  if (ec) return failure("cannot resolve the model folder " + quoted(model_dir.string()) + ": " + ec.message());
  fs::path target = fs::weakly_canonical(base / rel, ec);
  if (ec) return failure("cannot resolve external data location " + quoted(location) + ": " + ec.message());
  if (!path_within(base, target))
    return failure("external data location " + quoted(location) + " points outside the model's folder " +
                   quoted(base.string()));
  return target;
}

Result<void> load_external_data(::onnx::ModelProto& model, const fs::path& model_dir) {
  Result<void> status;
  for_each_tensor(model, [&](::onnx::TensorProto& t) {
    if (!status.ok()) return;
    auto ref = external_ref(t);
    if (!ref) {
      status = ref.take_error();
      return;
    }
    if (!ref->has_value()) return;
    auto bytes = read_external(t, **ref, model_dir);
    if (!bytes) {
      status = bytes.take_error();
      return;
    }
    t.set_raw_data(std::move(*bytes));
    t.clear_external_data();
    t.clear_data_location();
  });
  return status;
}

Result<void> save_model_proto(::onnx::ModelProto& model, const fs::path& path, const SaveOptions& options) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const std::string location = options.location.empty() ? path.filename().string() + "_data" : options.location;
  {
    fs::path loc(location);
    if (loc.is_absolute() || loc.has_parent_path() || location == "." || location == "..")
      return failure("external data file name " + quoted(location) + " must be a plain file name");
  }

  std::vector<::onnx::TensorProto*> tensors;
  std::uint64_t total_inline = 0;
  bool any_external = false;
  std::uint64_t placeholders = 0, produced = 0;  // deferred tensors in the model, and written
  const DeferredTensors* deferred = options.deferred;
  auto is_placeholder = [deferred](const ::onnx::TensorProto& t) {
    return deferred && t.has_raw_data() && deferred->find(t.raw_data().data(), t.raw_data().size());
  };
  for_each_tensor(model, [&](::onnx::TensorProto& t) {
    tensors.push_back(&t);
    placeholders += is_placeholder(t) ? 1 : 0;
    total_inline += inline_bytes(t);
    any_external |= t.data_location() == ::onnx::TensorProto_DataLocation_EXTERNAL;
  });
  if (any_external && (options.external_source_dir.empty() || options.external_data == ExternalDataPolicy::never))
    return failure("cannot save " + quoted(path.string()) +
                   ": the model still refers to external data; load it first or give its source folder");

  bool externalize = options.external_data == ExternalDataPolicy::always ||
                     (options.external_data == ExternalDataPolicy::automatic &&
                      (any_external || total_inline >= kAutomaticExternalThreshold));

  // Tensors moved to the side file: their original data, restored after serializing.
  struct Moved {
    ::onnx::TensorProto* tensor;
    ::onnx::TensorProto original;  // for typed-field or still-external tensors (copied)
    std::string raw;               // for raw_data tensors (moved, not copied)
    bool from_raw;
    bool had_location = false;     // whether data_location was set explicitly
    int location = 0;
  };
  std::vector<Moved> moved;
  auto restore = [&moved] {
    for (auto& m : moved) {
      if (m.from_raw) {
        m.tensor->clear_external_data();
        if (m.had_location) m.tensor->set_data_location(static_cast<::onnx::TensorProto_DataLocation>(m.location));
        else m.tensor->clear_data_location();
        m.tensor->mutable_raw_data()->swap(m.raw);
      } else {
        m.tensor->Swap(&m.original);
      }
    }
    moved.clear();
  };

  OutFile data_file;
  std::uint64_t offset = 0;
  bool data_file_open = false;
  if (externalize) {
    for (auto* t : tensors) {
      bool is_external = t->data_location() == ::onnx::TensorProto_DataLocation_EXTERNAL;
      if (!is_external && inline_bytes(*t) < options.size_threshold) continue;
      if (!is_external && options.external_data == ExternalDataPolicy::never) continue;
      auto want = expected_bytes(*t);
      if (!want) {
        restore();
        return want.take_error();
      }
      if (!data_file_open) {
        if (auto r = data_file.open(dir / location); !r) {
          restore();
          return r;
        }
        data_file_open = true;
      }
      Moved m{t, {}, {}, false};
      std::string bytes_holder;
      std::string_view bytes;
      if (is_external) {
        auto ref = external_ref(*t);
        if (!ref) {
          restore();
          return ref.take_error();
        }
        auto read = read_external(*t, **ref, options.external_source_dir);
        if (!read) {
          restore();
          return read.take_error();
        }
        bytes_holder = std::move(*read);
        bytes = bytes_holder;
        m.original = *t;
      } else if (t->has_raw_data()) {
        if (t->raw_data().size() != *want) {
          restore();
          return failure("tensor " + quoted(t->name()) + ": raw_data holds " + std::to_string(t->raw_data().size()) +
                         " bytes, its shape and type need " + std::to_string(*want));
        }
        m.raw.swap(*t->mutable_raw_data());
        m.from_raw = true;
        m.had_location = t->has_data_location();
        m.location = t->data_location();
        bytes = m.raw;
      } else {
        auto typed = typed_field_bytes(*t, *want);
        if (!typed) {
          restore();
          return typed.take_error();
        }
        bytes_holder = std::move(*typed);
        bytes = bytes_holder;
        m.original = *t;
      }
      offset = (offset + kExternalAlignment - 1) / kExternalAlignment * kExternalAlignment;
      const ByteProducer* produce = m.from_raw && deferred ? deferred->find(bytes.data(), bytes.size()) : nullptr;
      if (auto r = produce ? write_deferred(data_file, offset, bytes.size(), *produce, quoted(path.string()))
                           : data_file.write_at(offset, bytes);
          !r) {
        if (m.from_raw) t->mutable_raw_data()->swap(m.raw);
        restore();
        return r;
      }
      if (!m.from_raw) {
        t->clear_float_data();
        t->clear_int32_data();
        t->clear_int64_data();
        t->clear_double_data();
        t->clear_uint64_data();
        t->clear_raw_data();
      }
      t->clear_external_data();
      t->set_data_location(::onnx::TensorProto_DataLocation_EXTERNAL);
      auto add = [t](const char* k, std::string v) {
        auto* e = t->add_external_data();
        e->set_key(k);
        e->set_value(std::move(v));
      };
      add("location", location);
      add("offset", std::to_string(offset));
      add("length", std::to_string(bytes.size()));
      offset += bytes.size();
      produced += produce ? 1 : 0;
      moved.push_back(std::move(m));
    }
  }

  std::uint64_t size = model.ByteSizeLong();
  if (size > kProtobufLimit) {
    restore();
    return failure("cannot save " + quoted(path.string()) + ": the model is " + std::to_string(size) +
                   " bytes, past protobuf's 2 GiB limit; store its tensors as external data");
  }
  // Serialized straight into the model's temporary file (the same bytes as SerializeToString).
  OutFile model_file;
  if (auto r = model_file.open(path); !r) {
    restore();
    return r;
  }
  Result<void> written;
  {
    SerializedFile stream(model_file, deferred, quoted(path.string()), produced);
    {
      google::protobuf::io::CodedOutputStream coded(&stream);
      coded.EnableAliasing(true);
      model.SerializeWithCachedSizes(&coded);
      coded.Trim();
      if (coded.HadError()) written = failure("cannot save " + quoted(path.string()) + ": protobuf serialization failed");
    }
    if (auto r = stream.finish(); !r) written = std::move(r);
  }
  restore();
  if (!written) return written;
  // A placeholder written as it is (a tensor copied after it was deferred) would be garbage.
  if (produced != placeholders)
    return failure("cannot save " + quoted(path.string()) + ": " + std::to_string(placeholders) +
                   " streamed tensor(s) in the model but " + std::to_string(produced) + " written");
  if (data_file_open) {
    if (auto r = data_file.commit(); !r) return r;
  }
  return model_file.commit();
}

Result<Tensor> tensor_from_proto(const ::onnx::TensorProto& proto, const fs::path& model_dir) {
  MODELKIT_TRY(auto want, expected_bytes(proto));
  Tensor out;
  out.name = proto.name();
  out.type = static_cast<ElementType>(proto.data_type());
  out.shape.assign(proto.dims().begin(), proto.dims().end());
  MODELKIT_TRY(auto ref, external_ref(proto));
  std::string bytes;
  if (ref.has_value()) {
    if (model_dir.empty())
      return failure("tensor " + quoted(proto.name()) + " is stored externally and no model folder was given");
    MODELKIT_TRY(auto read, read_external(proto, *ref, model_dir));
    bytes = std::move(read);
  } else if (proto.has_raw_data()) {
    if (proto.raw_data().size() != want)
      return failure("tensor " + quoted(proto.name()) + ": raw_data holds " + std::to_string(proto.raw_data().size()) +
                     " bytes, its shape and type need " + std::to_string(want));
    bytes = proto.raw_data();
  } else {
    MODELKIT_TRY(auto typed, typed_field_bytes(proto, want));
    bytes = std::move(typed);
  }
  out.bytes.resize(bytes.size());
  if (!bytes.empty()) std::memcpy(out.bytes.data(), bytes.data(), bytes.size());
  return out;
}

::onnx::TensorProto tensor_to_proto(const Tensor& tensor) {
  ::onnx::TensorProto proto;
  proto.set_name(tensor.name);
  proto.set_data_type(static_cast<std::int32_t>(tensor.type));
  for (auto d : tensor.shape) proto.add_dims(d);
  proto.set_raw_data(reinterpret_cast<const char*>(tensor.bytes.data()), tensor.bytes.size());
  return proto;
}

std::optional<ElementType> declared_element_type(const ::onnx::ValueInfoProto& value) {
  if (!value.has_type() || !value.type().has_tensor_type()) return std::nullopt;
  return static_cast<ElementType>(value.type().tensor_type().elem_type());
}

}  // namespace modelkit::onnx
