// What run.cpp and eval.cpp share: finding the ONNX model and its checkpoint files behind -m, the
// session, and turning text / an image / audio into model inputs.
#pragma once

#include <modelkit/calib_sources.hpp>
#include <modelkit/onnx.hpp>
#include <modelkit/run.hpp>
#include <modelkit/runtime.hpp>
#include <modelkit/tokenizer.hpp>

#include "util/temp_folder.hpp"

#include <memory>

namespace modelkit::infer {

struct LoadedModel {
  ResolvedModel model;
  std::filesystem::path onnx;
  std::filesystem::path folder;  // config.json, tokenizer.json, preprocessor_config.json live here
  std::string kind;              // built | checkpoint | exported | onnx
  LabelInfo labels;
  std::vector<onnx::ValueInfo> inputs;
  std::unique_ptr<runtime::Session> session;
  std::unique_ptr<util::TempFolder> export_dir;  // a natively exported model lives here
  std::vector<std::string> notes;
  [[nodiscard]] std::string task() const { return model.resolution.task.value_or(""); }
};

[[nodiscard]] Result<LoadedModel> load_model(const ModelSpec& spec, const std::optional<std::filesystem::path>& config,
                                             int threads);

// One text (and pair) tokenized for the model: the input tensors and the token view.
struct TextInputs {
  calib::Sample tensors;
  TokenView view;
  std::vector<std::int64_t> attention_mask;
};
[[nodiscard]] Result<TextInputs> text_inputs(const LoadedModel& m, const tokenizer::Tokenizer& tok,
                                             const std::string& text, const std::optional<std::string>& pair);
[[nodiscard]] Result<tokenizer::Tokenizer> load_tokenizer(const LoadedModel& m);

// A calibration source (image or audio kind) over `data` (a folder of images, an audio file or
// folder; nullopt: the embedded defaults) conformed to the model's inputs.
[[nodiscard]] Result<calib::SelectedSource> media_source(const LoadedModel& m, CalibrationKind kind,
                                                         const std::optional<std::filesystem::path>& data, int samples,
                                                         const std::vector<InputShape>& input_shapes = {});

// Casts integer/float tensors to the model's input types; errors on inputs the model lacks or
// needs and does not get.
[[nodiscard]] Result<std::vector<Tensor>> conform_inputs(const LoadedModel& m, std::vector<Tensor> tensors);

// A float32 copy of a numeric output (for post-processing).
[[nodiscard]] Result<std::vector<float>> as_floats(const Tensor& t);
// Token strings by id from tokenizer.json: model.vocab (an object token -> id, or Unigram's list
// of [piece, score]) and added_tokens. Ids nothing names are empty strings.
[[nodiscard]] Result<std::vector<std::string>> vocabulary_by_id(const std::filesystem::path& tokenizer_json);

// Feature extraction's one vector and how it was made ("mean of 'last_hidden_state'").
[[nodiscard]] Result<std::pair<std::vector<float>, std::string>> embedding_from(const LoadedModel& m,
                                                                               const std::vector<Tensor>& outputs,
                                                                               std::span<const std::int64_t> mask,
                                                                               Pooling pooling);

// Zero-shot image classification: the candidate labels, each in kDefaultHypothesisTemplate, as one
// padded batch (input_ids, attention_mask, token_type_ids) through the checkpoint's tokenizer.json.
[[nodiscard]] Result<std::vector<Tensor>> zero_shot_text_inputs(const LoadedModel& m, std::span<const std::string> labels);

[[nodiscard]] const Tensor* find_output(const std::vector<Tensor>& outputs, std::string_view name);

}  // namespace modelkit::infer
