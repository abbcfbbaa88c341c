#include "safeguard/text/json.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace safeguard::text {

double RoundScore(double x) { return std::round(x * 1000) / 1000; }

std::string AssessmentJson(const Message& message, const Assessment& a,
                           const IndicatorSet& indicators) {
  const std::vector<Indicator>& inds = indicators.indicators();
  nlohmann::ordered_json j;
  j["conversation"] = message.conversation_id;
  j["message"] = message.message_id;
  j["sender"] = message.sender_id;
  nlohmann::ordered_json hits = nlohmann::ordered_json::array();
  for (const MessageHit& h : a.hits) {
    nlohmann::ordered_json hj;
    hj["indicator"] = inds[h.indicator].name;
    hj["stage"] = StageName(inds[h.indicator].stage);
    hj["begin"] = h.begin;
    hj["end"] = h.end;
    hits.push_back(std::move(hj));
  }
  j["hits"] = std::move(hits);

  const ConversationRisk& c = a.conversation;
  j["score"] = RoundScore(c.score);
  j["level"] = RiskLevelName(c.level);
  j["previous_level"] = RiskLevelName(c.previous_level);
  j["focus"] =
      c.focus_sender.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(c.focus_sender);
  nlohmann::ordered_json stages = nlohmann::ordered_json::array();
  for (size_t s = 0; s < kStageCount; ++s) {
    if (c.stages & (1u << s)) stages.push_back(StageName(static_cast<Stage>(s)));
  }
  j["stages"] = std::move(stages);
  nlohmann::ordered_json f;
  f["evidence"] = RoundScore(c.factors.evidence);
  f["stages"] = c.factors.stages;
  f["breadth"] = RoundScore(c.factors.breadth);
  f["escalation"] = RoundScore(c.factors.escalation);
  f["relation"] = AgeRelationName(c.factors.relation);
  f["facts"] = RoundScore(c.factors.facts);
  if (c.factors.classifier >= 0) f["classifier"] = RoundScore(c.factors.classifier);
  j["factors"] = std::move(f);
  nlohmann::ordered_json reasons = nlohmann::ordered_json::array();
  for (const Reason& r : c.reasons) {
    nlohmann::ordered_json rj;
    rj["indicator"] = inds[r.indicator].name;
    rj["stage"] = StageName(inds[r.indicator].stage);
    rj["message"] = r.message_id;
    rj["begin"] = r.begin;
    rj["end"] = r.end;
    rj["weight"] = RoundScore(r.weight);
    reasons.push_back(std::move(rj));
  }
  j["reasons"] = std::move(reasons);

  const SenderRisk& s = a.sender;
  nlohmann::ordered_json sj;
  sj["sender"] = s.sender_id;
  sj["score"] = RoundScore(s.score);
  sj["level"] = RiskLevelName(s.level);
  sj["conversations"] = s.conversations;
  sj["flagged_conversations"] = s.flagged_conversations;
  sj["minors_contacted"] = s.minors_contacted;
  j["sender_risk"] = std::move(sj);

  nlohmann::ordered_json parts = nlohmann::ordered_json::array();
  for (const ParticipantRisk& p : a.participants) {
    nlohmann::ordered_json pj;
    pj["sender"] = p.sender_id;
    pj["score"] = RoundScore(p.score);
    pj["level"] = RiskLevelName(p.level);
    pj["sender_score"] = RoundScore(p.sender_score);
    pj["sender_level"] = RiskLevelName(p.sender_level);
    parts.push_back(std::move(pj));
  }
  j["participants"] = std::move(parts);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string IndicatorJson(const Indicator& ind) {
  nlohmann::ordered_json j;
  j["name"] = ind.name;
  j["stage"] = StageName(ind.stage);
  j["weight"] = ind.weight;
  j["description"] = ind.description;
  j["origin"] = ind.origin;
  j["patterns"] = ind.patterns;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace safeguard::text
