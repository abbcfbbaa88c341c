#include "safeguard/text/evaluation.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace safeguard::text {

double FScore(double precision, double recall, double beta) {
  const double b2 = beta * beta;
  const double denominator = b2 * precision + recall;
  return denominator > 0 ? (1 + b2) * precision * recall / denominator : 0;
}

double LatencyPenalty(uint32_t k, double p) {
  return -1 + 2 / (1 + std::exp(-p * (static_cast<double>(k) - 1)));
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t mid = v.size() / 2;
  return v.size() % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

EvalMetrics ComputeMetrics(const std::vector<AuthorOutcome>& outcomes, double latency_p) {
  EvalMetrics m;
  m.latency_p = latency_p;
  m.authors = outcomes.size();
  std::vector<double> penalties, latencies;
  for (const AuthorOutcome& o : outcomes) {
    m.positives += o.predator;
    m.flagged += o.flagged;
    if (o.predator && o.flagged) {
      ++m.true_positives;
      penalties.push_back(LatencyPenalty(o.messages_to_warning, latency_p));
      latencies.push_back(o.messages_to_warning);
    } else if (o.flagged) {
      ++m.false_positives;
    } else if (o.predator) {
      ++m.false_negatives;
    }
  }
  m.precision =
      m.flagged > 0 ? static_cast<double>(m.true_positives) / static_cast<double>(m.flagged) : 0;
  m.recall = m.positives > 0
                 ? static_cast<double>(m.true_positives) / static_cast<double>(m.positives)
                 : 0;
  m.f1 = FScore(m.precision, m.recall, 1);
  m.f05 = FScore(m.precision, m.recall, 0.5);
  if (!penalties.empty()) {
    m.speed = 1 - Median(penalties);
    double sum = 0;
    for (double l : latencies) sum += l;
    m.mean_messages_to_warning = sum / static_cast<double>(latencies.size());
    m.median_messages_to_warning = Median(latencies);
  }
  m.latency_weighted_f1 = m.f1 * m.speed;
  return m;
}

Result<std::vector<AuthorOutcome>> RunPanEvaluation(
    const std::vector<PanConversation>& corpus, const std::unordered_set<std::string>& predators,
    std::shared_ptr<const IndicatorSet> indicators,
    std::shared_ptr<const WindowClassifier> classifier, const EvalOptions& options) {
  if (Status s = ValidateRiskOptions(options.risk); !s.ok()) return s;
  RiskEngine engine(std::move(indicators), std::move(classifier), options.risk);
  std::vector<AuthorOutcome> outcomes;
  std::unordered_map<std::string, size_t> index;
  Assessment a;
  for (const PanConversation& c : corpus) {
    uint32_t seen = 0;
    for (const Message& m : PanToMessages(c)) {
      ++seen;
      auto [it, added] = index.try_emplace(m.sender_id, outcomes.size());
      if (added) {
        AuthorOutcome o;
        o.author = m.sender_id;
        o.predator = predators.count(m.sender_id) > 0;
        outcomes.push_back(std::move(o));
      }
      engine.Process(m, &a);
      for (const ParticipantRisk& p : a.participants) {
        if (p.sender_level < options.flag_level) continue;
        auto found = index.find(p.sender_id);
        if (found == index.end()) continue;  // a recipient who has not written yet
        AuthorOutcome& o = outcomes[found->second];
        if (o.flagged) continue;
        o.flagged = true;
        o.messages_to_warning = seen;
        o.conversation = c.id;
      }
    }
  }
  return outcomes;
}

}  // namespace safeguard::text
