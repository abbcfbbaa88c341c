// The streaming conversation-risk engine: messages in, one Assessment per
// message out, with the evidence behind it. It recommends; a trained person
// decides (docs/text.md, "What the levels mean").
//
// Per conversation and participant it keeps the indicator hits of a sliding
// window (messages and time), scores them by stage (several stages of the
// grooming process count for much more than one), by escalation (later
// stages after earlier ones), by the age relation the platform reports, and
// by an optional classifier; evidence decays with inactivity, and a k-of-n
// latch raises the level once and keeps it. Per sender it aggregates over
// their conversations and counts the minors they contact.
//
// Privacy: message text is never stored. State holds ids, offsets, indicator
// numbers, times, scores, classifier embedding sums (floats) and hashes of
// recipient ids. State is bounded (LRU) and expires (TTL) by stream time.
//
// Example:
//   RiskEngine engine(indicators, /*classifier=*/nullptr, RiskOptions{});
//   Assessment a;
//   engine.Process(message, &a);
//   if (a.conversation.level >= RiskLevel::kReview) Queue(a);
//
// Thread safety: a RiskEngine is used by one thread at a time. The
// IndicatorSet and WindowClassifier it holds are immutable and may be shared
// by engines on other threads (shard streams by conversation; per-sender
// aggregates are then per shard: see docs/text.md).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "safeguard/core/status.h"
#include "safeguard/text/classifier.h"
#include "safeguard/text/indicators.h"
#include "safeguard/text/message.h"

namespace safeguard::text {

// Part of the output format, by name: add, never rename.
enum class RiskLevel : uint8_t {
  kNone = 0,    // nothing to do
  kWatch = 1,   // weak or single-stage evidence: keep, do not queue
  kReview = 2,  // queue for a trained reviewer
  kUrgent = 3,  // queue first
};
std::string_view RiskLevelName(RiskLevel level);  // "none", "watch", "review", "urgent"
std::optional<RiskLevel> RiskLevelFromName(std::string_view name);

// How a participant's age relates to the others', from platform facts.
// Part of the output format, by name.
enum class AgeRelation : uint8_t {
  kUnknown = 0,       // "unknown"
  kAdultToMinor = 1,  // "adult_to_minor": an adult with a minor
  kToMinor = 2,       // "to_minor": someone of unknown age with a minor
  kMinorToAdult = 3,  // "minor_to_adult"
  kPeerMinors = 4,    // "peer_minors": minors within max_peer_gap_years
  kMinorsApart = 5,   // "minors_apart": minors further apart in age
  kAdults = 6,        // "adults"
};
std::string_view AgeRelationName(AgeRelation relation);

// Every setting, with its default and unit. Times are milliseconds of
// stream time (message timestamps), never the wall clock.
struct RiskOptions {
  // Evidence window: a hit counts while it is among the conversation's last
  // window_messages messages (both sides) and younger than window_ms.
  uint32_t window_messages = 200;
  int64_t window_ms = 14LL * 24 * 3600 * 1000;
  // Decay with inactivity: a hit's weight halves every half_life_ms.
  double half_life_ms = 3.0 * 24 * 3600 * 1000;

  // Aggregation. A stage counts as covered at evidence >= stage_min_evidence.
  double stage_min_evidence = 0.05;
  // Factor by number of stages covered: [0], [1], [2], [3 or more].
  std::array<double, 4> breadth = {0.0, 0.5, 0.8, 1.0};
  // Later stages (exclusivity .. meeting) after earlier ones (rapport,
  // personal_info, risk_assessment) in the window.
  double escalation_factor = 1.15;

  // Platform facts (multiplied; 1 = no effect).
  double adult_to_minor_factor = 1.4;
  double to_minor_factor = 1.2;
  double minor_to_adult_factor = 0.7;
  double peer_minors_factor = 0.6;
  double minors_apart_factor = 1.0;
  double adults_factor = 0.8;
  int max_peer_gap_years = 4;         // peers: band midpoints at most this far apart
  double new_account_days = 30;       // an account younger than this ...
  double new_account_factor = 1.1;    // ... raises (unless the relation is benign)
  double not_connected_factor = 1.1;  // the two are not contacts on the platform
  double family_factor = 0.3;         // the platform links them as family

  // Classifier (when a model is given): its window probability p joins as
  // 1 - (1 - indicators)(1 - classifier_weight * p); so without indicators
  // it can reach at most classifier_weight.
  double classifier_weight = 0.5;
  uint32_t classifier_window = 4;  // sender messages; match `text train --window`

  // Levels: score >= threshold. The latch raises the level to L once
  // latch_k of the last latch_n evaluations were >= L, and keeps it.
  double watch_threshold = 0.2;
  double review_threshold = 0.45;
  double urgent_threshold = 0.7;
  uint32_t latch_k = 2;
  uint32_t latch_n = 4;  // at most 16

  // Per sender: the riskiest conversation, plus other_conversation_factor of
  // each other one at watch or above, plus the number of minors contacted
  // (from platform facts): minors_step per minor from minors_threshold on,
  // at most minors_cap (so contact alone stays below review).
  double other_conversation_factor = 0.5;
  uint32_t minors_threshold = 3;
  double minors_step = 0.1;
  double minors_cap = 0.4;

  // State bounds: least recently active first out, and nothing older than
  // the TTL (in stream time).
  size_t max_conversations = 1'000'000;
  int64_t conversation_ttl_ms = 30LL * 24 * 3600 * 1000;
  size_t max_participants = 8;           // per conversation
  size_t max_hits_per_participant = 32;  // oldest dropped first
  size_t max_senders = 1'000'000;
  int64_t sender_ttl_ms = 30LL * 24 * 3600 * 1000;
  size_t max_conversations_per_sender = 32;  // lowest score dropped first
  size_t max_minors_per_sender = 64;

  // Stream time (the latest timestamp seen, which TTLs are measured from)
  // advances at most this much per message, so one bogus far-future
  // timestamp cannot expire everything held.
  int64_t max_clock_step_ms = 24LL * 3600 * 1000;

  size_t max_reasons = 16;  // in an Assessment (strongest kept)
};

// kInvalidArgument naming the first setting out of range.
Status ValidateRiskOptions(const RiskOptions& options);

// One indicator occurrence behind a score.
struct Reason {
  uint32_t indicator = 0;  // index into IndicatorSet::indicators()
  std::string message_id;
  uint32_t begin = 0;  // Unicode code points of that message's text, [begin, end)
  uint32_t end = 0;
  double weight = 0;  // its weight now, after decay
};

// An indicator in the message just processed.
struct MessageHit {
  uint32_t indicator = 0;
  uint32_t begin = 0;
  uint32_t end = 0;
};

// How a score was reached (for reviewers and tuning).
struct RiskFactors {
  double evidence = 0;    // indicators: 1 - prod over stages (1 - stage evidence)
  uint32_t stages = 0;    // stages covered
  double breadth = 0;     // RiskOptions::breadth for that number
  double escalation = 1;  // escalation_factor or 1
  AgeRelation relation = AgeRelation::kUnknown;
  double facts = 1;        // product of the platform-fact factors
  double classifier = -1;  // window probability; -1 without a model
};

struct ConversationRisk {
  double score = 0;                             // [0, 1], of the riskiest participant
  RiskLevel level = RiskLevel::kNone;           // latched; never falls while held
  RiskLevel previous_level = RiskLevel::kNone;  // before this message
  std::string focus_sender;                     // the riskiest participant, "" if none
  uint16_t stages = 0;                          // bit (1 << Stage) per stage covered by the focus
  RiskFactors factors;                          // of the focus
  std::vector<Reason> reasons;                  // the focus's evidence, oldest first
};

struct SenderRisk {
  std::string sender_id;
  double score = 0;
  RiskLevel level = RiskLevel::kNone;  // latched
  uint32_t conversations = 0;          // held for this sender
  uint32_t flagged_conversations = 0;  // at watch or above
  uint32_t minors_contacted = 0;
};

struct ParticipantRisk {
  std::string sender_id;
  double score = 0;                    // in this conversation
  RiskLevel level = RiskLevel::kNone;  // in this conversation, latched
  double sender_score = 0;             // over their conversations
  RiskLevel sender_level = RiskLevel::kNone;
};

// Reuse one Assessment across calls: Process overwrites it and keeps its
// buffers.
struct Assessment {
  std::vector<MessageHit> hits;  // indicators in this message, by position
  ConversationRisk conversation;
  SenderRisk sender;                          // of the focus (or of the message's sender)
  std::vector<ParticipantRisk> participants;  // everyone tracked in the conversation
};

class RiskEngine {
 public:
  // `classifier` may be null (indicators only).
  // REQUIRES: ValidateRiskOptions(options).ok(); indicators != nullptr.
  RiskEngine(std::shared_ptr<const IndicatorSet> indicators,
             std::shared_ptr<const WindowClassifier> classifier, const RiskOptions& options);
  ~RiskEngine();
  RiskEngine(const RiskEngine&) = delete;
  RiskEngine& operator=(const RiskEngine&) = delete;

  // Assesses one message (the text is read, never kept). Messages of one
  // conversation should come in order; a timestamp earlier than the
  // conversation's last counts as that last one. A message without a
  // timestamp takes its conversation's last time.
  void Process(const Message& message, Assessment* out);

  // The current aggregate of a sender, if held.
  std::optional<SenderRisk> GetSender(std::string_view sender_id) const;

  size_t conversations() const;
  size_t senders() const;
  // Bytes of state, estimated from sizes and capacities (allocator overhead
  // approximated); the benchmark measures the real figure beside it.
  size_t ApproximateMemoryBytes() const;

  struct Stats {
    uint64_t messages = 0;
    uint64_t conversations_expired = 0;  // TTL
    uint64_t conversations_evicted = 0;  // max_conversations
    uint64_t senders_expired = 0;
    uint64_t senders_evicted = 0;
    uint64_t participants_untracked = 0;  // messages from senders past max_participants
  };
  const Stats& stats() const;

  // Everything the engine holds, as JSON (for tests and debugging; it is how
  // the privacy tests show that no text is kept).
  std::string DebugStateJson() const;

  const IndicatorSet& indicators() const;
  const RiskOptions& options() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace safeguard::text
