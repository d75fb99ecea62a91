#include "export/weights.hpp"

#include "util/file.hpp"
#include "util/json_read.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace modelkit::exporter {
namespace fs = std::filesystem;

namespace {

float half_to_float(std::uint16_t h) {
  std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  std::uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | static_cast<std::uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ffu) << 13;
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// A read-only mapping of one safetensors file and the entries of its header.
struct MappedFile {
  fs::path path;
  const unsigned char* base = nullptr;
  std::size_t size = 0;
  std::uint64_t data_start = 0;
  int fd = -1;  // kept open for f32_file_range (in-kernel copies)
  ~MappedFile() {
    if (base) ::munmap(const_cast<unsigned char*>(base), size);
    if (fd >= 0) ::close(fd);
  }
};

struct Entry {
  TensorInfo info;
  std::uint64_t begin = 0, end = 0;
  std::size_t file = 0;
};

class SafetensorsWeights final : public WeightSource {
 public:
  std::optional<TensorInfo> find(const std::string& name) const override {
    auto it = entries_.find(name);
    if (it == entries_.end()) return std::nullopt;
    return it->second.info;
  }

  Result<void> read(const std::string& name, Init, std::span<float> out) const override {
    auto it = entries_.find(name);
    if (it == entries_.end()) return failure("tensor " + quoted(name) + " is missing");
    const auto& e = it->second;
    const auto& file = *files_[e.file];
    const unsigned char* p = file.base + file.data_start + e.begin;
    std::uint64_t bytes = e.end - e.begin;
    const auto& dtype = e.info.dtype;
    std::uint64_t width = dtype == "F32" ? 4 : 2;
    if (bytes != out.size() * width)
      return failure("tensor " + quoted(name) + ": holds " + std::to_string(bytes) + " bytes, expected " +
                     std::to_string(out.size() * width));
    if (dtype == "F32") {
      std::memcpy(out.data(), p, bytes);
    } else if (dtype == "F16") {
      for (std::size_t i = 0; i < out.size(); ++i) {
        std::uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = half_to_float(h);
      }
    } else if (dtype == "BF16") {
      for (std::size_t i = 0; i < out.size(); ++i) {
        std::uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
        std::memcpy(&out[i], &bits, 4);
      }
    } else {
      return failure("tensor " + quoted(name) + " in " + quoted(file.path.filename().string()) + " has dtype " +
                     dtype + "; export reads F32, F16 and BF16 weights");
    }
    release(p, bytes);
    return {};
  }

  Result<bool> write_f32(const std::string& name,
                         const std::function<Result<void>(const void*, std::size_t)>& sink) const override {
    auto it = entries_.find(name);
    if (it == entries_.end() || it->second.info.dtype != "F32") return false;
    const auto& e = it->second;
    const unsigned char* p = files_[e.file]->base + files_[e.file]->data_start + e.begin;
    MODELKIT_TRY_VOID(sink(p, e.end - e.begin));
    release(p, e.end - e.begin);
    return true;
  }

  std::optional<FileRange> f32_file_range(const std::string& name) const override {
    auto it = entries_.find(name);
    if (it == entries_.end() || it->second.info.dtype != "F32") return std::nullopt;
    const auto& e = it->second;
    const auto& file = *files_[e.file];
    return FileRange{file.fd, file.data_start + e.begin, e.end - e.begin};
  }

  Result<bool> visit_f32(const std::string& name,
                         const std::function<Result<void>(const float*, std::size_t)>& use) const override {
    auto it = entries_.find(name);
    if (it == entries_.end() || it->second.info.dtype != "F32") return false;
    const auto& e = it->second;
    const unsigned char* p = files_[e.file]->base + files_[e.file]->data_start + e.begin;
    if (reinterpret_cast<std::uintptr_t>(p) % alignof(float) != 0 || (e.end - e.begin) % sizeof(float) != 0)
      return false;
    MODELKIT_TRY_VOID(use(reinterpret_cast<const float*>(p), (e.end - e.begin) / sizeof(float)));
    release(p, e.end - e.begin);
    return true;
  }

  WeightsSummary summary() const override { return summary_; }

  // The pages were read once; let the kernel drop them so resident memory stays one tensor deep.
  static void release(const unsigned char* p, std::uint64_t bytes) {
    auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    auto first = reinterpret_cast<std::uintptr_t>(p) & ~(page - 1);
    auto last = reinterpret_cast<std::uintptr_t>(p + bytes);
    if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
  }

  Result<void> add_file(const fs::path& path) {
    auto file = std::make_unique<MappedFile>();
    file->path = path;
    const auto ctx = quoted(path.string());
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return failure("cannot read " + ctx + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return failure("cannot read " + ctx + ": not a regular file");
    }
    file->size = static_cast<std::size_t>(st.st_size);
    if (file->size < 8) {
      ::close(fd);
      return failure(ctx + ": " + std::to_string(file->size) + " bytes, too short for a safetensors header");
    }
    file->fd = fd;
    void* m = ::mmap(nullptr, file->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) return failure("cannot map " + ctx + ": " + std::strerror(errno));
    file->base = static_cast<const unsigned char*>(m);
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | file->base[i];
    if (n > file->size - 8)
      return failure(ctx + ": header length " + std::to_string(n) + " is larger than the file (" +
                     std::to_string(file->size) + " bytes)");
    if (n > kMaxSafetensorsHeader)
      return failure(ctx + ": header length " + std::to_string(n) + " exceeds the 100 MB safetensors limit");
    file->data_start = 8 + n;
    // The header is validated as mapped (dtypes, shapes, offsets inside this mapping: a truncated
    // file fails here, no overlaps), so the entries read below cannot point outside it.
    std::string_view mapped_header(reinterpret_cast<const char*>(file->base) + 8, n);
    MODELKIT_TRY_CTX(auto header_summary, parse_safetensors_header(mapped_header, file->size - 8 - n), ctx);
    header_summary.files.push_back(path.filename().string());
    merge(header_summary);
    simdjson::dom::parser parser;
    MODELKIT_TRY_CTX(auto doc, util::parse_json(parser, mapped_header), ctx);
    simdjson::dom::object root;
    if (doc.get_object().get(root) != simdjson::SUCCESS) return failure(quoted(path.string()) + ": header is not an object");
    std::size_t index = files_.size();
    for (auto [key, value] : root) {
      if (key == "__metadata__") continue;
      Entry e;
      e.file = index;
      std::string_view dtype;
      static_cast<void>(value["dtype"].get_string().get(dtype) == simdjson::SUCCESS);
      e.info.dtype = dtype;
      simdjson::dom::array shape;
      static_cast<void>(value["shape"].get_array().get(shape) == simdjson::SUCCESS);
      for (auto d : shape) {
        std::int64_t v = 0;
        static_cast<void>(d.get_int64().get(v) == simdjson::SUCCESS);
        e.info.shape.push_back(v);
      }
      simdjson::dom::array offsets;
      static_cast<void>(value["data_offsets"].get_array().get(offsets) == simdjson::SUCCESS);
      static_cast<void>(offsets.at(0).get_uint64().get(e.begin) == simdjson::SUCCESS);
      static_cast<void>(offsets.at(1).get_uint64().get(e.end) == simdjson::SUCCESS);
      std::string name(key);
      if (entries_.count(name))
        return failure("tensor " + quoted(name) + " appears in " + quoted(files_[entries_[name].file]->path.filename().string()) +
                       " and " + quoted(path.filename().string()));
      entries_.emplace(std::move(name), std::move(e));
    }
    files_.push_back(std::move(file));
    return {};
  }

 private:
  void merge(const WeightsSummary& s) {
    summary_.tensors += s.tensors;
    summary_.parameters += s.parameters;
    summary_.bytes += s.bytes;
    summary_.files.insert(summary_.files.end(), s.files.begin(), s.files.end());
    for (const auto& d : s.dtypes) {
      auto it = std::find_if(summary_.dtypes.begin(), summary_.dtypes.end(),
                             [&](const DtypeStats& x) { return x.dtype == d.dtype; });
      if (it == summary_.dtypes.end()) {
        summary_.dtypes.push_back(d);
      } else {
        it->tensors += d.tensors;
        it->parameters += d.parameters;
        it->bytes += d.bytes;
      }
    }
    std::sort(summary_.dtypes.begin(), summary_.dtypes.end(),
              [](const DtypeStats& a, const DtypeStats& b) { return a.dtype < b.dtype; });
  }

  std::vector<std::unique_ptr<MappedFile>> files_;
  std::map<std::string, Entry> entries_;
  WeightsSummary summary_;
};

// splitmix64: a per-tensor seed from the export seed and the tensor's name, so a tensor's values do
// not depend on the order tensors are written in.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

bool convertible_dtype(std::string_view dtype) { return dtype == "F32" || dtype == "F16" || dtype == "BF16"; }

Result<std::unique_ptr<WeightSource>> open_safetensors(const fs::path& folder) {
  auto source = std::make_unique<SafetensorsWeights>();
  std::error_code ec;
  auto index = folder / "model.safetensors.index.json";
  std::vector<fs::path> files;
  if (fs::is_regular_file(index, ec)) {
    MODELKIT_TRY(auto text, util::read_file(index, 64u << 20));
    simdjson::dom::parser parser;
    MODELKIT_TRY_CTX(auto doc, util::parse_json(parser, text), quoted(index.string()));
    simdjson::dom::object weight_map;
    if (doc["weight_map"].get_object().get(weight_map) != simdjson::SUCCESS)
      return failure(quoted(index.string()) + ": missing object field 'weight_map'");
    std::vector<std::string> shards;
    for (auto [tensor, file] : weight_map) {
      std::string_view name;
      if (file.get_string().get(name) != simdjson::SUCCESS || name.empty() || name.find('/') != std::string_view::npos ||
          name.find('\\') != std::string_view::npos || name == "." || name == "..")
        return failure(quoted(index.string()) + ": weight_map[" + quoted(tensor) + "] is not a file name inside the folder");
      if (std::find(shards.begin(), shards.end(), name) == shards.end()) shards.emplace_back(name);
    }
    std::sort(shards.begin(), shards.end());
    for (const auto& s : shards) files.push_back(folder / s);
  } else {
    for (const auto& entry : fs::directory_iterator(folder, ec))
      if (entry.path().extension() == ".safetensors" && entry.is_regular_file(ec)) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
  }
  if (files.empty()) {
    for (const char* bin : {"pytorch_model.bin", "pytorch_model.bin.index.json", "model.bin", "tf_model.h5"})
      if (fs::exists(folder / bin, ec))
        return failure(quoted(folder.string()) + " has " + bin +
                       " but no model.safetensors: export reads safetensors weights only (modelkit never unpickles); "
                       "convert the checkpoint to safetensors, or pass an ONNX model with --onnx FILE");
    return failure(quoted(folder.string()) +
                   " has no *.safetensors weights (pass --random-weights to export the architecture with random weights)");
  }
  for (const auto& f : files) MODELKIT_TRY_VOID(source->add_file(f));
  return std::unique_ptr<WeightSource>(std::move(source));
}

std::optional<TensorInfo> RandomWeights::find(const std::string& name) const {
  auto it = shapes_.find(name);
  if (it == shapes_.end()) return std::nullopt;
  return TensorInfo{"F32", it->second};
}

Result<void> RandomWeights::read(const std::string& name, Init init, std::span<float> out) const {
  switch (init) {
    case Init::zeros: std::fill(out.begin(), out.end(), 0.0f); return {};
    case Init::ones: std::fill(out.begin(), out.end(), 1.0f); return {};
    case Init::normal: break;
  }
  std::uint64_t state = mix(seed_);
  for (unsigned char c : name) state = mix(state ^ c);
  // Box-Muller on a splitmix64 stream: deterministic across platforms and standard libraries
  // (std::normal_distribution is neither), and fast enough for billions of values.
  auto next_unit = [&state]() {
    state += 0x9e3779b97f4a7c15ull;
    return (static_cast<double>(mix(state) >> 11) + 0.5) * 0x1.0p-53;  // (0, 1)
  };
  constexpr double kTwoPi = 6.283185307179586;
  for (std::size_t i = 0; i < out.size(); i += 2) {
    double radius = std::sqrt(-2.0 * std::log(next_unit())) * stddev_;
    double angle = kTwoPi * next_unit();
    out[i] = static_cast<float>(radius * std::cos(angle));
    if (i + 1 < out.size()) out[i + 1] = static_cast<float>(radius * std::sin(angle));
  }
  return {};
}

}  // namespace modelkit::exporter
