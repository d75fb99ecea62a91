#include "runtime/ort_loader.hpp"

// Every use of ORT's C++ API in modelkit goes through the OrtApi this file hands it.
#define ORT_API_MANUAL_INIT
#include <onnxruntime_cxx_api.h>

#include <cstdlib>
#include <dlfcn.h>
#include <link.h>

namespace modelkit::runtime {
namespace {

constexpr const char* kSoname = "libonnxruntime.so.1";
constexpr const char* kLibraryVariable = "MODELKIT_ONNXRUNTIME_LIBRARY";

struct Loaded {
  const OrtApiBase* base = nullptr;
  const OrtApi* api = nullptr;
};

std::string dl_error() {
  const char* e = ::dlerror();
  std::string text = e ? e : "unknown error";
  for (auto& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  return text;
}

// The file a handle was loaded from (the loader's search picks it for a bare soname).
std::string loaded_path(void* handle, const std::string& asked) {
  link_map* map = nullptr;
  if (::dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name && *map->l_name) return map->l_name;
  return asked;
}

Result<Loaded> open_library() {
  void* handle = nullptr;
  std::string asked;
  if (const char* named = std::getenv(kLibraryVariable); named && *named) {
    asked = named;
    handle = ::dlopen(named, RTLD_NOW | RTLD_LOCAL);
    if (!handle)
      return failure("cannot load ONNX Runtime from " + quoted(asked) + " (named by " + kLibraryVariable +
                     "): " + dl_error());
  } else {
    asked = kSoname;
    handle = ::dlopen(kSoname, RTLD_NOW | RTLD_LOCAL);
    std::string first_error;
    if (!handle) first_error = dl_error();
#ifdef MODELKIT_ONNXRUNTIME_BUILD_LIBRARY
    if (!handle) {
      asked = MODELKIT_ONNXRUNTIME_BUILD_LIBRARY;
      handle = ::dlopen(MODELKIT_ONNXRUNTIME_BUILD_LIBRARY, RTLD_NOW | RTLD_LOCAL);
      if (!handle)
        return failure("cannot load ONNX Runtime: " + std::string(kSoname) +
                       " is not in the binary's RUNPATH, LD_LIBRARY_PATH or the system's library folders (" +
                       first_error + "), and " + quoted(asked) + " (where the build found it) failed: " + dl_error() +
                       "; set " + kLibraryVariable + " to the library's path");
    }
#endif
    if (!handle)
      return failure("cannot load ONNX Runtime: " + first_error + "; set " + kLibraryVariable +
                     " to the library's path");
  }
  const std::string path = loaded_path(handle, asked);
  ::dlerror();
  auto get_base = reinterpret_cast<const OrtApiBase* (*)()>(::dlsym(handle, "OrtGetApiBase"));
  if (!get_base) return failure(quoted(path) + " is not ONNX Runtime (it has no OrtGetApiBase): " + dl_error());
  Loaded out;
  out.base = get_base();
  if (!out.base) return failure(quoted(path) + " is not a working ONNX Runtime (OrtGetApiBase returned nothing)");
  out.api = out.base->GetApi(ORT_API_VERSION);
  if (!out.api)
    return failure("ONNX Runtime " + std::string(out.base->GetVersionString()) + " at " + quoted(path) +
                   " is older than the 1." + std::to_string(ORT_API_VERSION) +
                   " modelkit was built against; use that version or newer");
  // Kept loaded for the life of the process (ORT's environment lives until exit).
  Ort::InitApi(out.api);
  return out;
}

const Result<Loaded>& library() {
  static const Result<Loaded> loaded = open_library();
  return loaded;
}

}  // namespace

Result<const OrtApi*> load_onnxruntime() {
  const auto& loaded = library();
  if (!loaded.ok()) return loaded.error();
  return loaded.value().api;
}

Result<std::string> loaded_onnxruntime_version() {
  const auto& loaded = library();
  if (!loaded.ok()) return loaded.error();
  return std::string(loaded.value().base->GetVersionString());
}

}  // namespace modelkit::runtime
