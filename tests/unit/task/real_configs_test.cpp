// The real config.json files of tests/data/configs resolve as INDEX.tsv requires.
#include <modelkit/model.hpp>

#include "index_configs.hpp"

namespace modelkit::test {
namespace {

class RealConfigs : public ::testing::TestWithParam<IndexedConfig> {};

TEST_P(RealConfigs, ResolveAsIndexed) {
  const auto& c = GetParam();
  TempDir tmp;
  auto config = read_text(data_dir() / "configs" / c.file);
  ASSERT_FALSE(config.empty()) << c.file;
  ModelSpec spec;
  CacheLocation cache{tmp / "hub"};
  if (c.model_id) {
    write_file(make_cache_snapshot(cache.hub, *c.model_id) / "config.json", config);
    spec.model = *c.model_id;
  } else {
    write_file(tmp / "ckpt" / "config.json", config);
    spec.model = (tmp / "ckpt").string();
  }
  auto model = resolve_model(spec, cache);
  ASSERT_TRUE(model.ok()) << model.error().message;
  EXPECT_EQ(model->resolution.task, c.want_task) << c.file;
  EXPECT_EQ(model->resolution.source, c.want_source) << c.file;
  if (model->resolution.task) {
    EXPECT_TRUE(model->resolution.optimum_task.has_value());
  }
}

INSTANTIATE_TEST_SUITE_P(Index, RealConfigs, ::testing::ValuesIn(indexed_configs()),
                         [](const auto& info) { return test_name(info.param.file); });

TEST(RealConfigs, IndexIsNotEmpty) { EXPECT_GE(indexed_configs().size(), 70u); }

}  // namespace
}  // namespace modelkit::test
