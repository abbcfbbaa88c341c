// Metrics on tiny examples whose numbers are worked out by hand, and the
// evaluation run on the synthetic PAN-format corpus (a plumbing test: the
// corpus is ours and tiny, not a measure of quality).

#include "safeguard/text/evaluation.h"

#include <gtest/gtest.h>

namespace safeguard::text {
namespace {

const std::string kTestData = SAFEGUARD_TEXT_TESTDATA;

AuthorOutcome O(const char* author, bool predator, bool flagged, uint32_t k = 0) {
  AuthorOutcome o;
  o.author = author;
  o.predator = predator;
  o.flagged = flagged;
  o.messages_to_warning = flagged ? k : 0;
  return o;
}

TEST(EvalMetrics, HandComputedExample) {
  // Ten authors; predators A B C D; the engine flags A (at message 1),
  // B (at message 10) and E (innocent, at message 3).
  const std::vector<AuthorOutcome> outcomes = {
      O("A", true, true, 1),  O("B", true, true, 10), O("C", true, false),  O("D", true, false),
      O("E", false, true, 3), O("F", false, false),   O("G", false, false), O("H", false, false),
      O("I", false, false),   O("J", false, false)};
  const EvalMetrics m = ComputeMetrics(outcomes, 0.0078);
  EXPECT_EQ(m.authors, 10u);
  EXPECT_EQ(m.positives, 4u);
  EXPECT_EQ(m.flagged, 3u);
  EXPECT_EQ(m.true_positives, 2u);
  EXPECT_EQ(m.false_positives, 1u);
  EXPECT_EQ(m.false_negatives, 2u);
  EXPECT_DOUBLE_EQ(m.precision, 2.0 / 3);  // TP / flagged
  EXPECT_DOUBLE_EQ(m.recall, 0.5);         // TP / positives
  EXPECT_NEAR(m.f1, 4.0 / 7, 1e-12);       // 2PR / (P + R) = (2/3) / (7/6)
  EXPECT_NEAR(m.f05, 0.625, 1e-12);        // 1.25 PR / (0.25 P + R) = (5/12) / (2/3)
  // penalty(1) = 0; penalty(10) = -1 + 2 / (1 + e^(-0.0078 * 9)) = 0.0350856;
  // the median of the two is 0.0175428, so speed = 0.9824572.
  EXPECT_NEAR(m.speed, 0.9824572, 1e-7);
  EXPECT_NEAR(m.latency_weighted_f1, 4.0 / 7 * 0.9824572, 1e-7);
  EXPECT_DOUBLE_EQ(m.median_messages_to_warning, 5.5);
  EXPECT_DOUBLE_EQ(m.mean_messages_to_warning, 5.5);
}

TEST(EvalMetrics, EdgeCases) {
  const EvalMetrics none = ComputeMetrics({O("A", true, false), O("B", false, false)}, 0.0078);
  EXPECT_EQ(none.precision, 0);
  EXPECT_EQ(none.recall, 0);
  EXPECT_EQ(none.f1, 0);
  EXPECT_EQ(none.f05, 0);
  EXPECT_EQ(none.speed, 0);
  EXPECT_EQ(none.latency_weighted_f1, 0);
  const EvalMetrics perfect = ComputeMetrics({O("A", true, true, 1), O("B", false, false)}, 0.0078);
  EXPECT_EQ(perfect.f1, 1);
  EXPECT_EQ(perfect.f05, 1);
  EXPECT_EQ(perfect.speed, 1);  // warned at the first message: no penalty
  EXPECT_EQ(perfect.latency_weighted_f1, 1);
  EXPECT_EQ(ComputeMetrics({}, 0.0078).authors, 0u);
}

TEST(EvalMetrics, FScoreLatencyPenaltyAndMedian) {
  EXPECT_DOUBLE_EQ(FScore(1, 1, 0.5), 1);
  EXPECT_DOUBLE_EQ(FScore(0, 0, 1), 0);
  EXPECT_NEAR(FScore(0.5, 1, 0.5), 1.25 * 0.5 / (0.25 * 0.5 + 1), 1e-12);
  EXPECT_EQ(LatencyPenalty(1, 0.0078), 0);
  // With p = 0.0078 the penalty reaches 0.5 after ~142 messages (ln 3 / p + 1).
  EXPECT_NEAR(LatencyPenalty(142, 0.0078), 0.5, 0.001);
  EXPECT_LT(LatencyPenalty(100, 0.0078), LatencyPenalty(101, 0.0078));
  EXPECT_GT(LatencyPenalty(100000, 0.0078), 0.999);
  EXPECT_EQ(Median({}), 0);
  EXPECT_EQ(Median({3, 1, 2}), 2);
  EXPECT_EQ(Median({4, 1, 2, 3}), 2.5);
}

TEST(PanEvaluation, SyntheticCorpusEndToEnd) {
  Result<std::vector<PanConversation>> corpus = ReadPanXml(kTestData + "/pan_small.xml");
  Result<std::unordered_set<std::string>> predators =
      ReadAuthorList(kTestData + "/pan_small_predators.txt");
  ASSERT_TRUE(corpus.ok() && predators.ok());
  std::shared_ptr<const IndicatorSet> set = *IndicatorSet::Load({*BuiltinPack("en")});
  Result<std::vector<AuthorOutcome>> outcomes =
      RunPanEvaluation(*corpus, *predators, set, nullptr, EvalOptions{});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  const EvalMetrics m = ComputeMetrics(*outcomes, kDefaultLatencyP);
  EXPECT_EQ(m.authors, 15u);
  EXPECT_EQ(m.positives, 3u);
  // The two predators with several stages of evidence are found early; the
  // one who only asks an age is missed; the parent (no platform facts in
  // PAN: nothing says she is family) and the peer planning a mall trip
  // (nothing says they are both 14) are false positives.
  EXPECT_EQ(m.true_positives, 2u);
  EXPECT_EQ(m.false_negatives, 1u);
  EXPECT_EQ(m.false_positives, 2u);
  for (const AuthorOutcome& o : *outcomes) {
    if (o.predator && o.flagged) {
      EXPECT_GE(o.messages_to_warning, 4u);
      EXPECT_LE(o.messages_to_warning, 9u);
    }
  }
  EXPECT_GT(m.speed, 0.95);
  RiskOptions bad;
  bad.latch_k = 0;
  EvalOptions options;
  options.risk = bad;
  EXPECT_EQ(RunPanEvaluation(*corpus, *predators, set, nullptr, options).status().code(),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace safeguard::text
