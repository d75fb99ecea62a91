// libFuzzer target: model.safetensors.index.json bytes, read by summarize_weights from a
// scratch folder that also holds two small valid shards (so an index naming them goes on to
// read their headers). Never crashes; errors are single lines; a summary adds up.
#include "fuzz_check.hpp"

#include <modelkit/safetensors.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

void write_bytes(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  MODELKIT_FUZZ_REQUIRE(out.good());
}

void write_shard(const fs::path& path, std::string_view header, std::size_t data_bytes) {
  std::string file(8, '\0');
  std::uint64_t n = header.size();
  std::memcpy(file.data(), &n, 8);
  file.append(header);
  file.append(data_bytes, '\0');
  write_bytes(path, file);
}

// One scratch folder per fuzzing process, removed at exit.
const fs::path& scratch_folder() {
  static const fs::path folder = [] {
    std::string templ = (fs::temp_directory_path() / "modelkit-fuzz-index-XXXXXX").string();
    MODELKIT_FUZZ_REQUIRE(mkdtemp(templ.data()) != nullptr);
    fs::path dir(templ);
    write_shard(dir / "model-00001-of-00002.safetensors",
                R"({"a.weight": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}})", 24);
    write_shard(dir / "model-00002-of-00002.safetensors",
                R"({"__metadata__": {"format": "pt"}, "b.bias": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]}})",
                8);
    std::atexit([] { std::error_code ec; fs::remove_all(scratch_folder(), ec); });
    return dir;
  }();
  return folder;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& dir = scratch_folder();
  write_bytes(dir / "model.safetensors.index.json", std::string_view(reinterpret_cast<const char*>(data), size));
  auto summary = modelkit::summarize_weights(dir);
  if (!modelkit::fuzz::check(summary)) return 0;
  std::uint64_t tensors = 0, bytes = 0;
  for (const auto& d : summary->dtypes) {
    tensors += d.tensors;
    bytes += d.bytes;
  }
  MODELKIT_FUZZ_REQUIRE(tensors == summary->tensors && bytes == summary->bytes);
  return 0;
}
