// Task post-processing and metrics against values computed by hand (the comments show the sums).
#include <modelkit/run.hpp>

#include <gtest/gtest.h>

#include <cmath>

namespace modelkit::infer {
namespace {

constexpr double kTight = 1e-6;

LabelInfo labels(std::vector<std::string> names, std::optional<std::string> problem = std::nullopt) {
  LabelInfo l;
  l.id2label = std::move(names);
  l.problem_type = std::move(problem);
  return l;
}

TEST(PostProcess, SoftmaxAndTopK) {
  std::vector<float> logits{1.0F, 3.0F, 2.0F};
  // e^1, e^3, e^2 over their sum 30.19287...: 0.0900306, 0.6652410, 0.2447285
  auto top = classify(logits, labels({"neg", "pos", "neutral"}), 2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].label, "pos");
  EXPECT_NEAR(top[0].score, 0.6652409558, kTight);
  EXPECT_EQ(top[1].label, "neutral");
  EXPECT_NEAR(top[1].score, 0.2447284711, kTight);
  // Classes past id2label are named as transformers names them.
  auto unnamed = classify(logits, labels({}), 1);
  EXPECT_EQ(unnamed[0].label, "LABEL_1");
}

TEST(PostProcess, MultiLabelUsesSigmoid) {
  std::vector<float> logits{0.0F, 2.0F};
  auto top = classify(logits, labels({"a", "b"}, "multi_label_classification"), 5);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_NEAR(top[0].score, 1.0 / (1.0 + std::exp(-2.0)), kTight);  // 0.8807971
  EXPECT_NEAR(top[1].score, 0.5, kTight);
}

TokenView view(std::vector<std::string> tokens, std::vector<int> sequence) {
  TokenView v;
  v.tokens = std::move(tokens);
  v.sequence = std::move(sequence);
  for (auto s : v.sequence) v.special.push_back(s < 0);
  v.ids.resize(v.tokens.size());
  return v;
}

TEST(PostProcess, SimpleAggregationGroupsEntities) {
  auto l = labels({"O", "B-PER", "I-PER", "B-LOC", "I-LOC"});
  auto v = view({"[CLS]", "john", "##ny", "lives", "in", "paris", "[SEP]"}, {-1, 0, 0, 0, 0, 0, -1});
  // One-hot-ish logits: the chosen label gets 4, the others 0 -> its softmax is e^4 / (e^4 + 4).
  auto row = [](int label) {
    std::vector<float> r(5, 0.0F);
    r[static_cast<std::size_t>(label)] = 4.0F;
    return r;
  };
  std::vector<float> logits;
  for (int label : {3, 1, 2, 0, 0, 3, 1}) {  // the special tokens' rows (3 and 1) must be ignored
    auto r = row(label);
    logits.insert(logits.end(), r.begin(), r.end());
  }
  auto entities = token_entities(logits, 5, v, l);
  ASSERT_TRUE(entities.ok()) << entities.error().message;
  ASSERT_EQ(entities->size(), 2u);
  const double p = std::exp(4.0) / (std::exp(4.0) + 4.0);
  EXPECT_EQ((*entities)[0].entity_group, "PER");
  EXPECT_EQ((*entities)[0].word, "johnny");
  EXPECT_EQ((*entities)[0].start_token, 1u);
  EXPECT_EQ((*entities)[0].end_token, 2u);
  EXPECT_NEAR((*entities)[0].score, p, kTight);
  EXPECT_EQ((*entities)[1].entity_group, "LOC");
  EXPECT_EQ((*entities)[1].word, "paris");

  // B- after B- of the same type starts a new entity; I- after a different type too.
  std::vector<float> logits2;
  for (int label : {0, 1, 1, 4, 0, 0, 0}) {
    auto r = row(label);
    logits2.insert(logits2.end(), r.begin(), r.end());
  }
  auto e2 = token_entities(logits2, 5, v, l);
  ASSERT_TRUE(e2.ok());
  ASSERT_EQ(e2->size(), 3u);
  EXPECT_EQ((*e2)[0].word, "john");
  EXPECT_EQ((*e2)[1].word, "ny");
  EXPECT_EQ((*e2)[2].entity_group, "LOC");
  EXPECT_EQ((*e2)[2].word, "lives");

  // Logits of the wrong size are an error, not a read past the end.
  EXPECT_FALSE(token_entities(std::span<const float>(logits).first(10), 5, v, l).ok());
}

TEST(PostProcess, QuestionAnsweringBestSpanInContext) {
  auto v = view({"[CLS]", "who", "sat", "?", "[SEP]", "the", "cat", "sat", "[SEP]"}, {-1, 0, 0, 0, -1, 1, 1, 1, -1});
  // The question's "sat" (2) has the highest start logit but is not in the context.
  std::vector<float> start{0, 0, 9, 0, 0, 1, 5, 0, 0};
  std::vector<float> end{0, 0, 0, 0, 0, 0, 1, 5, 0};
  auto answers = answer_spans(start, end, v, 3, kDefaultMaxAnswerTokens);
  ASSERT_TRUE(answers.ok()) << answers.error().message;
  ASSERT_FALSE(answers->empty());
  EXPECT_EQ((*answers)[0].answer, "cat sat");
  EXPECT_EQ((*answers)[0].start_token, 6u);
  EXPECT_EQ((*answers)[0].end_token, 7u);
  // Softmax over CLS + context (the rest masked to -10000), CLS then zeroed:
  // start: e^5 / (e^0 + e^1 + e^5 + e^0), end: e^5 / (e^0 + e^0 + e^1 + e^5)
  const double ps = std::exp(5.0) / (1 + std::exp(1.0) + std::exp(5.0) + 1);
  EXPECT_NEAR((*answers)[0].score, ps * ps, kTight);
  // A one-token limit allows only single tokens.
  auto short_answers = answer_spans(start, end, v, 1, 1);
  ASSERT_TRUE(short_answers.ok());
  EXPECT_EQ((*short_answers)[0].start_token, (*short_answers)[0].end_token);
}

TEST(PostProcess, TokensToText) {
  std::vector<std::string> wp{"un", "##believ", "##able", "day"};
  EXPECT_EQ(tokens_to_text(wp), "unbelievable day");
  std::vector<std::string> bpe{"\xC4\xA0New", "\xC4\xA0York", "er"};
  EXPECT_EQ(tokens_to_text(bpe), "New Yorker");
}

TEST(PostProcess, MeanPoolingMasksAndNormalizes) {
  // Two real tokens (1,0) and (0,3), one padding token (100, 100) masked out:
  // mean (0.5, 1.5), norm sqrt(2.5) -> (0.3162278, 0.9486833).
  std::vector<float> emb{1, 0, 0, 3, 100, 100};
  std::vector<std::int64_t> mask{1, 1, 0};
  auto v = pool_embeddings(emb, 2, mask, Pooling::mean);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_NEAR(v[0], 0.5 / std::sqrt(2.5), kTight);
  EXPECT_NEAR(v[1], 1.5 / std::sqrt(2.5), kTight);
  auto cls = pool_embeddings(emb, 2, mask, Pooling::cls);
  EXPECT_EQ(cls, (std::vector<float>{1, 0}));
}

TEST(Metrics, AgainstHandComputedValues) {
  std::vector<std::size_t> pred{0, 1, 1, 2}, ref{0, 1, 2, 2};
  EXPECT_NEAR(accuracy(pred, ref), 0.75, kTight);
  // F1 per class: 0 -> 1, 1 -> 2/(2+1) (one false positive), 2 -> 2/(2+1) (one false negative).
  EXPECT_NEAR(macro_f1(pred, ref), (1.0 + 2.0 / 3.0 + 2.0 / 3.0) / 3.0, kTight);
  // Ranks differ at two places by 1: 1 - 6 * 2 / (4 * 15) = 0.8
  std::vector<double> a{1, 2, 3, 4}, b{10, 30, 20, 40};
  EXPECT_NEAR(spearman(a, b), 0.8, kTight);
  // Ties take their average rank: b ranks (1.5, 1.5, 3), a ranks (1, 2, 3) -> 0.8660254
  std::vector<double> a3{1, 2, 3}, tie{5, 5, 9};
  EXPECT_NEAR(spearman(a3, tie), std::sqrt(3.0) / 2.0, kTight);
  // 0.5 ln(0.5/0.9) + 0.5 ln(0.5/0.1)
  std::vector<double> p{0.5, 0.5}, q{0.9, 0.1};
  EXPECT_NEAR(kl_divergence(p, q), 0.5 * std::log(0.5 / 0.9) + 0.5 * std::log(5.0), kTight);
  EXPECT_NEAR(kl_divergence(p, p), 0.0, kTight);
}

}  // namespace
}  // namespace modelkit::infer
