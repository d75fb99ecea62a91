// 'modelkit export' through the real CLI: bad checkpoints give one line and exit 1 (usage: 2) with
// nothing written; outputs are never written over inputs or, without --force, over anything.
#include "export_reference.hpp"
#include "test_support.hpp"
#include "util/json_read.hpp"

#include <gmock/gmock.h>

namespace modelkit::test {
namespace {

using ::testing::HasSubstr;

// A writable copy of one reference checkpoint.
fs::path copy_case(const TempDir& tmp, const std::string& name) {
  auto dst = tmp / name;
  fs::copy(export_reference().root / name, dst, fs::copy_options::recursive);
  fs::remove_all(dst / "reference");
  return dst;
}

// Rewrites a safetensors file's JSON header with `edit` (data unchanged).
void edit_header(const fs::path& file, const std::function<void(std::string&)>& edit) {
  auto bytes = read_text(file);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<size_t>(i)]);
  std::string header = bytes.substr(8, n), data = bytes.substr(8 + n);
  edit(header);
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  write_file(file, out + header + data);
}

void replace_once(std::string& s, const std::string& from, const std::string& to) {
  auto at = s.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  s.replace(at, from.size(), to);
}

// Exit code, one line on stderr holding `want`, nothing on stdout, nothing written beside the output.
void expect_refused(const CliResult& r, int code, const std::string& want, const fs::path& out) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
  EXPECT_THAT(r.err, HasSubstr(want));
  EXPECT_FALSE(fs::exists(out)) << out;
  for (const auto& e : fs::directory_iterator(out.parent_path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << "left behind: " << e.path();
}

TEST(ExportCli, ExportsAndPrintsJson) {
  TempDir tmp, out;
  auto ck = copy_case(tmp, "roberta-seqcls");
  auto r = run_cli({"export", "-m", ck.string(), "-o", (out / "m.onnx").string(), "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"family\": \"roberta\""));
  EXPECT_THAT(r.out, HasSubstr("\"outputs\": [\"logits\"]"));
  EXPECT_THAT(r.out, HasSubstr("\"files\": [\"model.safetensors\"]"));
  EXPECT_TRUE(fs::is_regular_file(out / "m.onnx"));
}

TEST(ExportCli, MissingTensor) {
  TempDir tmp, out;
  auto ck = copy_case(tmp, "bert-seqcls");
  edit_header(ck / "model.safetensors", [](std::string& h) {
    replace_once(h, "\"bert.encoder.layer.1.output.dense.weight\"", "\"bert.encoder.layer.1.output.dense.weigh\"");
  });
  expect_refused(run_cli({"export", "-m", ck.string(), "-o", (out / "m.onnx").string()}), 1,
                 "tensor 'bert.encoder.layer.1.output.dense.weight' is missing", out / "m.onnx");
}

TEST(ExportCli, UntiedDecoderMissingIsAnErrorNotTheTiedOne) {
  TempDir tmp, out;
  auto ck = copy_case(tmp, "bert-mlm-untied");
  edit_header(ck / "model.safetensors", [](std::string& h) {
    replace_once(h, "\"cls.predictions.decoder.weight\"", "\"cls.predictions.decoder.unused\"");
  });
  expect_refused(run_cli({"export", "-m", ck.string(), "-o", (out / "m.onnx").string()}), 1,
                 "tensor 'cls.predictions.decoder.weight' is missing", out / "m.onnx");
}

TEST(ExportCli, TensorShapeDisagreesWithTheConfig) {
  TempDir tmp, out;
  auto ck = copy_case(tmp, "bert-tokcls");
  auto cfg = read_text(ck / "config.json");
  replace_once(cfg, "\"intermediate_size\": 37", "\"intermediate_size\": 38");
  write_file(ck / "config.json", cfg);
  expect_refused(run_cli({"export", "-m", ck.string(), "-o", (out / "m.onnx").string()}), 1,
                 "tensor 'bert.encoder.layer.0.intermediate.dense.weight' has shape [37, 32], config.json calls for "
                 "[38, 32]",
                 out / "m.onnx");
}

TEST(ExportCli, UnknownAndUnreadableDtypes) {
  TempDir tmp, out;
  auto ck = copy_case(tmp, "bert-qa");
  edit_header(ck / "model.safetensors", [](std::string& h) { replace_once(h, "\"F32\"", "\"X9\""); });
  expect_refused(run_cli({"export", "-m", ck.string(), "-o", (out / "m.onnx").string()}), 1, "unknown dtype 'X9'",
                 out / "m.onnx");
  auto ck2 = copy_case(tmp, "roberta-qa");
  edit_header(ck2 / "model.safetensors", [](std::string& h) {
    // I32 has F32's size, so the header stays consistent: only the type is wrong for a weight.
    replace_once(h, "\"roberta.embeddings.word_embeddings.weight\": {\"dtype\": \"F32\"",
                 "\"roberta.embeddings.word_embeddings.weight\": {\"dtype\": \"I32\"");
  });
  expect_refused(run_cli({"export", "-m", ck2.string(), "-o", (out / "m.onnx").string()}), 1,
                 "tensor 'roberta.embeddings.word_embeddings.weight' has dtype I32; export reads F32, F16 and BF16",
                 out / "m.onnx");
}

TEST(ExportCli, TruncatedSafetensors) {
  TempDir tmp, out;
  auto ck = copy_case(tmp, "electra-qa");
  auto file = ck / "model.safetensors";
  fs::resize_file(file, fs::file_size(file) - 100);
  expect_refused(run_cli({"export", "-m", ck.string(), "-o", (out / "m.onnx").string()}), 1, "is past the data",
                 out / "m.onnx");
}

TEST(ExportCli, UnsupportedFamilyAndHead) {
  TempDir tmp, out;
  write_file(tmp / "gpt2" / "config.json", R"({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]})");
  expect_refused(run_cli({"export", "-m", (tmp / "gpt2").string(), "-o", (out / "m.onnx").string()}), 1,
                 "model_type 'gpt2' is not supported by the exporter (families: bert, roberta", out / "m.onnx");
  auto ck = copy_case(tmp, "bert-base");
  auto cfg = read_text(ck / "config.json");
  replace_once(cfg, "\"BertModel\"", "\"BertForNextSentencePrediction\"");
  write_file(ck / "config.json", cfg);
  auto r = run_cli({"export", "-m", ck.string(), "-o", (out / "m.onnx").string()});
  expect_refused(r, 1, "model class 'BertForNextSentencePrediction'", out / "m.onnx");
  EXPECT_THAT(r.err, HasSubstr("--onnx FILE"));
}

TEST(ExportCli, AConfigDescribingAnAbsurdModelIsRefusedBeforeWriting) {
  TempDir tmp, out;
  auto ck = copy_case(tmp, "bert-base");
  auto cfg = read_text(ck / "config.json");
  replace_once(cfg, "\"vocab_size\": 50", "\"vocab_size\": 16000000");
  replace_once(cfg, "\"hidden_size\": 32", "\"hidden_size\": 65536");
  replace_once(cfg, "\"num_attention_heads\": 4", "\"num_attention_heads\": 1");
  write_file(ck / "config.json", cfg);
  expect_refused(run_cli({"export", "-m", ck.string(), "-o", (out / "m.onnx").string(), "--random-weights"}), 1,
                 "tensor 'embeddings.word_embeddings.weight' of shape [16000000, 65536] is larger than", out / "m.onnx");
}

TEST(ExportCli, PytorchBinOnlyIsRefusedWithoutUnpickling) {
  TempDir tmp, out;
  auto ck = copy_case(tmp, "bin-only");
  expect_refused(run_cli({"export", "-m", ck.string(), "-o", (out / "m.onnx").string()}), 1,
                 "has pytorch_model.bin but no model.safetensors", out / "m.onnx");
}

TEST(ExportCli, UsageErrors) {
  TempDir tmp, out;
  auto ck = copy_case(tmp, "bert-base");
  expect_refused(run_cli({"export", "-m", ck.string()}), 2, "name the output with -o", out / "m.onnx");
  expect_refused(run_cli({"export", "-m", ck.string(), "-o", (out / "m.onnx").string(), "--opset", "16"}), 2,
                 "--opset", out / "m.onnx");
  expect_refused(run_cli({"export", "-m", ck.string(), "-o", (out / "m.onnx").string(), "--seed", "3"}), 2,
                 "--seed only applies with --random-weights", out / "m.onnx");
}

TEST(ExportCli, NeverOverwritesAnInputNorAnOutputWithoutForce) {
  TempDir tmp, out;
  auto ck = copy_case(tmp, "bert-base");
  auto config_before = read_text(ck / "config.json");
  for (const auto& target : {ck, ck / "config.json", ck / "model.safetensors", tmp.path()}) {
    auto r = run_cli({"export", "-m", ck.string(), "-o", target.string(), "--force"});
    EXPECT_EQ(r.exit_code, 1) << target;
    EXPECT_THAT(r.err, HasSubstr("would overwrite the input checkpoint"));
  }
  EXPECT_EQ(read_text(ck / "config.json"), config_before);
  EXPECT_TRUE(fs::exists(ck / "model.safetensors"));

  auto dest = out / "exported";
  ASSERT_EQ(run_cli({"export", "-m", ck.string(), "-o", dest.string()}).exit_code, 0);
  write_file(dest / "marker", "x");
  auto again = run_cli({"export", "-m", ck.string(), "-o", dest.string()});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("exists; pass --force to replace it"));
  EXPECT_TRUE(fs::exists(dest / "marker"));
  auto forced = run_cli({"export", "-m", ck.string(), "-o", dest.string(), "--force"});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_FALSE(fs::exists(dest / "marker"));
  EXPECT_TRUE(fs::exists(dest / "model.onnx"));
  EXPECT_TRUE(fs::exists(dest / "config.json"));
}

TEST(ExportCli, ModelIdInTheCache) {
  TempDir hub, out;
  auto snap = make_cache_snapshot(hub.path(), "tiny-org/tiny-electra");
  for (const auto& e : fs::directory_iterator(export_reference().root / "electra-tokcls"))
    if (e.path().filename() != "reference") fs::copy(e.path(), snap / e.path().filename());
  auto r = run_cli({"export", "-m", "tiny-org/tiny-electra", "-o", (out / "m.onnx").string()},
                   {"HF_HUB_CACHE=" + hub.path().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("ElectraForTokenClassification"));
}


// A WordPiece tokenizer.json over the reference checkpoints' 50-row vocabulary: the special
// tokens, then letters and digits; every other word becomes [UNK].
void write_small_tokenizer(const fs::path& folder) {
  std::string vocab = R"("[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3)";
  int id = 4;
  for (char c = 'a'; c <= 'z'; ++c) vocab += ", \"" + std::string(1, c) + "\": " + std::to_string(id++);
  for (char c = '0'; c <= '9'; ++c) vocab += ", \"" + std::string(1, c) + "\": " + std::to_string(id++);
  write_file(folder / "tokenizer.json", R"({"version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
    "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
      "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
      "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]}, "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
    "decoder": null,
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": {)" +
                                           vocab + "}}}");
}

// build -m on a checkpoint with safetensors and no ONNX: the export stage runs first, then
// calibration on text through the checkpoint's own tokenizer, quantization and validation.
TEST(ExportCli, BuildExportsASafetensorsOnlyCheckpointFirst) {
  TempDir tmp, out;
  auto ck = copy_case(tmp, "bert-seqcls");
  write_small_tokenizer(ck);
  auto r = run_cli({"build", "-m", ck.string(), "-o", (out / "b").string(), "--samples", "8", "--sequence-length",
                    "16"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("export\n"));
  simdjson::dom::parser parser;
  auto m = parser.parse(read_text(out / "b" / "build_manifest.json"));
  ASSERT_FALSE(m.error());
  EXPECT_EQ(std::string_view(m["export"]["family"].get_string().value()), "bert");
  EXPECT_EQ(std::string_view(m["export"]["head"].get_string().value()), "sequence-classification");
  EXPECT_EQ(std::string_view(m["export"]["source_weights"]["files"].at(0).get_string().value()), "model.safetensors");
  EXPECT_TRUE(m["source_onnx"].is_null());
  EXPECT_EQ(std::string_view(m["stages"].at(1)["status"].get_string().value()), "ran");
  EXPECT_EQ(std::string_view(m["calibration"]["kind"].get_string().value()), "text");
  EXPECT_FALSE(m["calibration"]["fallback"].get_bool().value());
  EXPECT_GT(m["quantization"]["nodes_quantized"].get_int64().value(), 0);
  EXPECT_TRUE(fs::is_regular_file(out / "b" / "model.onnx"));
  EXPECT_TRUE(fs::is_regular_file(out / "b" / "tokenizer.json"));
  // The exported float model was temporary: nothing but the output is left beside it.
  for (const auto& e : fs::directory_iterator(out.path())) EXPECT_EQ(e.path().filename(), "b") << e.path();
}

TEST(ExportCli, BuildWithNeitherOnnxNorANativeExportNamesBoth) {
  TempDir tmp, out;
  fs::create_directories(tmp / "gpt2");
  write_file(tmp / "gpt2" / "config.json", R"({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]})");
  auto r = run_cli({"build", "-m", (tmp / "gpt2").string(), "-o", (out / "b").string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("no float ONNX model in"));
  EXPECT_THAT(r.err, HasSubstr("nor does it export natively: model_type 'gpt2' is not supported by the exporter"));
  EXPECT_FALSE(fs::exists(out / "b"));
}

// inspect says whether a checkpoint exports natively, from the same check build uses.
TEST(ExportCli, InspectShowsWhetherACheckpointExportsNatively) {
  TempDir tmp, out;
  auto ck = copy_case(tmp, "deberta-v3-seqcls");
  auto table = run_cli({"inspect", "-m", ck.string()});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("native export     yes (deberta-v2, sequence-classification)"));
  auto json = run_cli({"inspect", "-m", ck.string(), "--format", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  simdjson::dom::parser parser;
  auto doc = parser.parse(json.out);
  ASSERT_FALSE(doc.error());
  EXPECT_TRUE(doc["export"]["native"].get_bool().value());
  EXPECT_EQ(doc["export"]["family"].get_string().value(), "deberta-v2");
  EXPECT_EQ(doc["export"]["head"].get_string().value(), "sequence-classification");

  auto bin = copy_case(tmp, "bin-only");
  auto refused = run_cli({"inspect", "-m", bin.string(), "--format", "json"});
  ASSERT_EQ(refused.exit_code, 0) << refused.err;
  simdjson::dom::parser parser2;
  auto doc2 = parser2.parse(refused.out);
  ASSERT_FALSE(doc2.error());
  EXPECT_FALSE(doc2["export"]["native"].get_bool().value());
  EXPECT_THAT(std::string(doc2["export"]["reason"].get_string().value()), HasSubstr("pytorch_model.bin"));
  // build gives the same reason.
  auto r = run_cli({"build", "-m", bin.string(), "-o", (out / "b").string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("nor does it export natively: "));
  EXPECT_THAT(r.err, HasSubstr("pytorch_model.bin but no *.safetensors weights"));
  EXPECT_FALSE(fs::exists(out / "b"));
}

}  // namespace
}  // namespace modelkit::test
