// The small ONNX models of scripts/test_models/export_honour_models.py (not Hugging Face
// exports: a KV-cache decoder, NHWC and NCHW image models, an opset-9 model). Setup exports them
// into .deps/models; where it has not (a fresh checkout, an older .deps), the tests export them
// once into the build folder with Debian's python3-torch.
#pragma once

#include "test_support.hpp"

#include <cstdlib>
#include <unistd.h>

namespace modelkit::test {

inline fs::path exported_model(const std::string& name) {
  auto in_deps = fs::path(MODELKIT_DEPS_DIR) / "models" / name / "model.onnx";
  if (fs::exists(in_deps)) return in_deps;
  auto root = fs::path(MODELKIT_BINARY_DIR) / "test-models";
  auto path = root / name / "model.onnx";
  if (fs::exists(path)) return path;
  // Exported beside, then renamed: test processes running in parallel may race here.
  auto work = root / (".export-" + name + "-" + std::to_string(::getpid()));
  fs::create_directories(work);
  std::string cmd = "/usr/bin/python3 '" + (fs::path(MODELKIT_SOURCE_DIR) / "scripts" / "test_models" /
                                            "export_honour_models.py").string() +
                    "' '" + work.string() + "' " + name + " >/dev/null 2>&1";
  int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << cmd;
  std::error_code ec;
  fs::rename(work / name, root / name, ec);  // loses to a racing process: its copy is as good
  fs::remove_all(work, ec);
  EXPECT_TRUE(fs::exists(path)) << path;
  return path;
}

}  // namespace modelkit::test
