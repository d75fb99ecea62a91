// `modelkit eval` with labelled token-classification data (per-word BIO tags: entity-level F1) and
// question-answering data (SQuAD answers: exact match and F1), built from the model's own answers
// so the expected scores are known; and `build --eval-data` with --eval-column / --eval-samples.
// The metric arithmetic itself is checked against hand-computed values in
// tests/unit/infer/labelled_metrics_test.cpp.
#include "export_reference.hpp"
#include "run_fixtures.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

namespace modelkit::test {
namespace {

constexpr double kExact = 1e-9;

// The exporter's reference checkpoints with the 50-token WordPiece tokenizer.json of
// scripts/run_reference.py and their ONNX export; the token classifier's labels become O, B-PER, I-PER.
const fs::path& fixtures() {
  static TempDir dir;
  static bool made = [] {
    if (!copy_text_checkpoints(dir.path(), {"bert-tokcls", "bert-qa", "bert-seqcls"})) return false;
    // Exported once beside the weights: every run and eval below then loads the ONNX model
    // instead of exporting the checkpoint again.
    for (const char* name : {"bert-tokcls", "bert-qa", "bert-seqcls"}) {
      auto e = run_cli({"export", "-m", (dir / name).string(), "-o", (dir / name / "model.onnx").string()});
      if (e.exit_code != 0) {
        ADD_FAILURE() << e.err;
        return false;
      }
    }
    return true;
  }();
  EXPECT_TRUE(made) << "the fixtures could not be made";
  return dir.path();
}

simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& text) {
  simdjson::dom::element e;
  EXPECT_EQ(p.parse(text).get(e), simdjson::SUCCESS) << text;
  return e;
}

TEST(EvalLabelled, EntityF1AgainstPerWordTags) {
  const auto& f = fixtures();
  TempDir tmp;
  // Words of the test vocabulary, one token each: word i is token i + 1 after [CLS].
  const std::vector<std::string> sentences = {"john lives in paris and mary works at the bank today",
                                              "the big red dog ran to the park with his cat",
                                              "mary went home to new york city today"};
  // The model's own tag for each word (argmax of its token's logits), from `run --save-outputs`.
  std::string own, none;
  for (std::size_t i = 0; i < sentences.size(); ++i) {
    const auto out = tmp / ("out" + std::to_string(i));
    auto r = run_cli({"run", "-m", (f / "bert-tokcls").string(), "--text", sentences[i], "--save-outputs", out.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string py =
        "import json, numpy as np; words='" + sentences[i] + "'.split(); l=np.load('" + (out / "logits.npy").string() +
        "')[0]; assert l.shape[0] == len(words) + 2; cfg=json.load(open('" + (f / "bert-tokcls" / "config.json").string() +
        "')); tags=[cfg['id2label'][str(int(k))] for k in l[1:-1].argmax(-1)]; print(json.dumps({'tokens': words, "
        "'ner_tags': tags})); import sys; print(json.dumps({'tokens': words, 'ner_tags': ['O'] * len(words)}), file=sys.stderr)";
    const auto own_line = tmp / "own.line", none_line = tmp / "none.line";
    ASSERT_EQ(std::system(("/usr/bin/python3 -c \"" + py + "\" > '" + own_line.string() + "' 2> '" + none_line.string() + "'").c_str()), 0)
        << read_text(none_line);
    own += read_text(own_line);
    none += read_text(none_line);
  }
  ASSERT_NE(own.find("-PER"), std::string::npos) << "the model predicts no entity: the check would check nothing\n" << own;
  write_file(tmp / "own.jsonl", own);
  write_file(tmp / "none.jsonl", none);
  simdjson::dom::parser p1, p2;
  auto same = run_cli({"eval", "-m", (f / "bert-tokcls").string(), "--data", (tmp / "own.jsonl").string(), "--compare",
                       (f / "bert-tokcls").string(), "--format", "json"});
  ASSERT_EQ(same.exit_code, 0) << same.err;
  auto j = parse(p1, same.out);
  EXPECT_EQ(j["labelled"].get_uint64().value(), 3u);
  EXPECT_NEAR(j["metrics"]["entity_f1"].get_double().value(), 1.0, kExact) << "tags equal to the model's own";
  EXPECT_NEAR(j["metrics"]["entity_precision"].get_double().value(), 1.0, kExact);
  EXPECT_NEAR(j["metrics"]["compare_entity_f1"].get_double().value(), 1.0, kExact);
  // No entity in the references: every predicted one is wrong.
  auto wrong = run_cli({"eval", "-m", (f / "bert-tokcls").string(), "--data", (tmp / "none.jsonl").string(), "--format", "json"});
  ASSERT_EQ(wrong.exit_code, 0) << wrong.err;
  auto w = parse(p2, wrong.out);
  EXPECT_EQ(w["metrics"]["entity_precision"].get_double().value(), 0.0);
  EXPECT_EQ(w["metrics"]["entity_f1"].get_double().value(), 0.0);
  // Bad tags: a tag the model does not have, tags and words of different lengths.
  write_file(tmp / "bad.jsonl", "{\"tokens\": [\"john\", \"lives\"], \"ner_tags\": [\"B-LOC\", \"O\"]}\n");
  auto bad = run_cli({"eval", "-m", (f / "bert-tokcls").string(), "--data", (tmp / "bad.jsonl").string()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("'B-LOC' is not in the model's id2label (O, B-PER, I-PER)"), std::string::npos) << bad.err;
  write_file(tmp / "short.jsonl", "{\"tokens\": [\"john\", \"lives\"], \"ner_tags\": [\"O\"]}\n");
  auto short_tags = run_cli({"eval", "-m", (f / "bert-tokcls").string(), "--data", (tmp / "short.jsonl").string()});
  EXPECT_EQ(short_tags.exit_code, 1);
  EXPECT_NE(short_tags.err.find("1 ner_tags for 2 tokens"), std::string::npos) << short_tags.err;
}

TEST(EvalLabelled, QuestionAnsweringExactMatchAndF1) {
  const auto& f = fixtures();
  TempDir tmp;
  const std::string question = "where did john go ?", context = "john went home with his dog to the park today";
  auto r = run_cli({"run", "-m", (f / "bert-qa").string(), "--text", question, "--pair", context, "--format", "json",
                    "--top-k", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser p;
  const std::string answer(parse(p, r.out)["answer"].at(0)["answer"].get_string().value());
  ASSERT_FALSE(answer.empty());
  // Three rows: the model's answer as SQuAD's object, the same answer in another case with an
  // article and punctuation around it (equal after normalisation), and an answer it cannot give.
  std::string upper = answer;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::string row = "{\"question\": \"" + question + "\", \"context\": \"" + context + "\", \"answers\": ";
  write_file(tmp / "qa.jsonl", row + "{\"text\": [\"" + answer + "\"], \"answer_start\": [0]}}\n" + row + "[\"The " +
                                   upper + "!\"]}\n" + row + "[\"zzz qqq\"]}\n");
  auto e = run_cli({"eval", "-m", (f / "bert-qa").string(), "--data", (tmp / "qa.jsonl").string(), "--format", "json"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  simdjson::dom::parser p2;
  auto j = parse(p2, e.out);
  EXPECT_EQ(j["labelled"].get_uint64().value(), 3u);
  EXPECT_NEAR(j["metrics"]["exact_match"].get_double().value(), 2.0 / 3.0, kExact) << e.out;
  EXPECT_NEAR(j["metrics"]["qa_f1"].get_double().value(), 2.0 / 3.0, kExact) << e.out;
}

TEST(EvalLabelled, BuildEvalDataTakesColumnsAndSamples) {
  const auto& f = fixtures();
  TempDir tmp;
  std::string jsonl;
  for (const char* t : {"the cat sat on the mat", "john went home", "mary works at the bank", "a bird sang"})
    jsonl += std::string("{\"sentence\": \"") + t + "\", \"gold\": \"L1\"}\n";
  write_file(tmp / "data.jsonl", jsonl);
  const auto model = f / "bert-seqcls";
  auto c = run_cli({"config", "-m", model.string(), "--samples", "8", "--sequence-length", "16", "--eval-data",
                    (tmp / "data.jsonl").string(), "--eval-column", "text=sentence", "--eval-column", "label=gold",
                    "--eval-samples", "3", "-o", (tmp / "config.json").string()});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  simdjson::dom::parser p1, p2;
  auto config = parse(p1, read_text(tmp / "config.json"));
  EXPECT_EQ(config["validation"]["eval_samples"].get_int64().value(), 3);
  EXPECT_EQ(config["validation"]["eval_columns"].get_array().value().size(), 2u);
  auto b = run_cli({"build", "-c", (tmp / "config.json").string(), "-o", (tmp / "built").string(), "--quiet"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  auto manifest = parse(p2, read_text(tmp / "built" / "build_manifest.json"));
  EXPECT_EQ(manifest["evaluation"]["samples"].get_uint64().value(), 3u) << "--eval-samples 3 of 4 rows";
  EXPECT_EQ(manifest["evaluation"]["labelled"].get_uint64().value(), 3u) << "labels read from 'gold'";
  // Without --eval-data, or with a role eval does not know: usage errors before any work.
  auto alone = run_cli({"build", "-m", model.string(), "-o", (tmp / "x").string(), "--eval-column", "text=sentence"});
  EXPECT_EQ(alone.exit_code, 2) << alone.err;
  EXPECT_FALSE(fs::exists(tmp / "x"));
  auto role = run_cli({"build", "-m", model.string(), "-o", (tmp / "y").string(), "--eval-data",
                       (tmp / "data.jsonl").string(), "--eval-column", "sentence=text"});
  EXPECT_EQ(role.exit_code, 2) << role.err;
  EXPECT_NE(role.err.find("unknown role 'sentence='"), std::string::npos) << role.err;
}

}  // namespace
}  // namespace modelkit::test
