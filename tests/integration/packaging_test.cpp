// 'modelkit --version' through the real CLI, against references outside the code that prints it:
// the project() version in CMakeLists.txt, the registry's sources, the ONNX Runtime library this
// test process loads, and ORT_API_VERSION of the headers this test is compiled with.
// (Install + find_package: ctest 'packaging_find_package_consumer', tests/packaging.cmake.)
#include "test_support.hpp"

#include <modelkit/registry.hpp>
#include <modelkit/runtime.hpp>

#include <onnxruntime_c_api.h>

#include <gmock/gmock.h>

#include <regex>

namespace modelkit::test {
namespace {

std::string project_version() {
  auto cmake = read_text(fs::path(MODELKIT_SOURCE_DIR) / "CMakeLists.txt");
  std::smatch m;
  EXPECT_TRUE(std::regex_search(cmake, m, std::regex(R"(project\(modelkit VERSION ([0-9]+\.[0-9]+\.[0-9]+))")));
  return m[1];
}

TEST(Version, ModelkitRegistryAndBothOnnxRuntimeVersions) {
  auto r = run_cli({"--version"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty());
  EXPECT_THAT(r.out, ::testing::StartsWith("modelkit " + project_version() + "\n"));
  for (auto source : registry::sources())
    EXPECT_NE(r.out.find("  " + std::string(source) + "\n"), std::string::npos) << source;

  // The library: what the process loads, asked through the C API directly.
  std::string library = OrtGetApiBase()->GetVersionString();
  EXPECT_EQ(library, runtime::onnxruntime_version());
  EXPECT_NE(r.out.find("onnxruntime " + library + " (library in use)\n"), std::string::npos) << r.out;
  // The headers: ORT's API version N is release 1.N.
  std::string headers = "1." + std::to_string(ORT_API_VERSION);
  EXPECT_EQ(headers, runtime::onnxruntime_header_version());
  EXPECT_NE(r.out.find("onnxruntime API " + headers + " (headers modelkit was built against)\n"), std::string::npos)
      << r.out;
  // Headers never newer than the library (FindOnnxRuntime.cmake refuses that build).
  std::smatch m;
  ASSERT_TRUE(std::regex_search(library, m, std::regex(R"(^1\.([0-9]+)\.)")));
  EXPECT_LE(ORT_API_VERSION, std::stoi(m[1]));
}

}  // namespace
}  // namespace modelkit::test
