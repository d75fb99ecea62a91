#include <modelkit/random_inputs.hpp>

#include "onnx/onnx_json.hpp"
#include "test_models.hpp"
#include "util/json_read.hpp"
#include "util/json_writer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <set>

namespace modelkit {
namespace {

using modelkit::testing::test_model;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<onnx::ValueInfo> inputs_of(const std::string& model) {
  auto info = onnx::read_model_info(test_model(model));
  EXPECT_TRUE(info.ok()) << info.error().message;
  return info.ok() ? info->inputs : std::vector<onnx::ValueInfo>{};
}

TEST(RandomInputs, TextEncoderGetsIdsMasksAndTypes) {
  auto inputs = inputs_of("bert-tiny-like/model.onnx");
  auto r = make_random_inputs(inputs, InputHints{}, {}, 42);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->tensors.size(), 3u);
  for (const auto& t : r->tensors) {
    EXPECT_EQ(t.type, ElementType::int64);
    EXPECT_EQ(t.shape, (std::vector<std::int64_t>{1, 128})) << t.name;
  }
  auto ids = r->tensors[0].values<std::int64_t>();
  EXPECT_TRUE(std::all_of(ids.begin(), ids.end(), [](auto v) { return v >= 0 && v < 1000; }));
  EXPECT_GT(std::set<std::int64_t>(ids.begin(), ids.end()).size(), 50u) << "ids must vary";
  auto mask = r->tensors[1].values<std::int64_t>();
  EXPECT_TRUE(std::all_of(mask.begin(), mask.end(), [](auto v) { return v == 1; }));
  auto types = r->tensors[2].values<std::int64_t>();
  EXPECT_TRUE(std::all_of(types.begin(), types.end(), [](auto v) { return v == 0; }));
  EXPECT_EQ(r->records[0].fill, "token ids uniform in [0, 1000) (the model's embedding rows)");
  EXPECT_EQ(r->records[1].fill, "ones (mask)");
  EXPECT_EQ(r->records[2].fill, "zeros (token types)");
  EXPECT_THAT(r->records[0].dims, ElementsAre("batch_size=1 (batch)", "sequence_length=128 (sequence length)"));
}

TEST(RandomInputs, SeededAndPerInputStreams) {
  auto inputs = inputs_of("bert-tiny-like/model.onnx");
  auto a = make_random_inputs(inputs, {}, {}, 7);
  auto b = make_random_inputs(inputs, {}, {}, 7);
  auto c = make_random_inputs(inputs, {}, {}, 8);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->tensors[0].bytes, b->tensors[0].bytes);
  EXPECT_NE(a->tensors[0].bytes, c->tensors[0].bytes);
  EXPECT_EQ(a->seed, 7u);
  // Overriding one input's shape leaves the prefix of another's stream alone.
  InputHints longer;
  longer.sequence_length = 256;
  auto d = make_random_inputs(inputs, longer, {}, 7);
  ASSERT_TRUE(d.ok());
  auto a_ids = a->tensors[0].values<std::int64_t>();
  auto d_ids = d->tensors[0].values<std::int64_t>();
  EXPECT_TRUE(std::equal(a_ids.begin(), a_ids.end(), d_ids.begin()));
}

TEST(RandomInputs, HintsAndOverrides) {
  auto inputs = inputs_of("bert-tiny-like/model.onnx");
  InputHints hints;
  hints.sequence_length = 16;
  hints.batch_size = 2;
  std::vector<InputShape> overrides = {{"attention_mask", {2, 16}}};
  auto r = make_random_inputs(inputs, hints, overrides, 1);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->tensors[0].shape, (std::vector<std::int64_t>{2, 16}));
  EXPECT_THAT(r->records[1].dims, ElementsAre("shape given: 2x16"));

  overrides = {{"input_idz", {1, 8}}};
  auto bad = make_random_inputs(inputs, hints, overrides, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message,
            "input shape for 'input_idz': the model has no such input (inputs: input_ids, attention_mask, token_type_ids)");
  EXPECT_EQ(bad.error().kind, ErrorKind::usage);
  overrides = {{"input_ids", {1, 8, 1}}};
  bad = make_random_inputs(inputs, hints, overrides, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("has 3 dimensions, the model declares 2"));
}

TEST(RandomInputs, ImageModels) {
  auto inputs = inputs_of("cnn-tiny/model.onnx");
  InputHints hints;
  hints.image_size = 32;
  hints.num_channels = 3;
  auto r = make_random_inputs(inputs, hints, {}, 3);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->tensors[0].shape, (std::vector<std::int64_t>{1, 3, 32, 32}));
  auto px = r->tensors[0].values<float>();
  double mean = std::accumulate(px.begin(), px.end(), 0.0) / px.size();
  double var = 0;
  for (float v : px) var += (v - mean) * (v - mean);
  var /= px.size();
  EXPECT_NEAR(mean, 0.0, 0.1);
  EXPECT_NEAR(var, 1.0, 0.1);
  EXPECT_EQ(r->records[0].fill, "normal(0, 1) (image)");

  // PP-OCR names its dims p2o.DynamicDimension.N: a rank-4 float input is read as an image.
  auto det = make_random_inputs(inputs_of("pp-ocr/ch_PP-OCRv4_det_infer.onnx"), {}, {}, 3);
  ASSERT_TRUE(det.ok()) << det.error().message;
  EXPECT_EQ(det->tensors[0].shape, (std::vector<std::int64_t>{1, 3, 224, 224}));
  auto rec = make_random_inputs(inputs_of("pp-ocr/ch_PP-OCRv4_rec_infer.onnx"), {}, {}, 3);
  ASSERT_TRUE(rec.ok()) << rec.error().message;
  EXPECT_EQ(rec->tensors[0].shape, (std::vector<std::int64_t>{1, 3, 48, 224}));
}

TEST(RandomInputs, AudioModelsAndUnresolvableDims) {
  auto legacy = make_random_inputs(inputs_of("silero-vad/silero_vad_legacy.onnx"), {}, {}, 5);
  ASSERT_TRUE(legacy.ok()) << legacy.error().message;
  // A raw waveform beside a sample-rate input: its free length is 1 s, not a token count.
  EXPECT_EQ(legacy->tensors[0].shape, (std::vector<std::int64_t>{1, 16000}));
  EXPECT_EQ(legacy->records[0].dims, (std::vector<std::string>{"batch=1 (batch)", "sequence=16000 (1 s of audio at 16000 Hz)"}));
  EXPECT_EQ(legacy->records[0].fill, "normal(0, 0.1) (audio noise)");
  EXPECT_EQ(legacy->tensors[1].shape, std::vector<std::int64_t>{});
  EXPECT_EQ(legacy->tensors[1].values<std::int64_t>()[0], 16000);
  EXPECT_EQ(legacy->records[1].fill, "sample rate 16000 (default)");
  EXPECT_EQ(legacy->tensors[2].shape, (std::vector<std::int64_t>{2, 1, 64}));

  // Silero v5 leaves its dims without names: no guessing, the user must say.
  auto v5 = inputs_of("silero-vad/silero_vad_v5.onnx");
  auto r = make_random_inputs(v5, {}, {}, 5);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "input 'input': dimension 0 of [?, ?] has neither a size nor a name; give the input's shape (input=...)");
  std::vector<InputShape> shapes = {{"input", {1, 512}}, {"state", {2, 1, 128}}};
  InputHints hints;
  hints.sampling_rate = 8000;
  r = make_random_inputs(v5, hints, shapes, 5);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->tensors[2].values<std::int64_t>()[0], 8000);
  shapes = {{"input", {1, 512}}, {"state", {3, 1, 128}}};
  r = make_random_inputs(v5, hints, shapes, 5);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("dimension 0 is fixed at 2 in the model, not 3"));
}

TEST(RandomInputs, Json) {
  auto r = make_random_inputs(inputs_of("cnn-tiny/model.onnx"), {}, {}, 9);
  ASSERT_TRUE(r.ok());
  util::JsonWriter json(false);
  write_random_inputs_json(json, *r);
  EXPECT_EQ(json.str(),
            R"j({"seed":9,"inputs":[{"name":"pixel_values","element_type":"float32","shape":[1,3,224,224],)j"
            R"j("fill":"normal(0, 1) (image)","dims":["batch_size=1 (batch)","num_channels=3 (default channels)",)j"
            R"j("height=224 (default image size)","width=224 (default image size)"]}]})j");
}

TEST(InputShape, Parses) {
  auto s = parse_input_shape("input_ids=1x128");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->name, "input_ids");
  EXPECT_EQ(s->shape, (std::vector<std::int64_t>{1, 128}));
  s = parse_input_shape("state=2,1,128");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->shape, (std::vector<std::int64_t>{2, 1, 128}));
  s = parse_input_shape("sr=");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->shape.empty());
  for (const char* bad : {"input_ids", "=1x2", "x=1xx2", "x=1x", "x=-1", "x=abc", "x=1x99999999999"}) {
    auto e = parse_input_shape(bad);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_EQ(e.error().kind, ErrorKind::usage);
    EXPECT_THAT(e.error().message, HasSubstr(std::string("'") + bad + "'"));
  }
}

// IEEE 754 binary16/bfloat16 encodings of exactly known values.
TEST(HalfFloat, KnownEncodings) {
  EXPECT_EQ(float_to_half_bits(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half_bits(-2.0f), 0xC000);
  EXPECT_EQ(float_to_half_bits(65504.0f), 0x7BFF);
  EXPECT_EQ(float_to_half_bits(65520.0f), 0x7C00);  // rounds up to infinity
  EXPECT_EQ(float_to_half_bits(0.0f), 0x0000);
  EXPECT_EQ(float_to_half_bits(5.9604645e-8f), 0x0001);  // smallest subnormal
  EXPECT_EQ(float_to_half_bits(0.333333343f), 0x3555);
  EXPECT_EQ(float_to_half_bits(1.0f + 1.0f / 2048), 0x3C00);  // tie to even
  EXPECT_EQ(float_to_half_bits(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(float_to_bfloat16_bits(1.0f), 0x3F80);
  EXPECT_EQ(float_to_bfloat16_bits(3.140625f), 0x4049);
}

}  // namespace
}  // namespace modelkit
