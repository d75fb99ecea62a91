// --calibration-data is a contract (issue 10): data the user names is used, or the build fails
// with exit 1, writes nothing and says why. Columns of .jsonl/.csv/.tsv are chosen with
// --text-column/--pair-column/--column. Fewer samples than asked is a warning with both numbers,
// recorded in the manifest.
#include <simdjson.h>

#include "test_support.hpp"

namespace modelkit::test {
namespace {

fs::path models() { return fs::path(MODELKIT_DEPS_DIR) / "models"; }
fs::path bert() { return models() / "bert-tiny-like"; }

std::string str(simdjson::dom::element e) {
  std::string_view s;
  return e.get_string().get(s) == simdjson::SUCCESS ? std::string(s) : "<not a string>";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A failed build: exit 1, one error line naming --calibration-data, nothing written.
void expect_refused(const CliResult& r, const fs::path& out, const std::string& why) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, why)) << r.err;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out.parent_path() / (out.stem().string() + ".manifest.json")));
  for (const auto& e : fs::directory_iterator(out.parent_path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
}

TEST(CalibrationData, MissingFileIsAnError) {
  TempDir tmp;
  auto out = tmp / "out";
  auto r = run_cli({"build", "-m", bert().string(), "-o", out.string(), "--calibration-data",
                    (tmp / "nothere.txt").string(), "--samples", "4", "--quiet"});
  expect_refused(r, out, "calibration data '" + (tmp / "nothere.txt").string() + "' does not exist");
  EXPECT_FALSE(contains(r.err, "random")) << r.err;
}

TEST(CalibrationData, WrongJsonlColumnIsAnErrorAndTextColumnFixesIt) {
  TempDir tmp;
  std::string lines;
  for (int i = 0; i < 12; ++i)
    lines += "{\"sentence\": \"sample sentence number " + std::to_string(i) + " about films\", \"label\": 1}\n";
  write_file(tmp / "glue.jsonl", lines);
  auto out = tmp / "out";
  auto r = run_cli({"build", "-m", bert().string(), "-o", out.string(), "--calibration-data",
                    (tmp / "glue.jsonl").string(), "--samples", "6", "--quiet"});
  expect_refused(r, out, "line 1: no column 'text' (columns: sentence, label); name the text column with --text-column");

  auto ok = run_cli({"build", "-m", bert().string(), "-o", out.string(), "--calibration-data",
                     (tmp / "glue.jsonl").string(), "--text-column", "sentence", "--samples", "6", "--quiet"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  simdjson::dom::parser parser;
  auto m = parser.load((out / "build_manifest.json").string()).value();
  EXPECT_EQ(str(m["calibration"]["kind"]), "text");
  EXPECT_TRUE(m["calibration"]["user_data"].get_bool().value());
  EXPECT_FALSE(m["calibration"]["fallback"].get_bool().value());
  EXPECT_EQ(m["calibration"]["samples"].get_int64().value(), 6);
  // The column is part of the recorded build.
  auto config = parser.load((out / "build_config.json").string()).value();
  EXPECT_EQ(str(config["calibration"]["text_column"]), "sentence");
}

TEST(CalibrationData, CsvAndTsvWithNamedColumns) {
  TempDir tmp;
  // RFC 4180: a quoted field holding the separator, a doubled quote and a line break.
  std::string csv = "id,premise,hypothesis\n";
  std::string tsv = "sentence1\tsentence2\tlabel\n";
  for (int i = 0; i < 10; ++i) {
    csv += std::to_string(i) + ",\"A man, \"\"tall\"\", walks\nhome " + std::to_string(i) + "\",Someone moves\n";
    tsv += "He said \"no\" " + std::to_string(i) + "\tA reply\t0\n";  // GLUE's TSV: quotes are plain text
  }
  write_file(tmp / "nli.csv", csv);
  write_file(tmp / "mrpc.tsv", tsv);
  auto csv_run = run_cli({"build", "-m", bert().string(), "-o", (tmp / "csv").string(), "--calibration-data",
                          (tmp / "nli.csv").string(), "--text-column", "premise", "--pair-column", "hypothesis",
                          "--samples", "5", "--quiet"});
  ASSERT_EQ(csv_run.exit_code, 0) << csv_run.err;
  auto tsv_run = run_cli({"build", "-m", bert().string(), "-o", (tmp / "tsv").string(), "--calibration-data",
                          (tmp / "mrpc.tsv").string(), "--column", "text=sentence1", "--column", "pair=sentence2",
                          "--samples", "5", "--quiet"});
  ASSERT_EQ(tsv_run.exit_code, 0) << tsv_run.err;
  auto bad_pair = run_cli({"build", "-m", bert().string(), "-o", (tmp / "bad").string(), "--calibration-data",
                           (tmp / "mrpc.tsv").string(), "--column", "text=sentence1", "--pair-column", "sentence3",
                           "--quiet"});
  expect_refused(bad_pair, tmp / "bad",
                 "no column 'sentence3' (columns: sentence1, sentence2, label); name the second text's column with "
                 "--pair-column");
  auto bad_role = run_cli({"build", "-m", bert().string(), "-o", (tmp / "bad").string(), "--column", "label=x"});
  EXPECT_EQ(bad_role.exit_code, 2) << bad_role.err;
  EXPECT_TRUE(contains(bad_role.err, "expected text=NAME or pair=NAME, got 'label=x'")) << bad_role.err;
}

TEST(CalibrationData, UndecodableAudioFileIsAnError) {
  TempDir tmp;
  write_file(tmp / "a.wav", "RIFF");
  auto out = tmp / "vad.onnx";
  auto r = run_cli({"quantize", "-m", (models() / "silero-vad" / "silero_vad_legacy.onnx").string(), "-o", out.string(),
                    "--calibration-data", (tmp / "a.wav").string(), "--input-shape", "input=1x512", "--quiet"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, "--calibration-data '" + (tmp / "a.wav").string() + "': no decodable audio")) << r.err;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(tmp / "vad.manifest.json"));
}

TEST(CalibrationData, ImagesForATextModelAreAnError) {
  TempDir tmp;
  fs::create_directories(tmp / "imgs");
  fs::copy_file(fs::path(MODELKIT_DEPS_DIR) / "images" / "skimage" / "astronaut.png", tmp / "imgs" / "a.png");
  auto out = tmp / "out";
  auto r = run_cli({"build", "-m", bert().string(), "-o", out.string(), "--calibration-data",
                    (tmp / "imgs").string(), "--quiet"});
  expect_refused(r, out, "--calibration-data '" + (tmp / "imgs").string() + "'");
}

TEST(CalibrationData, FewerSamplesThanAskedIsAWarningWithBothNumbers) {
  TempDir tmp;
  write_file(tmp / "five.txt", "one small line\nanother line of text\na third\nthe fourth\nand a fifth one\n");
  auto out = tmp / "out";
  auto r = run_cli({"build", "-m", bert().string(), "-o", out.string(), "--calibration-data",
                    (tmp / "five.txt").string(), "--samples", "10"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "warning: calibration uses 4 samples, fewer than the 10 asked for")) << r.err;
  EXPECT_TRUE(contains(r.err, "holds 5 and 1 are held back for validation")) << r.err;
  simdjson::dom::parser parser;
  auto m = parser.load((out / "build_manifest.json").string()).value();
  EXPECT_EQ(m["calibration"]["samples"].get_int64().value(), 4);
  EXPECT_EQ(m["calibration"]["requested_samples"].get_int64().value(), 10);
  bool warned = false;
  for (auto w : m["warnings"].get_array()) warned |= contains(str(w), "fewer than the 10 asked for");
  EXPECT_TRUE(warned);
}

TEST(CalibrationData, EmbeddedDefaultTextHoldsAThousandSamples) {
  // --samples 1000 on text without data: all of them come from the embedded text, no warning.
  TempDir tmp;
  auto out = tmp / "out";
  auto r = run_cli({"build", "-m", bert().string(), "-o", out.string(), "--samples", "1000", "--sequence-length", "16"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(contains(r.err, "fewer than")) << r.err;
  simdjson::dom::parser parser;
  auto m = parser.load((out / "build_manifest.json").string()).value();
  EXPECT_EQ(m["calibration"]["samples"].get_int64().value(), 1000);
  EXPECT_EQ(m["calibration"]["held_back_for_validation"].get_int64().value(), 10);
  EXPECT_TRUE(contains(str(m["calibration"]["data_source"]), "embedded default text (1010 samples"))
      << str(m["calibration"]["data_source"]);
}

TEST(CalibrationData, ModelkitsOwnChoiceStillFallsBackAndSaysSo) {
  // No --calibration-data: a text model without its tokenizer.json cannot have its planned text
  // source built, so random inputs are used, reported on stderr and in the manifest.
  TempDir tmp;
  fs::create_directories(tmp / "ckpt");
  for (const char* f : {"config.json", "model.onnx"}) fs::copy_file(models() / "bert-tiny-like" / f, tmp / "ckpt" / f);
  auto out = tmp / "text";
  auto r = run_cli({"build", "-m", (tmp / "ckpt").string(), "-o", out.string(), "--samples", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "warning: calibration falls back to random inputs")) << r.err;
  simdjson::dom::parser parser;
  auto m = parser.load((out / "build_manifest.json").string()).value();
  EXPECT_FALSE(m["calibration"]["user_data"].get_bool().value());
  EXPECT_TRUE(m["calibration"]["fallback"].get_bool().value());
}

}  // namespace
}  // namespace modelkit::test
