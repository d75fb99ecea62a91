#include "onnx/wire_scan.hpp"

#include "onnx/model_proto.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace modelkit::onnx::wire {
namespace {

enum WireType : std::uint32_t { kVarint = 0, kFixed64 = 1, kLength = 2, kStartGroup = 3, kEndGroup = 4, kFixed32 = 5 };

// One field as read from the wire: its number, wire type and value. A length-delimited value
// is a view of its bytes (not read); fixed values are not decoded (nothing inspect shows uses them).
struct Field {
  std::uint32_t number = 0;
  std::uint32_t wire = 0;
  std::uint64_t varint = 0;
  std::string_view bytes;
  const char* at = nullptr;  // where the field's tag starts, for errors
};

class Scanner {
 public:
  explicit Scanner(std::string_view all) : begin_(all.data()) {}

  [[nodiscard]] const std::string& error() const { return error_; }

  bool model(std::string_view b, Model& m);

 private:
  const char* begin_;
  std::string error_;

  std::uint64_t offset(const char* p) const { return static_cast<std::uint64_t>(p - begin_); }

  bool fail(const char* at, const std::string& what) {
    if (error_.empty()) error_ = what + " at byte " + std::to_string(offset(at));
    return false;
  }

  bool varint(const char*& p, const char* end, std::uint64_t& out, const char* what) {
    const char* start = p;
    std::uint64_t v = 0;
    for (int i = 0; i < 10; ++i) {
      if (p == end) return fail(start, std::string(what) + " runs past the end of its message");
      auto byte = static_cast<std::uint8_t>(*p++);
      v |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
      if ((byte & 0x80) == 0) {
        out = v;
        return true;
      }
    }
    return fail(start, std::string(what) + " is longer than 10 bytes");
  }

  // A tag is at most 5 bytes, read modulo 2^32 (as protobuf reads it).
  bool field_tag(const char*& p, const char* end, std::uint32_t& out) {
    const char* start = p;
    std::uint32_t v = 0;
    for (int i = 0; i < 5; ++i) {
      if (p == end) return fail(start, "a field tag runs past the end of its message");
      auto byte = static_cast<std::uint8_t>(*p++);
      v |= static_cast<std::uint32_t>(byte & 0x7f) << (7 * i);
      if ((byte & 0x80) == 0) {
        out = v;
        return true;
      }
    }
    return fail(start, "a field tag is longer than 5 bytes");
  }

  // Reads one field (tag and value) at p, stepping over its value. Groups (a protobuf 2 relic no
  // ONNX field uses) are stepped over whole.
  bool field(const char*& p, const char* end, int depth, const char* message, Field& f) {
    f.at = p;
    std::uint32_t tag = 0;
    if (!field_tag(p, end, tag)) return false;
    f.number = tag >> 3;
    f.wire = static_cast<std::uint32_t>(tag & 7);
    if (f.number == 0) return fail(f.at, std::string("field number 0 in ") + message);
    switch (f.wire) {
      case kVarint:
        return varint(p, end, f.varint, "a varint");
      case kFixed64:
      case kFixed32: {
        std::size_t n = f.wire == kFixed64 ? 8 : 4;
        if (static_cast<std::size_t>(end - p) < n)
          return fail(f.at, "field " + std::to_string(f.number) + " of " + message + " runs past the end of its message");
        p += n;
        return true;
      }
      case kLength: {
        std::uint64_t length = 0;
        if (!varint(p, end, length, "a length")) return false;
        auto left = static_cast<std::uint64_t>(end - p);
        if (length > left)
          return fail(f.at, "field " + std::to_string(f.number) + " of " + message + " claims " +
                                std::to_string(length) + " bytes but only " + std::to_string(left) +
                                " are left in its message");
        f.bytes = std::string_view(p, static_cast<std::size_t>(length));
        p += length;  // not read: payloads are stepped over
        return true;
      }
      case kStartGroup:
        return skip_group(p, end, depth + 1, message, f.number);
      case kEndGroup:
        return fail(f.at, std::string("an unmatched end-group tag in ") + message);
      default:
        return fail(f.at, "invalid wire type " + std::to_string(f.wire) + " in " + message);
    }
  }

  bool skip_group(const char*& p, const char* end, int depth, const char* message, std::uint32_t number) {
    if (depth > kMaxNesting) return fail(p, "messages nested more than " + std::to_string(kMaxNesting) + " deep");
    while (p < end) {
      const char* at = p;
      std::uint32_t tag = 0;
      if (!field_tag(p, end, tag)) return false;
      if ((tag & 7) == kEndGroup) {
        if ((tag >> 3) != number) return fail(at, std::string("a mismatched end-group tag in ") + message);
        return true;
      }
      p = at;
      Field inner;
      if (!field(p, end, depth, message, inner)) return false;
    }
    return fail(p, std::string("a group in ") + message + " runs past the end of its message");
  }

  // Calls on(field) for each field of the message in `bytes`; on returns false to stop (error).
  template <class On>
  bool fields(std::string_view bytes, int depth, const char* message, On&& on) {
    if (depth > kMaxNesting)
      return fail(bytes.data(), "messages nested more than " + std::to_string(kMaxNesting) + " deep");
    const char* p = bytes.data();
    const char* end = p + bytes.size();
    while (p < end) {
      Field f;
      if (!field(p, end, depth, message, f)) return false;
      if (!on(f)) return false;
    }
    return true;
  }

  // Repeated numbers: packed (one length-delimited run) or one entry per field, as protobuf reads both.
  bool count_varints(const Field& f, std::uint64_t& count) {
    if (f.wire == kVarint) {
      ++count;
      return true;
    }
    if (f.wire != kLength) return true;
    // A varint ends at each byte with its top bit clear; count those, checking each run.
    int run = 0;
    for (char c : f.bytes) {
      if (static_cast<std::uint8_t>(c) & 0x80) {
        if (++run >= 10) return fail(f.at, "a packed varint is longer than 10 bytes");
      } else {
        run = 0;
        ++count;
      }
    }
    if (run != 0) return fail(f.at, "a packed varint runs past the end of its field");
    return true;
  }

  bool count_fixed(const Field& f, std::uint32_t unpacked_wire, std::size_t width, std::uint64_t& count) {
    if (f.wire == unpacked_wire) {
      ++count;
      return true;
    }
    if (f.wire != kLength) return true;
    if (f.bytes.size() % width != 0)
      return fail(f.at, "a packed field of " + std::to_string(width) + "-byte numbers holds " +
                            std::to_string(f.bytes.size()) + " bytes");
    count += f.bytes.size() / width;
    return true;
  }

  bool int64s(const Field& f, std::vector<std::int64_t>& out) {
    if (f.wire == kVarint) {
      out.push_back(static_cast<std::int64_t>(f.varint));
      return true;
    }
    if (f.wire != kLength) return true;
    const char* p = f.bytes.data();
    const char* end = p + f.bytes.size();
    while (p < end) {
      std::uint64_t v = 0;
      if (!varint(p, end, v, "a packed varint")) return false;
      out.push_back(static_cast<std::int64_t>(v));
    }
    return true;
  }

  static bool is_string(const Field& f) { return f.wire == kLength; }
  static bool is_varint(const Field& f) { return f.wire == kVarint; }

  bool string_pair(const Field& f, int depth, StringPairs& out) {
    auto& kv = out.emplace_back();
    return fields(f.bytes, depth, "StringStringEntryProto", [&](const Field& e) {
      if (!is_string(e)) return true;
      if (e.number == 1) kv.first = e.bytes;
      else if (e.number == 2) kv.second = e.bytes;
      return true;
    });
  }

  bool tensor(std::string_view b, int depth, Tensor& t) {
    return fields(b, depth, "TensorProto", [&](const Field& f) {
      switch (f.number) {
        case 1: return int64s(f, t.dims);
        case 2:
          if (is_varint(f)) t.data_type = static_cast<std::int32_t>(f.varint);
          return true;
        case 4: return count_fixed(f, kFixed32, 4, t.typed_entries);   // float_data
        case 5: return count_varints(f, t.typed_entries);              // int32_data
        case 7: return count_varints(f, t.typed_entries);              // int64_data
        case 10: return count_fixed(f, kFixed64, 8, t.typed_entries);  // double_data
        case 11: return count_varints(f, t.typed_entries);             // uint64_data
        case 8:
          if (is_string(f)) t.name = f.bytes;
          return true;
        case 9:  // raw_data: only its length (the last one seen wins, as in protobuf)
          if (is_string(f)) {
            t.has_raw_data = true;
            t.raw_data_bytes = f.bytes.size();
          }
          return true;
        case 13: return !is_string(f) || string_pair(f, depth + 1, t.external_data);
        case 14:
          // DataLocation enum: protobuf keeps values it does not know as unknown fields.
          if (is_varint(f)) {
            auto v = static_cast<std::int32_t>(f.varint);
            if (v == 0 || v == 1) t.external = v == 1;
          }
          return true;
        default: return true;
      }
    });
  }

  bool sparse_tensor(std::string_view b, int depth, SparseTensor& s) {
    return fields(b, depth, "SparseTensorProto", [&](const Field& f) {
      if (!is_string(f)) return true;
      if (f.number == 1) return tensor(f.bytes, depth + 1, s.values);
      if (f.number == 2) return tensor(f.bytes, depth + 1, s.indices);
      return true;
    });
  }

  bool shape(std::string_view b, int depth, std::vector<Dimension>& dims) {
    return fields(b, depth, "TensorShapeProto", [&](const Field& f) {
      if (f.number != 1 || !is_string(f)) return true;
      auto& d = dims.emplace_back();
      return fields(f.bytes, depth + 1, "TensorShapeProto.Dimension", [&](const Field& g) {
        if (g.number == 1 && is_varint(g)) {
          d.which = 1;
          d.value = static_cast<std::int64_t>(g.varint);
          d.param = {};
        } else if (g.number == 2 && is_string(g)) {
          d.which = 2;
          d.param = g.bytes;
          d.value = 0;
        }
        return true;
      });
    });
  }

  // The body of TypeProto.Tensor / SparseTensor (elem_type 1, shape 2).
  bool tensor_type(std::string_view b, int depth, Type& t) {
    return fields(b, depth, "TypeProto.Tensor", [&](const Field& f) {
      if (f.number == 1 && is_varint(f)) t.elem_type = static_cast<std::int32_t>(f.varint);
      if (f.number == 2 && is_string(f)) {
        t.has_shape = true;
        return shape(f.bytes, depth + 1, t.shape);
      }
      return true;
    });
  }

  bool type(std::string_view b, int depth, Type& t) {
    return fields(b, depth, "TypeProto", [&](const Field& f) {
      if (!is_string(f)) return true;
      switch (f.number) {
        case 1: case 4: case 5: case 7: case 8: case 9: break;
        default: return true;
      }
      // A oneof: setting another member clears the one before; the same member again merges.
      if (t.which != static_cast<int>(f.number)) {
        t.which = static_cast<int>(f.number);
        t.elem_type = 0;
        t.has_shape = false;
        t.shape.clear();
        t.inner.reset();
      }
      switch (f.number) {
        case 1:
        case 8: return tensor_type(f.bytes, depth + 1, t);
        case 4:
        case 9:
          return fields(f.bytes, depth + 1, f.number == 4 ? "TypeProto.Sequence" : "TypeProto.Optional",
                        [&](const Field& g) {
                          if (g.number != 1 || !is_string(g)) return true;
                          if (!t.inner) t.inner = std::make_unique<Type>();
                          return type(g.bytes, depth + 2, *t.inner);
                        });
        case 5:
          return fields(f.bytes, depth + 1, "TypeProto.Map", [&](const Field& g) {
            if (g.number == 1 && is_varint(g)) t.elem_type = static_cast<std::int32_t>(g.varint);
            return true;
          });
        default: return true;  // opaque
      }
    });
  }

  bool value_info(std::string_view b, int depth, ValueInfo& v) {
    return fields(b, depth, "ValueInfoProto", [&](const Field& f) {
      if (!is_string(f)) return true;
      if (f.number == 1) v.name = f.bytes;
      if (f.number == 2) {
        v.has_type = true;
        return type(f.bytes, depth + 1, v.type);
      }
      return true;
    });
  }

  bool attribute(std::string_view b, int depth, Attribute& a) {
    return fields(b, depth, "AttributeProto", [&](const Field& f) {
      switch (f.number) {
        case 1:
          if (is_string(f)) a.name = f.bytes;
          return true;
        case 3:
          if (is_varint(f)) a.i = static_cast<std::int64_t>(f.varint);
          return true;
        case 5:
          if (!is_string(f)) return true;
          a.has_t = true;
          return tensor(f.bytes, depth + 1, a.t);
        case 6:
          if (!is_string(f)) return true;
          if (!a.g) a.g = std::make_unique<Graph>();
          return graph(f.bytes, depth + 1, *a.g);
        case 10: return !is_string(f) || tensor(f.bytes, depth + 1, a.tensors.emplace_back());
        case 11: return !is_string(f) || graph(f.bytes, depth + 1, a.graphs.emplace_back());
        default: return true;
      }
    });
  }

  bool node(std::string_view b, int depth, Node& n) {
    return fields(b, depth, "NodeProto", [&](const Field& f) {
      if (!is_string(f)) return true;
      switch (f.number) {
        case 1: n.inputs.push_back(f.bytes); return true;
        case 4: n.op_type = f.bytes; return true;
        case 7: n.domain = f.bytes; return true;
        case 5: return attribute(f.bytes, depth + 1, n.attributes.emplace_back());
        default: return true;
      }
    });
  }

  bool graph(std::string_view b, int depth, Graph& g) {
    return fields(b, depth, "GraphProto", [&](const Field& f) {
      if (!is_string(f)) return true;
      switch (f.number) {
        case 1: return node(f.bytes, depth + 1, g.nodes.emplace_back());
        case 2: g.name = f.bytes; return true;
        case 5: return tensor(f.bytes, depth + 1, g.initializers.emplace_back());
        case 15: return sparse_tensor(f.bytes, depth + 1, g.sparse_initializers.emplace_back());
        case 11: return value_info(f.bytes, depth + 1, g.inputs.emplace_back());
        case 12: return value_info(f.bytes, depth + 1, g.outputs.emplace_back());
        default: return true;
      }
    });
  }
};

bool Scanner::model(std::string_view b, Model& m) {
  return fields(b, 1, "ModelProto", [&](const Field& f) {
    switch (f.number) {
      case 1:
        if (is_varint(f)) m.ir_version = static_cast<std::int64_t>(f.varint);
        return true;
      case 5:
        if (is_varint(f)) m.model_version = static_cast<std::int64_t>(f.varint);
        return true;
      default: break;
    }
    if (!is_string(f)) return true;
    switch (f.number) {
      case 2: m.producer_name = f.bytes; return true;
      case 3: m.producer_version = f.bytes; return true;
      case 4: m.domain = f.bytes; return true;
      case 7:
        m.has_graph = true;
        return graph(f.bytes, 2, m.graph);
      case 8: {
        auto& o = m.opset_imports.emplace_back();
        return fields(f.bytes, 2, "OperatorSetIdProto", [&](const Field& g) {
          if (g.number == 1 && is_string(g)) o.domain = g.bytes;
          if (g.number == 2 && is_varint(g)) o.version = static_cast<std::int64_t>(g.varint);
          return true;
        });
      }
      case 14: return string_pair(f, 2, m.metadata_props);
      case 25: {
        auto& nodes = m.function_nodes.emplace_back();
        return fields(f.bytes, 2, "FunctionProto", [&](const Field& g) {
          if (g.number != 7 || !is_string(g)) return true;
          return node(g.bytes, 3, nodes.emplace_back());
        });
      }
      default: return true;
    }
  });
}

}  // namespace

Result<Model> scan_model(std::string_view bytes, std::string_view what) {
  if (bytes.size() > kProtobufLimit)
    return failure(std::string(what) + " is " + std::to_string(bytes.size()) +
                   " bytes; protobuf cannot read one message of 2 GiB or more (store the tensors as external data)");
  if (bytes.empty()) return failure(std::string(what) + " is empty, not an ONNX model");
  Model m;
  Scanner scanner(bytes);
  if (!scanner.model(bytes, m))
    return failure(std::string(what) + " is not a valid ONNX model (truncated or corrupt: " + scanner.error() + ")");
  if (!m.has_graph) return failure(std::string(what) + " is not an ONNX model (it has no graph)");
  if (m.ir_version <= 0)
    return failure(std::string(what) + " is not an ONNX model (ir_version " + std::to_string(m.ir_version) + ")");
  return m;
}

Result<MappedFile> MappedFile::open(const std::filesystem::path& path) {
  const std::string shown = quoted(path.string());
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return failure("cannot read " + shown + ": no such file");
    return failure("cannot read " + shown + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return failure("cannot read " + shown + ": " + std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return failure("cannot read " + shown + ": is a folder, expected an .onnx file");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return failure("cannot read " + shown + ": not a regular file");
  }
  if (static_cast<std::uint64_t>(st.st_size) > kProtobufLimit) {
    ::close(fd);
    return failure(shown + " is " + std::to_string(st.st_size) +
                   " bytes; protobuf cannot read one message of 2 GiB or more (store the tensors as external data)");
  }
  MappedFile out;
  if (st.st_size > 0) {
    void* m = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return failure("cannot read " + shown + ": " + std::strerror(err));
    }
    out.data_ = m;
    out.size_ = static_cast<std::size_t>(st.st_size);
  }
  ::close(fd);
  return out;
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_) ::munmap(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

}  // namespace modelkit::onnx::wire
