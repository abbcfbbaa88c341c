// Author-level evaluation on the PAN 2012 format (docs/text.md,
// "Evaluation"): precision, recall, F1 and F0.5 (PAN 2012's measure), and
// for early detection the number of messages before the first warning and
// the latency-weighted F1 that Vogt, Leser and Akbik (2021) use for early
// sexual predator detection, defined by Sadeque, Xu and Bethard (2018):
//
//   penalty(k) = -1 + 2 / (1 + exp(-p (k - 1)))   k: messages seen at the warning
//   speed      = 1 - median over true positives of penalty(k)
//   F_latency  = F1 * speed
//
// Example:
//   std::vector<AuthorOutcome> outcomes = *RunPanEvaluation(corpus, predators, ...);
//   EvalMetrics m = ComputeMetrics(outcomes, /*latency_p=*/0.0078);
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "safeguard/core/status.h"
#include "safeguard/text/pan.h"
#include "safeguard/text/risk_engine.h"

namespace safeguard::text {

// p of the latency penalty; eRisk's value (Losada et al.), used with
// Sadeque et al.'s definition. Pass another with --latency-p.
inline constexpr double kDefaultLatencyP = 0.0078;

struct AuthorOutcome {
  std::string author;
  bool predator = false;  // ground truth
  bool flagged = false;   // the engine warned about this author
  // Messages of the conversation seen up to and including the one at which
  // the author was first flagged (1 = at the first message); 0 if never.
  uint32_t messages_to_warning = 0;
  std::string conversation;  // where first flagged
};

struct EvalMetrics {
  size_t authors = 0;
  size_t positives = 0;  // predators among the authors
  size_t flagged = 0;
  size_t true_positives = 0;
  size_t false_positives = 0;
  size_t false_negatives = 0;
  double precision = 0;  // 0 when nothing is flagged
  double recall = 0;     // 0 when there are no positives
  double f1 = 0;
  double f05 = 0;
  double latency_p = kDefaultLatencyP;
  double speed = 0;  // 0 without true positives
  double latency_weighted_f1 = 0;
  double median_messages_to_warning = 0;  // over true positives
  double mean_messages_to_warning = 0;
};

// F-beta; 0 when precision + recall is 0.
double FScore(double precision, double recall, double beta);
// Sadeque et al.'s penalty for a warning after k >= 1 messages: 0 at k = 1,
// rising towards 1.
double LatencyPenalty(uint32_t k, double p);
// The median of values (the mean of the middle two for an even count); 0
// for none.
double Median(std::vector<double> values);

EvalMetrics ComputeMetrics(const std::vector<AuthorOutcome>& outcomes, double latency_p);

struct EvalOptions {
  RiskLevel flag_level = RiskLevel::kReview;  // a warning: the author's sender level reaches this
  RiskOptions risk;
};

// Streams the corpus through one engine, conversation after conversation,
// message after message, as a platform would see it; an author is flagged
// when their (latched) sender level first reaches options.flag_level.
// Returns one outcome per author in the corpus, in order of first message.
// `classifier` may be null. Errors: kInvalidArgument (bad options).
Result<std::vector<AuthorOutcome>> RunPanEvaluation(
    const std::vector<PanConversation>& corpus, const std::unordered_set<std::string>& predators,
    std::shared_ptr<const IndicatorSet> indicators,
    std::shared_ptr<const WindowClassifier> classifier, const EvalOptions& options);

}  // namespace safeguard::text
