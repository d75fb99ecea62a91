// Zero-shot image classification (CLIP, SigLIP): the candidate labels as a padded batch of
// hypothesis sentences beside one image, scored as transformers' zero-shot image classification
// pipeline scores them (docs/run-eval.md, "Zero-shot image classification").
#include "infer/model_io.hpp"

#include "util/strings.hpp"

#include <algorithm>
#include <numeric>

namespace modelkit::infer {
namespace fs = std::filesystem;

Result<std::vector<std::string>> parse_candidate_labels(std::string_view list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const auto comma = list.find(',', start);
    const auto piece = util::trim(list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (piece.empty())
      return usage_error("option '--labels': expected comma-separated labels (a,b,c), got an empty label in '" +
                         std::string(list) + "'");
    out.emplace_back(piece);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (out.size() > kMaxCandidateLabels)
    return usage_error("option '--labels': " + std::to_string(out.size()) + " labels; at most " +
                       std::to_string(kMaxCandidateLabels) + " are taken");
  return out;
}

std::string hypothesis_for(std::string_view label, std::string_view hypothesis_template) {
  std::string out(hypothesis_template);
  if (auto at = out.find("{}"); at != std::string::npos) out.replace(at, 2, label);
  return out;
}

bool zero_shot_sigmoid(std::string_view model_type) { return model_type.find("siglip") != std::string_view::npos; }

std::vector<ClassScore> zero_shot_scores(std::span<const float> logits_per_image, std::span<const std::string> labels,
                                         bool sigmoid_scores) {
  auto p = sigmoid_scores ? sigmoid(logits_per_image) : softmax(logits_per_image);
  std::vector<std::size_t> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  // Sorted by score, highest first; equal scores keep the order the user gave.
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] > p[b]; });
  std::vector<ClassScore> out;
  for (auto i : order) out.push_back({i, i < labels.size() ? labels[i] : "LABEL_" + std::to_string(i), p[i]});
  return out;
}

Result<std::vector<Tensor>> zero_shot_text_inputs(const LoadedModel& m, std::span<const std::string> labels) {
  const bool takes_ids =
      std::any_of(m.inputs.begin(), m.inputs.end(), [](const auto& in) { return in.name == "input_ids"; });
  if (!takes_ids) return failure("the model takes no input_ids input: it cannot read the candidate labels");
  const auto path = m.folder / "tokenizer.json";
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    return failure("--labels needs the checkpoint's tokenizer.json; there is none in " + quoted(m.folder) +
                   (m.kind == "onnx" ? " (name the checkpoint with --config)" : ""));
  MODELKIT_TRY(auto tok, tokenizer::Tokenizer::from_file(path));
  tok.set_truncation(std::nullopt);
  std::vector<std::string> sentences;
  for (const auto& l : labels) sentences.push_back(hypothesis_for(l, kDefaultHypothesisTemplate));
  // The pipeline pads the batch to its longest text; SigLIP was trained on texts padded to 64
  // tokens, so the pipeline pads (and truncates) those to 64. A static sequence dim wins over both.
  std::optional<std::size_t> length;
  for (const auto& in : m.inputs)
    if (in.name == "input_ids" && in.has_shape && in.shape.size() == 2 && in.shape[1].value)
      length = static_cast<std::size_t>(*in.shape[1].value);
  if (!length && zero_shot_sigmoid(m.model.facts.config.model_type.value_or(""))) length = kSiglipTextLength;
  if (!length) {
    tok.set_padding(std::nullopt);
    std::size_t longest = 0;
    for (std::size_t i = 0; i < sentences.size(); ++i) {
      auto enc = tok.encode(sentences[i]);
      if (!enc) return enc.take_error().with_context("label " + quoted(labels[i]));
      longest = std::max(longest, enc->ids.size());
    }
    length = longest;
  }
  tok.set_fixed_length(*length);
  std::vector<std::int64_t> ids, mask, types;
  for (std::size_t i = 0; i < sentences.size(); ++i) {
    auto enc = tok.encode(sentences[i]);
    if (!enc) return enc.take_error().with_context("label " + quoted(labels[i]));
    ids.insert(ids.end(), enc->ids.begin(), enc->ids.end());
    mask.insert(mask.end(), enc->attention_mask.begin(), enc->attention_mask.end());
    types.insert(types.end(), enc->type_ids.begin(), enc->type_ids.end());
  }
  const std::vector<std::int64_t> shape{static_cast<std::int64_t>(sentences.size()), static_cast<std::int64_t>(*length)};
  std::vector<Tensor> out;
  out.push_back(Tensor::from_values<std::int64_t>("input_ids", shape, ids));
  out.push_back(Tensor::from_values<std::int64_t>("attention_mask", shape, mask));
  out.push_back(Tensor::from_values<std::int64_t>("token_type_ids", shape, types));
  return out;
}

}  // namespace modelkit::infer
