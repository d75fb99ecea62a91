// Models below opset 10 are upgraded in-process with ONNX's version converter (issue 10) and
// quantized; the manifest records the original opset. A model the converter cannot take is a
// clear error naming the operator, with nothing written.
#include <simdjson.h>

#include "exported_models.hpp"

namespace modelkit::test {
namespace {

constexpr double kMinCosineUpgraded = 0.99;

std::int64_t default_opset_of(const fs::path& model) {
  // The quantized model's own opset, read by the CLI's inspect.
  auto r = run_cli({"inspect", "-m", model.string(), "--format", "json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser parser;
  auto doc = parser.parse(r.out).value();
  for (auto o : doc["onnx"]["opset_imports"].get_array()) {
    std::string_view domain = o["domain"].get_string().value();
    if (domain.empty() || domain == "ai.onnx") return o["version"].get_int64().value();
  }
  return -1;
}

TEST(OpsetUpgrade, Opset9ModelIsUpgradedTo13AndQuantized) {
  TempDir tmp;
  auto model = exported_model("opset9");
  auto out = tmp / "q.onnx";
  auto r = run_cli({"quantize", "-m", model.string(), "-o", out.string(), "--input-shape", "x=1x3x64x64", "--samples",
                    "8"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: model uses opset 9; converted to opset 13 with ONNX's version converter"),
            std::string::npos)
      << r.err;
  simdjson::dom::parser parser;
  auto m = parser.load((tmp / "q.manifest.json").string()).value();
  EXPECT_EQ(m["opset_upgrade"]["original_opset"].get_int64().value(), 9);
  EXPECT_EQ(m["opset_upgrade"]["opset"].get_int64().value(), 13);
  EXPECT_EQ(std::string(m["source_onnx"].get_string().value()), model.string());
  EXPECT_GE(m["validation"]["min_cosine_similarity"].get_double().value(), kMinCosineUpgraded);
  EXPECT_EQ(default_opset_of(out), 13);
  // The upgraded copy lives in its own temporary folder, never beside the output.
  for (const auto& e : fs::directory_iterator(tmp.path()))
    EXPECT_TRUE(e.path().filename() == "q.onnx" || e.path().filename() == "q.manifest.json") << e.path();
}

TEST(OpsetUpgrade, PpOcrClassifierStopsAtTheHighestOpsetThatConverts) {
  // PP-OCR's opset-9 classifier: Softmax 12 -> 13 needs a rank the model does not declare, so
  // the upgrade stops at 12 and says why.
  TempDir tmp;
  auto r = run_cli({"quantize", "-m",
                    (fs::path(MODELKIT_DEPS_DIR) / "models" / "pp-ocr" / "ch_ppocr_mobile_v2.0_cls_infer.onnx").string(),
                    "-o", (tmp / "cls.onnx").string(), "--input-shape", "x=1x3x48x192", "--samples", "6", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser parser;
  auto m = parser.load((tmp / "cls.manifest.json").string()).value();
  EXPECT_EQ(m["opset_upgrade"]["original_opset"].get_int64().value(), 9);
  EXPECT_EQ(m["opset_upgrade"]["opset"].get_int64().value(), 12);
  EXPECT_NE(std::string(m["opset_upgrade"]["note"].get_string().value()).find("Softmax"), std::string::npos);
}

TEST(OpsetUpgrade, AnUnknownOperatorIsNamed) {
  TempDir tmp;
  auto model = exported_model("opset9-unknown-op");
  auto r = run_cli({"quantize", "-m", model.string(), "-o", (tmp / "q.onnx").string(), "--quiet"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("cannot convert '" + model.string() +
                       "' from opset 9 to 13: operator 'MadeUpOp' (node 'odd_node') is not an ONNX operator at opset 9"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(fs::is_empty(tmp.path()));
}

}  // namespace
}  // namespace modelkit::test
