// Inputs the libFuzzer target onnx_model_fuzz found (tests/data/fuzz/onnx_model/), replayed
// through the same API: ModelProto bytes parsed, described and their external data read from a
// folder holding weights.bin (byte i is i mod 251) and a link to /etc.
#include "fuzz_regressions.hpp"
#include "test_support.hpp"

#include "onnx/model_proto.hpp"
#include "onnx/onnx_json.hpp"
#include "onnx/wire_scan.hpp"
#include "util/json_writer.hpp"

#include <modelkit/onnx.hpp>

#include <gtest/gtest.h>

namespace modelkit::onnx {
namespace {

class OnnxFuzzRegressions : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string weights(4096, '\0');
    for (std::size_t i = 0; i < weights.size(); ++i) weights[i] = static_cast<char>(i % 251);
    test::write_file(dir_ / "weights.bin", weights);
    test::write_file(dir_ / "sub" / "weights.bin", weights);
    std::filesystem::create_symlink("weights.bin", dir_ / "link_in.bin");
    std::filesystem::create_symlink("/etc", dir_ / "link_out");
  }
  test::TempDir dir_;
};

TEST_F(OnnxFuzzRegressions, Models) {
  for (const auto& [name, input] : test::fuzz_inputs("onnx_model")) {
    auto model = parse_model_proto(input, "'model.onnx'");
    if (!model) {
      test::expect_one_line(model.error(), name);
      continue;
    }
    auto info = model_info_from_proto(*model, dir_ / "model.onnx", input.size());
    if (!info) test::expect_one_line(info.error(), name);
    // inspect's wire scanner describes what protobuf describes, identically (a tag of 5 bytes
    // is read modulo 2^32 as protobuf reads it: tag_wider_than_32_bits.bin).
    auto scan = wire::scan_model(input, "'model.onnx'");
    if (info.ok()) {
      ASSERT_TRUE(scan.ok()) << name << ": " << scan.error().message;
      auto scanned = model_info_from_scan(*scan, dir_ / "model.onnx", input.size());
      ASSERT_TRUE(scanned.ok()) << name << ": " << scanned.error().message;
      util::JsonWriter a, b;
      write_model_info_json(a, *info);
      write_model_info_json(b, *scanned);
      EXPECT_EQ(a.str(), b.str()) << name;
    }
    for (const auto& init : model->graph().initializer()) {
      auto tensor = tensor_from_proto(init, dir_.path());
      if (!tensor) test::expect_one_line(tensor.error(), name);
    }
    auto loaded = *model;
    auto r = load_external_data(loaded, dir_.path());
    if (!r) test::expect_one_line(r.error(), name);
    // Describing checks every external reference: a model it accepts must load.
    if (info.ok()) {
      EXPECT_TRUE(r.ok()) << name << ": " << r.error().message;
    }
  }
}

TEST_F(OnnxFuzzRegressions, ExternalLengthNotMatchingTheShapeIsRefusedWhenDescribing) {
  // Initializer 'w' is float[4] (16 bytes) but its external reference says length 4080: loading
  // refused it while model_info_from_proto accepted it (and counted 4080 external bytes).
  auto input = test::fuzz_input("onnx_model", "external_length_mismatch.bin");
  auto model = parse_model_proto(input, "'model.onnx'");
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto info = model_info_from_proto(*model, dir_ / "model.onnx", input.size());
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.error().message.find("tensor 'w': external data length 4080 does not match its shape and type (16 bytes)"),
            std::string::npos)
      << info.error().message;
  auto loaded = *model;
  EXPECT_FALSE(load_external_data(loaded, dir_.path()).ok());
}

TEST_F(OnnxFuzzRegressions, TensorNameWithNewlineStaysOnOneLine) {
  // An initializer named "\n\0\x10\x11" with corrupt dims: its name is quoted, escaped.
  auto model = parse_model_proto(test::fuzz_input("onnx_model", "newline_in_quoted_value.bin"), "'model.onnx'");
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto info = model_info_from_proto(*model, dir_ / "model.onnx", 136);
  ASSERT_FALSE(info.ok());
  test::expect_one_line(info.error(), "newline_in_quoted_value.bin");
  EXPECT_NE(info.error().message.find("tensor '\\n\\x00\\x10\\x11': dimensions describe more than 1 TiB"), std::string::npos)
      << info.error().message;
}

}  // namespace
}  // namespace modelkit::onnx
