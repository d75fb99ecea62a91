// The embedded default calibration text: data/text/default_text.txt (written for modelkit; see
// data/text/README.md and scripts/make_default_text.py), compiled in with the assembler's
// .incbin. Varied on purpose: activation ranges come from what the model sees, so it mixes
// domains, lengths from one word to a paragraph, digits and units, code, and some thirty
// languages in a dozen scripts.
#include <modelkit/calib_sources.hpp>

#include <string_view>

#ifndef MODELKIT_TEXT_DATA_FILE
#error "MODELKIT_TEXT_DATA_FILE must name data/text/default_text.txt (src/calib/CMakeLists.txt)"
#endif

__asm__(".section .rodata\n"
        ".global modelkit_default_text_start\n.hidden modelkit_default_text_start\n"
        "modelkit_default_text_start:\n"
        ".incbin \"" MODELKIT_TEXT_DATA_FILE "\"\n"
        ".global modelkit_default_text_end\n.hidden modelkit_default_text_end\n"
        "modelkit_default_text_end:\n"
        ".previous\n");
extern "C" const char modelkit_default_text_start[];
extern "C" const char modelkit_default_text_end[];

namespace modelkit::calib {
namespace {

// One sample per line; backslash escapes \n (line break, for code), \t and \\ inside a line.
std::string unescape(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] != '\\' || i + 1 == line.size()) {
      out.push_back(line[i]);
      continue;
    }
    char next = line[++i];
    out.push_back(next == 'n' ? '\n' : next == 't' ? '\t' : next);
  }
  return out;
}

}  // namespace

std::vector<std::string> default_texts() {
  std::string_view all(modelkit_default_text_start,
                       static_cast<std::size_t>(modelkit_default_text_end - modelkit_default_text_start));
  std::vector<std::string> out;
  while (!all.empty()) {
    auto nl = all.find('\n');
    auto line = all.substr(0, nl);
    all.remove_prefix(nl == std::string_view::npos ? all.size() : nl + 1);
    if (!line.empty()) out.push_back(unescape(line));
  }
  return out;
}

}  // namespace modelkit::calib
