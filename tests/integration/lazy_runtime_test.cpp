// ONNX Runtime is loaded on first use: commands that do not run a model never map it (checked
// with the dynamic loader's own trace, LD_DEBUG=files, and by pointing
// MODELKIT_ONNXRUNTIME_LIBRARY at nothing); commands that run one say which path failed, in one
// line. ORT's own messages reach the user inside a sentence saying what to do.
#include "export_reference.hpp"
#include "onnx/model_proto.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>

namespace modelkit::test {
namespace {

using ::testing::HasSubstr;

const fs::path kModels = fs::path(MODELKIT_DEPS_DIR) / "models";
const std::string kMissingLibrary = "MODELKIT_ONNXRUNTIME_LIBRARY=/nonexistent/libonnxruntime.so.1";

// The files the dynamic loader opened while running `args` (its LD_DEBUG=files trace).
std::string loader_trace(const std::vector<std::string>& args, int& exit_code) {
  TempDir tmp;
  auto r = run_cli(args, {"LD_DEBUG=files", "LD_DEBUG_OUTPUT=" + (tmp / "ld").string()});
  exit_code = r.exit_code;
  std::string trace;
  for (const auto& e : fs::directory_iterator(tmp.path()))
    if (e.path().filename().string().starts_with("ld")) trace += read_text(e.path());
  return trace;
}

// Commands that read models but never run them, on a BERT checkpoint with its model.onnx.
std::vector<std::vector<std::string>> commands_that_run_no_model(const fs::path& out) {
  auto bert = (kModels / "bert-tiny-like").string();
  return {
      {"inspect", "-m", bert},
      {"inspect", "-m", bert + "/model.onnx", "--format", "json"},
      {"config", "-m", bert},
      {"build", "-m", bert, "-o", (out / "b").string(), "--dry-run"},
      {"tokenize", "-m", bert, "--text", "hello world"},
      {"export", "-m", (export_reference().root / "bert-seqcls").string(), "-o", (out / "e.onnx").string(), "--force"},
  };
}

TEST(LazyRuntime, CommandsThatRunNoModelNeverLoadOnnxRuntime) {
  TempDir out;
  for (const auto& args : commands_that_run_no_model(out.path())) {
    SCOPED_TRACE(args[0] + " " + args.back());
    int code = -1;
    auto trace = loader_trace(args, code);
    EXPECT_EQ(code, 0);
    ASSERT_FALSE(trace.empty()) << "LD_DEBUG wrote nothing";
    EXPECT_EQ(trace.find("libonnxruntime"), std::string::npos);
    // And they work with no library at all.
    auto r = run_cli(args, {kMissingLibrary});
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  // The control: running a model does load it.
  int code = -1;
  auto trace = loader_trace({"perf", "-m", (kModels / "cnn-tiny" / "model.onnx").string(), "--iterations", "2"}, code);
  EXPECT_EQ(code, 0);
  EXPECT_THAT(trace, HasSubstr("libonnxruntime"));
}

TEST(LazyRuntime, AMissingOrBrokenLibraryIsOneLineNamingThePath) {
  auto model = (kModels / "cnn-tiny" / "model.onnx").string();
  auto r = run_cli({"perf", "-m", model, "--iterations", "2"}, {kMissingLibrary});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("cannot load ONNX Runtime from '/nonexistent/libonnxruntime.so.1' (named by "
                               "MODELKIT_ONNXRUNTIME_LIBRARY): "));
  EXPECT_THAT(r.err, HasSubstr("No such file or directory"));

  // A shared library that is not ONNX Runtime.
  r = run_cli({"perf", "-m", model, "--iterations", "2"}, {"MODELKIT_ONNXRUNTIME_LIBRARY=libc.so.6"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("libc.so.6' is not ONNX Runtime (it has no OrtGetApiBase)"));

  // --version says it cannot load it instead of failing.
  r = run_cli({"--version"}, {kMissingLibrary});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("onnxruntime unavailable (cannot load ONNX Runtime from '/nonexistent/libonnxruntime.so.1'"));
}

TEST(LazyRuntime, OnnxRuntimeRefusalsSayWhatToDo) {
  // A model inspect describes but ONNX Runtime cannot load: an operator no opset defines.
  auto model = (kModels / "opset9-unknown-op" / "model.onnx").string();
  auto r = run_cli({"perf", "-m", model, "--iterations", "2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("onnxruntime: cannot load '" + model + "': "));
  EXPECT_THAT(r.err, HasSubstr("MadeUpOp"));  // ORT's own words are kept
  EXPECT_THAT(r.err, HasSubstr("; the model may need a newer opset or ONNX Runtime than 1."));
  EXPECT_THAT(r.err, HasSubstr(", or be corrupt: check it with `modelkit inspect -m '" + model + "'`"));
  EXPECT_EQ(run_cli({"inspect", "-m", model}).exit_code, 0);

  // A graph whose first node reads a value nothing produces: ORT refuses it as invalid.
  TempDir tmp;
  auto proto = onnx::read_model_proto(kModels / "cnn-tiny" / "model.onnx");
  ASSERT_TRUE(proto.ok());
  proto->mutable_graph()->mutable_node(0)->set_input(0, "produced_by_nothing");
  auto broken = tmp / "broken.onnx";
  ASSERT_TRUE(onnx::save_model_proto(*proto, broken).ok());
  r = run_cli({"perf", "-m", broken.string(), "--iterations", "2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("; the model may need a newer opset or ONNX Runtime than 1."));
}

}  // namespace
}  // namespace modelkit::test
