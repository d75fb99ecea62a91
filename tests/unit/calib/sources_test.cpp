// Calibration sources and the universal fallback (build-pipeline.md): which kind is
// used, what the samples hold, and what the record says.
#include <modelkit/calib_sources.hpp>
#include <modelkit/image.hpp>
#include <modelkit/tokenizer.hpp>

#include "test_support.hpp"
#include "value_info.hpp"

namespace modelkit::test {
namespace {

using calib::SourceRequest;


// A small WordPiece tokenizer.json (BERT layout) for the text source.
const char* kBertTokenizer = R"({
  "version": "1.0", "truncation": null, "padding": null,
  "added_tokens": [
    {"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 1, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 2, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 3, "content": "[SEP]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
  "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
  "pre_tokenizer": {"type": "BertPreTokenizer"},
  "post_processor": {"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
    "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
             {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
    "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]}, "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
  "decoder": null,
  "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
    "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "the": 4, "a": 5, "is": 6, "##s": 7, "cat": 8, "dog": 9, ".": 10, "hello": 11, "world": 12}}
})";

std::vector<onnx::ValueInfo> bert_inputs(ElementType type = ElementType::int64) {
  return {input("input_ids", type, {sym("batch_size"), sym("sequence_length")}),
          input("attention_mask", type, {sym("batch_size"), sym("sequence_length")}),
          input("token_type_ids", type, {sym("batch_size"), sym("sequence_length")})};
}

std::vector<calib::Sample> drain(calib::SampleSource& s) {
  std::vector<calib::Sample> out;
  while (true) {
    auto n = s.next();
    EXPECT_TRUE(n.ok()) << n.error().message;
    if (!n.ok() || !*n) break;
    out.push_back(std::move(**n));
  }
  return out;
}

TEST(CalibSources, TextModelGetsTokenizedText) {
  TempDir tmp;
  write_file(tmp / "tokenizer.json", kBertTokenizer);
  SourceRequest req{CalibrationKind::text, "", {}, tmp.path(), bert_inputs(), {}, 5, 16, 7, {}, std::nullopt, {}, {}};
  auto sel = calib::select_source(req);
  ASSERT_TRUE(sel.ok()) << sel.error().message;
  EXPECT_EQ(sel->record.kind, "text");
  EXPECT_FALSE(sel->record.fallback_reason.has_value());
  EXPECT_TRUE(sel->warnings.empty());
  auto samples = drain(*sel->source);
  ASSERT_EQ(samples.size(), 5u);
  for (const auto& s : samples) {
    ASSERT_EQ(s.size(), 3u);
    EXPECT_EQ(s[0].name, "input_ids");
    EXPECT_EQ(s[0].type, ElementType::int64);
    EXPECT_EQ(s[0].shape, (std::vector<std::int64_t>{1, 16}));
    EXPECT_EQ(s[0].values<std::int64_t>()[0], 2);  // [CLS]
    EXPECT_EQ(s[1].name, "attention_mask");
    EXPECT_EQ(s[2].name, "token_type_ids");
  }
  // rewind gives the same first sample again
  ASSERT_TRUE(sel->source->rewind().ok());
  auto again = sel->source->next();
  ASSERT_TRUE(again.ok() && *again);
  EXPECT_EQ((**again)[0].bytes, samples[0][0].bytes);
}

// Value for value: sample i is the tokenizer's encode() of text i, padded/truncated to the
// sequence length, for the embedded texts and for a JSONL file with pairs.
TEST(CalibSources, TextSamplesAreTheTokenizersEncodings) {
  TempDir tmp;
  write_file(tmp / "tokenizer.json", kBertTokenizer);
  write_file(tmp / "d.jsonl",
             "{\"text\": \"the cat is a dog\", \"text_pair\": \"hello world.\"}\n{\"text\": \"cats\"}\n"
             "{\"text\": \"the the the the the the the the the the the the the the the the the the\"}\n");
  auto tok = tokenizer::Tokenizer::from_file(tmp / "tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  tok->set_fixed_length(16);
  auto file_texts = calib::read_text_samples(tmp / "d.jsonl");
  ASSERT_TRUE(file_texts.ok());
  for (bool from_file : {false, true}) {
    SourceRequest req{CalibrationKind::text, "", {}, tmp.path(), bert_inputs(), {}, 6, 16, 7, {}, std::nullopt, {}, {}};
    if (from_file) req.data = tmp / "d.jsonl";
    auto sel = calib::select_source(req);
    ASSERT_TRUE(sel.ok()) << sel.error().message;
    auto samples = drain(*sel->source);
    const auto texts = from_file ? *file_texts : [] {
      std::vector<calib::TextSample> t;
      for (auto& s : calib::default_texts()) t.push_back({s, std::nullopt});
      return t;
    }();
    ASSERT_EQ(samples.size(), from_file ? 3u : 6u);
    for (std::size_t i = 0; i < samples.size(); ++i) {
      const auto& t = texts[i];
      auto enc = t.pair ? tok->encode(t.text, std::string_view(*t.pair), true) : tok->encode(t.text, std::nullopt, true);
      ASSERT_TRUE(enc.ok()) << enc.error().message;
      auto as_int64 = [](const std::vector<std::uint32_t>& v) { return std::vector<std::int64_t>(v.begin(), v.end()); };
      auto values = [](const Tensor& x) {
        auto v = x.values<std::int64_t>();
        return std::vector<std::int64_t>(v.begin(), v.end());
      };
      EXPECT_EQ(values(samples[i][0]), as_int64(enc->ids)) << t.text;
      EXPECT_EQ(values(samples[i][1]), as_int64(enc->attention_mask)) << t.text;
      EXPECT_EQ(values(samples[i][2]), as_int64(enc->type_ids)) << t.text;
      EXPECT_EQ(samples[i][0].shape, (std::vector<std::int64_t>{1, 16}));
    }
  }
}

TEST(CalibSources, Int32ModelInputsAreCastAndRecorded) {
  TempDir tmp;
  write_file(tmp / "tokenizer.json", kBertTokenizer);
  SourceRequest req{CalibrationKind::text, "", {}, tmp.path(), bert_inputs(ElementType::int32), {}, 2, 8, 0, {}, std::nullopt, {}, {}};
  auto sel = calib::select_source(req);
  ASSERT_TRUE(sel.ok()) << sel.error().message;
  EXPECT_EQ(sel->record.casts, (std::vector<std::string>{"input_ids int64 -> int32", "attention_mask int64 -> int32",
                                                         "token_type_ids int64 -> int32"}));
  auto samples = drain(*sel->source);
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[0][0].type, ElementType::int32);
  EXPECT_EQ(samples[0][0].values<std::int32_t>()[0], 2);
}

TEST(CalibSources, StaticSequenceDimWins) {
  TempDir tmp;
  write_file(tmp / "tokenizer.json", kBertTokenizer);
  std::vector<onnx::ValueInfo> inputs = {input("input_ids", ElementType::int64, {fixed(1), fixed(32)})};
  SourceRequest req{CalibrationKind::text, "", {}, tmp.path(), inputs, {}, 1, 128, 0, {}, std::nullopt, {}, {}};
  auto sel = calib::select_source(req);
  ASSERT_TRUE(sel.ok());
  auto samples = drain(*sel->source);
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0][0].shape, (std::vector<std::int64_t>{1, 32}));
  EXPECT_EQ(sel->record.dropped_inputs, (std::vector<std::string>{"attention_mask", "token_type_ids"}));
}

TEST(CalibSources, AudioModelFallsBackToRandomNotText) {
  // A wav2vec2-style backbone resolved to feature-extraction: the plan asks for text.
  TempDir tmp;
  write_file(tmp / "tokenizer.json", kBertTokenizer);  // even with a tokenizer present
  for (const char* name : {"input_values", "input_features"}) {
    std::vector<onnx::ValueInfo> inputs = {input(name, ElementType::float32, {sym("batch_size"), sym("sequence_length")})};
    SourceRequest req{CalibrationKind::text, "", {}, tmp.path(), inputs, {}, 3, 64, 11, {}, std::nullopt, {}, {}};
    auto sel = calib::select_source(req);
    ASSERT_TRUE(sel.ok()) << sel.error().message;
    EXPECT_EQ(sel->record.requested_kind, "text");
    EXPECT_EQ(sel->record.kind, "random");
    ASSERT_TRUE(sel->record.fallback_reason.has_value());
    EXPECT_EQ(*sel->record.fallback_reason,
              std::string("the text source produces input_ids, attention_mask, token_type_ids, none of which is an "
                          "input of the model (") + name + ")");
    ASSERT_EQ(sel->warnings.size(), 1u);
    auto samples = drain(*sel->source);
    ASSERT_EQ(samples.size(), 3u);
    EXPECT_EQ(samples[0][0].name, name);
    EXPECT_EQ(samples[0][0].type, ElementType::float32);
    EXPECT_NE(samples[0][0].bytes, samples[1][0].bytes);  // each sample draws anew
  }
}

TEST(CalibSources, MissingTokenizerFallsBackWithTheReason) {
  TempDir tmp;
  SourceRequest req{CalibrationKind::text, "", {}, tmp.path(), bert_inputs(), {}, 2, 8, 0, {}, std::nullopt, {}, {}};
  auto sel = calib::select_source(req);
  ASSERT_TRUE(sel.ok());
  EXPECT_EQ(sel->record.kind, "random");
  EXPECT_EQ(*sel->record.fallback_reason,
            "the text source cannot be built: no tokenizer.json in '" + tmp.path().string() + "'");
}

TEST(CalibSources, TaskWithoutDatasetKindIsRandomWithItsReason) {
  TempDir tmp;
  SourceRequest req{CalibrationKind::random, "task 'text-generation' has no dataset kind", {}, tmp.path(), bert_inputs(), {}, 2, 8, 0, {}, std::nullopt, {}, {}};
  auto sel = calib::select_source(req);
  ASSERT_TRUE(sel.ok());
  EXPECT_EQ(sel->record.kind, "random");
  EXPECT_EQ(sel->record.fallback_reason, "task 'text-generation' has no dataset kind");
  ASSERT_EQ(sel->warnings.size(), 1u);
  EXPECT_EQ(sel->warnings[0], "calibration uses random inputs: task 'text-generation' has no dataset kind");
}

const char* kVitProcessor = R"({"image_processor_type": "ViTImageProcessor", "do_resize": true,
  "size": {"height": 64, "width": 64}, "resample": 2, "do_rescale": true, "rescale_factor": 0.00392156862745098,
  "do_normalize": true, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]})";

TEST(CalibSources, ImageModelGetsPreprocessedPixels) {
  TempDir tmp;
  write_file(tmp / "preprocessor_config.json", kVitProcessor);
  std::vector<onnx::ValueInfo> inputs = {input("pixel_values", ElementType::float32, {sym("batch"), fixed(3), fixed(48), fixed(48)})};
  SourceRequest req{CalibrationKind::image, "", {}, tmp.path(), inputs, {}, 4, 128, 0, {}, std::nullopt, {}, {}};
  auto sel = calib::select_source(req);
  ASSERT_TRUE(sel.ok()) << sel.error().message;
  EXPECT_EQ(sel->record.kind, "image");
  auto samples = drain(*sel->source);
  ASSERT_EQ(samples.size(), 4u);
  EXPECT_EQ(samples[0][0].shape, (std::vector<std::int64_t>{1, 3, 48, 48}));  // the model's static size wins
  auto px = samples[0][0].values<float>();
  auto [lo, hi] = std::minmax_element(px.begin(), px.end());
  EXPECT_GE(*lo, -1.0F);
  EXPECT_LE(*hi, 1.0F);
  EXPECT_LT(*lo, *hi);
}

// Value for value: sample i is preprocess() of image i of the folder (sorted), with the
// processor's size replaced by the model's static 48x48.
TEST(CalibSources, ImageSamplesAreThePreprocessedFiles) {
  TempDir tmp;
  write_file(tmp / "preprocessor_config.json", kVitProcessor);
  const fs::path photos = fs::path(MODELKIT_DEPS_DIR) / "images" / "skimage";
  auto files = image::list_image_files(photos);
  ASSERT_TRUE(files.ok() && files->size() >= 3) << photos << " is missing: run scripts/setup.sh";
  std::vector<onnx::ValueInfo> inputs = {input("pixel_values", ElementType::float32, {sym("batch"), fixed(3), fixed(48), fixed(48)})};
  SourceRequest req{CalibrationKind::image, "", photos, tmp.path(), inputs, {}, 3, 128, 0, {}, std::nullopt, {}, {}};
  auto sel = calib::select_source(req);
  ASSERT_TRUE(sel.ok()) << sel.error().message;
  auto samples = drain(*sel->source);
  ASSERT_EQ(samples.size(), 3u);
  auto config = image::ImageProcessorConfig::from_file(tmp / "preprocessor_config.json");
  ASSERT_TRUE(config.ok());
  const auto fixed48 = config->with_fixed_output(48, 48);
  for (std::size_t i = 0; i < 3; ++i) {
    auto img = image::decode_image((*files)[i]);
    ASSERT_TRUE(img.ok()) << img.error().message;
    auto px = image::preprocess(*img, fixed48);
    ASSERT_TRUE(px.ok()) << px.error().message;
    ASSERT_EQ(samples[i][0].shape, (std::vector<std::int64_t>{1, 3, 48, 48}));
    auto got = samples[i][0].values<float>();
    ASSERT_EQ(got.size(), px->data.size());
    EXPECT_TRUE(std::equal(got.begin(), got.end(), px->data.begin())) << (*files)[i];
  }
}

TEST(CalibSources, MixedInputsGetTheUnion) {
  // A CLIP-like model with pixel_values and input_ids, calibrated on images.
  TempDir tmp;
  write_file(tmp / "preprocessor_config.json", kVitProcessor);
  std::vector<onnx::ValueInfo> inputs = {
      input("input_ids", ElementType::int64, {sym("batch"), sym("sequence")}),
      input("pixel_values", ElementType::float32, {sym("batch"), fixed(3), fixed(64), fixed(64)})};
  InputHints hints;
  hints.vocab_size = 100;
  SourceRequest req{CalibrationKind::image, "", {}, tmp.path(), inputs, hints, 2, 12, 3, {}, std::nullopt, {}, {}};
  auto sel = calib::select_source(req);
  ASSERT_TRUE(sel.ok()) << sel.error().message;
  EXPECT_EQ(sel->record.kind, "image");
  EXPECT_EQ(sel->record.filled_inputs, std::vector<std::string>{"input_ids"});
  auto samples = drain(*sel->source);
  ASSERT_EQ(samples.size(), 2u);
  ASSERT_EQ(samples[0].size(), 2u);
  EXPECT_EQ(samples[0][0].name, "input_ids");
  EXPECT_EQ(samples[0][0].shape, (std::vector<std::int64_t>{1, 12}));
  for (auto id : samples[0][0].values<std::int64_t>()) EXPECT_TRUE(id >= 0 && id < 100);
  EXPECT_EQ(samples[0][1].name, "pixel_values");
}

TEST(CalibSources, JsonlTextWithPairsAndBadLines) {
  TempDir tmp;
  write_file(tmp / "d.jsonl", "{\"text\": \"the cat\", \"text_pair\": \"a dog\"}\n\n{\"text\": \"hello world\"}\n");
  auto ok = calib::read_text_samples(tmp / "d.jsonl");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_EQ((*ok)[0].pair, "a dog");
  EXPECT_FALSE((*ok)[1].pair.has_value());
  write_file(tmp / "bad.jsonl", "{\"text\": \"x\"}\n{\"txt\": \"y\"}\n");
  auto bad = calib::read_text_samples(tmp / "bad.jsonl");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "'" + (tmp / "bad.jsonl").string() + "' line 2: no column 'text' (columns: txt); name the text column with --text-column");
}

TEST(CalibSources, DefaultImagesAreEmbeddedAndDecode) {
  // The embedded bytes are the committed files (data/images), and every one decodes.
  auto images = calib::default_images();
  ASSERT_EQ(images.size(), 12u);
  std::set<std::string_view> names;
  for (const auto& e : images) {
    names.insert(e.name);
    auto file = fs::path(MODELKIT_SOURCE_DIR) / "data" / "images" / std::string(e.name);
    std::ifstream in(file, std::ios::binary);
    std::string on_disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(e.bytes, on_disk) << e.name;
    auto decoded = image::decode_image_bytes(e.bytes, e.name);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(std::max(decoded->width, decoded->height), 320) << e.name;
  }
  EXPECT_EQ(names.size(), images.size());
}

TEST(CalibSources, DefaultTextIsVaried) {
  auto texts = calib::default_texts();
  EXPECT_GE(texts.size(), 1000u);  // --samples 1000 works on text
  std::set<std::string> unique(texts.begin(), texts.end());
  EXPECT_EQ(unique.size(), texts.size());
  // Scripts (by a character each), code with its line breaks, one-word and paragraph lengths.
  auto any = [&](auto pred) { return std::any_of(texts.begin(), texts.end(), pred); };
  for (const char* sample : {"д", "ع", "ה", "क", "会", "の", "회", "ก", "α"})
    EXPECT_TRUE(any([&](const std::string& t) { return t.find(sample) != std::string::npos; })) << sample;
  EXPECT_TRUE(any([](const std::string& t) { return t.find("\n    ") != std::string::npos && t.find("def ") == 0; }));
  EXPECT_TRUE(any([](const std::string& t) { return t == "Yes."; }));
  EXPECT_TRUE(any([](const std::string& t) { return t.size() > 300; }));
  EXPECT_TRUE(any([](const std::string& t) { return t.find("\\begin{equation}") == 0; }));
}

}  // namespace
}  // namespace modelkit::test
