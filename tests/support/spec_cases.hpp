// The required-results table of task-resolution.md section 4, as data. Each case is
// a tiny inline config.json (or --model-type alone) plus the accepted results; the
// library tests and the CLI tests both run every case.
#pragma once

#include <ostream>

#include <optional>
#include <string>
#include <vector>

namespace modelkit::test {

struct SpecCase {
  std::string name;
  std::string config_json;                 // empty: no -m (model_type_only is set)
  std::optional<std::string> model_id;     // known model id (placed in an HF cache layout)
  std::optional<std::string> model_type_only;  // --model-type T without -m
  std::optional<std::string> task_flag;    // --task
  std::optional<std::string> want_task;    // nullopt: unresolved
  std::vector<std::string> want_sources;   // any of these
  std::vector<std::string> want_classes;   // any of these; empty: not checked
};

// gtest prints a failing case's parameter with this (else as "N-byte object <...>").
inline void PrintTo(const SpecCase& c, std::ostream* os) { *os << c.name; }

inline std::vector<SpecCase> spec_cases() {
  auto cfg = [](const std::string& model_type, const std::string& arch, const std::string& extra = "") {
    std::string s = "{\"model_type\": \"" + model_type + "\"";
    if (!arch.empty()) s += ", \"architectures\": [\"" + arch + "\"]";
    if (!extra.empty()) s += ", " + extra;
    return s + "}";
  };
  return {
      {"wav2vec2_model", cfg("wav2vec2", "Wav2Vec2Model"), {}, {}, {}, "feature-extraction", {"architecture"}, {"Wav2Vec2Model"}},
      {"wav2vec2_pretraining", cfg("wav2vec2", "Wav2Vec2ForPreTraining"), "facebook/wav2vec2-base", {}, {},
       "feature-extraction", {"architecture"}, {"Wav2Vec2Model", "Wav2Vec2ForPreTraining"}},
      {"wav2vec2_ctc", cfg("wav2vec2", "Wav2Vec2ForCTC"), {}, {}, {}, "automatic-speech-recognition", {"architecture"}, {"Wav2Vec2ForCTC"}},
      {"whisper_model", cfg("whisper", "WhisperModel"), {}, {}, {}, "feature-extraction", {"architecture"}, {"WhisperModel"}},
      {"whisper_generation", cfg("whisper", "WhisperForConditionalGeneration", "\"is_encoder_decoder\": true"), {}, {}, {},
       "automatic-speech-recognition", {"architecture"}, {"WhisperForConditionalGeneration"}},
      {"ast_model", cfg("audio-spectrogram-transformer", "ASTModel", "\"patch_size\": 16, \"image_size\": 224"), {}, {}, {},
       "feature-extraction", {"architecture"}, {"ASTModel"}},
      {"sam_model", cfg("sam", "SamModel"), {}, {}, {}, "mask-generation", {"sentinel-default"}, {"SamModel"}},
      {"sam_type", "", {}, "sam", {}, "mask-generation", {"sentinel-default"}, {"SamModel"}},
      {"sam2_model", cfg("sam2", "Sam2Model"), {}, {}, {}, "mask-generation", {"sentinel-default"}, {"Sam2Model"}},
      {"sam2_type", "", {}, "sam2", {}, "mask-generation", {"sentinel-default"}, {"Sam2Model"}},
      {"sam2_video_config", cfg("sam2_video", ""), {}, {}, {}, "mask-generation", {"sentinel-default"}, {}},
      {"sam2_video_type", "", {}, "sam2_video", {}, "mask-generation", {"sentinel-default"}, {}},
      {"sam2_task_fe", cfg("sam2", "Sam2Model"), {}, {}, "feature-extraction", "feature-extraction", {"user-task"},
       {"Sam2VisionModel"}},
      {"clip_model", cfg("clip", "CLIPModel"), "openai/clip-vit-base-patch32", {}, {}, "feature-extraction",
       {"architecture"}, {"CLIPTextModelWithProjection"}},
      {"clip_vision_projection", cfg("clip_vision_model", "CLIPVisionModelWithProjection"), {}, {}, {},
       "image-feature-extraction", {"architecture"}, {"CLIPVisionModelWithProjection"}},
      {"clip_text_projection", cfg("clip_text_model", "CLIPTextModelWithProjection"), {}, {}, {}, "feature-extraction",
       {"architecture"}, {"CLIPTextModelWithProjection"}},
      {"clip_task_ife", cfg("clip", "CLIPModel"), {}, {}, "image-feature-extraction", "image-feature-extraction",
       {"user-task"}, {"CLIPVisionModelWithProjection"}},
      {"bart_mnli", cfg("bart", "BartForSequenceClassification"), "facebook/bart-large-mnli", {}, {},
       "text-classification", {"architecture"}, {}},
      {"bart_generation", cfg("bart", "BartForConditionalGeneration", "\"is_encoder_decoder\": true"), {}, {}, {},
       "text2text-generation", {"architecture"}, {}},
      {"bert_tiny_by_id", cfg("bert", "BertModel"), "prajjwal1/bert-tiny", {}, {}, "feature-extraction",
       {"model-id-default"}, {}},
      {"bert_tiny_by_name_or_path", cfg("bert", "BertForMaskedLM", "\"_name_or_path\": \"prajjwal1/bert-tiny\""), {}, {},
       {}, "feature-extraction", {"model-id-default"}, {}},
      {"bert_masked_lm", cfg("bert", "BertForMaskedLM"), {}, {}, {}, "fill-mask", {"architecture"}, {"BertForMaskedLM"}},
      {"bert_type", "", {}, "bert", {}, "feature-extraction", {"model-type-default"}, {"BertModel"}},
      {"dinov2_model", cfg("dinov2", "Dinov2Model"), {}, {}, {}, "image-feature-extraction", {"architecture"},
       {"Dinov2Model"}},
      {"dinov2_type", "", {}, "dinov2", {}, "image-feature-extraction", {"model-type-default"}, {"Dinov2Model"}},
      {"segformer_classification", cfg("segformer", "SegformerForImageClassification"), {}, {}, {},
       "image-classification", {"architecture"}, {}},
      {"timm_wrapper", cfg("timm_wrapper", "", "\"architecture\": \"resnet50\""), {}, {}, {}, "image-classification",
       {"wrapped-library"}, {}},
      {"vitpose_config", cfg("vitpose", "VitPoseForPoseEstimation"), {}, {}, {}, "keypoint-detection",
       {"sentinel-default"}, {"VitPoseForPoseEstimation"}},
      {"vitpose_type", "", {}, "vitpose", {}, "keypoint-detection", {"sentinel-default"}, {"VitPoseForPoseEstimation"}},
      {"vivit", cfg("vivit", "VivitForVideoClassification"), {}, {}, {}, "video-classification", {"architecture"}, {}},
      {"qwen_remote_code",
       cfg("qwen", "QWenLMHeadModel",
           "\"auto_map\": {\"AutoConfig\": \"configuration_qwen.QWenConfig\", "
           "\"AutoModelForCausalLM\": \"modeling_qwen.QWenLMHeadModel\"}"),
       {}, {}, {}, "text-generation", {"remote-code"}, {"QWenLMHeadModel"}},
      {"unknown_architecture", cfg("foo", "FooForBar"), {}, {}, {}, std::nullopt, {"unresolved"}, {}},
  };
}

}  // namespace modelkit::test
