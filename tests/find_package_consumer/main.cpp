// Built against the installed modelkit: resolves the task of a model type (as
// 'modelkit inspect --model-type T' does), encodes text with a tokenizer.json held in memory
// (ICU, PCRE2 and utf8proc at run time), decodes an image if given one (libjpeg/libpng), and
// prints the versions (ONNX Runtime loaded at run time).
// usage: modelkit_consumer MODEL_TYPE [IMAGE]
#include <modelkit/image.hpp>
#include <modelkit/model.hpp>
#include <modelkit/plan.hpp>
#include <modelkit/runtime.hpp>
#include <modelkit/tokenizer.hpp>
#include <modelkit/version.hpp>

#include <cstdio>
#include <string>

namespace {

// A word-level vocabulary: "Hello  wörld" normalises (NFC) and splits on whitespace to 1, 2.
constexpr std::string_view kTokenizerJson = R"({
  "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
  "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Lowercase"}]},
  "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null, "decoder": null,
  "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "hello": 1, "w\u00f6rld": 2}, "unk_token": "[UNK]"}
})";

int fail(const std::string& message) {
  std::fprintf(stderr, "modelkit_consumer: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) return fail("usage: modelkit_consumer MODEL_TYPE [IMAGE]");
  modelkit::ModelSpec spec;
  spec.model_type = argv[1];
  auto model = modelkit::resolve_model(spec, modelkit::CacheLocation{});
  if (!model) return fail(model.error().message);
  const auto& r = model->resolution;
  std::printf("task %s\noptimum_task %s\nsource %s\nclass %s\ncalibration %s\n", r.task.value_or("-").c_str(),
              r.optimum_task.value_or("-").c_str(), r.source.c_str(), r.model_class.value_or("-").c_str(),
              std::string(modelkit::setting_name(modelkit::calibration_kind_for(r).first)).c_str());

  auto tok = modelkit::tokenizer::Tokenizer::from_json(kTokenizerJson);
  if (!tok) return fail(tok.error().message);
  // "wo" + U+0308 (combining diaeresis) composes to "wö" under NFC.
  auto enc = tok->encode("Hello  wo\xcc\x88rld");
  if (!enc) return fail(enc.error().message);
  std::printf("ids");
  for (auto id : enc->ids) std::printf(" %u", id);
  std::printf("\n");

  if (argc == 3) {
    auto img = modelkit::image::decode_image(argv[2]);
    if (!img) return fail(img.error().message);
    std::printf("image %dx%d %s\n", img->width, img->height, img->source_format.c_str());
  }
  std::printf("modelkit %s\nonnxruntime %s\n", std::string(modelkit::version()).c_str(),
              modelkit::runtime::onnxruntime_version().c_str());
  return 0;
}
