// Every row of task-resolution.md section 4 through the library's single entry point.
#include <modelkit/model.hpp>

#include "spec_cases.hpp"
#include "test_support.hpp"

#include <algorithm>

namespace modelkit::test {
namespace {

class SpecTable : public ::testing::TestWithParam<SpecCase> {};

// Runs one case the way the CLI would: -m FOLDER (or -m MODEL_ID through a cache),
// or --model-type alone.
Result<ResolvedModel> resolve_case(const SpecCase& c, const TempDir& tmp) {
  ModelSpec spec;
  spec.task = c.task_flag;
  CacheLocation cache{tmp / "hub"};
  if (c.model_type_only) {
    spec.model_type = c.model_type_only;
  } else if (c.model_id) {
    auto snap = make_cache_snapshot(cache.hub, *c.model_id);
    write_file(snap / "config.json", c.config_json);
    spec.model = *c.model_id;
  } else {
    write_file(tmp / "ckpt" / "config.json", c.config_json);
    spec.model = (tmp / "ckpt").string();
  }
  return resolve_model(spec, cache);
}

TEST_P(SpecTable, ResolvesAsTheSpecRequires) {
  const auto& c = GetParam();
  TempDir tmp;
  auto model = resolve_case(c, tmp);
  ASSERT_TRUE(model.ok()) << model.error().message;
  const auto& r = model->resolution;
  EXPECT_EQ(r.task, c.want_task);
  EXPECT_NE(std::find(c.want_sources.begin(), c.want_sources.end(), r.source), c.want_sources.end())
      << "source " << r.source;
  if (!c.want_classes.empty()) {
    ASSERT_TRUE(r.model_class.has_value());
    EXPECT_NE(std::find(c.want_classes.begin(), c.want_classes.end(), *r.model_class), c.want_classes.end())
        << "class " << *r.model_class;
  }
  if (r.task) {
    ASSERT_TRUE(r.optimum_task.has_value());
  } else {
    EXPECT_FALSE(r.optimum_task.has_value());
  }
}

INSTANTIATE_TEST_SUITE_P(Spec, SpecTable, ::testing::ValuesIn(spec_cases()),
                         [](const auto& info) { return info.param.name; });

// The model-id default holds however the id is known: -m id, a cache snapshot path,
// or _name_or_path.
TEST(ModelIdDefault, AppliesFromCacheSnapshotPath) {
  TempDir tmp;
  auto snap = make_cache_snapshot(tmp / "hub", "prajjwal1/bert-tiny");
  write_file(snap / "config.json", R"({"model_type": "bert", "architectures": ["BertForMaskedLM"]})");
  ModelSpec spec;
  spec.model = snap.string();
  auto model = resolve_model(spec, CacheLocation{tmp / "elsewhere"});
  ASSERT_TRUE(model.ok()) << model.error().message;
  EXPECT_EQ(model->resolution.task, "feature-extraction");
  EXPECT_EQ(model->resolution.source, "model-id-default");
  EXPECT_EQ(model->facts.model_id, "prajjwal1/bert-tiny");
}

TEST(ModelIdDefault, KeyIsTrimmedAndLowerCased) {
  TempDir tmp;
  write_file(tmp / "c" / "config.json",
             R"({"model_type": "bert", "architectures": ["BertForMaskedLM"], "_name_or_path": "Prajjwal1/BERT-Tiny"})");
  ModelSpec spec;
  spec.model = (tmp / "c").string();
  auto model = resolve_model(spec, CacheLocation{tmp / "hub"});
  ASSERT_TRUE(model.ok());
  EXPECT_EQ(model->resolution.source, "model-id-default");
}

}  // namespace
}  // namespace modelkit::test
