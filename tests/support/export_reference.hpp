// The exporter tests' checkpoints and reference outputs: scripts/test_models/export_reference.py
// (plain torch under Debian's /usr/bin/python3) run once per content of the script, into the build
// folder; concurrent test processes race safely (each writes a temporary folder, one rename wins).
#pragma once

#include <gtest/gtest.h>

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
    std::ifstream in(script, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::uint64_t hash = 1469598103934665603ull;  // FNV-1a of the script: a new script, a new reference
    for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
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

}  // namespace modelkit::test
