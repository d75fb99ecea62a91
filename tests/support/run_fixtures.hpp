// The run/eval tests' text checkpoints: the exporter's reference checkpoints (safetensors, no ONNX)
// each given the 50-token WordPiece tokenizer.json of scripts/run_reference.py; the token
// classifier's labels L0..L2 become O, B-PER, I-PER so entities can be grouped.
#pragma once

#include "export_reference.hpp"
#include "test_support.hpp"

#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <utility>

namespace modelkit::test {

inline const std::string& run_reference_script() {
  static const std::string path =
      (std::filesystem::path(MODELKIT_SOURCE_DIR) / "scripts" / "run_reference.py").string();
  return path;
}

// Copies the named reference checkpoints into `dir` with the tokenizer; false when the reference
// or the tokenizer cannot be made.
inline bool copy_text_checkpoints(const std::filesystem::path& dir, std::initializer_list<const char*> names) {
  namespace fs = std::filesystem;
  const auto& ref = export_reference();
  if (ref.root.empty()) return false;
  auto tok = dir / "tokenizer";
  if (std::system(("/usr/bin/python3 '" + run_reference_script() + "' tokenizer '" + tok.string() + "'").c_str()) != 0)
    return false;
  for (const char* name : names) {
    fs::copy(ref.root / name, dir / name, fs::copy_options::recursive);
    fs::remove_all(dir / name / "reference");
    fs::copy_file(tok / "tokenizer.json", dir / name / "tokenizer.json");
    if (std::string(name) != "bert-tokcls") continue;
    auto cfg = read_text(dir / name / "config.json");
    using Rename = std::pair<std::string, std::string>;
    for (const auto& [from, to] : {Rename{"\"L0\"", "\"O\""}, Rename{"\"L1\"", "\"B-PER\""}, Rename{"\"L2\"", "\"I-PER\""}})
      for (auto at = cfg.find(from); at != std::string::npos; at = cfg.find(from)) cfg.replace(at, from.size(), to);
    write_file(dir / name / "config.json", cfg);
  }
  return true;
}

}  // namespace modelkit::test
