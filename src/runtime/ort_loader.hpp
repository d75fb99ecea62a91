// ONNX Runtime is opened with dlopen on first use, not linked: a command that never runs a model
// (inspect, config, tokenize, export, build --dry-run) never maps its ~45 MB.
//
// Where it is looked for: the path in MODELKIT_ONNXRUNTIME_LIBRARY when that is set (and only
// there); else libonnxruntime.so.1 through the dynamic loader's search (the RUNPATH of the
// binary, which the build gives the build tree's copy and the install gives the copy installed
// beside the CLI; LD_LIBRARY_PATH; the system's folders); else the library the build was
// configured with, by its absolute path.
#pragma once

#include <modelkit/result.hpp>

#include <string>

struct OrtApi;

namespace modelkit::runtime {

// Loads the library once per process and initialises ORT's C++ API with it; later calls give
// the same answer (a failure included). Errors are one line naming the paths tried.
[[nodiscard]] Result<const OrtApi*> load_onnxruntime();

// The loaded library's version ("1.30.0"); loads it.
[[nodiscard]] Result<std::string> loaded_onnxruntime_version();

}  // namespace modelkit::runtime
