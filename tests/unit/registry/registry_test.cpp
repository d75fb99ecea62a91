#include <modelkit/registry.hpp>

#include "test_support.hpp"

#include <algorithm>

namespace modelkit::test {
namespace {

namespace reg = registry;

TEST(Registry, HasTheFortyTasksSorted) {
  auto tasks = reg::tasks();
  ASSERT_EQ(tasks.size(), 40u);
  EXPECT_TRUE(std::is_sorted(tasks.begin(), tasks.end()));
  for (auto t : tasks) EXPECT_EQ(reg::task_name(reg::find_task(t)), t);
  EXPECT_EQ(reg::find_task("audio-feature-extraction"), reg::kNoTask);
}

TEST(Registry, SynonymsNormaliseWithTheTwoExceptions) {
  EXPECT_EQ(reg::task_name(*reg::parse_task("sequence-classification")), "text-classification");
  EXPECT_EQ(reg::task_name(*reg::parse_task("masked-lm")), "fill-mask");
  EXPECT_EQ(reg::task_name(*reg::parse_task("causal-lm")), "text-generation");
  EXPECT_EQ(reg::task_name(*reg::parse_task("image-feature-extraction")), "image-feature-extraction");
  EXPECT_EQ(reg::task_name(*reg::parse_task("mask-generation")), "mask-generation");
  EXPECT_EQ(reg::task_name(*reg::parse_task(" Fill-Mask ")), "fill-mask");
}

TEST(Registry, UnknownTaskNamesValidOnesAndTheClosest) {
  auto r = reg::parse_task("text-clasification");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().exit_code(), 2);
  EXPECT_TRUE(r.error().message.starts_with("unknown task 'text-clasification' (did you mean 'text-classification'?); "
                                            "valid tasks: any-to-any, audio-classification, "))
      << r.error().message;
  EXPECT_TRUE(r.error().message.ends_with("zero-shot-object-detection"));
}

TEST(Registry, OptimumTaskNames) {
  auto opt = [](const char* t) { return std::string(reg::to_optimum_task(reg::find_task(t))); };
  EXPECT_EQ(opt("image-feature-extraction"), "feature-extraction");
  EXPECT_EQ(opt("next-sentence-prediction"), "text-classification");
  EXPECT_EQ(opt("mask-generation"), "feature-extraction");
  EXPECT_EQ(opt("sentence-similarity"), "feature-extraction");
  EXPECT_EQ(opt("text-classification"), "text-classification");
  EXPECT_EQ(opt("video-classification"), "video-classification");
}

TEST(Registry, ModelTypeKeys) {
  EXPECT_EQ(reg::model_type_key("sam2_video"), "sam2-video");
  EXPECT_EQ(reg::model_type_key("Audio-Spectrogram_Transformer"), "audio-spectrogram-transformer");
  ASSERT_NE(reg::find_model_type("clip_vision_model"), nullptr);
  EXPECT_EQ(reg::find_model_type("clip-vision-model")->name, "clip_vision_model");
  EXPECT_EQ(reg::find_model_type("no-such-type"), nullptr);
}

TEST(Registry, ExportableTasksInRegistrationOrder) {
  auto tasks = reg::exportable_tasks("wav2vec2");
  std::vector<std::string> want = {"feature-extraction", "automatic-speech-recognition", "audio-classification",
                                   "audio-frame-classification", "audio-xvector"};
  EXPECT_EQ(tasks, want);
  auto gpt2 = reg::exportable_tasks("gpt2");
  EXPECT_NE(std::find(gpt2.begin(), gpt2.end(), "text-generation-with-past"), gpt2.end());
}

TEST(Registry, ClassFacts) {
  const auto* w = reg::find_class("Wav2Vec2Model");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->main_input_name, "input_values");
  EXPECT_EQ(reg::task_name(w->optimum_task), "feature-extraction");
  const auto* pre = reg::find_class("Wav2Vec2ForPreTraining");
  ASSERT_NE(pre, nullptr);
  EXPECT_EQ(pre->optimum_task, reg::kNoTask);
  EXPECT_TRUE(pre->in_pretraining_table);
  const auto* vivit = reg::find_class("VivitForVideoClassification");
  ASSERT_NE(vivit, nullptr);
  EXPECT_EQ(reg::task_name(vivit->table_task), "video-classification");
  EXPECT_EQ(reg::find_class("FooForBar"), nullptr);
  EXPECT_EQ(reg::modality_of_main_input("input_features"), "audio");
  EXPECT_EQ(reg::modality_of_main_input("pixel_values_videos"), "video");
  EXPECT_EQ(reg::modality_of_main_input("past_values"), "unknown");
}

TEST(Registry, ClassesFromTheOlderTransformersAreKept) {
  // Model types removed from transformers main but present in 4.57.6 stay known.
  const auto* deta = reg::find_class("DetaForObjectDetection");
  ASSERT_NE(deta, nullptr);
  EXPECT_EQ(reg::task_name(deta->optimum_task), "object-detection");
  EXPECT_EQ(deta->main_input_name, "pixel_values");
  ASSERT_NE(reg::find_model_type("deta"), nullptr);
  EXPECT_EQ(reg::find_model_type("deta")->config_class, "DetaConfig");
}

TEST(Registry, AutoMappingClass) {
  EXPECT_EQ(reg::auto_class_for("bert", reg::find_task("text-classification")), "BertForSequenceClassification");
  EXPECT_EQ(reg::auto_class_for("dinov2", reg::find_task("image-feature-extraction")), "Dinov2Model");
  EXPECT_EQ(reg::auto_class_for("vivit", reg::find_task("video-classification")), "VivitForVideoClassification");
  EXPECT_FALSE(reg::auto_class_for("bert", reg::find_task("image-classification")).has_value());
}

TEST(Registry, ProjectTables) {
  ASSERT_NE(reg::find_model_id_default("  PRAJJWAL1/bert-tiny "), nullptr);
  ASSERT_NE(reg::find_sentinel("sam2_video"), nullptr);
  EXPECT_EQ(reg::find_sentinel("vitpose")->class_name, "VitPoseForPoseEstimation");
  ASSERT_NE(reg::find_class_choice("clip", reg::find_task("image-feature-extraction")), nullptr);
  EXPECT_EQ(reg::find_class_choice("clip", reg::find_task("image-feature-extraction"))->class_name,
            "CLIPVisionModelWithProjection");
  for (const auto& row : reg::class_choices()) {
    EXPECT_FALSE(row.reason.empty());
    EXPECT_NE(reg::find_class(row.class_name), nullptr) << row.class_name;
  }
  for (const auto& row : reg::sentinels()) EXPECT_NE(reg::find_class(row.class_name), nullptr) << row.class_name;
  EXPECT_EQ(reg::task_name(reg::find_auto_class("AutoModelForCausalLM")->task), "text-generation");
  EXPECT_EQ(reg::find_auto_class("AutoModel"), nullptr);
}

// The committed tables are what the generator makes from the facts. Needs ../shared
// (the facts) and Debian's python3; without ../shared the check cannot run.
TEST(Registry, CommittedTablesMatchTheFacts) {
  fs::path facts = fs::path(MODELKIT_SHARED_DIR) / "hf-facts";
  if (!fs::is_directory(facts)) GTEST_SKIP() << "no " << facts << ": the registry cannot be checked against facts";
  std::string cmd = "/usr/bin/python3 '" + std::string(MODELKIT_SOURCE_DIR) + "/scripts/gen_registry.py' --check --facts '" +
                    facts.string() + "' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  int status = ::pclose(p);
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  EXPECT_EQ(out, "gen_registry: up to date\n");
}

}  // namespace
}  // namespace modelkit::test
