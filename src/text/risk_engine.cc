#include "safeguard/text/risk_engine.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <list>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "matcher.h"
#include "normalizer.h"

namespace safeguard::text {
namespace {

constexpr std::array<std::string_view, 4> kLevelNames = {"none", "watch", "review", "urgent"};
constexpr std::array<std::string_view, 7> kRelationNames = {
    "unknown",     "adult_to_minor", "to_minor", "minor_to_adult",
    "peer_minors", "minors_apart",   "adults"};
constexpr uint32_t kMaxLatchN = 16;
constexpr uint32_t kAdultAge = 18;

constexpr bool IsEarlyStage(uint8_t stage) {
  return stage == static_cast<uint8_t>(Stage::kRapport) ||
         stage == static_cast<uint8_t>(Stage::kPersonalInfo) ||
         stage == static_cast<uint8_t>(Stage::kRiskAssessment);
}

// Recipient ids are kept as hashes only (to count distinct minors).
uint64_t HashId(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// k of the last n evaluations at or above a level raise the level to it,
// once: the latched level never falls.
struct Latch {
  std::array<RiskLevel, kMaxLatchN> ring{};
  uint8_t size = 0;
  uint8_t next = 0;
  RiskLevel level = RiskLevel::kNone;

  void Push(RiskLevel instant, uint32_t k, uint32_t n) {
    ring[next] = instant;
    next = static_cast<uint8_t>((next + 1) % n);
    if (size < n) ++size;
    for (int l = static_cast<int>(RiskLevel::kUrgent); l > static_cast<int>(level); --l) {
      uint32_t count = 0;
      for (uint32_t i = 0; i < size; ++i) count += static_cast<int>(ring[i]) >= l;
      if (count >= k) {
        level = static_cast<RiskLevel>(l);
        break;
      }
    }
  }
};

struct Hit {
  std::string message_id;
  int64_t time_ms = 0;
  uint32_t seq = 0;  // the conversation's message number
  uint32_t begin = 0;
  uint32_t end = 0;
  uint16_t indicator = 0;
  uint8_t stage = 0;
};

enum class AgeClass : uint8_t { kUnknown, kMinor, kAdult };

struct Participant {
  std::string sender_id;
  std::optional<bool> minor;
  std::optional<AgeBand> age;
  std::optional<double> account_age_days;
  std::optional<bool> connected;
  std::optional<bool> family;
  std::vector<Hit> hits;
  Latch latch;
  double score = 0;
  uint16_t stage_mask = 0;
  int64_t last_active_ms = 0;
  // Classifier window: per message of this participant, the embedding sum
  // (dim floats) and its row count, in a ring of classifier_window.
  std::vector<float> window_sums;
  std::vector<uint32_t> window_rows;
  uint32_t window_next = 0;
  uint32_t window_count = 0;
  double classifier_p = 0;
  int64_t last_sent_ms = 0;
};

struct Conversation {
  std::string id;
  uint64_t id_hash = 0;
  uint32_t messages = 0;
  int64_t last_ms = 0;
  RiskLevel level = RiskLevel::kNone;
  std::vector<Participant> participants;
};

struct SenderConversation {
  uint64_t conversation = 0;  // hash of the conversation id
  float score = 0;
  RiskLevel level = RiskLevel::kNone;
};

struct SenderState {
  std::string id;
  int64_t last_ms = 0;
  bool minor = false;  // known to be a minor (contacting minors is then no signal)
  std::vector<SenderConversation> conversations;
  std::vector<uint64_t> minors;  // hashes of minor recipients
  Latch latch;
  double score = 0;
};

AgeClass ClassOf(const std::optional<bool>& minor, const std::optional<AgeBand>& age) {
  if (minor) return *minor ? AgeClass::kMinor : AgeClass::kAdult;
  if (age) {
    if (age->max_years < static_cast<int>(kAdultAge)) return AgeClass::kMinor;
    if (age->min_years >= static_cast<int>(kAdultAge)) return AgeClass::kAdult;
  }
  return AgeClass::kUnknown;
}

double Midpoint(const AgeBand& b) { return (b.min_years + std::min(b.max_years, 100)) / 2.0; }

size_t StringHeap(const std::string& s) {
  return s.capacity() > 15 ? s.capacity() + 1 + 16 : 0;  // + allocator overhead
}

}  // namespace

std::string_view RiskLevelName(RiskLevel level) { return kLevelNames[static_cast<size_t>(level)]; }

std::optional<RiskLevel> RiskLevelFromName(std::string_view name) {
  for (size_t i = 0; i < kLevelNames.size(); ++i) {
    if (kLevelNames[i] == name) return static_cast<RiskLevel>(i);
  }
  return std::nullopt;
}

std::string_view AgeRelationName(AgeRelation relation) {
  return kRelationNames[static_cast<size_t>(relation)];
}

Status ValidateRiskOptions(const RiskOptions& o) {
  auto bad = [](const char* what) {
    return Status::InvalidArgument(std::string("risk option ") + what);
  };
  if (o.window_messages < 1) return bad("window_messages must be >= 1");
  if (o.window_ms <= 0) return bad("window_ms must be > 0");
  if (!(o.half_life_ms > 0)) return bad("half_life_ms must be > 0");
  if (!(o.stage_min_evidence >= 0 && o.stage_min_evidence <= 1)) {
    return bad("stage_min_evidence must be in [0, 1]");
  }
  for (double b : o.breadth) {
    if (!(b >= 0 && b <= 2)) return bad("breadth factors must be in [0, 2]");
  }
  for (double f :
       {o.escalation_factor, o.adult_to_minor_factor, o.to_minor_factor, o.minor_to_adult_factor,
        o.peer_minors_factor, o.minors_apart_factor, o.adults_factor, o.new_account_factor,
        o.not_connected_factor, o.family_factor}) {
    if (!(f > 0 && f <= 10)) return bad("factors must be in (0, 10]");
  }
  if (o.max_peer_gap_years < 0) return bad("max_peer_gap_years must be >= 0");
  if (!(o.classifier_weight >= 0 && o.classifier_weight <= 1)) {
    return bad("classifier_weight must be in [0, 1]");
  }
  if (o.classifier_window < 1 || o.classifier_window > 64) {
    return bad("classifier_window must be in [1, 64]");
  }
  if (!(o.watch_threshold > 0 && o.watch_threshold <= o.review_threshold &&
        o.review_threshold <= o.urgent_threshold && o.urgent_threshold <= 1)) {
    return bad("thresholds must satisfy 0 < watch <= review <= urgent <= 1");
  }
  if (o.latch_n < 1 || o.latch_n > kMaxLatchN || o.latch_k < 1 || o.latch_k > o.latch_n) {
    return bad("latch must satisfy 1 <= latch_k <= latch_n <= 16");
  }
  if (!(o.other_conversation_factor >= 0 && o.other_conversation_factor <= 1) ||
      !(o.minors_step >= 0 && o.minors_step <= 1) || !(o.minors_cap >= 0 && o.minors_cap <= 1)) {
    return bad("sender factors must be in [0, 1]");
  }
  if (o.max_conversations < 1 || o.max_senders < 1 || o.max_participants < 2 ||
      o.max_hits_per_participant < 1 || o.max_conversations_per_sender < 1 ||
      o.max_minors_per_sender < 1) {
    return bad("state bounds must be >= 1 (max_participants >= 2)");
  }
  if (o.conversation_ttl_ms <= 0 || o.sender_ttl_ms <= 0) return bad("TTLs must be > 0");
  if (o.max_clock_step_ms <= 0) return bad("max_clock_step_ms must be > 0");
  if (o.max_hits_per_participant > 65535 || o.max_reasons > 65535) {
    return bad("max_hits_per_participant and max_reasons must be <= 65535");
  }
  return Status::Ok();
}

struct RiskEngine::State {
  std::shared_ptr<const IndicatorSet> indicators;
  std::shared_ptr<const WindowClassifier> classifier;
  RiskOptions options;
  std::vector<double> weights;  // per indicator
  std::vector<uint8_t> stages;

  // Least recently active at the back.
  std::list<Conversation> conversations;
  std::unordered_map<std::string_view, std::list<Conversation>::iterator> conversation_index;
  std::list<SenderState> senders;
  std::unordered_map<std::string_view, std::list<SenderState>::iterator> sender_index;

  int64_t now_ms = 0;  // the latest message time seen
  bool any_time = false;
  Stats stats;

  // Scratch, reused so that steady-state processing allocates little.
  NormalizedText normalized;
  std::vector<Match> matches;
  MatchScratch match_scratch;
  std::vector<float> embedding;
  std::vector<RiskFactors> factors;
  std::vector<SenderState*> participant_senders;

  RiskLevel LevelOf(double score) const {
    if (score >= options.urgent_threshold) return RiskLevel::kUrgent;
    if (score >= options.review_threshold) return RiskLevel::kReview;
    if (score >= options.watch_threshold) return RiskLevel::kWatch;
    return RiskLevel::kNone;
  }

  double Decay(int64_t age_ms) const {
    return std::exp2(-static_cast<double>(std::max<int64_t>(age_ms, 0)) / options.half_life_ms);
  }

  Conversation* TouchConversation(const std::string& id) {
    auto it = conversation_index.find(id);
    if (it != conversation_index.end()) {
      conversations.splice(conversations.begin(), conversations, it->second);
      return &conversations.front();
    }
    conversations.emplace_front();
    Conversation& c = conversations.front();
    c.id = id;
    c.id_hash = HashId(id);
    conversation_index.emplace(c.id, conversations.begin());
    return &c;
  }

  SenderState* FindSender(std::string_view id, bool create) {
    auto it = sender_index.find(id);
    if (it != sender_index.end()) {
      senders.splice(senders.begin(), senders, it->second);
      return &senders.front();
    }
    if (!create) return nullptr;
    senders.emplace_front();
    SenderState& s = senders.front();
    s.id = std::string(id);
    sender_index.emplace(s.id, senders.begin());
    return &s;
  }

  // The participant `id`, added if there is room. When the conversation is
  // full, the least recently active participant that never rose above
  // `none` makes way; if there is none such, nullptr (not tracked).
  Participant* FindOrAddParticipant(Conversation& c, std::string_view id, int64_t t) {
    for (Participant& p : c.participants) {
      if (p.sender_id == id) return &p;
    }
    Participant* slot = nullptr;
    if (c.participants.size() < options.max_participants) {
      slot = &c.participants.emplace_back();
    } else {
      for (Participant& p : c.participants) {
        if (p.latch.level == RiskLevel::kNone &&
            (slot == nullptr || p.last_active_ms < slot->last_active_ms)) {
          slot = &p;
        }
      }
      if (slot == nullptr) return nullptr;
      *slot = Participant();
    }
    slot->sender_id = std::string(id);
    slot->last_active_ms = t;
    return slot;
  }

  AgeRelation RelationOf(const Conversation& c, const Participant& q) const {
    const AgeClass self = ClassOf(q.minor, q.age);
    bool others = false, other_minor = false, other_adult = false, all_known = true;
    bool gap_known = q.age.has_value();
    double max_gap = 0;
    for (const Participant& o : c.participants) {
      if (&o == &q) continue;
      others = true;
      const AgeClass cls = ClassOf(o.minor, o.age);
      other_minor = other_minor || cls == AgeClass::kMinor;
      other_adult = other_adult || cls == AgeClass::kAdult;
      all_known = all_known && cls != AgeClass::kUnknown;
      if (q.age && o.age) {
        max_gap = std::max(max_gap, std::fabs(Midpoint(*q.age) - Midpoint(*o.age)));
      } else {
        gap_known = false;
      }
    }
    switch (self) {
      case AgeClass::kAdult:
        if (other_minor) return AgeRelation::kAdultToMinor;
        if (others && all_known) return AgeRelation::kAdults;
        return AgeRelation::kUnknown;
      case AgeClass::kMinor:
        if (other_adult) return AgeRelation::kMinorToAdult;
        if (others && all_known) {
          return gap_known && max_gap > options.max_peer_gap_years ? AgeRelation::kMinorsApart
                                                                   : AgeRelation::kPeerMinors;
        }
        return AgeRelation::kUnknown;
      case AgeClass::kUnknown:
        return other_minor ? AgeRelation::kToMinor : AgeRelation::kUnknown;
    }
    return AgeRelation::kUnknown;
  }

  double FactsFactor(const Participant& q, AgeRelation relation) const {
    double f = 1;
    switch (relation) {
      case AgeRelation::kUnknown:
        break;
      case AgeRelation::kAdultToMinor:
        f = options.adult_to_minor_factor;
        break;
      case AgeRelation::kToMinor:
        f = options.to_minor_factor;
        break;
      case AgeRelation::kMinorToAdult:
        f = options.minor_to_adult_factor;
        break;
      case AgeRelation::kPeerMinors:
        f = options.peer_minors_factor;
        break;
      case AgeRelation::kMinorsApart:
        f = options.minors_apart_factor;
        break;
      case AgeRelation::kAdults:
        f = options.adults_factor;
        break;
    }
    const bool risky_relation = relation == AgeRelation::kAdultToMinor ||
                                relation == AgeRelation::kToMinor ||
                                relation == AgeRelation::kUnknown;
    if (risky_relation && q.account_age_days && *q.account_age_days < options.new_account_days) {
      f *= options.new_account_factor;
    }
    if (q.connected && !*q.connected) f *= options.not_connected_factor;
    if (q.family && *q.family) f *= options.family_factor;
    return f;
  }

  // The participant's score now (time t, message number seq); prunes hits
  // that left the window.
  double Evaluate(const Conversation& c, Participant& q, int64_t t, uint32_t seq, RiskFactors* f) {
    *f = RiskFactors();
    std::erase_if(q.hits, [&](const Hit& h) {
      return seq - h.seq >= options.window_messages || t - h.time_ms > options.window_ms;
    });
    q.stage_mask = 0;
    double model_p = 0;  // the classifier's window probability, decayed
    if (classifier) {
      f->classifier = q.window_count > 0 ? q.classifier_p : 0;
      model_p = f->classifier * Decay(t - q.last_sent_ms);
    }
    if (q.hits.empty() && model_p == 0) return 0;
    f->relation = RelationOf(c, q);
    f->facts = FactsFactor(q, f->relation);

    // Each indicator counts once, at its strongest (most recent) occurrence:
    // repeating "how old are you" is still one weak signal.
    std::array<double, kStageCount> stage_keep;  // prod (1 - w) per stage
    stage_keep.fill(1.0);
    uint32_t first_early = std::numeric_limits<uint32_t>::max();
    for (size_t i = 0; i < q.hits.size(); ++i) {
      const Hit& h = q.hits[i];
      if (IsEarlyStage(h.stage)) first_early = std::min(first_early, h.seq);
      bool seen_later = false;  // a later hit of the same indicator is at least as strong
      for (size_t j = i + 1; j < q.hits.size() && !seen_later; ++j) {
        seen_later = q.hits[j].indicator == h.indicator;
      }
      if (seen_later) continue;
      const double w = weights[h.indicator] * Decay(t - h.time_ms);
      stage_keep[h.stage] *= 1 - w;
    }
    double keep = 1;
    for (size_t s = 0; s < kStageCount; ++s) {
      keep *= stage_keep[s];
      if (1 - stage_keep[s] >= options.stage_min_evidence && stage_keep[s] < 1) {
        ++f->stages;
        q.stage_mask = static_cast<uint16_t>(q.stage_mask | (1u << s));
      }
    }
    for (const Hit& h : q.hits) {
      if (!IsEarlyStage(h.stage) && h.seq > first_early) f->escalation = options.escalation_factor;
    }
    f->evidence = 1 - keep;
    f->breadth = options.breadth[std::min<uint32_t>(f->stages, 3)];
    const double indicators_score = std::min(1.0, f->evidence * f->breadth * f->escalation);
    const double combined = 1 - (1 - indicators_score) * (1 - options.classifier_weight * model_p);
    return std::min(1.0, combined * f->facts);
  }

  void UpdateSenderScore(SenderState& s) {
    double best = 0;
    size_t best_i = s.conversations.size();
    for (size_t i = 0; i < s.conversations.size(); ++i) {
      if (best_i == s.conversations.size() || s.conversations[i].score > best) {
        best = s.conversations[i].score;
        best_i = i;
      }
    }
    double keep = 1 - best;
    for (size_t i = 0; i < s.conversations.size(); ++i) {
      if (i == best_i || s.conversations[i].level < RiskLevel::kWatch) continue;
      keep *= 1 - options.other_conversation_factor * s.conversations[i].score;
    }
    const size_t minors = s.minors.size();
    if (!s.minor && minors >= options.minors_threshold) {
      const double b = std::min(
          options.minors_cap,
          options.minors_step * static_cast<double>(minors - options.minors_threshold + 1));
      keep *= 1 - b;
    }
    s.score = std::min(1.0, std::max(0.0, 1 - keep));
    s.latch.Push(LevelOf(s.score), options.latch_k, options.latch_n);
  }

  void RecordConversation(SenderState& s, uint64_t conversation, double score, RiskLevel level) {
    for (SenderConversation& e : s.conversations) {
      if (e.conversation == conversation) {
        e.score = static_cast<float>(score);
        e.level = level;
        return;
      }
    }
    if (s.conversations.size() < options.max_conversations_per_sender) {
      s.conversations.push_back({conversation, static_cast<float>(score), level});
      return;
    }
    auto lowest = std::min_element(
        s.conversations.begin(), s.conversations.end(),
        [](const SenderConversation& a, const SenderConversation& b) { return a.score < b.score; });
    if (lowest->score < score) *lowest = {conversation, static_cast<float>(score), level};
  }

  void Evict() {
    const RiskOptions& o = options;
    while (!conversations.empty()) {
      const Conversation& c = conversations.back();
      const bool expired = now_ms - c.last_ms > o.conversation_ttl_ms;
      if (!expired && conversations.size() <= o.max_conversations) break;
      ++(expired ? stats.conversations_expired : stats.conversations_evicted);
      conversation_index.erase(conversation_index.find(c.id));
      conversations.pop_back();
    }
    while (!senders.empty()) {
      const SenderState& s = senders.back();
      const bool expired = now_ms - s.last_ms > o.sender_ttl_ms;
      if (!expired && senders.size() <= o.max_senders) break;
      ++(expired ? stats.senders_expired : stats.senders_evicted);
      sender_index.erase(sender_index.find(s.id));
      senders.pop_back();
    }
  }

  void FillSender(const SenderState* s, std::string_view id, SenderRisk* out) const {
    out->sender_id.assign(id);
    out->score = 0;
    out->level = RiskLevel::kNone;
    out->conversations = out->flagged_conversations = out->minors_contacted = 0;
    if (s == nullptr) return;
    out->score = s->score;
    out->level = s->latch.level;
    out->conversations = static_cast<uint32_t>(s->conversations.size());
    for (const SenderConversation& e : s->conversations) {
      out->flagged_conversations += e.level >= RiskLevel::kWatch;
    }
    out->minors_contacted = static_cast<uint32_t>(s->minors.size());
  }
};

RiskEngine::RiskEngine(std::shared_ptr<const IndicatorSet> indicators,
                       std::shared_ptr<const WindowClassifier> classifier,
                       const RiskOptions& options)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.indicators = std::move(indicators);
  s.classifier = std::move(classifier);
  s.options = options;
  for (const Indicator& ind : s.indicators->indicators()) {
    s.weights.push_back(ind.weight);
    s.stages.push_back(static_cast<uint8_t>(ind.stage));
  }
  if (s.classifier) s.embedding.resize(static_cast<size_t>(s.classifier->dim()));
}

RiskEngine::~RiskEngine() = default;

void RiskEngine::Process(const Message& message, Assessment* out) {
  State& s = *state_;
  const RiskOptions& o = s.options;
  ++s.stats.messages;

  Conversation& c = *s.TouchConversation(message.conversation_id);
  int64_t t =
      message.timestamp_ms.value_or(c.messages > 0 ? c.last_ms : (s.any_time ? s.now_ms : 0));
  if (c.messages > 0 && t < c.last_ms) t = c.last_ms;
  c.last_ms = t;
  ++c.messages;
  const uint32_t seq = c.messages;
  if (!s.any_time) {
    s.now_ms = t;
  } else if (t > s.now_ms) {
    s.now_ms = t - s.now_ms > o.max_clock_step_ms ? s.now_ms + o.max_clock_step_ms : t;
  }
  s.any_time = true;
  const RiskLevel previous_level = c.level;

  // Who is in the conversation, and what the platform says about them.
  const PlatformFacts& facts = message.facts;
  Participant* sender = s.FindOrAddParticipant(c, message.sender_id, t);
  if (sender == nullptr) {
    ++s.stats.participants_untracked;
  } else {
    if (facts.sender_minor) sender->minor = facts.sender_minor;
    if (facts.sender_age) sender->age = facts.sender_age;
    if (facts.sender_account_age_days) sender->account_age_days = facts.sender_account_age_days;
    if (facts.connected) sender->connected = facts.connected;
    if (facts.family) sender->family = facts.family;
    sender->last_active_ms = t;
  }
  for (const std::string& rid : message.recipient_ids) {
    if (rid == message.sender_id) continue;
    Participant* r = s.FindOrAddParticipant(c, rid, t);
    if (r == nullptr) continue;
    if (facts.recipient_minor) r->minor = facts.recipient_minor;
    if (facts.recipient_age) r->age = facts.recipient_age;
    if (facts.family) r->family = facts.family;
  }
  // FindOrAddParticipant may have moved participants: find the sender again.
  sender = nullptr;
  for (Participant& p : c.participants) {
    if (p.sender_id == message.sender_id) sender = &p;
  }

  // Indicators in this message: the first occurrence of each.
  out->hits.clear();
  Normalize(message.text, &s.normalized);
  s.indicators->matcher().Find(s.normalized, &s.matches, &s.match_scratch);
  for (const Match& m : s.matches) {
    const bool seen = std::any_of(out->hits.begin(), out->hits.end(),
                                  [&](const MessageHit& h) { return h.indicator == m.indicator; });
    if (seen) continue;
    out->hits.push_back({m.indicator, s.normalized.tokens[m.first].orig_begin,
                         s.normalized.tokens[m.last].orig_end});
  }
  if (sender != nullptr) {
    for (const MessageHit& h : out->hits) {
      if (sender->hits.size() >= o.max_hits_per_participant) {
        sender->hits.erase(sender->hits.begin());  // the oldest
      }
      Hit hit;
      hit.message_id = message.message_id;
      hit.time_ms = t;
      hit.seq = seq;
      hit.begin = h.begin;
      hit.end = h.end;
      hit.indicator = static_cast<uint16_t>(h.indicator);
      hit.stage = s.stages[h.indicator];
      sender->hits.push_back(std::move(hit));
    }
    // The classifier's window of this sender's messages.
    if (s.classifier) {
      const size_t dim = s.embedding.size();
      if (sender->window_rows.empty()) {
        sender->window_rows.assign(o.classifier_window, 0);
        sender->window_sums.assign(o.classifier_window * dim, 0.0f);
      }
      float* slot = sender->window_sums.data() + sender->window_next * dim;
      std::fill(slot, slot + dim, 0.0f);
      sender->window_rows[sender->window_next] = s.classifier->Embed(s.normalized, slot);
      // The earlier messages of the window, then this one as its end.
      const uint32_t current = sender->window_next;
      std::fill(s.embedding.begin(), s.embedding.end(), 0.0f);
      uint32_t rows = 0;
      for (uint32_t w = 0; w < o.classifier_window; ++w) {
        if (w == current) continue;
        rows += sender->window_rows[w];
        const float* sum = sender->window_sums.data() + w * dim;
        for (size_t k = 0; k < dim; ++k) s.embedding[k] += sum[k];
      }
      sender->classifier_p = s.classifier->Probability(s.embedding.data(), rows, s.normalized);
      sender->window_next = (current + 1) % o.classifier_window;
      sender->window_count = std::min(sender->window_count + 1, o.classifier_window);
      sender->last_sent_ms = t;
    }
  }

  // Minors this sender contacts (platform facts), before scoring them. A
  // sender gets state only when there is something to keep: minors
  // contacted here, or (below) a score above 0.
  const AgeClass sender_class = ClassOf(facts.sender_minor, facts.sender_age);
  const AgeClass recipient_class = ClassOf(facts.recipient_minor, facts.recipient_age);
  SenderState* sender_state = s.FindSender(
      message.sender_id, recipient_class == AgeClass::kMinor && sender_class != AgeClass::kMinor);
  if (sender_state != nullptr) {
    sender_state->last_ms = std::max(sender_state->last_ms, t);
    if (sender_class == AgeClass::kMinor) sender_state->minor = true;
  }
  if (sender_state != nullptr && recipient_class == AgeClass::kMinor && !sender_state->minor) {
    for (const std::string& rid : message.recipient_ids) {
      const uint64_t h = HashId(rid);
      if (std::find(sender_state->minors.begin(), sender_state->minors.end(), h) ==
              sender_state->minors.end() &&
          sender_state->minors.size() < o.max_minors_per_sender) {
        sender_state->minors.push_back(h);
      }
    }
  }

  // Everyone in the conversation, scored now.
  const size_t n = c.participants.size();
  s.factors.resize(n);
  s.participant_senders.assign(n, nullptr);
  size_t focus = n;
  for (size_t i = 0; i < n; ++i) {
    Participant& q = c.participants[i];
    q.score = s.Evaluate(c, q, t, seq, &s.factors[i]);
    q.latch.Push(s.LevelOf(q.score), o.latch_k, o.latch_n);
    const bool is_sender = &q == sender;
    SenderState* st = is_sender && sender_state != nullptr ? sender_state
                                                           : s.FindSender(q.sender_id, q.score > 0);
    if (is_sender && st != nullptr && sender_class == AgeClass::kMinor) st->minor = true;
    if (st != nullptr) {
      st->last_ms = std::max(st->last_ms, t);
      s.RecordConversation(*st, c.id_hash, q.score, q.latch.level);
      s.UpdateSenderScore(*st);
    }
    s.participant_senders[i] = st;
    if (focus == n || q.latch.level > c.participants[focus].latch.level ||
        (q.latch.level == c.participants[focus].latch.level &&
         q.score > c.participants[focus].score)) {
      focus = i;
    }
  }
  if (sender == nullptr && sender_state != nullptr) {
    s.UpdateSenderScore(*sender_state);  // minors contacted still count
  }

  // The assessment.
  ConversationRisk& cr = out->conversation;
  cr.previous_level = previous_level;
  cr.score = 0;
  cr.level = RiskLevel::kNone;
  cr.focus_sender.clear();
  cr.stages = 0;
  cr.factors = RiskFactors();
  cr.reasons.clear();
  for (const Participant& q : c.participants) {
    cr.score = std::max(cr.score, q.score);
    cr.level = std::max(cr.level, q.latch.level);
  }
  c.level = cr.level;
  const bool has_focus = focus < n && (c.participants[focus].score > 0 ||
                                       c.participants[focus].latch.level > RiskLevel::kNone);
  if (has_focus) {
    const Participant& f = c.participants[focus];
    cr.focus_sender = f.sender_id;
    cr.stages = f.stage_mask;
    cr.factors = s.factors[focus];
    for (const Hit& h : f.hits) {
      Reason r;
      r.indicator = h.indicator;
      r.message_id = h.message_id;
      r.begin = h.begin;
      r.end = h.end;
      r.weight = s.weights[h.indicator] * s.Decay(t - h.time_ms);
      cr.reasons.push_back(std::move(r));
    }
    if (cr.reasons.size() > o.max_reasons) {
      // Keep the strongest, then restore time order (hits are in time order).
      std::vector<size_t> order(cr.reasons.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return cr.reasons[a].weight > cr.reasons[b].weight;
      });
      order.resize(o.max_reasons);
      std::sort(order.begin(), order.end());
      std::vector<Reason> kept;
      for (size_t i : order) kept.push_back(std::move(cr.reasons[i]));
      cr.reasons = std::move(kept);
    }
  }
  const size_t sender_index = has_focus ? focus : n;
  if (sender_index < n) {
    s.FillSender(s.participant_senders[sender_index], c.participants[sender_index].sender_id,
                 &out->sender);
  } else {
    s.FillSender(sender_state, message.sender_id, &out->sender);
  }
  out->participants.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const Participant& q = c.participants[i];
    ParticipantRisk& pr = out->participants[i];
    pr.sender_id = q.sender_id;
    pr.score = q.score;
    pr.level = q.latch.level;
    const SenderState* st = s.participant_senders[i];
    pr.sender_score = st != nullptr ? st->score : 0;
    pr.sender_level = st != nullptr ? st->latch.level : RiskLevel::kNone;
  }
  s.Evict();
}

std::optional<SenderRisk> RiskEngine::GetSender(std::string_view sender_id) const {
  auto it = state_->sender_index.find(sender_id);
  if (it == state_->sender_index.end()) return std::nullopt;
  SenderRisk r;
  state_->FillSender(&*it->second, sender_id, &r);
  return r;
}

size_t RiskEngine::conversations() const { return state_->conversations.size(); }
size_t RiskEngine::senders() const { return state_->senders.size(); }
const RiskEngine::Stats& RiskEngine::stats() const { return state_->stats; }
const IndicatorSet& RiskEngine::indicators() const { return *state_->indicators; }
const RiskOptions& RiskEngine::options() const { return state_->options; }

size_t RiskEngine::ApproximateMemoryBytes() const {
  const State& s = *state_;
  // A list node (two links) and a hash node (key, iterator, next, cached
  // hash) plus a bucket per entry; 16 bytes of allocator overhead per block.
  constexpr size_t kListNode = 16 + 16;
  constexpr size_t kHashNode = sizeof(std::string_view) + 8 + 8 + 8 + 16 + 8;
  size_t bytes = 0;
  for (const Conversation& c : s.conversations) {
    bytes += sizeof(Conversation) + kListNode + kHashNode + StringHeap(c.id);
    if (c.participants.capacity() > 0) {
      bytes += c.participants.capacity() * sizeof(Participant) + 16;
    }
    for (const Participant& p : c.participants) {
      bytes += StringHeap(p.sender_id);
      if (p.hits.capacity() > 0) bytes += p.hits.capacity() * sizeof(Hit) + 16;
      for (const Hit& h : p.hits) bytes += StringHeap(h.message_id);
      if (p.window_sums.capacity() > 0) bytes += p.window_sums.capacity() * sizeof(float) + 16;
      if (p.window_rows.capacity() > 0) bytes += p.window_rows.capacity() * sizeof(uint32_t) + 16;
    }
  }
  for (const SenderState& st : s.senders) {
    bytes += sizeof(SenderState) + kListNode + kHashNode + StringHeap(st.id);
    if (st.conversations.capacity() > 0) {
      bytes += st.conversations.capacity() * sizeof(SenderConversation) + 16;
    }
    if (st.minors.capacity() > 0) bytes += st.minors.capacity() * sizeof(uint64_t) + 16;
  }
  return bytes;
}

std::string RiskEngine::DebugStateJson() const {
  const State& s = *state_;
  nlohmann::ordered_json j;
  j["now_ms"] = s.now_ms;
  nlohmann::ordered_json convs = nlohmann::ordered_json::array();
  for (const Conversation& c : s.conversations) {
    nlohmann::ordered_json cj;
    cj["id"] = c.id;
    cj["messages"] = c.messages;
    cj["last_ms"] = c.last_ms;
    cj["level"] = RiskLevelName(c.level);
    nlohmann::ordered_json parts = nlohmann::ordered_json::array();
    for (const Participant& p : c.participants) {
      nlohmann::ordered_json pj;
      pj["sender"] = p.sender_id;
      if (p.minor) pj["minor"] = *p.minor;
      if (p.age) pj["age"] = {p.age->min_years, p.age->max_years};
      if (p.account_age_days) pj["account_age_days"] = *p.account_age_days;
      if (p.connected) pj["connected"] = *p.connected;
      if (p.family) pj["family"] = *p.family;
      pj["score"] = p.score;
      pj["level"] = RiskLevelName(p.latch.level);
      nlohmann::ordered_json hits = nlohmann::ordered_json::array();
      for (const Hit& h : p.hits) {
        hits.push_back({{"message", h.message_id},
                        {"time_ms", h.time_ms},
                        {"seq", h.seq},
                        {"begin", h.begin},
                        {"end", h.end},
                        {"indicator", s.indicators->indicators()[h.indicator].name}});
      }
      pj["hits"] = std::move(hits);
      pj["classifier_window_floats"] = p.window_sums.size();
      pj["classifier_p"] = p.classifier_p;
      parts.push_back(std::move(pj));
    }
    cj["participants"] = std::move(parts);
    convs.push_back(std::move(cj));
  }
  j["conversations"] = std::move(convs);
  nlohmann::ordered_json senders = nlohmann::ordered_json::array();
  for (const SenderState& st : s.senders) {
    nlohmann::ordered_json sj;
    sj["id"] = st.id;
    sj["last_ms"] = st.last_ms;
    sj["minor"] = st.minor;
    sj["score"] = st.score;
    sj["level"] = RiskLevelName(st.latch.level);
    nlohmann::ordered_json cs = nlohmann::ordered_json::array();
    for (const SenderConversation& e : st.conversations) {
      cs.push_back({{"conversation_hash", e.conversation},
                    {"score", e.score},
                    {"level", RiskLevelName(e.level)}});
    }
    sj["conversations"] = std::move(cs);
    sj["minor_recipient_hashes"] = st.minors;
    senders.push_back(std::move(sj));
  }
  j["senders"] = std::move(senders);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace safeguard::text
