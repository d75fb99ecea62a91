// read_model_info on real models, checked against facts that Debian's python3-onnx computed at
// setup (.deps/models/reference/*.json, scripts/test_models/reference_facts.py).
#include <modelkit/onnx.hpp>

#include "onnx/onnx_json.hpp"
#include "test_models.hpp"
#include "onnx/model_proto.hpp"
#include "util/file.hpp"
#include "util/json_read.hpp"
#include "util/json_writer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <ostream>
#include <string_view>

#include <map>

namespace modelkit::onnx {
namespace {

using modelkit::testing::models_dir;
using modelkit::testing::test_model;
using ::testing::HasSubstr;

struct Case {
  const char* model;      // under .deps/models
  const char* reference;  // under .deps/models/reference
};
// Test names and printed parameters say which model (not "16-byte object <...>").
void PrintTo(const Case& c, std::ostream* os) { *os << c.model; }

// A gtest name from free text: letters and digits kept, anything else '_'.
std::string param_name(std::string_view text) {
  std::string out(text);
  for (auto& ch : out)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return out;
}

const Case kCases[] = {
    {"silero-vad/silero_vad_legacy.onnx", "silero-vad__silero_vad_legacy.json"},
    {"silero-vad/silero_vad_v5.onnx", "silero-vad__silero_vad_v5.json"},
    {"pp-ocr/ch_PP-OCRv4_det_infer.onnx", "pp-ocr__ch_PP-OCRv4_det_infer.json"},
    {"pp-ocr/ch_PP-OCRv4_rec_infer.onnx", "pp-ocr__ch_PP-OCRv4_rec_infer.json"},
    {"pp-ocr/ch_ppocr_mobile_v2.0_cls_infer.onnx", "pp-ocr__ch_ppocr_mobile_v2.0_cls_infer.json"},
    {"bert-tiny-like/model.onnx", "bert-tiny-like__model.json"},
    {"cnn-tiny/model.onnx", "cnn-tiny__model.json"},
};

void expect_values_match(const std::vector<ValueInfo>& got, simdjson::dom::array want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  std::size_t i = 0;
  for (auto w : want) {
    const auto& g = got[i++];
    EXPECT_EQ(g.name, std::string_view(w["name"].get_string().value())) << what;
    EXPECT_EQ(static_cast<std::int64_t>(g.element_type), w["elem_type"].get_int64().value()) << what << " " << g.name;
    auto dims = w["dims"];
    if (dims.is_null()) {
      EXPECT_FALSE(g.has_shape) << g.name;
      continue;
    }
    ASSERT_TRUE(g.has_shape) << g.name;
    auto arr = dims.get_array().value();
    ASSERT_EQ(g.shape.size(), arr.size()) << g.name;
    std::size_t d = 0;
    for (auto dim : arr) {
      const auto& gd = g.shape[d++];
      if (dim.is_int64()) {
        EXPECT_EQ(gd.value, dim.get_int64().value()) << g.name << " dim " << d - 1;
      } else if (dim.is_string()) {
        EXPECT_FALSE(gd.value) << g.name;
        EXPECT_EQ(gd.symbol, std::string_view(dim.get_string().value())) << g.name << " dim " << d - 1;
      } else {
        EXPECT_TRUE(gd.is_anonymous()) << g.name << " dim " << d - 1;
      }
    }
  }
}

class ReferenceFacts : public ::testing::TestWithParam<Case> {};

TEST_P(ReferenceFacts, MatchesPythonOnnx) {
  const auto& c = GetParam();
  auto ref_text = util::read_file(models_dir() / "reference" / c.reference);
  ASSERT_TRUE(ref_text.ok()) << ref_text.error().message << " (run scripts/setup.sh)";
  simdjson::dom::parser parser;
  auto ref = util::parse_json(parser, *ref_text);
  ASSERT_TRUE(ref.ok());
  auto want = ref->get_object().value();

  auto info = read_model_info(test_model(c.model));
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->ir_version, want["ir_version"].get_int64().value());
  EXPECT_EQ(info->producer_name, std::string_view(want["producer_name"].get_string().value()));
  EXPECT_EQ(info->producer_version, std::string_view(want["producer_version"].get_string().value()));
  auto opsets = want["opset_imports"].get_array().value();
  ASSERT_EQ(info->opset_imports.size(), opsets.size());
  std::size_t i = 0;
  for (auto o : opsets) {
    EXPECT_EQ(info->opset_imports[i].domain, std::string_view(o["domain"].get_string().value()));
    EXPECT_EQ(info->opset_imports[i].version, o["version"].get_int64().value());
    ++i;
  }
  std::map<std::string, std::string> meta;
  {
    simdjson::dom::object items = want["metadata_props"].get_object().value();
    for (auto [k, v] : items) meta[std::string(k)] = std::string(v.get_string().value());
  }
  EXPECT_EQ(info->metadata_props.size(), meta.size());
  for (const auto& [k, v] : info->metadata_props) EXPECT_EQ(meta[k], v) << k;

  expect_values_match(info->inputs, want["inputs"].get_array().value(), "inputs");
  expect_values_match(info->outputs, want["outputs"].get_array().value(), "outputs");
  EXPECT_EQ(info->node_count, want["node_count"].get_int64().value());
  EXPECT_EQ(info->subgraph_node_count, want["subgraph_node_count"].get_int64().value());
  std::map<std::string, std::int64_t> ops;
  {
    simdjson::dom::object items = want["op_types"].get_object().value();
    for (auto [k, v] : items) ops[std::string(k)] = v.get_int64().value();
  }
  std::map<std::string, std::int64_t> got_ops;
  for (const auto& o : info->op_types) got_ops[o.op] = o.count;
  EXPECT_EQ(got_ops, ops);
  for (std::size_t k = 1; k < info->op_types.size(); ++k)
    EXPECT_GE(info->op_types[k - 1].count, info->op_types[k].count) << "op_types must be most used first";
  EXPECT_EQ(info->initializer_count, want["initializer_count"].get_int64().value());
  EXPECT_EQ(static_cast<std::int64_t>(info->initializer_bytes), want["initializer_bytes"].get_int64().value());
  EXPECT_EQ(info->external_data_bytes, 0u);
  EXPECT_TRUE(info->external_data_files.empty());
  EXPECT_FALSE(info->quantization.quantized) << c.model << " is a float model";
  EXPECT_TRUE(info->quantization.evidence.empty());
}

INSTANTIATE_TEST_SUITE_P(RealModels, ReferenceFacts, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return param_name(info.param.model); });

// index_bound is the embedding table's row count: it must equal config.json's vocab_size and
// type_vocab_size that the model was exported with.
TEST(ModelInfo, IndexBoundsMatchTheExportConfig) {
  auto info = read_model_info(test_model("bert-tiny-like/model.onnx"));
  ASSERT_TRUE(info.ok()) << info.error().message;
  auto config_text = util::read_file(test_model("bert-tiny-like/config.json"));
  ASSERT_TRUE(config_text.ok());
  simdjson::dom::parser parser;
  auto config = util::parse_json(parser, *config_text);
  ASSERT_TRUE(config.ok());
  std::map<std::string, std::optional<std::int64_t>> bounds;
  for (const auto& v : info->inputs) bounds[v.name] = v.index_bound;
  EXPECT_EQ(bounds["input_ids"], (*config)["vocab_size"].get_int64().value());
  EXPECT_EQ(bounds["token_type_ids"], (*config)["type_vocab_size"].get_int64().value());
  EXPECT_EQ(bounds["attention_mask"], std::nullopt);
  EXPECT_EQ(info->default_opset(), 14);
}

TEST(ModelInfo, JsonHasTheDocumentedFields) {
  auto info = read_model_info(test_model("silero-vad/silero_vad_legacy.onnx"));
  ASSERT_TRUE(info.ok()) << info.error().message;
  util::JsonWriter json;
  write_model_info_json(json, *info);
  simdjson::dom::parser parser;
  auto doc = util::parse_json(parser, json.str());
  ASSERT_TRUE(doc.ok()) << json.str();
  std::vector<std::string> keys;
  simdjson::dom::object top = doc->get_object().value();
  for (auto [k, v] : top) keys.emplace_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"path", "file_bytes", "ir_version", "producer_name", "producer_version",
                                            "domain", "model_version", "graph_name", "opset_imports", "metadata_props",
                                            "inputs", "outputs", "node_count", "subgraph_node_count",
                                            "function_count", "op_types", "initializer_count", "initializer_bytes",
                                            "external_data", "quantization"}));
  auto in0 = (*doc)["inputs"].at(0);
  EXPECT_EQ(std::string_view(in0["name"].get_string().value()), "input");
  EXPECT_EQ(std::string_view(in0["element_type"].get_string().value()), "float32");
  EXPECT_EQ(std::string_view(in0["shape"].at(0).get_string().value()), "batch");
  EXPECT_TRUE(in0["index_bound"].is_null());
  auto sr = (*doc)["inputs"].at(1);
  EXPECT_EQ(std::string_view(sr["element_type"].get_string().value()), "int64");
  EXPECT_EQ(sr["shape"].get_array().value().size(), 0u) << "sr is a scalar";
  EXPECT_EQ((*doc)["opset_imports"].get_array().value().size(), 9u);
  EXPECT_FALSE((*doc)["quantization"]["quantized"].get_bool().value());
  // The legacy Silero model's LSTM sits in If branches: counted as subgraph nodes.
  EXPECT_GT((*doc)["subgraph_node_count"].get_int64().value(), 0);
}

TEST(ModelInfo, TableNamesInputsOutputsAndOps) {
  auto info = read_model_info(test_model("bert-tiny-like/model.onnx"));
  ASSERT_TRUE(info.ok()) << info.error().message;
  auto table = format_model_info_table(*info);
  EXPECT_THAT(table, HasSubstr("input_ids  int64 [batch_size, sequence_length]  (indexes 1000 rows)"));
  EXPECT_THAT(table, HasSubstr("last_hidden_state  float32 [batch_size, sequence_length, 64]"));
  EXPECT_THAT(table, HasSubstr("ONNX IR 7, pytorch 1.13.0"));
  EXPECT_THAT(table, HasSubstr("ai.onnx 14"));
  EXPECT_THAT(table, HasSubstr("quantized     no"));
}

TEST(ModelInfo, AnonymousDimsStayAnonymous) {
  auto info = read_model_info(test_model("silero-vad/silero_vad_v5.onnx"));
  ASSERT_TRUE(info.ok()) << info.error().message;
  ASSERT_EQ(info->inputs.size(), 3u);
  EXPECT_EQ(format_dims(info->inputs[0]), "[?, ?]");
  EXPECT_EQ(format_dims(info->inputs[1]), "[2, ?, 128]");
}

// ONNX's own node tests hold real quantized-operator models.
struct QuantCase {
  const char* node_test;
  const char* evidence;
};
void PrintTo(const QuantCase& c, std::ostream* os) { *os << c.node_test; }
class QuantizedDetection : public ::testing::TestWithParam<QuantCase> {};

TEST_P(QuantizedDetection, NamesTheEvidence) {
  auto info = read_model_info(test_model(std::string("onnx-node-tests/") + GetParam().node_test + "/model.onnx"));
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_TRUE(info->quantization.quantized);
  EXPECT_THAT(info->quantization.evidence, ::testing::Contains(HasSubstr(GetParam().evidence)));
}

INSTANTIATE_TEST_SUITE_P(NodeTests, QuantizedDetection,
                         ::testing::Values(QuantCase{"test_qlinearmatmul_2D", "QLinearMatMul x1"},
                                           QuantCase{"test_qlinearconv", "QLinearConv x1"},
                                           QuantCase{"test_matmulinteger", "MatMulInteger x1"},
                                           QuantCase{"test_convinteger_with_padding", "ConvInteger x1"},
                                           QuantCase{"test_dequantizelinear", "DequantizeLinear x1"},
                                           QuantCase{"test_quantizelinear", "QuantizeLinear x1"},
                                           QuantCase{"test_dynamicquantizelinear", "DynamicQuantizeLinear x1"}),
                         [](const auto& info) { return param_name(info.param.node_test); });

TEST(QuantizedDetection, FloatNodeTestsAreNotQuantized) {
  for (const char* t : {"test_matmul_2d", "test_conv_with_strides_padding", "test_gemm_default_matrix_bias"}) {
    auto info = read_model_info(test_model(std::string("onnx-node-tests/") + t + "/model.onnx"));
    ASSERT_TRUE(info.ok()) << info.error().message;
    EXPECT_FALSE(info->quantization.quantized) << t;
  }
}

TEST(QuantizedDetection, Int8WeightsAreEvidence) {
  auto model = read_model_proto(test_model("cnn-tiny/model.onnx"));
  ASSERT_TRUE(model.ok());
  auto* w = model->mutable_graph()->add_initializer();
  w->set_name("conv.weight_quantized");
  w->set_data_type(static_cast<int>(ElementType::int8));
  w->add_dims(16);
  w->add_dims(16);
  w->set_raw_data(std::string(256, '\1'));
  auto info = model_info_from_proto(*model, "m.onnx", 0);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_TRUE(info->quantization.quantized);
  EXPECT_THAT(info->quantization.evidence,
              ::testing::ElementsAre("8/4-bit integer weights x1 (e.g. 'conv.weight_quantized')"));
}

}  // namespace
}  // namespace modelkit::onnx
