// The CLI's entry points agree: inspect -m, config -m and build -m --dry-run print the
// same resolution for every config the suite holds, and every row of the spec's table
// holds on every entry point.
#include <simdjson.h>

#include "index_configs.hpp"
#include "spec_cases.hpp"
#include "test_support.hpp"

namespace modelkit::test {
namespace {

// The "resolution" object of a command's JSON output, minified; "" when absent.
std::string resolution_of(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json).get(doc) != simdjson::SUCCESS) return "";
  simdjson::dom::element r;
  if (doc["resolution"].get(r) != simdjson::SUCCESS) return "";
  return simdjson::minify(r);
}

std::string field_of(const std::string& json, const char* key) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json).get(doc) != simdjson::SUCCESS) return "<bad json>";
  simdjson::dom::element v;
  if (doc["resolution"][key].get(v) != simdjson::SUCCESS) return "<missing>";
  if (v.is_null()) return "null";
  return std::string(v.get_string().value());
}

struct EntryOutputs {
  CliResult inspect, config, build;
};

EntryOutputs run_entry_points(const std::vector<std::string>& model_args, const std::vector<std::string>& env) {
  auto with = [&](std::vector<std::string> head, std::vector<std::string> tail) {
    head.insert(head.end(), model_args.begin(), model_args.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return run_cli(head, env);
  };
  return {with({"inspect"}, {"--format", "json"}), with({"config"}, {}),
          with({"build"}, {"--dry-run", "--format", "json"})};
}

class SpecTableCli : public ::testing::TestWithParam<SpecCase> {};

TEST_P(SpecTableCli, EveryEntryPointGivesTheRequiredResult) {
  const auto& c = GetParam();
  TempDir tmp;
  std::vector<std::string> env = {"HF_HUB_CACHE=" + (tmp / "hub").string()};
  std::vector<std::string> args;
  if (c.model_type_only) {
    args = {"--model-type", *c.model_type_only};
  } else if (c.model_id) {
    write_file(make_cache_snapshot(tmp / "hub", *c.model_id) / "config.json", c.config_json);
    args = {"-m", *c.model_id};
  } else {
    write_file(tmp / "ckpt" / "config.json", c.config_json);
    args = {"-m", (tmp / "ckpt").string()};
  }
  if (c.task_flag) args.insert(args.end(), {"--task", *c.task_flag});
  auto out = run_entry_points(args, env);
  ASSERT_EQ(out.inspect.exit_code, 0) << out.inspect.err;
  EXPECT_EQ(field_of(out.inspect.out, "task"), c.want_task.value_or("null"));
  EXPECT_NE(std::find(c.want_sources.begin(), c.want_sources.end(), field_of(out.inspect.out, "source")),
            c.want_sources.end());
  if (!c.want_classes.empty()) {
    EXPECT_NE(std::find(c.want_classes.begin(), c.want_classes.end(), field_of(out.inspect.out, "model_class")),
              c.want_classes.end())
        << field_of(out.inspect.out, "model_class");
  }
  if (c.want_task) {
    ASSERT_EQ(out.config.exit_code, 0) << out.config.err;
    ASSERT_EQ(out.build.exit_code, 0) << out.build.err;
    EXPECT_EQ(resolution_of(out.config.out), resolution_of(out.inspect.out));
    EXPECT_EQ(resolution_of(out.build.out), resolution_of(out.inspect.out));
  } else {
    // Unresolved: inspect reports it, config and build stop naming --task.
    EXPECT_EQ(out.config.exit_code, 1);
    EXPECT_EQ(out.build.exit_code, 1);
    EXPECT_NE(out.config.err.find("pass --task"), std::string::npos) << out.config.err;
    EXPECT_NE(out.build.err.find("pass --task"), std::string::npos) << out.build.err;
    EXPECT_TRUE(out.config.out.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(Spec, SpecTableCli, ::testing::ValuesIn(spec_cases()),
                         [](const auto& info) { return info.param.name; });

// The consistency property over every real config: identical resolutions from the
// three entry points, and for sentinel types --model-type agrees with -m.
class ConsistencyCli : public ::testing::TestWithParam<IndexedConfig> {};

TEST_P(ConsistencyCli, InspectConfigAndBuildAgree) {
  const auto& c = GetParam();
  TempDir tmp;
  write_file(tmp / "ckpt" / "config.json", read_text(data_dir() / "configs" / c.file));
  auto out = run_entry_points({"-m", (tmp / "ckpt").string()}, {"HF_HUB_CACHE=" + (tmp / "hub").string()});
  ASSERT_EQ(out.inspect.exit_code, 0) << out.inspect.err;
  std::string inspected = resolution_of(out.inspect.out);
  ASSERT_FALSE(inspected.empty());
  if (field_of(out.inspect.out, "task") == "null") {
    EXPECT_EQ(out.config.exit_code, 1);
    EXPECT_EQ(out.build.exit_code, 1);
    return;
  }
  ASSERT_EQ(out.config.exit_code, 0) << out.config.err;
  ASSERT_EQ(out.build.exit_code, 0) << out.build.err;
  EXPECT_EQ(resolution_of(out.config.out), inspected);
  EXPECT_EQ(resolution_of(out.build.out), inspected);
  if (field_of(out.inspect.out, "source") == "sentinel-default") {
    auto by_type = run_entry_points({"--model-type", c.model_type}, {});
    EXPECT_EQ(field_of(by_type.inspect.out, "task"), field_of(out.inspect.out, "task"));
    EXPECT_EQ(resolution_of(by_type.config.out), resolution_of(by_type.inspect.out));
    EXPECT_EQ(resolution_of(by_type.build.out), resolution_of(by_type.inspect.out));
  }
}

INSTANTIATE_TEST_SUITE_P(Index, ConsistencyCli, ::testing::ValuesIn(indexed_configs()),
                         [](const auto& info) { return test_name(info.param.file); });

TEST(ConsistencyCli, SentinelTypesAgreeWithTheirCheckpoints) {
  for (const char* type : {"sam", "sam2", "sam2_video", "vitpose"}) {
    TempDir tmp;
    write_file(tmp / "c" / "config.json", std::string("{\"model_type\": \"") + type + "\"}");
    auto by_folder = run_cli({"inspect", "-m", (tmp / "c").string(), "--format", "json"});
    auto by_type = run_cli({"inspect", "--model-type", type, "--format", "json"});
    ASSERT_EQ(by_folder.exit_code, 0) << by_folder.err;
    EXPECT_EQ(resolution_of(by_folder.out), resolution_of(by_type.out)) << type;
  }
}

}  // namespace
}  // namespace modelkit::test
