// The exporter's vision families (vision.cpp): patch-embedding transformers (ViT, DeiT, DINOv2,
// the CLIP vision tower), their checkpoint tensor names, the input size an export uses, and the
// graphs of their heads. Kept apart from the text encoders (families.hpp) so each grows alone.
#pragma once

#include "export/graph.hpp"

#include <modelkit/model.hpp>
#include <modelkit/result.hpp>

#include <array>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace modelkit::exporter {

// The vision heads.
enum class VisionHead {
  base,                  // last_hidden_state (+ pooler_output)
  with_projection,       // CLIPVisionModelWithProjection: image_embeds + last_hidden_state
  image_classification,  // logits
  teacher,               // DeiTForImageClassificationWithTeacher: logits = mean of the two heads
  contrastive,           // CLIPModel: logits_per_image, logits_per_text, text_embeds, image_embeds
};

// How the backbone is put together.
enum class VisionArch {
  vit, deit, dinov2, clip, convnext, resnet, clip_text, clip_model, mobilenet_v2, beit, swin,
  siglip,         // SiglipConfig (siglip.cpp): SiglipModel, either tower, SiglipForImageClassification
  siglip_vision,  // SiglipVisionConfig alone (siglip_vision_model)
  siglip_text,    // SiglipTextConfig alone (siglip_text_model)
};

struct VisionClass {
  std::string_view name;  // "ViTForImageClassification"
  VisionHead head;
};

struct VisionFamily {
  std::string_view model_type;
  VisionArch arch;
  std::vector<VisionClass> classes;
  std::vector<std::string_view> base_prefixes;  // tried in order to find the backbone's tensors
};

[[nodiscard]] const std::vector<VisionFamily>& vision_families();
[[nodiscard]] const VisionFamily* find_vision_family(std::string_view model_type);
[[nodiscard]] std::string_view vision_head_name(VisionHead head);

struct VisionPlan {
  const VisionFamily* family = nullptr;
  VisionHead head = VisionHead::base;
  std::string model_class;
};

// nullopt when the model's model_type is not a vision family; an error when it is but the resolved
// class is not one the exporter builds (naming those it does and the --onnx FILE way).
[[nodiscard]] Result<std::optional<VisionPlan>> vision_plan(const ResolvedModel& model);

struct ImageSize {
  std::int64_t height = 0, width = 0;
};

// Builds the graph for `plan`. The input size is `size` when given, else the checkpoint's
// preprocessor_config.json output size when it is fixed, else config.json's image_size. `source` may
// be replaced by a wrapper that computes derived tensors (DINOv2's position embeddings interpolated
// to the export size) from the checkpoint's own; with random weights `random` is the source.
[[nodiscard]] Result<void> build_vision(GraphBuilder& g, const VisionPlan& plan, std::string_view config_json,
                                        const std::filesystem::path& folder, std::unique_ptr<WeightSource>& source,
                                        RandomWeights* random, std::optional<ImageSize> size = std::nullopt);

// The prefix of the backbone's tensors: with random weights the one transformers' class writes (none
// for the base model, `head_prefix` ("resnet.") under a head), else the first of the family's
// base_prefixes under which the checkpoint holds `probe`; an error naming head_prefix + probe when
// none does.
[[nodiscard]] Result<std::string> backbone_prefix(const VisionPlan& plan, const WeightSource& source, bool random,
                                                  std::string_view head_prefix, const std::string& probe);

// The export size: `size` when given, else the processor's fixed output size, else image_size; `from`
// says which (for messages).
[[nodiscard]] Result<ImageSize> vision_export_size(const std::filesystem::path& folder, std::int64_t image_size,
                                                   std::optional<ImageSize> size, std::string* from);

// ConvNeXt (convnext.cpp): a convolutional backbone, built by build_vision for VisionArch::convnext.
[[nodiscard]] Result<void> build_convnext(GraphBuilder& g, const VisionPlan& plan, std::string_view config_json,
                                          const std::filesystem::path& folder, const WeightSource& source,
                                          RandomWeights* random, std::optional<ImageSize> size);

// ResNet (resnet.cpp), BatchNorm folded into the convolutions at export time: `source` is wrapped.
[[nodiscard]] Result<void> build_resnet(GraphBuilder& g, const VisionPlan& plan, std::string_view config_json,
                                        const std::filesystem::path& folder, std::unique_ptr<WeightSource>& source,
                                        RandomWeights* random, std::optional<ImageSize> size);

// MobileNetV2 (mobilenet_v2.cpp), BatchNorm folded into the convolutions at export time: `source` is wrapped.
[[nodiscard]] Result<void> build_mobilenet_v2(GraphBuilder& g, const VisionPlan& plan, std::string_view config_json,
                                              const std::filesystem::path& folder,
                                              std::unique_ptr<WeightSource>& source, RandomWeights* random,
                                              std::optional<ImageSize> size);

// BEiT (beit.cpp): relative position biases gathered to [heads, N, N] at export time: `source` is wrapped.
[[nodiscard]] Result<void> build_beit(GraphBuilder& g, const VisionPlan& plan, std::string_view config_json,
                                      const std::filesystem::path& folder, std::unique_ptr<WeightSource>& source,
                                      RandomWeights* random, std::optional<ImageSize> size);

// Swin (swin.cpp): windowed attention; the relative position bias is gathered at export time, so
// `source` is wrapped.
[[nodiscard]] Result<void> build_swin(GraphBuilder& g, const VisionPlan& plan, std::string_view config_json,
                                      const std::filesystem::path& folder, std::unique_ptr<WeightSource>& source,
                                      RandomWeights* random, std::optional<ImageSize> size);

// SigLIP (siglip.cpp): SiglipModel, SiglipVisionModel, SiglipTextModel, SiglipForImageClassification.
[[nodiscard]] Result<void> build_siglip(GraphBuilder& g, const VisionPlan& plan, std::string_view config_json,
                                        const std::filesystem::path& folder, const WeightSource& source,
                                        RandomWeights* random, std::optional<ImageSize> size);

// A source that answers for tensors computed at export time from the checkpoint's own (read through
// the wrapped source: DINOv2's interpolated position table, ResNet's BatchNorm-folded convolutions),
// and passes every other name through.
class DerivedWeights final : public WeightSource {
 public:
  struct Input {
    std::string name;
    std::vector<std::int64_t> shape;
    Init init;  // what a random source fills in
  };
  struct Derived {
    std::vector<std::int64_t> shape;
    std::vector<Input> inputs;
    std::function<void(const std::vector<std::vector<float>>&, std::span<float>)> compute;
  };
  explicit DerivedWeights(std::unique_ptr<WeightSource> base) : base_(std::move(base)) {}
  void add(const std::string& name, Derived d) { derived_[name] = std::move(d); }
  // Every input of every derived tensor exists with its shape and a readable dtype (one-line errors
  // naming the tensor, as check_weights gives).
  [[nodiscard]] Result<void> check_inputs() const;

  [[nodiscard]] std::optional<TensorInfo> find(const std::string& name) const override;
  [[nodiscard]] Result<void> read(const std::string& name, Init init, std::span<float> out) const override;
  [[nodiscard]] Result<bool> write_f32(const std::string& name,
                                       const std::function<Result<void>(const void*, std::size_t)>& sink) const override;
  // Tensors passed through keep the base's in-kernel copies and transposes from the mapping.
  [[nodiscard]] std::optional<FileRange> f32_file_range(const std::string& name) const override {
    if (derived_.count(name)) return std::nullopt;
    return base_->f32_file_range(name);
  }
  [[nodiscard]] Result<bool> visit_f32(const std::string& name,
                                       const std::function<Result<void>(const float*, std::size_t)>& use) const override {
    if (derived_.count(name)) return false;
    return base_->visit_f32(name, use);
  }
  [[nodiscard]] WeightsSummary summary() const override { return base_->summary(); }

 private:
  std::unique_ptr<WeightSource> base_;
  std::map<std::string, Derived> derived_;
};

// torch's interpolate(mode="bicubic", align_corners=False, antialias=False) to an output size, on
// `channels` planes of in_h x in_w (row-major) -> out_h x out_w: cubic convolution with a = -0.75,
// source coordinate (d + 0.5) * in / out - 0.5, indices clamped at the borders.
[[nodiscard]] std::vector<float> resize_bicubic(const std::vector<float>& in, std::int64_t channels, std::int64_t in_h,
                                                std::int64_t in_w, std::int64_t out_h, std::int64_t out_w);

}  // namespace modelkit::exporter
