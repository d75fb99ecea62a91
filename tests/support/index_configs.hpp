// tests/data/configs/INDEX.tsv: real config.json files of public checkpoints with the
// resolution the spec requires when read from a folder with the model id known.
#pragma once

#include "test_support.hpp"

#include <sstream>

namespace modelkit::test {

struct IndexedConfig {
  std::string file;
  std::optional<std::string> model_id;
  std::string model_type;
  std::optional<std::string> want_task;  // nullopt: unresolved
  std::string want_source;
};

// gtest prints a failing case's parameter with this (else as "176-byte object <...>").
inline void PrintTo(const IndexedConfig& c, std::ostream* os) { *os << c.file; }

inline std::vector<IndexedConfig> indexed_configs() {
  std::vector<IndexedConfig> out;
  std::istringstream in(read_text(data_dir() / "configs" / "INDEX.tsv"));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string col;
    while (std::getline(ss, col, '\t')) cols.push_back(col);
    if (cols.size() < 7) continue;
    IndexedConfig c;
    c.file = cols[0];
    if (cols[1] != "-") c.model_id = cols[1];
    c.model_type = cols[2];
    if (cols[5] != "-") c.want_task = cols[5];
    c.want_source = cols[6];
    out.push_back(std::move(c));
  }
  return out;
}

// A test-safe name for a parameterised test.
inline std::string test_name(std::string s) {
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

}  // namespace modelkit::test
