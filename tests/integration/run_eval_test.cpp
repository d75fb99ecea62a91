// `modelkit run` and `modelkit eval` through the real CLI: each task's answer checked against a
// numpy reference computed from the raw outputs (scripts/run_reference.py), the held-back model
// paths (checkpoint exported natively, checkpoint with ONNX, built folder, .onnx with --config /
// --task and .npy inputs), eval metrics, and bad input.
#include "export_reference.hpp"
#include "run_fixtures.hpp"
#include "test_support.hpp"

#include <util/json_writer.hpp>

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <regex>

namespace modelkit::test {
namespace {

const fs::path kModels = fs::path(MODELKIT_DEPS_DIR) / "models";
const fs::path kImages = fs::path(MODELKIT_DEPS_DIR) / "images";
const std::string& kReference = run_reference_script();
constexpr double kExact = 1e-9;

// The exporter's reference checkpoints (safetensors, no ONNX) with a 50-token tokenizer.json, in
// one folder per test process. The token classifier's labels become B-/I- tags.
const fs::path& fixtures() {
  static TempDir dir;
  static bool made = [] {
    return copy_text_checkpoints(dir.path(),
                                 {"bert-seqcls", "bert-tokcls", "bert-qa", "bert-mlm", "bert-base", "st-mean-normalize"});
  }();
  EXPECT_TRUE(made) << "the run/eval fixtures could not be made";
  return dir.path();
}

simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& text) {
  simdjson::dom::element e;
  EXPECT_EQ(p.parse(text).get(e), simdjson::SUCCESS) << text;
  return e;
}

// Runs `modelkit run ... --format json --save-outputs`, then the numpy reference on what it saved.
CliResult run_and_check(const std::string& task, std::vector<std::string> args, const std::string& top_k = "5") {
  TempDir tmp;
  args.insert(args.begin(), "run");
  const std::string out_dir = (tmp / "out").string();
  for (const std::string& a : {std::string("--format"), std::string("json"), std::string("--top-k"), top_k,
                               std::string("--save-outputs"), out_dir})
    args.push_back(a);
  auto r = run_cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  write_file(tmp / "run.json", r.out);
  std::string inputs_arg;
  if (task == "token-classification" || task == "question-answering") {
    // The texts, so the reference checks the character offsets (and the answer's context slice).
    std::string json = "{";
    for (std::size_t i = 0; i + 1 < args.size(); ++i)
      if (args[i] == "--text" || args[i] == "--pair") {
        if (json.size() > 1) json += ",";
        json += args[i] == "--text" ? "\"text\":" : "\"pair\":";
        util::append_json_string(json, args[i + 1]);
      }
    write_file(tmp / "inputs.json", json + "}");
    inputs_arg = " '" + (tmp / "inputs.json").string() + "'";
  }
  std::string cmd = "/usr/bin/python3 '" + kReference + "' check " + task + " '" + (tmp / "run.json").string() + "' '" +
                    (tmp / "out").string() + "' " + top_k + inputs_arg + " > '" + (tmp / "check.log").string() + "' 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << task << ": " << read_text(tmp / "check.log") << "\n" << r.out;
  return r;
}

TEST(RunCli, TextTasksMatchTheNumpyReference) {
  const auto& f = fixtures();
  simdjson::dom::parser p;
  auto seq = run_and_check("text-classification", {"-m", (f / "bert-seqcls").string(), "--text", "the cat sat on the mat"}, "2");
  auto j = parse(p, seq.out);
  EXPECT_EQ(std::string_view(j["model_kind"].get_string().value()), "exported") << "safetensors only: exported natively";
  EXPECT_EQ(std::string_view(j["resolution"]["task"].get_string().value()), "text-classification");
  EXPECT_EQ(j["answer"].get_array().value().size(), 2u);

  auto tok = run_and_check("token-classification",
                           {"-m", (f / "bert-tokcls").string(), "--text", "john lives in paris and mary works at the bank today"});
  EXPECT_EQ(std::string_view(parse(p, tok.out)["answer_kind"].get_string().value()), "token-classification");
  run_and_check("question-answering", {"-m", (f / "bert-qa").string(), "--text", "where did john go ?", "--pair",
                                       "john went home with his dog to the park today"}, "3");
  auto mask = run_and_check("fill-mask", {"-m", (f / "bert-mlm").string(), "--text", "the cat [MASK] on the mat ."}, "4");
  EXPECT_EQ(parse(p, mask.out)["answer"].get_array().value().size(), 1u) << "one mask, one candidate list";
  auto st = run_and_check("feature-extraction", {"-m", (f / "st-mean-normalize").string(), "--text", "the big red house"});
  EXPECT_EQ(std::string_view(parse(p, st.out)["answer"]["pooling"].get_string().value()), "sentence_embedding output");
  auto mean = run_and_check("feature-extraction",
                            {"-m", (f / "bert-base").string(), "--text", "the big red house", "--pooling", "mean"});
  EXPECT_EQ(std::string_view(parse(p, mean.out)["answer"]["pooling"].get_string().value()), "mean of 'last_hidden_state'");
}

// Character offsets on text whose case and accents the tokenizer folds away: start/end count code
// points of the input (not bytes), the QA answer is the context's own slice, and the table shows both.
TEST(RunCli, EntitiesAndAnswersCarryCharacterOffsets) {
  const auto& f = fixtures();
  simdjson::dom::parser p;
  const std::string sentence = "Jöhn lives in Päris, and Märy works at the Bank todäy";
  auto tok = run_and_check("token-classification", {"-m", (f / "bert-tokcls").string(), "--text", sentence});
  auto entities = parse(p, tok.out)["answer"].get_array().value();
  for (auto e : entities) {
    const auto start = std::uint64_t(e["start"]), end = std::uint64_t(e["end"]);
    EXPECT_LT(start, end);
    EXPECT_LE(end, 53u) << "code points, not the " << sentence.size() << " bytes";
  }
  const std::string context = "Jöhn went home with his Dog to the Park todäy";
  auto qa = run_and_check("question-answering",
                          {"-m", (f / "bert-qa").string(), "--text", "Where did Jöhn go?", "--pair", context}, "3");
  auto answers = parse(p, qa.out)["answer"].get_array().value();
  ASSERT_GT(answers.size(), 0u);
  for (auto a : answers) {
    const std::string answer(a["answer"].get_string().value());
    const auto start = std::uint64_t(a["start"]), end = std::uint64_t(a["end"]);
    EXPECT_LT(start, end);
    EXPECT_NE(context.find(answer), std::string::npos) << answer << " is a slice of the context";
  }
  auto table = run_cli({"run", "-m", (f / "bert-qa").string(), "--text", "Where did Jöhn go?", "--pair", context});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find(", chars "), std::string::npos) << table.out;
}

TEST(RunCli, ImageClassificationFromACheckpointAndABuiltFolder) {
  TempDir tmp;
  simdjson::dom::parser p;
  auto ck = run_and_check("image-classification",
                          {"-m", (kModels / "cnn-tiny").string(), "--image", (kImages / "matplotlib" / "grace_hopper.jpg").string()}, "3");
  EXPECT_EQ(std::string_view(parse(p, ck.out)["model_kind"].get_string().value()), "checkpoint");
  auto built = run_cli({"build", "-m", (kModels / "cnn-tiny").string(), "-o", (tmp / "built").string(), "--quiet"});
  ASSERT_EQ(built.exit_code, 0) << built.err;
  auto r = run_and_check("image-classification",
                         {"-m", (tmp / "built").string(), "--image", (kImages / "skimage" / "chelsea.png").string()}, "4");
  auto j = parse(p, r.out);
  EXPECT_EQ(std::string_view(j["model_kind"].get_string().value()), "built");
  EXPECT_EQ(std::string_view(j["resolution"]["task"].get_string().value()), "image-classification");
  std::string_view first_label = j["answer"].at(0)["label"].get_string().value();
  EXPECT_TRUE(first_label == "cat" || first_label == "dog" || first_label == "bird" || first_label == "fish") << first_label;
}

TEST(RunCli, OnnxFileWithConfigOrTaskAndNpyInputs) {
  const auto& f = fixtures();
  TempDir tmp;
  auto exp = run_cli({"export", "-m", (f / "bert-seqcls").string(), "-o", (tmp / "seqcls.onnx").string()});
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  simdjson::dom::parser p;
  auto with_config = run_and_check("text-classification", {"-m", (tmp / "seqcls.onnx").string(), "--config",
                                                           (f / "bert-seqcls").string(), "--text", "the cat sat on the mat"});
  auto j = parse(p, with_config.out);
  EXPECT_EQ(std::string_view(j["model_kind"].get_string().value()), "onnx");
  const double score = j["answer"].at(0)["score"].get_double().value();
  const std::string label(j["answer"].at(0)["label"].get_string().value());
  // The same token ids as .npy files, the .onnx alone with --task: the same scores, labels by id.
  std::string ids = "[[2, 5, 6, 7, 8, 5, 9, 3]]";  // [CLS] the cat sat on the mat [SEP] in the test tokenizer
  EXPECT_NE(with_config.out.find("\"[CLS]\""), std::string::npos);
  std::string py = "import numpy as np; i=np.array(" + ids + ", dtype=np.int64); np.save('" + (tmp / "ids.npy").string() +
                   "', i); np.save('" + (tmp / "mask.npy").string() + "', np.ones_like(i)); np.save('" +
                   (tmp / "types.npy").string() + "', np.zeros_like(i))";
  ASSERT_EQ(std::system(("/usr/bin/python3 -c \"" + py + "\"").c_str()), 0);
  auto raw = run_cli({"run", "-m", (tmp / "seqcls.onnx").string(), "--task", "text-classification", "--input",
                      "input_ids=" + (tmp / "ids.npy").string(), "--input", "attention_mask=" + (tmp / "mask.npy").string(),
                      "--input", "token_type_ids=" + (tmp / "types.npy").string(), "--format", "json"});
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  auto rj = parse(p, raw.out);
  EXPECT_NEAR(rj["answer"].at(0)["score"].get_double().value(), score, kExact);
  EXPECT_EQ("L" + std::string(rj["answer"].at(0)["label"].get_string().value()).substr(6), label)
      << "without config.json the labels are LABEL_<id>";
}

TEST(RunCli, BadInputIsAClearError) {
  const auto& f = fixtures();
  TempDir tmp;
  write_file(tmp / "photo.jpg", "this is not a JPEG");
  auto undecodable = run_cli({"run", "-m", (kModels / "cnn-tiny").string(), "--image", (tmp / "photo.jpg").string()});
  EXPECT_EQ(undecodable.exit_code, 1);
  EXPECT_NE(undecodable.err.find("photo.jpg"), std::string::npos) << undecodable.err;
  auto text_to_image = run_cli({"run", "-m", (kModels / "cnn-tiny").string(), "--text", "hello"});
  EXPECT_NE(text_to_image.exit_code, 0);
  EXPECT_NE(text_to_image.err.find("not text"), std::string::npos) << text_to_image.err;
  auto image_to_text = run_cli({"run", "-m", (f / "bert-seqcls").string(), "--image", (kImages / "skimage" / "chelsea.png").string()});
  EXPECT_EQ(image_to_text.exit_code, 1);
  EXPECT_NE(image_to_text.err.find("image"), std::string::npos) << image_to_text.err;
  write_file(tmp / "bad.npy", std::string("\x93NUMPY\x01\x00\x10\x00{'descr': '>f4'}", 26));
  auto npy = run_cli({"run", "-m", (kModels / "cnn-tiny").string(), "--input", "pixel_values=" + (tmp / "bad.npy").string()});
  EXPECT_EQ(npy.exit_code, 1);
  EXPECT_NE(npy.err.find("bad.npy"), std::string::npos) << npy.err;
  auto two = run_cli({"run", "-m", (f / "bert-seqcls").string(), "--text", "a", "--image", "x.png"});
  EXPECT_EQ(two.exit_code, 2) << two.err;
  auto unknown = run_cli({"run", "-m", (kModels / "cnn-tiny").string(), "--input", "nope=" + (tmp / "bad.npy").string()});
  EXPECT_NE(unknown.exit_code, 0);
}

TEST(EvalCli, AccuracyAgreementAndBadData) {
  const auto& f = fixtures();
  TempDir tmp;
  simdjson::dom::parser p;
  // The model's own top label for four sentences, then labels that match three of them.
  const std::vector<std::string> texts = {"the cat sat on the mat", "john went home", "mary works at the bank",
                                          "the big red dog ran to the park"};
  std::vector<std::string> predicted;
  for (const auto& t : texts) {
    auto r = run_cli({"run", "-m", (f / "bert-seqcls").string(), "--text", t, "--format", "json", "--top-k", "1"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    predicted.emplace_back(parse(p, r.out)["answer"].at(0)["label"].get_string().value());
  }
  std::string jsonl;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    std::string label = predicted[i];
    if (i == 3) label = label == "L0" ? "L1" : "L0";  // one wrong
    jsonl += "{\"sentence\": \"" + texts[i] + "\", \"label\": \"" + label + "\"}\n";
  }
  write_file(tmp / "data.jsonl", jsonl);
  auto r = run_cli({"eval", "-m", (f / "bert-seqcls").string(), "--data", (tmp / "data.jsonl").string(), "--column",
                    "text=sentence", "--compare", (f / "bert-seqcls").string(), "--format", "json", "-o",
                    (tmp / "report.json").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = parse(p, r.out);
  EXPECT_EQ(j["samples"].get_uint64().value(), 4u);
  EXPECT_NEAR(j["metrics"]["accuracy"].get_double().value(), 0.75, kExact);
  EXPECT_NEAR(j["metrics"]["top1_agreement"].get_double().value(), 1.0, kExact) << "a model agrees with itself";
  EXPECT_NEAR(j["metrics"]["mean_kl"].get_double().value(), 0.0, kExact);
  EXPECT_EQ(read_text(tmp / "report.json"), r.out);

  // A label the model does not have, a column that is not there, data of another modality.
  write_file(tmp / "badlabel.jsonl", "{\"text\": \"the cat\", \"label\": \"positive\"}\n");
  auto bad = run_cli({"eval", "-m", (f / "bert-seqcls").string(), "--data", (tmp / "badlabel.jsonl").string()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("'positive' is not in the model's id2label (L0, L1, L2)"), std::string::npos) << bad.err;
  auto column = run_cli({"eval", "-m", (f / "bert-seqcls").string(), "--data", (tmp / "data.jsonl").string()});
  EXPECT_EQ(column.exit_code, 1);
  EXPECT_NE(column.err.find("no field 'text'"), std::string::npos) << column.err;
  fs::create_directories(tmp / "imgs");
  fs::copy_file(kImages / "skimage" / "chelsea.png", tmp / "imgs" / "chelsea.png");
  auto modality = run_cli({"eval", "-m", (f / "bert-seqcls").string(), "--data", (tmp / "imgs").string()});
  EXPECT_EQ(modality.exit_code, 2);
  EXPECT_NE(modality.err.find("holds image but the model's task 'text-classification' takes text"), std::string::npos)
      << modality.err;
}

TEST(EvalCli, ImageFolderWithClassesAndSkippedFiles) {
  TempDir tmp;
  using ClassImage = std::pair<std::string, std::string>;
  for (const auto& [cls, img] : {ClassImage{"cat", "chelsea.png"}, ClassImage{"dog", "coffee.png"},
                                 ClassImage{"bird", "astronaut.png"}}) {
    fs::create_directories(tmp / "data" / cls);
    fs::copy_file(kImages / "skimage" / img, tmp / "data" / cls / img);
  }
  write_file(tmp / "data" / "cat" / "broken.jpg", "not an image");
  simdjson::dom::parser p;
  auto r = run_cli({"eval", "-m", (kModels / "cnn-tiny").string(), "--data", (tmp / "data").string(), "--compare",
                    (kModels / "cnn-tiny").string(), "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = parse(p, r.out);
  EXPECT_EQ(j["samples"].get_uint64().value(), 3u);
  EXPECT_EQ(j["labelled"].get_uint64().value(), 3u);
  EXPECT_EQ(j["skipped"].get_uint64().value(), 1u) << "the broken image is counted, not silently dropped";
  const double acc = j["metrics"]["accuracy"].get_double().value();
  EXPECT_NEAR(acc * 3, std::round(acc * 3), kExact) << "accuracy over three labelled images";
  EXPECT_NEAR(j["metrics"]["top1_agreement"].get_double().value(), 1.0, kExact);
  // A class folder whose name is not a label of the model.
  fs::create_directories(tmp / "data" / "horse");
  fs::copy_file(kImages / "skimage" / "coffee.png", tmp / "data" / "horse" / "coffee.png");
  auto bad = run_cli({"eval", "-m", (kModels / "cnn-tiny").string(), "--data", (tmp / "data").string()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("'horse' is not in the model's id2label (cat, dog, bird, fish)"), std::string::npos) << bad.err;
}

TEST(EvalCli, FeatureExtractionAgreementWithDefaultData) {
  const auto& f = fixtures();
  simdjson::dom::parser p;
  auto r = run_cli({"eval", "-m", (f / "st-mean-normalize").string(), "--compare", (f / "st-mean-normalize").string(),
                    "--samples", "6", "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = parse(p, r.out);
  EXPECT_EQ(j["samples"].get_uint64().value(), 6u);
  EXPECT_NEAR(j["metrics"]["mean_cosine"].get_double().value(), 1.0, 1e-6);
  EXPECT_NEAR(j["metrics"]["spearman"].get_double().value(), 1.0, 1e-6);
  EXPECT_NE(std::string_view(j["data"].get_string().value()).find("embedded default"), std::string_view::npos);
}

}  // namespace
}  // namespace modelkit::test

namespace modelkit::test {
namespace {

// A QDQ model quantized with one activation range shrunk to 2% of its calibrated width: that
// tensor clips, and --per-tensor must rank it worst and name its reader in the --exclude-nodes line.
TEST(EvalCli, PerTensorFindsTheBrokenRange) {
  TempDir tmp;
  const auto float_model = kModels / "cnn-tiny" / "model.onnx";
  auto saved = run_cli({"quantize", "-m", float_model.string(), "-o", (tmp / "good.onnx").string(), "--save-ranges",
                        (tmp / "ranges.json").string(), "--samples", "8"});
  ASSERT_EQ(saved.exit_code, 0) << saved.err;
  const std::string broken = "/features/features.5/Relu_output_0";
  std::string py = "import json; r=json.load(open('" + (tmp / "ranges.json").string() + "')); t=r['tensors']['" + broken +
                   "']; t['min'], t['max'] = t['min'] * 0.02, t['max'] * 0.02; json.dump(r, open('" +
                   (tmp / "shrunk.json").string() + "', 'w'))";
  ASSERT_EQ(std::system(("/usr/bin/python3 -c \"" + py + "\"").c_str()), 0) << "the ranges file has no " << broken;
  auto q = run_cli({"quantize", "-m", float_model.string(), "-o", (tmp / "broken.onnx").string(), "--ranges",
                    (tmp / "shrunk.json").string(), "--min-cosine", "-1"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  auto r = run_cli({"eval", "-m", (tmp / "broken.onnx").string(), "--task", "image-classification", "--compare",
                    float_model.string(), "--per-tensor", "--samples", "4", "--format", "json", "--html",
                    (tmp / "report.html").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser p;
  auto j = parse(p, r.out);
  auto ranked = j["per_tensor"].get_array().value();
  ASSERT_GE(ranked.size(), 3u);
  EXPECT_EQ(std::string_view(ranked.at(0)["tensor"].get_string().value()), broken) << r.out;
  EXPECT_LT(ranked.at(0)["qdq_sqnr_db"].get_double().value(), ranked.at(1)["qdq_sqnr_db"].get_double().value());
  EXPECT_NE(std::string_view(j["exclude_nodes"].get_string().value()).find("--exclude-nodes '/features/features.6/Conv'"),
            std::string_view::npos) << r.out;
  // The HTML page, parsed (eval_html_screenshot_test.cpp renders it in Chromium): one bar per tensor
  // of the JSON, the same SQNR, the broken tensor ranked first, nothing loaded from outside.
  const std::string html = read_text(tmp / "report.html");
  for (const char* external : {"<script", "href=", "src=", "url(", "@import"})
    EXPECT_EQ(html.find(external), std::string::npos) << external;
  const std::regex bar(R"re(<rect class="bar" data-tensor="([^"]*)" data-sqnr="([^"]*)" data-rank="(\d+)" [^>]*height="(\d+)")re");
  std::size_t bars = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), bar); it != std::sregex_iterator(); ++it, ++bars) {
    const std::string tensor = (*it)[1];
    const double sqnr = std::stod((*it)[2]);
    const auto rank = static_cast<std::size_t>(std::stoul((*it)[3]));
    ASSERT_GE(rank, 1u);
    ASSERT_LE(rank, ranked.size());
    EXPECT_EQ(std::string_view(ranked.at(rank - 1)["tensor"].get_string().value()), tensor);
    EXPECT_NEAR(ranked.at(rank - 1)["qdq_sqnr_db"].get_double().value(), sqnr, 1e-9);
    if (rank == 1) {
      EXPECT_EQ(tensor, broken);
      EXPECT_GT(std::stoi((*it)[4]), 0) << "the worst tensor's bar is drawn";
    }
  }
  EXPECT_EQ(bars, ranked.size());
  // The same comparison on the well-quantized model ranks it elsewhere, with a far better SQNR.
  auto good = run_cli({"eval", "-m", (tmp / "good.onnx").string(), "--task", "image-classification", "--compare",
                       float_model.string(), "--per-tensor", "--samples", "4", "--format", "json"});
  ASSERT_EQ(good.exit_code, 0) << good.err;
  simdjson::dom::parser p2;
  auto good_ranked = parse(p2, good.out)["per_tensor"].get_array().value();
  for (auto t : good_ranked) {
    if (std::string_view(t["tensor"].get_string().value()) == broken) {
      EXPECT_GT(t["qdq_sqnr_db"].get_double().value(), ranked.at(0)["qdq_sqnr_db"].get_double().value() + 10);
    }
  }
  auto alone = run_cli({"eval", "-m", (tmp / "broken.onnx").string(), "--task", "image-classification", "--per-tensor"});
  EXPECT_EQ(alone.exit_code, 2) << "--per-tensor needs --compare";
}

}  // namespace
}  // namespace modelkit::test
