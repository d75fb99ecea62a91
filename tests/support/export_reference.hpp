// The exporter tests' checkpoints and reference outputs: scripts/test_models/export_reference.py
// (plain torch under Debian's /usr/bin/python3) run once per content of the script, into the build
// folder; concurrent test processes race safely (each writes a temporary folder, one rename wins).
#pragma once

#include <modelkit/runtime.hpp>
#include <modelkit/tensor.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <cmath>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace modelkit::test {

struct ReferenceCase {
  std::string name;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
};

struct ExportReference {
  std::filesystem::path root;  // holds one folder per case
  std::vector<ReferenceCase> cases;
  std::vector<ReferenceCase> vision_cases;  // vision_cases.txt: pixel_values in
};

inline std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) out.push_back(part);
  return out;
}

// Generates (or reuses) the reference; fails the calling test when python or torch is missing.
inline const ExportReference& export_reference() {
  static ExportReference ref = [] {
    namespace fs = std::filesystem;
    const fs::path script = fs::path(MODELKIT_SOURCE_DIR) / "scripts" / "test_models" / "export_reference.py";
    // FNV-1a of the script and the family modules it imports (export_reference_*.py): a new script, a
    // new reference.
    std::vector<fs::path> parts = {script};
    std::vector<fs::path> modules;
    for (const auto& e : fs::directory_iterator(script.parent_path())) {
      const auto name = e.path().filename().string();
      if (name.starts_with("export_reference_") && name.ends_with(".py")) modules.push_back(e.path());
    }
    std::sort(modules.begin(), modules.end());
    parts.insert(parts.end(), modules.begin(), modules.end());
    std::uint64_t hash = 1469598103934665603ull;
    for (const auto& part : parts) {
      std::ifstream in(part, std::ios::binary);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
    }
    const fs::path base = fs::path(MODELKIT_BINARY_DIR) / "test-data";
    const fs::path dir = base / ("export-reference-" + std::to_string(hash));
    if (!fs::exists(dir / "cases.txt")) {
      fs::create_directories(base);
      const fs::path tmp = base / ("export-reference.tmp-" + std::to_string(::getpid()));
      fs::remove_all(tmp);
      std::string cmd = "/usr/bin/python3 '" + script.string() + "' '" + tmp.string() + "' > '" + tmp.string() +
                        ".log' 2>&1";
      int rc = std::system(cmd.c_str());
      if (rc != 0) {
        std::ifstream log(tmp.string() + ".log");
        std::string msg((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
        ADD_FAILURE() << "the export reference failed (needs Debian's python3-torch and python3-numpy): " << msg;
        return ExportReference{};
      }
      std::error_code ec;
      fs::rename(tmp, dir, ec);  // another process may have won the race: its copy is the same
      fs::remove_all(tmp, ec);
      fs::remove(tmp.string() + ".log", ec);
    }
    ExportReference r;
    r.root = dir;
    auto read_cases = [&](const char* file, std::vector<ReferenceCase>& into) {
      std::ifstream list(dir / file);
      for (std::string line; std::getline(list, line);) {
        std::stringstream fields(line);
        std::string name, ins, outs;
        fields >> name >> ins >> outs;
        if (!name.empty()) into.push_back({name, split_commas(ins), split_commas(outs)});
      }
    };
    read_cases("cases.txt", r.cases);
    read_cases("vision_cases.txt", r.vision_cases);
    return r;
  }();
  return ref;
}

// An export matches its torch reference within this, float32 (max absolute error).
inline constexpr float kExportParityTolerance = 1e-4f;

inline const ReferenceCase* find_reference_case(const std::vector<ReferenceCase>& cases, const std::string& name) {
  for (const auto& c : cases)
    if (c.name == name) return &c;
  return nullptr;
}

// One array the reference script wrote: a text line "f32|i64 dim..." then the raw little-endian values.
inline Tensor read_reference_array(const std::filesystem::path& path, const std::string& name) {
  std::ifstream in(path, std::ios::binary);
  std::string header;
  std::getline(in, header);
  std::stringstream h(header);
  std::string kind;
  h >> kind;
  Tensor t;
  t.name = name;
  t.type = kind == "i64" ? ElementType::int64 : ElementType::float32;
  for (std::int64_t d; h >> d;) t.shape.push_back(d);
  t.bytes.resize(t.element_count() * (kind == "i64" ? 8 : 4));
  in.read(reinterpret_cast<char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
  EXPECT_TRUE(in.good()) << path;
  return t;
}

inline float max_abs_error(const Tensor& got, const Tensor& want) {
  auto g = got.values<float>();
  auto w = want.values<float>();
  float worst = 0;
  for (std::size_t i = 0; i < w.size(); ++i) worst = std::max(worst, std::abs(g[i] - w[i]));
  return worst;
}

// Runs the exported model on each of the case's reference batches: the session's input and output
// names must be the case's, and every output within kExportParityTolerance of the reference.
// `batches` gets how many batches ran (callers check their case's count); with `input_type`, every
// input must have that element type.
inline void expect_reference_parity(const std::filesystem::path& model_path, const ReferenceCase& c,
                                    const std::filesystem::path& case_dir, int& batches,
                                    std::optional<ElementType> input_type = std::nullopt) {
  namespace fs = std::filesystem;
  batches = 0;
  auto session = runtime::Session::open(model_path);
  ASSERT_TRUE(session.ok()) << session.error().message;
  std::vector<std::string> input_names, output_names;
  for (const auto& i : session->inputs()) input_names.push_back(i.name);
  for (const auto& o : session->outputs()) output_names.push_back(o.name);
  EXPECT_EQ(input_names, c.inputs);
  EXPECT_EQ(output_names, c.outputs);
  if (input_type) {
    for (const auto& i : session->inputs()) EXPECT_EQ(i.type, *input_type) << i.name;
  }
  for (const auto& batch : fs::directory_iterator(case_dir / "reference")) {
    ++batches;
    std::vector<Tensor> inputs;
    for (const auto& n : c.inputs) inputs.push_back(read_reference_array(batch.path() / (n + ".bin"), n));
    auto outputs = session->run(inputs, c.outputs);
    ASSERT_TRUE(outputs.ok()) << outputs.error().message;
    for (std::size_t k = 0; k < c.outputs.size(); ++k) {
      auto want = read_reference_array(batch.path() / (c.outputs[k] + ".bin"), c.outputs[k]);
      const auto& got = (*outputs)[k];
      ASSERT_EQ(got.shape, want.shape) << c.name << " " << c.outputs[k];
      EXPECT_LE(max_abs_error(got, want), kExportParityTolerance)
          << c.name << " " << batch.path().filename() << " " << c.outputs[k];
    }
  }
}

}  // namespace modelkit::test
