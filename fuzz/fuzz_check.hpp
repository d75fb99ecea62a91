// Invariants every fuzz target checks on a parser's error: a message exists and is one line
// (the CLI prints it as `modelkit: <message>`, so a newline from a quoted value would break
// that contract). A violation aborts, which libFuzzer reports as a crash with the input.
#pragma once

#include <modelkit/result.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

// Aborts with the failed condition printed, so a crash report says which invariant broke.
#define MODELKIT_FUZZ_REQUIRE(cond)                                                         \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

namespace modelkit::fuzz {

inline void check_error(const Error& error) {
  if (error.message.empty() || error.message.find_first_of("\n\r") != std::string::npos) {
    std::string shown;
    for (char c : error.message) shown += c == '\n' ? std::string("\\n") : c == '\r' ? std::string("\\r") : std::string(1, c);
    std::fprintf(stderr, "invariant failed: error message is not one non-empty line: \"%s\"\n", shown.c_str());
    std::abort();
  }
}

template <class T>
inline bool check(const Result<T>& result) {
  if (!result.ok()) check_error(result.error());
  return result.ok();
}

}  // namespace modelkit::fuzz
