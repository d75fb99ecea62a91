// collect_ranges on real models: minmax ranges cross-checked against the runtime layer's own
// extra-output session run sample by sample; If-branch routing; progress; cancellation.
#include <modelkit/calib_stats.hpp>
#include <modelkit/runtime.hpp>

#include "random_source.hpp"
#include "test_support.hpp"

#include <onnx/onnx_pb.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>

namespace modelkit::calib {
namespace {
namespace fs = std::filesystem;

fs::path model(const std::string& relative) {
  auto p = fs::path(MODELKIT_DEPS_DIR) / "models" / relative;
  EXPECT_TRUE(fs::exists(p)) << p << " is missing: run scripts/setup.sh";
  return p;
}

TEST(CollectRanges, MinMaxMatchesDirectRuns) {
  auto path = model("cnn-tiny/model.onnx");
  InputHints hints;
  hints.image_size = 32;
  auto source = testing::RandomSource::open(path, 6, hints);
  ASSERT_TRUE(source.ok());
  // Conv outputs, a Relu output, the graph input and the output.
  std::vector<std::string> names = {"pixel_values", "/features/features.0/Conv_output_0",
                                    "/features/features.2/Relu_output_0", "logits"};
  auto ranges = collect_ranges(path, names, *source, {});
  ASSERT_TRUE(ranges.ok()) << ranges.error().message;
  EXPECT_EQ(ranges->samples, 6u);
  EXPECT_EQ(ranges->method, CalibrationMethod::minmax);

  // Reference: the runtime layer's own extra-output session, min/max over the same samples.
  std::vector<std::string> intermediate(names.begin() + 1, names.end());
  auto session = runtime::open_with_extra_outputs(path, intermediate);
  ASSERT_TRUE(session.ok()) << session.error().message;
  std::map<std::string, Range> expected;
  ASSERT_TRUE(source->rewind().ok());
  while (true) {
    auto sample = source->next();
    ASSERT_TRUE(sample.ok());
    if (!*sample) break;
    auto outputs = session->run(**sample, intermediate);
    ASSERT_TRUE(outputs.ok()) << outputs.error().message;
    std::vector<Tensor> all = std::move(*outputs);
    all.push_back((**sample)[0]);
    for (const auto& t : all) {
      auto [it, fresh] = expected.emplace(t.name, Range{INFINITY, -INFINITY});
      for (float v : t.values<float>()) {
        it->second.min = std::min(it->second.min, v);
        it->second.max = std::max(it->second.max, v);
      }
    }
  }
  for (const auto& name : names) {
    ASSERT_TRUE(ranges->tensors.count(name)) << name;
    EXPECT_EQ(ranges->tensors.at(name).min, expected.at(name).min) << name;
    EXPECT_EQ(ranges->tensors.at(name).max, expected.at(name).max) << name;
  }
  EXPECT_GE(ranges->tensors.at("/features/features.2/Relu_output_0").min, 0.f);
}

TEST(CollectRanges, ProgressAndSampleLimit) {
  auto path = model("cnn-tiny/model.onnx");
  InputHints hints;
  hints.image_size = 16;
  auto source = testing::RandomSource::open(path, 50, hints);
  ASSERT_TRUE(source.ok());
  std::vector<std::uint64_t> seen;
  CollectOptions options;
  options.max_samples = 7;
  options.progress = [&](const CollectProgress& p) {
    seen.push_back(p.samples_done);
    EXPECT_EQ(p.samples_total, 7u);
    EXPECT_GE(p.elapsed_seconds, 0.0);
  };
  std::vector<std::string> names = {"logits"};
  auto ranges = collect_ranges(path, names, *source, options);
  ASSERT_TRUE(ranges.ok()) << ranges.error().message;
  EXPECT_EQ(ranges->samples, 7u);
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7}));
}

TEST(CollectRanges, CancellationStopsCleanly) {
  auto path = model("cnn-tiny/model.onnx");
  InputHints hints;
  hints.image_size = 16;
  auto source = testing::RandomSource::open(path, 50, hints);
  ASSERT_TRUE(source.ok());
  std::atomic<bool> cancel{false};
  CollectOptions options;
  options.max_samples = 0;
  options.cancel = &cancel;
  options.progress = [&](const CollectProgress& p) {
    if (p.samples_done == 3) cancel = true;  // as a Ctrl-C handler would
  };
  std::vector<std::string> names = {"logits"};
  auto ranges = collect_ranges(path, names, *source, options);
  ASSERT_FALSE(ranges.ok());
  EXPECT_EQ(ranges.error().message, "calibration cancelled after 3 samples");
}

TEST(CollectRanges, UnknownTensorAndEmptySource) {
  auto path = model("cnn-tiny/model.onnx");
  InputHints hints;
  hints.image_size = 16;
  auto source = testing::RandomSource::open(path, 0, hints);
  ASSERT_TRUE(source.ok());
  std::vector<std::string> bad = {"no_such_tensor"};
  auto r = collect_ranges(path, bad, *source, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("'no_such_tensor'"), std::string::npos) << r.error().message;
  std::vector<std::string> names = {"logits"};
  r = collect_ranges(path, names, *source, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("yielded no sample"), std::string::npos) << r.error().message;
}

// Only graph inputs to calibrate: nothing is read from the graph. (An empty output list once made
// the session return the model's own outputs, which the routing table did not know: an
// uncaught std::out_of_range, rc 134, on a KV-cache decoder.)
TEST(CollectRanges, OnlyGraphInputsRunsNoGraphOutputs) {
  auto path = model("cnn-tiny/model.onnx");
  InputHints hints;
  hints.image_size = 16;
  auto source = testing::RandomSource::open(path, 3, hints);
  ASSERT_TRUE(source.ok());
  std::vector<std::string> names = {"pixel_values"};
  auto ranges = collect_ranges(path, names, *source, {});
  ASSERT_TRUE(ranges.ok()) << ranges.error().message;
  EXPECT_EQ(ranges->samples, 3u);
  ASSERT_EQ(ranges->tensors.size(), 1u);
  EXPECT_EQ(ranges->tensors.begin()->first, "pixel_values");
}

// Silero VAD v5 keeps everything inside If(sr == 16000): values of the branch that runs get
// ranges through the If outputs; the other branch's stay absent.
TEST(CollectRanges, ValuesInsideIfBranches) {
  auto path = model("silero-vad/silero_vad_v5.onnx");
  InputHints hints;
  hints.sampling_rate = 16000;
  auto source = testing::RandomSource::open(path, 3, hints, {{"input", {1, 512}}, {"state", {2, 1, 128}}});
  ASSERT_TRUE(source.ok()) << source.error().message;
  std::vector<std::string> names = {"If_0_then_branch__Inline_0__/encoder/0/reparam_conv/Conv_output_0",
                                    "If_0_else_branch__Inline_0__/encoder/0/reparam_conv/Conv_output_0",
                                    "output"};
  auto ranges = collect_ranges(path, names, *source, {});
  ASSERT_TRUE(ranges.ok()) << ranges.error().message;
  EXPECT_TRUE(ranges->tensors.count(names[0])) << "16 kHz branch ran";
  EXPECT_FALSE(ranges->tensors.count(names[1])) << "8 kHz branch never ran";
  ASSERT_TRUE(ranges->tensors.count("output"));
  EXPECT_GE(ranges->tensors.at("output").min, 0.f) << "a speech probability";
  EXPECT_LE(ranges->tensors.at("output").max, 1.f);
}


// Tensors whose extremes follow from another calibrated tensor's (Clip, Reshape, Relu of it, chains
// of them) are not reduced in the graph but derived per sample: their ranges, minmax and moving
// average, must equal those their own calibration op gives (each calibrated alone, nothing to
// derive from). A Relu of a Relu keeps its own reductions.
TEST(CollectRanges, DerivedRangesEqualTheirOwnReductions) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("derived");
  auto add_value = [](::onnx::ValueInfoProto* v, const char* name, std::vector<std::int64_t> dims) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(::onnx::TensorProto::FLOAT);
    for (auto d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
  };
  add_value(g->add_input(), "x", {2, 3, 4});
  add_value(g->add_output(), "y", {6, 4});
  auto add_init = [&](const char* name, ::onnx::TensorProto::DataType type, std::vector<std::int64_t> dims,
                      std::vector<double> values) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(type);
    for (auto d : dims) t->add_dims(d);
    for (double v : values)
      if (type == ::onnx::TensorProto::FLOAT) t->add_float_data(static_cast<float>(v));
      else t->add_int64_data(static_cast<std::int64_t>(v));
  };
  add_init("scale", ::onnx::TensorProto::FLOAT, {}, {3.0});
  add_init("low", ::onnx::TensorProto::FLOAT, {}, {-1.5});
  add_init("high", ::onnx::TensorProto::FLOAT, {}, {2.0});
  add_init("shape", ::onnx::TensorProto::INT64, {2}, {6, 4});
  auto add_node = [&](const char* op, std::vector<const char*> inputs, const char* output) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(std::string(op) + "_" + output);
    for (auto* i : inputs) n->add_input(i);
    n->add_output(output);
  };
  add_node("Mul", {"x", "scale"}, "m");
  add_node("Clip", {"m", "low", "high"}, "c");
  add_node("Reshape", {"c", "shape"}, "r");
  add_node("Relu", {"m"}, "relu_m");
  add_node("Relu", {"relu_m"}, "relu_relu_m");
  add_node("Relu", {"r"}, "y");
  modelkit::test::TempDir tmp;
  const fs::path path = tmp.path() / "derived.onnx";
  {
    std::ofstream out(path, std::ios::binary);
    ASSERT_TRUE(m.SerializeToOstream(&out));
  }
  auto source = testing::RandomSource::open(path, 5, {});
  ASSERT_TRUE(source.ok()) << source.error().message;
  const std::vector<std::string> names = {"m", "c", "r", "relu_m", "relu_relu_m", "y"};
  for (bool moving_average : {false, true}) {
    CollectOptions options;
    options.moving_average = moving_average;
    options.averaging_constant = 0.3;
    auto together = collect_ranges(path, names, *source, options);
    ASSERT_TRUE(together.ok()) << together.error().message;
    for (const auto& name : names) {
      std::vector<std::string> one = {name};
      auto alone = collect_ranges(path, one, *source, options);
      ASSERT_TRUE(alone.ok()) << alone.error().message;
      ASSERT_TRUE(together->tensors.count(name)) << name;
      EXPECT_EQ(together->tensors.at(name).min, alone->tensors.at(name).min) << name << " " << moving_average;
      EXPECT_EQ(together->tensors.at(name).max, alone->tensors.at(name).max) << name << " " << moving_average;
    }
    // The clamps did bite (random inputs times 3 cross both bounds), so the test can tell.
    EXPECT_EQ(together->tensors.at("c").max, 2.0f);
    EXPECT_LT(together->tensors.at("m").min, -1.5f);
  }
}

}  // namespace
}  // namespace modelkit::calib
