// Entity-level F1 (seqeval's default counting) and SQuAD exact match / F1, against values worked
// out by hand in the comments; zero-shot label parsing and scoring.
#include <modelkit/run.hpp>

#include <gtest/gtest.h>

#include <cmath>

namespace modelkit::infer {
namespace {

constexpr double kTight = 1e-12;

using Tags = std::vector<std::string>;

TEST(EntityMetrics, ChunksFromBioTags) {
  // B starts, I continues the same type, I after O or another type starts, B right after B splits.
  Tags tags{"B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC", "B-LOC", "I-PER", "MISC", "MISC", "O"};
  std::vector<TaggedSpan> want{{"PER", 0, 1}, {"LOC", 3, 4}, {"LOC", 5, 5}, {"LOC", 6, 6}, {"PER", 7, 7}, {"MISC", 8, 9}};
  EXPECT_EQ(bio_entities(tags), want);
  EXPECT_TRUE(bio_entities(Tags{"O", "O"}).empty());
  EXPECT_EQ(bio_entities(Tags{"I-ORG"}), (std::vector<TaggedSpan>{{"ORG", 0, 0}}));
}

TEST(EntityMetrics, MicroF1OverSamples) {
  EntityCounts c;
  // Sample 1: reference PER[0,1], LOC[3,3]; predicted PER[0,0] (wrong end), LOC[3,3] (right).
  c.add(Tags{"B-PER", "O", "O", "B-LOC"}, Tags{"B-PER", "I-PER", "O", "B-LOC"});
  // Sample 2: reference ORG[1,2]; predicted ORG[1,2] (right), PER[0,0] (spurious).
  c.add(Tags{"B-PER", "B-ORG", "I-ORG"}, Tags{"O", "B-ORG", "I-ORG"});
  // Sample 3: reference LOC[0,0]; predicted MISC[0,0] (wrong type).
  c.add(Tags{"B-MISC"}, Tags{"B-LOC"});
  // correct 2, predicted 5, reference 4: P 0.4, R 0.5, F1 2*0.2/0.9 = 0.4444...
  EXPECT_EQ(c.correct, 2u);
  EXPECT_EQ(c.predicted, 5u);
  EXPECT_EQ(c.reference, 4u);
  EXPECT_NEAR(c.precision(), 0.4, kTight);
  EXPECT_NEAR(c.recall(), 0.5, kTight);
  EXPECT_NEAR(c.f1(), 4.0 / 9.0, kTight);
  EntityCounts none;
  none.add(Tags{"O"}, Tags{"O"});
  EXPECT_EQ(none.f1(), 0.0) << "no entities anywhere: nothing found, F1 0 (seqeval's zero_division)";
}

TEST(SquadMetrics, NormalisationExactMatchAndF1) {
  EXPECT_EQ(squad_normalize("  The Eiffel-Tower, in  PARIS! "), "eiffeltower in paris");
  EXPECT_EQ(squad_normalize("an apple and a pear"), "apple and pear");
  EXPECT_EQ(squad_normalize("theatre"), "theatre") << "articles only as whole words";
  const std::vector<std::string> gold{"the Eiffel Tower", "Eiffel Tower in Paris"};
  EXPECT_EQ(squad_exact_match("Eiffel tower.", gold), 1.0);
  EXPECT_EQ(squad_exact_match("tower", gold), 0.0);
  // "tower in paris" vs "eiffel tower" : same 1, P 1/3, R 1/2, F1 0.4;
  //                  vs "eiffel tower in paris": same 3, P 1, R 3/4, F1 6/7. Best: 6/7.
  EXPECT_NEAR(squad_f1("tower in Paris", gold), 6.0 / 7.0, kTight);
  // Repeated words count as often as both sides have them: "paris paris" vs "paris": same 1, P 1/2, R 1, F1 2/3.
  const std::vector<std::string> paris{"Paris"};
  EXPECT_NEAR(squad_f1("paris paris", paris), 2.0 / 3.0, kTight);
  EXPECT_EQ(squad_f1("London", paris), 0.0);
  const std::vector<std::string> article{"the"};
  EXPECT_EQ(squad_f1("a", article), 1.0) << "both empty after normalisation";
}

TEST(ZeroShot, LabelsTemplateAndScores) {
  auto labels = parse_candidate_labels(" cat, dog ,red car");
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ(*labels, (std::vector<std::string>{"cat", "dog", "red car"}));
  EXPECT_FALSE(parse_candidate_labels("cat,,dog").ok());
  EXPECT_FALSE(parse_candidate_labels("").ok());
  EXPECT_EQ(hypothesis_for("red car", kDefaultHypothesisTemplate), "This is a photo of red car.");
  EXPECT_TRUE(zero_shot_sigmoid("siglip"));
  EXPECT_TRUE(zero_shot_sigmoid("siglip2"));
  EXPECT_FALSE(zero_shot_sigmoid("clip"));
  const std::vector<float> logits{1.0F, 3.0F, 2.0F};
  const std::vector<std::string> names{"a", "b", "c"};
  // softmax: 0.0900306, 0.6652410, 0.2447285 -> b, c, a
  auto soft = zero_shot_scores(logits, names, false);
  ASSERT_EQ(soft.size(), 3u);
  EXPECT_EQ(soft[0].label, "b");
  EXPECT_NEAR(soft[0].score, 0.6652409558, 1e-9);
  EXPECT_EQ(soft[2].label, "a");
  // sigmoid of each: 1/(1+e^-3) = 0.9525741, 1/(1+e^-2) = 0.8807971, 1/(1+e^-1) = 0.7310586
  auto sig = zero_shot_scores(logits, names, true);
  EXPECT_NEAR(sig[0].score, 0.9525741268, 1e-9);
  EXPECT_NEAR(sig[1].score, 0.8807970780, 1e-9);
  EXPECT_NEAR(sig[2].score, 0.7310585786, 1e-9);
}

}  // namespace
}  // namespace modelkit::infer
