// run_build as a library call: settings the CLI would have rejected are errors, not crashes.
#include <modelkit/build.hpp>

#include "test_support.hpp"

namespace modelkit::test {
namespace {

TEST(Pipeline, UnknownQuantTypeInAHandMadeConfigIsAnError) {
  TempDir tmp;
  BuildRequest req;
  req.onnx = fs::path(MODELKIT_DEPS_DIR) / "models" / "cnn-tiny" / "model.onnx";
  req.config.quantization.weight_type = "int3";
  req.output = tmp / "out";
  auto r = run_build(std::move(req));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().exit_code(), 2);
  EXPECT_NE(r.error().message.find("weight type: "), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("'int3'"), std::string::npos) << r.error().message;
  EXPECT_FALSE(fs::exists(tmp / "out"));
}

}  // namespace
}  // namespace modelkit::test
