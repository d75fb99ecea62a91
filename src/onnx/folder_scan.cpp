#include <modelkit/onnx.hpp>

#include "onnx/onnx_json.hpp"
#include "util/json_writer.hpp"

#include <algorithm>
#include <array>
#include <system_error>

namespace modelkit::onnx {
namespace fs = std::filesystem;

namespace {

struct VariantSuffix {
  std::string_view suffix;
  OnnxVariant variant;
};

// Matched on the end of the file stem; none of these is a suffix of another.
constexpr std::array<VariantSuffix, 7> kVariantSuffixes = {{
    {"_quantized", OnnxVariant::quantized},
    {"_q4f16", OnnxVariant::q4f16},
    {"_int8", OnnxVariant::int8},
    {"_uint8", OnnxVariant::uint8},
    {"_bnb4", OnnxVariant::bnb4},
    {"_fp16", OnnxVariant::fp16},
    {"_q4", OnnxVariant::q4},
}};

struct VariantName {
  OnnxVariant variant;
  std::string_view name;
  bool quantized;
};
constexpr std::array<VariantName, 8> kVariantNames = {{
    {OnnxVariant::float32, "float32", false},
    {OnnxVariant::fp16, "fp16", false},
    {OnnxVariant::quantized, "quantized", true},
    {OnnxVariant::int8, "int8", true},
    {OnnxVariant::uint8, "uint8", true},
    {OnnxVariant::q4, "q4", true},
    {OnnxVariant::q4f16, "q4f16", true},
    {OnnxVariant::bnb4, "bnb4", true},
}};

void classify(OnnxFile& f, std::string_view stem) {
  for (const auto& s : kVariantSuffixes) {
    if (stem.size() > s.suffix.size() && stem.ends_with(s.suffix)) {
      f.variant = s.variant;
      f.stem = std::string(stem.substr(0, stem.size() - s.suffix.size()));
      return;
    }
  }
  f.variant = OnnxVariant::float32;
  f.stem = std::string(stem);
}

}  // namespace

std::string_view variant_name(OnnxVariant v) {
  for (const auto& n : kVariantNames)
    if (n.variant == v) return n.name;
  return "unknown";
}

bool variant_is_quantized(OnnxVariant v) {
  for (const auto& n : kVariantNames)
    if (n.variant == v) return n.quantized;
  return false;
}

Result<std::vector<OnnxFile>> scan_folder(const fs::path& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    return failure("cannot list '" + folder.string() + "': not a folder");
  std::vector<OnnxFile> files;
  for (std::string_view sub : {"", "onnx"}) {
    fs::path dir = sub.empty() ? folder : folder / sub;
    if (!sub.empty() && !fs::is_directory(dir, ec)) continue;
    fs::directory_iterator it(dir, ec), end;
    if (ec) return failure("cannot list '" + dir.string() + "': " + ec.message());
    for (; it != end; it.increment(ec)) {
      if (ec) return failure("cannot list '" + dir.string() + "': " + ec.message());
      const auto& p = it->path();
      if (p.extension() != ".onnx" || !it->is_regular_file(ec)) continue;
      OnnxFile f;
      f.path = p;
      f.relative_path = sub.empty() ? p.filename().string() : std::string(sub) + "/" + p.filename().string();
      classify(f, p.stem().string());
      files.push_back(std::move(f));
    }
  }
  std::sort(files.begin(), files.end(),
            [](const OnnxFile& a, const OnnxFile& b) { return a.relative_path < b.relative_path; });

  // The float model: model.onnx at the top, else onnx/model.onnx, else the only float32-named file.
  OnnxFile* chosen = nullptr;
  for (const char* wanted : {"model.onnx", "onnx/model.onnx"}) {
    for (auto& f : files)
      if (!chosen && f.relative_path == wanted) chosen = &f;
  }
  if (!chosen) {
    std::vector<OnnxFile*> float_files;
    for (auto& f : files)
      if (f.variant == OnnxVariant::float32) float_files.push_back(&f);
    if (float_files.size() == 1) chosen = float_files.front();
  }
  if (chosen) chosen->is_float_model = true;
  return files;
}

Result<fs::path> resolve_model_path(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return failure("'" + path.string() + "' does not exist");
  if (!fs::is_directory(path, ec)) return path;
  MODELKIT_TRY(auto files, scan_folder(path));
  for (const auto& f : files)
    if (f.is_float_model) return f.path;
  if (files.empty())
    return failure("no .onnx file in '" + path.string() + "' or its onnx/ folder");
  std::string listed;
  for (const auto& f : files) listed += (listed.empty() ? "" : ", ") + f.relative_path;
  return failure("no float model (model.onnx) in '" + path.string() + "'; it holds " + listed +
                 ": name the file to use");
}

void write_onnx_files_json(util::JsonWriter& json, const std::vector<OnnxFile>& files) {
  json.begin_array();
  for (const auto& f : files) {
    json.begin_object();
    json.field("path", f.relative_path);
    json.field("variant", variant_name(f.variant));
    json.field("is_float_model", f.is_float_model);
    json.end_object();
  }
  json.end_array();
}

}  // namespace modelkit::onnx
