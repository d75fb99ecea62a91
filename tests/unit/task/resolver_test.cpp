// Resolver stages beyond the spec's table: user class/task errors, model card,
// wrapped libraries, architecture fallbacks.
#include <modelkit/model.hpp>
#include <modelkit/registry.hpp>
#include <modelkit/task.hpp>

#include "test_support.hpp"

namespace modelkit::test {
namespace {

TaskResolution resolve_json(const std::string& config_json, TaskRequest request = {},
                            std::optional<std::string> card_tag = {}, bool sentence_transformers = false) {
  auto config = parse_model_config(config_json);
  EXPECT_TRUE(config.ok()) << config.error().message;
  ModelFacts facts;
  facts.config = *config;
  facts.card_pipeline_tag = std::move(card_tag);
  facts.sentence_transformers = sentence_transformers;
  auto r = resolve_task(facts, request);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : TaskResolution{};
}

TEST(Resolver, UserClassServingTheTask) {
  ModelFacts facts;
  auto r = resolve_task(facts, TaskRequest{std::nullopt, "BertForSequenceClassification"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->task, "text-classification");
  EXPECT_EQ(r->source, "user-class");
  EXPECT_EQ(r->modality, "text");
}

TEST(Resolver, UserClassNotServingTheTaskIsAnError) {
  ModelFacts facts;
  auto r = resolve_task(facts, TaskRequest{"image-classification", "BertForSequenceClassification"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "model class 'BertForSequenceClassification' does not serve task 'image-classification'");
  EXPECT_EQ(r.error().exit_code(), 2);
}

TEST(Resolver, UnknownUserClassSuggestsTheClosest) {
  ModelFacts facts;
  auto r = resolve_task(facts, TaskRequest{std::nullopt, "BertForSequenceClasification"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "unknown model class 'BertForSequenceClasification' (did you mean 'BertForSequenceClassification'?)");
}

TEST(Resolver, UserTaskSynonymIsNormalised) {
  auto r = resolve_json(R"({"model_type": "bert", "architectures": ["BertModel"]})", {"sequence-classification", {}});
  EXPECT_EQ(r.task, "text-classification");
  EXPECT_EQ(r.source, "user-task");
  EXPECT_EQ(r.model_class, "BertForSequenceClassification");
}

TEST(Resolver, UserTaskKeepsImageFeatureExtractionVerbatim) {
  auto r = resolve_json(R"({"model_type": "dinov2", "architectures": ["Dinov2Model"]})",
                        {"image-feature-extraction", {}});
  EXPECT_EQ(r.task, "image-feature-extraction");
  EXPECT_EQ(r.optimum_task, "feature-extraction");
}

TEST(Resolver, UserTaskIsNotUpgraded) {
  auto r = resolve_json(R"({"model_type": "dinov2", "architectures": ["Dinov2Model"]})", {"feature-extraction", {}});
  EXPECT_EQ(r.task, "feature-extraction");
  EXPECT_EQ(r.modality, "image");
}

TEST(Resolver, ModelCardAcceptedOnlyForExportableTasks) {
  const char* cfg = R"({"model_type": "bert", "architectures": ["FooBertHead"]})";
  auto accepted = resolve_json(cfg, {}, "text-classification");
  EXPECT_EQ(accepted.task, "text-classification");
  EXPECT_EQ(accepted.source, "model-card");
  auto ignored = resolve_json(cfg, {}, "image-classification");
  EXPECT_FALSE(ignored.task.has_value());
  EXPECT_EQ(ignored.source, "unresolved");
  ASSERT_FALSE(ignored.notes.empty());
  EXPECT_EQ(ignored.notes.back(),
            "model card pipeline_tag 'image-classification' is not an exportable task of 'bert'; ignored");
  EXPECT_EQ(ignored.candidates.front(), "feature-extraction");
}

TEST(Resolver, SentenceTransformersFolderIsWrappedLibrary) {
  auto r = resolve_json(R"({"model_type": "bert", "architectures": ["BertModel"]})", {}, {}, true);
  EXPECT_EQ(r.task, "feature-extraction");
  EXPECT_EQ(r.source, "wrapped-library");
  EXPECT_EQ(r.library, "sentence-transformers");
  EXPECT_EQ(r.model_class, "BertModel");
}

TEST(Resolver, NativeTimmConfigIsWrappedLibrary) {
  auto r = resolve_json(R"({"architecture": "resnet50", "num_classes": 1000, "pretrained_cfg": {"input_size": [3, 224, 224]}})");
  EXPECT_EQ(r.task, "image-classification");
  EXPECT_EQ(r.source, "wrapped-library");
  EXPECT_EQ(r.library, "timm");
}

TEST(Resolver, LaterKnownArchitectureIsUsedWithANote) {
  auto r = resolve_json(R"({"model_type": "bert", "architectures": ["MyCustomBert", "BertForTokenClassification"]})");
  EXPECT_EQ(r.task, "token-classification");
  EXPECT_EQ(r.model_class, "BertForTokenClassification");
  ASSERT_FALSE(r.notes.empty());
  EXPECT_EQ(r.notes.front(), "architectures[0] 'MyCustomBert' is not a known class; used 'BertForTokenClassification'");
}

TEST(Resolver, ListValuedTableEntriesMatch) {
  // optimum never matches list-valued entries (deit); modelkit does.
  auto r = resolve_json(R"({"model_type": "deit", "architectures": ["DeiTForImageClassificationWithTeacher"]})");
  EXPECT_EQ(r.task, "image-classification");
  EXPECT_EQ(r.source, "architecture");
}

TEST(Resolver, ModelTypeKeyNormalisation) {
  ModelFacts facts = ModelFacts::for_model_type("SAM2_VIDEO");
  auto r = resolve_task(facts, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->task, "mask-generation");
  EXPECT_EQ(r->source, "sentinel-default");
}

TEST(Resolver, FillMaskStaysWithoutLiteralEncoderDecoderTrue) {
  auto r = resolve_json(R"({"model_type": "bart", "architectures": ["BartForConditionalGeneration"], "is_encoder_decoder": "true"})");
  EXPECT_EQ(r.task, "fill-mask");
}

TEST(Resolver, RemoteCodeWithoutModelType) {
  auto r = resolve_json(R"({"architectures": ["MyNet"], "auto_map": {"AutoModel": "m.MyNet", "AutoModelForSequenceClassification": "m.MyNet"}})");
  EXPECT_EQ(r.task, "text-classification");
  EXPECT_EQ(r.source, "remote-code");
  EXPECT_EQ(r.model_class, "MyNet");
}

TEST(Resolver, PlainAutoModelNamesNoHead) {
  auto r = resolve_json(R"({"architectures": ["MyNet"], "auto_map": {"AutoModel": "m.MyNet"}})");
  EXPECT_FALSE(r.task.has_value());
  EXPECT_EQ(r.source, "unresolved");
}

TEST(Resolver, RequireResolvedNamesTaskAndCandidates) {
  auto r = resolve_json(R"({"model_type": "bert", "architectures": ["FooForBar"]})");
  auto check = require_resolved(r, "my-model");
  ASSERT_FALSE(check.ok());
  EXPECT_EQ(check.error().message,
            "could not resolve the task of 'my-model'; pass --task (candidates: feature-extraction, fill-mask, "
            "multiple-choice, question-answering, text-classification, token-classification)");
}

TEST(Resolver, EveryClassAsModelClassKeepsTheOptimumTaskInvariant) {
  // Over every class of the registry: a class with a task resolves with
  // optimum_task == to_optimum_task(task) and the modality of its main input.
  size_t resolved = 0;
  for (const auto& row : registry::classes()) {
    ModelFacts facts;
    auto r = resolve_task(facts, TaskRequest{std::nullopt, std::string(row.name)});
    if (!r.ok()) {
      EXPECT_NE(r.error().message.find("serves no task"), std::string::npos) << row.name;
      continue;
    }
    ++resolved;
    ASSERT_TRUE(r->task.has_value()) << row.name;
    auto id = registry::find_task(*r->task);
    EXPECT_EQ(r->optimum_task, std::string(registry::to_optimum_task(id))) << row.name;
    EXPECT_EQ(r->modality, registry::modality_of_main_input(row.main_input_name)) << row.name;
  }
  EXPECT_GT(resolved, 1500u);
}

}  // namespace
}  // namespace modelkit::test
