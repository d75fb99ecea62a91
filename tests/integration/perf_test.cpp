// modelkit perf through the real CLI on real models: the JSON schema is pinned here, and the
// figures are checked for consistency (not for speed: timing is measured in bench/).
#include <modelkit/onnx.hpp>

#include "util/file.hpp"
#include "util/json_read.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <sys/wait.h>
#include <vector>

namespace modelkit {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct PerfRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

PerfRun run_cli(const std::vector<std::string>& args) {
  static int counter = 0;
  fs::path base = fs::temp_directory_path() / ("modelkit-perf-test-" + std::to_string(::getpid()) + "-" +
                                               std::to_string(counter++));
  std::string cmd = shell_quote(MODELKIT_CLI_PATH);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  cmd += " >" + shell_quote(base.string() + ".out") + " 2>" + shell_quote(base.string() + ".err") + " </dev/null";
  int status = std::system(cmd.c_str());
  PerfRun r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = util::read_file(base.string() + ".out").value();
  r.err = util::read_file(base.string() + ".err").value();
  fs::remove(base.string() + ".out");
  fs::remove(base.string() + ".err");
  return r;
}

fs::path model(const std::string& relative) {
  auto p = fs::path(MODELKIT_DEPS_DIR) / "models" / relative;
  EXPECT_TRUE(fs::exists(p)) << p << " is missing: run scripts/setup.sh";
  return p;
}

std::vector<std::string> keys_of(simdjson::dom::element e) {
  std::vector<std::string> keys;
  {
    simdjson::dom::object items = e.get_object().value();
    for (auto [k, v] : items) keys.emplace_back(k);
  }
  return keys;
}

void expect_latency_consistent(simdjson::dom::element latency) {
  EXPECT_THAT(keys_of(latency), ::testing::ElementsAre("min", "p50", "p90", "p99", "mean", "std"));
  double min = latency["min"].get_double().value(), p50 = latency["p50"].get_double().value();
  double p90 = latency["p90"].get_double().value(), p99 = latency["p99"].get_double().value();
  EXPECT_GT(min, 0.0);
  EXPECT_LE(min, p50);
  EXPECT_LE(p50, p90);
  EXPECT_LE(p90, p99);
  EXPECT_GE(latency["std"].get_double().value(), 0.0);
}

TEST(Perf, JsonSchemaOnTheTextEncoder) {
  auto r = run_cli({"perf", "-m", model("bert-tiny-like").string(), "--warmup", "2", "--iterations", "7",
                    "--threads", "1", "--seed", "5", "--sequence-length", "32", "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  simdjson::dom::parser parser;
  auto doc = util::parse_json(parser, r.out);
  ASSERT_TRUE(doc.ok()) << r.out;
  EXPECT_THAT(keys_of(*doc), ::testing::ElementsAre("schema_version", "onnxruntime_version", "warmup", "iterations",
                                                    "threads", "seed", "models", "peak_rss_bytes", "comparison"));
  EXPECT_EQ((*doc)["schema_version"].get_int64().value(), 1);
  EXPECT_THAT(std::string((*doc)["onnxruntime_version"].get_string().value()), ::testing::MatchesRegex(R"(1\.[0-9]+\.[0-9]+)"));
  EXPECT_EQ((*doc)["warmup"].get_int64().value(), 2);
  EXPECT_EQ((*doc)["iterations"].get_int64().value(), 7);
  EXPECT_EQ((*doc)["threads"].get_int64().value(), 1);
  EXPECT_EQ((*doc)["seed"].get_int64().value(), 5);
  EXPECT_TRUE((*doc)["comparison"].is_null());
  auto models = (*doc)["models"].get_array().value();
  ASSERT_EQ(models.size(), 1u);
  auto m = models.at(0).value();
  EXPECT_THAT(keys_of(m), ::testing::ElementsAre("path", "load_ms", "inputs", "latency_ms", "throughput_per_second",
                                                 "rss_after_load_bytes"));
  EXPECT_EQ(std::string(m["path"].get_string().value()), (model("bert-tiny-like") / "model.onnx").string());
  EXPECT_GT(m["load_ms"].get_double().value(), 0.0);
  expect_latency_consistent(m["latency_ms"].value());
  double mean = m["latency_ms"]["mean"].get_double().value();
  EXPECT_NEAR(m["throughput_per_second"].get_double().value(), 1000.0 / mean, 1e-6 * 1000.0 / mean);
  auto rss = m["rss_after_load_bytes"].get_uint64().value();
  EXPECT_GT(rss, 1u << 20);
  EXPECT_GE((*doc)["peak_rss_bytes"].get_uint64().value(), rss);

  auto inputs = m["inputs"].get_array().value();
  ASSERT_EQ(inputs.size(), 3u);
  auto ids = inputs.at(0).value();
  EXPECT_THAT(keys_of(ids), ::testing::ElementsAre("name", "element_type", "shape", "fill", "dims"));
  EXPECT_EQ(std::string(ids["name"].get_string().value()), "input_ids");
  EXPECT_EQ(std::string(ids["element_type"].get_string().value()), "int64");
  EXPECT_EQ(ids["shape"].at(0).get_int64().value(), 1);
  EXPECT_EQ(ids["shape"].at(1).get_int64().value(), 32);
  // The id range comes from the model's own embedding table, which config.json agrees with.
  EXPECT_EQ(std::string(ids["fill"].get_string().value()), "token ids uniform in [0, 1000) (the model's embedding rows)");
  EXPECT_EQ(std::string(inputs.at(1)["fill"].get_string().value()), "ones (mask)");
}

TEST(Perf, TableAndCompare) {
  auto r = run_cli({"perf", "-m", model("cnn-tiny/model.onnx").string(), "--compare",
                    model("bert-tiny-like").string(), "--warmup", "1", "--iterations", "4", "--sequence-length", "16"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("models alternating"));
  EXPECT_THAT(r.out, HasSubstr("pixel_values float32 [1x3x32x32] normal(0, 1) (image)"));  // image_size from config.json
  EXPECT_THAT(r.out, HasSubstr("input_ids int64 [1x16]"));
  EXPECT_THAT(r.out, HasSubstr("latency ms   min "));
  EXPECT_THAT(r.out, HasSubstr("ratio        compare/model p50 "));

  auto j = run_cli({"perf", "-m", model("cnn-tiny").string(), "--compare", model("cnn-tiny").string(), "--warmup",
                    "1", "--iterations", "5", "--format", "json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  simdjson::dom::parser parser;
  auto doc = util::parse_json(parser, j.out);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ((*doc)["models"].get_array().value().size(), 2u);
  EXPECT_THAT(keys_of((*doc)["comparison"].value()), ::testing::ElementsAre("p50_ratio", "mean_ratio"));
  auto a = (*doc)["models"].at(0)["latency_ms"]["p50"].get_double().value();
  auto b = (*doc)["models"].at(1)["latency_ms"]["p50"].get_double().value();
  EXPECT_NEAR((*doc)["comparison"]["p50_ratio"].get_double().value(), b / a, 1e-9 * b / a);
  {
    simdjson::dom::array items = (*doc)["models"].get_array().value();
    for (auto m : items) expect_latency_consistent(m["latency_ms"].value());
  }
}

TEST(Perf, UnnamedDimsNeedInputShapes) {
  auto v5 = model("silero-vad/silero_vad_v5.onnx").string();
  auto r = run_cli({"perf", "-m", v5, "--iterations", "2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.out.empty());
  EXPECT_EQ(r.err, "modelkit perf: '" + v5 +
                       "': input 'input': dimension 0 of [?, ?] has neither a size nor a name; give the input's shape "
                       "(input=...) (use --input-shape NAME=DIMS)\n");
  r = run_cli({"perf", "-m", v5, "--iterations", "2", "--warmup", "0", "--input-shape", "input=1x512",
               "--input-shape", "state=2x1x128", "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"fill\": \"sample rate 16000 (default)\""));
}

TEST(Perf, UsageAndModelErrors) {
  auto r = run_cli({"perf"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "modelkit perf: 'modelkit perf' needs a model (-m PATH)\n");
  r = run_cli({"perf", "-m", model("cnn-tiny").string(), "--iterations", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("option '--iterations': expected an integer from 1 to"));
  r = run_cli({"perf", "-m", model("cnn-tiny").string(), "--input-shape", "pixels=1x3x8x8"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("the model has no such input (inputs: pixel_values)"));
  r = run_cli({"perf", "-m", model("cnn-tiny").string(), "--input-shape", "pixel_values"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("option '--input-shape': input shape 'pixel_values' must look like name=1x128"));
  r = run_cli({"perf", "-m", model("pp-ocr").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no float model (model.onnx)"));
  r = run_cli({"perf", "-m", model("onnx-node-tests/test_abs/test_data_set_0/input_0.pb").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("input_0.pb' is not"));
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1);
}

}  // namespace
}  // namespace modelkit
