// Aggregation: single weak indicators stay low, stages and escalation raise,
// evidence decays, the latch holds, platform facts shift the score, senders
// aggregate over conversations; state stays bounded and holds no text.
// All conversations here are synthetic and non-explicit (indicator
// categories only).

#include "safeguard/text/risk_engine.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "safeguard/text/json.h"

namespace safeguard::text {
namespace {

constexpr int64_t kT0 = 1714579500000;  // 2024-05-01T16:05:00Z
constexpr int64_t kMinute = 60 * 1000;

std::shared_ptr<const IndicatorSet> Builtin() {
  static const std::shared_ptr<const IndicatorSet> set = *IndicatorSet::Load({*BuiltinPack("en")});
  return set;
}

// prefix + number (written out: `"c" + std::to_string(i)` trips GCC 12's
// -Wrestrict false positive at -O3).
std::string Id(const char* prefix, int64_t n) {
  std::string s = prefix;
  s += std::to_string(n);
  return s;
}

struct Line {
  std::string sender;
  std::string text;
};

class RiskEngineTest : public ::testing::Test {
 protected:
  void Reset() { engine_ = std::make_unique<RiskEngine>(Builtin(), nullptr, options_); }
  void SetUp() override { Reset(); }

  // Sends `text` from `from` to `to` in `conversation`, `minutes` after kT0.
  const Assessment& Send(const std::string& conversation, const std::string& from,
                         const std::string& to, const std::string& text, int64_t minutes,
                         const PlatformFacts& facts = {}) {
    Message m;
    m.conversation_id = conversation;
    m.message_id = conversation + Id("-m", ++count_);
    m.sender_id = from;
    m.recipient_ids = {to};
    m.timestamp_ms = kT0 + minutes * kMinute;
    m.text = text;
    m.facts = facts;
    last_ = m;
    engine_->Process(m, &a_);
    return a_;
  }

  // Plays a two-person conversation, a message a minute; returns the
  // conversation level after each message.
  std::vector<RiskLevel> Play(const std::string& conversation, const std::vector<Line>& lines,
                              const PlatformFacts& adult_facts = {},
                              const PlatformFacts& other_facts = {}) {
    std::vector<RiskLevel> levels;
    std::string first = lines.empty() ? "" : lines[0].sender;
    for (const Line& l : lines) {
      std::string other;
      for (const Line& k : lines) {
        if (k.sender != l.sender) other = k.sender;
      }
      if (other.empty()) other = "someone";
      Send(conversation, l.sender, other, l.text, minute_++,
           l.sender == first ? adult_facts : other_facts);
      levels.push_back(a_.conversation.level);
    }
    return levels;
  }

  RiskOptions options_;
  std::unique_ptr<RiskEngine> engine_;
  Assessment a_;
  Message last_;
  int count_ = 0;
  int64_t minute_ = 0;
};

PlatformFacts Adult() {
  PlatformFacts f;
  f.sender_minor = false;
  f.recipient_minor = true;
  return f;
}
PlatformFacts MinorToAdult() {
  PlatformFacts f;
  f.sender_minor = true;
  f.recipient_minor = false;
  return f;
}
PlatformFacts Peer(const char* self, const char* other) {
  PlatformFacts f;
  f.sender_age = *ParseAgeBand(self);
  f.recipient_age = *ParseAgeBand(other);
  return f;
}

// A grooming-pattern conversation expressed only through the documented
// indicator categories.
const std::vector<Line>& GroomingPattern() {
  static const std::vector<Line> lines = {
      {"g", "hey, saw your post about the art contest"},
      {"k", "oh thanks"},
      {"g", "you are so mature for your age honestly"},
      {"k", "lol ok"},
      {"g", "how old are you anyway"},
      {"k", "13"},
      {"g", "are your parents home right now?"},
      {"k", "no they're at work"},
      {"g", "dont tell anyone we talk ok, its our little secret"},
      {"k", "why"},
      {"g", "add me on snap its easier"},
      {"k", "maybe"},
      {"g", "send me a selfie so i know its you"},
      {"k", "idk"},
      {"g", "we should meet up, i can pick you up after school"},
  };
  return lines;
}

TEST_F(RiskEngineTest, SingleWeakIndicatorStaysLow) {
  Send("c", "a", "b", "how old are you?", 0);
  EXPECT_EQ(a_.hits.size(), 1u);
  EXPECT_NEAR(a_.conversation.score, 0.15 * 0.5, 1e-3);  // one stage: breadth 0.5
  // Asking again and again is still one weak signal.
  for (int i = 1; i < 10; ++i) Send("c", "a", "b", "how old r u", i);
  EXPECT_EQ(a_.conversation.level, RiskLevel::kNone);
  EXPECT_LT(a_.conversation.score, options_.watch_threshold);
  // All personal-info probes together are still one stage: watch at most.
  Send("c", "a", "b", "where do you live", 11);
  Send("c", "a", "b", "what school do you go to", 12);
  Send("c", "a", "b", "ok", 13);
  EXPECT_LE(a_.conversation.level, RiskLevel::kWatch);
  EXPECT_EQ(a_.conversation.factors.stages, 1u);
}

TEST_F(RiskEngineTest, MultiStageEscalationRisesToReviewAndUrgent) {
  const std::vector<RiskLevel> levels = Play("c", GroomingPattern());
  for (size_t i = 1; i < levels.size(); ++i) EXPECT_GE(levels[i], levels[i - 1]);
  EXPECT_EQ(levels.back(), RiskLevel::kUrgent);
  // The first time it reaches review: after secrecy (message 9) at the latest.
  size_t first_review = levels.size();
  for (size_t i = 0; i < levels.size(); ++i) {
    if (levels[i] >= RiskLevel::kReview) {
      first_review = i;
      break;
    }
  }
  EXPECT_LE(first_review, 10u);
  const ConversationRisk& c = a_.conversation;
  EXPECT_EQ(c.focus_sender, "g");
  EXPECT_EQ(c.factors.escalation, options_.escalation_factor);
  EXPECT_GE(c.factors.stages, 7u);
  EXPECT_EQ(a_.sender.sender_id, "g");
  EXPECT_GE(a_.sender.level, RiskLevel::kReview);
  // The child's own risk stays at none.
  for (const ParticipantRisk& p : a_.participants) {
    if (p.sender_id == "k") {
      EXPECT_EQ(p.level, RiskLevel::kNone);
    }
  }
}

TEST_F(RiskEngineTest, ReasonsPointAtMessagesAndOriginalCharacters) {
  Send("c", "g", "k", "hi", 0);
  Send("c", "g", "k", "ok so… ＤＯＮ’Ｔ tell anyone!!", 1);
  const std::string secrecy_message = last_.message_id;
  Send("c", "g", "k", "add me on snap", 2);
  ASSERT_EQ(a_.conversation.reasons.size(), 2u);
  const Reason& r = a_.conversation.reasons[0];
  EXPECT_EQ(Builtin()->indicators()[r.indicator].name, "secrecy_request");
  EXPECT_EQ(r.message_id, secrecy_message);
  EXPECT_EQ(r.begin, 7u);
  EXPECT_EQ(r.end, 24u);
  EXPECT_EQ(a_.conversation.stages, (1u << static_cast<int>(Stage::kSecrecy)) |
                                        (1u << static_cast<int>(Stage::kPlatformMove)));
  ASSERT_EQ(a_.hits.size(), 1u);
  EXPECT_EQ(a_.hits[0].begin, 0u);
  EXPECT_EQ(a_.hits[0].end, 14u);
}

TEST_F(RiskEngineTest, LatchNeedsKOfNAndThenHolds) {
  options_.latch_k = 2;
  options_.latch_n = 4;
  options_.window_messages = 6;  // evidence leaves the window quickly
  Reset();
  Send("c", "g", "k", "dont tell anyone", 0);  // 0.45 * 0.5 = 0.225: watch, once
  EXPECT_NEAR(a_.conversation.score, 0.225, 1e-3);
  EXPECT_EQ(a_.conversation.level, RiskLevel::kNone);  // one evaluation is not enough
  Send("c", "k", "g", "ok", 1);
  EXPECT_EQ(a_.conversation.level, RiskLevel::kWatch);  // two of the last four
  EXPECT_EQ(a_.conversation.previous_level, RiskLevel::kNone);
  for (int i = 2; i < 12; ++i) Send("c", "k", "g", "fine", i);
  EXPECT_EQ(a_.conversation.score, 0);                  // the evidence left the window
  EXPECT_EQ(a_.conversation.level, RiskLevel::kWatch);  // the level stays
  EXPECT_EQ(a_.conversation.focus_sender, "g");
}

TEST_F(RiskEngineTest, LatchWithKOneRaisesAtOnce) {
  options_.latch_k = 1;
  options_.latch_n = 1;
  Reset();
  Send("c", "g", "k", "dont tell anyone", 0);
  EXPECT_EQ(a_.conversation.level, RiskLevel::kWatch);
}

TEST_F(RiskEngineTest, EvidenceDecaysWithInactivity) {
  Send("c", "g", "k", "dont tell anyone", 0);
  Send("c", "g", "k", "add me on snap", 1);
  const double fresh = a_.conversation.score;
  const RiskLevel level = a_.conversation.level;
  EXPECT_NEAR(fresh, 0.8 * (1 - (1 - 0.45) * (1 - 0.3)), 1e-3);  // two stages
  Send("c", "k", "g", "hi", 3 * 24 * 60);  // one half-life later: each weight halves
  EXPECT_NEAR(a_.conversation.score, 0.8 * (1 - (1 - 0.45 / 2) * (1 - 0.3 / 2)), 1e-3);
  EXPECT_EQ(a_.conversation.level, level);
  Send("c", "k", "g", "hi", 20 * 24 * 60);  // beyond the 14-day window
  EXPECT_EQ(a_.conversation.score, 0);
  EXPECT_TRUE(a_.conversation.reasons.empty());
}

TEST_F(RiskEngineTest, AgeRelationRaisesAdultToMinorAndLowersPeers) {
  const std::vector<Line> lines = {{"a", "how old are you"}, {"b", "14"}, {"a", "add me on snap"}};
  Play("unknown", lines);
  const double unknown = a_.conversation.score;
  EXPECT_EQ(a_.conversation.factors.relation, AgeRelation::kUnknown);
  Play("adult", {{"x", lines[0].text}, {"y", lines[1].text}, {"x", lines[2].text}}, Adult(),
       MinorToAdult());
  const double adult = a_.conversation.score;
  EXPECT_EQ(a_.conversation.factors.relation, AgeRelation::kAdultToMinor);
  EXPECT_NEAR(adult, unknown * options_.adult_to_minor_factor, 1e-3);
  Play("peers", {{"p", lines[0].text}, {"q", lines[1].text}, {"p", lines[2].text}},
       Peer("13-15", "13-15"), Peer("13-15", "13-15"));
  EXPECT_EQ(a_.conversation.factors.relation, AgeRelation::kPeerMinors);
  EXPECT_NEAR(a_.conversation.score, unknown * options_.peer_minors_factor, 1e-3);
  Play("apart", {{"s", lines[0].text}, {"t", lines[1].text}, {"s", lines[2].text}},
       Peer("16-17", "10-12"), Peer("10-12", "16-17"));
  EXPECT_EQ(a_.conversation.factors.relation, AgeRelation::kMinorsApart);
  PlatformFacts stranger = Adult();
  stranger.sender_minor.reset();
  stranger.connected = false;
  stranger.sender_account_age_days = 2;
  Play("stranger", {{"u", lines[0].text}, {"v", lines[1].text}, {"u", lines[2].text}}, stranger);
  EXPECT_EQ(a_.conversation.factors.relation, AgeRelation::kToMinor);
  EXPECT_NEAR(
      a_.conversation.factors.facts,
      options_.to_minor_factor * options_.new_account_factor * options_.not_connected_factor, 1e-9);
}

const std::vector<Line>& FamilyLogistics() {
  static const std::vector<Line> lines = {
      {"mom", "are you home? i'll pick you up at 5 after practice"},
      {"kid", "ok"},
      {"mom", "dont tell your dad about the surprise party, its our little secret"},
      {"kid", "haha ok"},
      {"mom", "send me a pic of the cake you picked"},
      {"kid", "sent"}};
  return lines;
}

TEST_F(RiskEngineTest, WordsAloneCannotTellAParentFromAStranger) {
  // The same family logistics without the platform's family link reach
  // review: pickup, secrecy and a photo request are three stages. This is
  // why the family fact exists, and why a person reviews.
  Play("family", FamilyLogistics(), Adult());
  EXPECT_GE(a_.conversation.level, RiskLevel::kReview);
}

TEST_F(RiskEngineTest, HardNegativesStayBelowReview) {
  PlatformFacts parent = Adult();
  parent.connected = true;
  PlatformFacts family = parent;
  family.family = true;
  Play("family", FamilyLogistics(), family);
  EXPECT_LT(a_.conversation.level, RiskLevel::kReview);
  EXPECT_EQ(a_.conversation.focus_sender, "mom");
  Play("coach",
       {{"coach", "great game today everyone! practice moves to 5pm thursday"},
        {"player", "ok coach"},
        {"coach", "tell your parents pickup is at the north gate"},
        {"player", "will do"}},
       parent);
  EXPECT_EQ(a_.conversation.level, RiskLevel::kNone);
  Play("peers",
       {{"sam", "how old are you? im 14"},
        {"alex", "15! what school do you go to"},
        {"sam", "lincoln. wanna meet up at the mall saturday with jo?"},
        {"alex", "yes!!"}},
       Peer("13-15", "13-15"), Peer("13-15", "13-15"));
  EXPECT_LT(a_.conversation.level, RiskLevel::kReview);
  Play("teacher",
       {{"teacher", "reminder: the science fair forms are due friday"},
        {"student", "can i hand it in monday?"},
        {"teacher", "yes, and ask your parents to sign page 2"}},
       parent);
  EXPECT_EQ(a_.conversation.level, RiskLevel::kNone);
}

TEST_F(RiskEngineTest, SenderAggregatesAcrossConversationsAndMinorsContacted) {
  // One adult writing innocuous messages to five different minors.
  for (int i = 0; i < 5; ++i) {
    Send(Id("dm", i), "adult", Id("kid", i), "hey whats up", i, Adult());
  }
  std::optional<SenderRisk> s = engine_->GetSender("adult");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->minors_contacted, 5u);
  EXPECT_EQ(s->conversations, 5u);
  EXPECT_NEAR(s->score, 0.3, 1e-9);  // 0.1 per minor from the third: contact alone stays < review
  EXPECT_EQ(a_.conversation.level, RiskLevel::kNone);
  EXPECT_LT(s->level, RiskLevel::kReview);

  // A known minor contacting minors is no such signal.
  PlatformFacts peer = Adult();
  peer.sender_minor = true;
  for (int i = 0; i < 5; ++i) Send(Id("pm", i), "teen", Id("kid", i), "hey", i, peer);
  EXPECT_FALSE(engine_->GetSender("teen").has_value());  // nothing to keep

  // Two risky conversations make the sender riskier than either alone.
  Send("r1", "g", "k1", "dont tell anyone", 100);
  Send("r1", "g", "k1", "add me on snap", 101);
  const double one = engine_->GetSender("g")->score;
  Send("r2", "g", "k2", "are your parents home", 102);
  Send("r2", "g", "k2", "send me a selfie", 103);
  Send("r2", "k2", "g", "ok", 104);  // a second evaluation latches r2's level
  const double second_conversation = a_.conversation.score;
  std::optional<SenderRisk> g = engine_->GetSender("g");
  EXPECT_GT(g->score, std::max(one, second_conversation));
  EXPECT_EQ(g->conversations, 2u);
  EXPECT_EQ(g->flagged_conversations, 2u);
  EXPECT_FALSE(engine_->GetSender("nobody").has_value());
}

TEST_F(RiskEngineTest, StateAndOutputHoldNoMessageText) {
  const std::vector<Line> lines = {{"g", "zebra xylophone: dont tell anyone about the quokka"},
                                   {"k", "marmalade"},
                                   {"g", "add me on snap, bring the zebra"}};
  Play("c", lines, Adult(), MinorToAdult());
  const std::string state = engine_->DebugStateJson();
  const std::string output = AssessmentJson(last_, a_, *Builtin());
  for (const char* word : {"zebra", "xylophone", "quokka", "marmalade", "tell", "snap"}) {
    EXPECT_EQ(state.find(word), std::string::npos) << word;
    EXPECT_EQ(output.find(word), std::string::npos) << word;
  }
  // What is held: ids, offsets and indicator names.
  EXPECT_NE(state.find("secrecy_request"), std::string::npos);
  EXPECT_NE(state.find("\"c-m1\""), std::string::npos);
}

TEST_F(RiskEngineTest, StateIsBoundedAndExpires) {
  options_.max_conversations = 3;
  options_.max_senders = 4;
  options_.max_hits_per_participant = 2;
  Reset();
  for (int i = 0; i < 5; ++i) Send(Id("c", i), Id("s", i), "r", "hi", i);
  EXPECT_EQ(engine_->conversations(), 3u);
  EXPECT_EQ(engine_->stats().conversations_evicted, 2u);
  EXPECT_LE(engine_->senders(), 4u);
  // The most recent survive.
  const std::string state = engine_->DebugStateJson();
  EXPECT_NE(state.find("\"c4\""), std::string::npos);
  EXPECT_EQ(state.find("\"c0\""), std::string::npos);

  // Hits per participant: the oldest go first.
  Send("h", "g", "k", "how old are you", 10);
  Send("h", "g", "k", "dont tell anyone", 11);
  Send("h", "g", "k", "add me on snap", 12);
  ASSERT_EQ(a_.conversation.reasons.size(), 2u);
  EXPECT_EQ(Builtin()->indicators()[a_.conversation.reasons[0].indicator].name, "secrecy_request");

  // Expiry by stream time: a month of daily messages later, everything else
  // is gone.
  for (int day = 1; day <= 31; ++day) Send("late", "z", "y", "hi", day * 24 * 60);
  EXPECT_EQ(engine_->conversations(), 1u);
  EXPECT_GE(engine_->stats().conversations_expired, 2u);
  EXPECT_FALSE(engine_->GetSender("g").has_value());
  EXPECT_GT(engine_->ApproximateMemoryBytes(), 0u);
}

TEST_F(RiskEngineTest, OneFarFutureTimestampDoesNotExpireEverything) {
  Send("a", "g", "k", "dont tell anyone", 0);
  Send("b", "x", "y", "hi", 1);
  Send("bogus", "z", "w", "hi", 365LL * 24 * 60);  // a year ahead
  EXPECT_EQ(engine_->conversations(), 3u);
  // Stream time still advances with the stream itself.
  for (int day = 1; day <= 31; ++day) Send("bogus", "z", "w", "hi", (365LL + day) * 24 * 60);
  EXPECT_EQ(engine_->conversations(), 1u);
}

TEST_F(RiskEngineTest, ParticipantsPerConversationAreBounded) {
  options_.max_participants = 3;
  Reset();
  Send("group", "g", "k", "dont tell anyone", 0);
  Send("group", "g", "k", "add me on snap", 1);  // g is now at watch: kept
  for (int i = 0; i < 6; ++i) Send("group", Id("p", i), "g", "hello all", 2 + i);
  EXPECT_LE(a_.participants.size(), 3u);
  bool g_kept = false;
  for (const ParticipantRisk& p : a_.participants) g_kept = g_kept || p.sender_id == "g";
  EXPECT_TRUE(g_kept);
}

TEST_F(RiskEngineTest, OutOfOrderAndMissingTimestamps) {
  Send("c", "g", "k", "dont tell anyone", 100);
  Message m;
  m.conversation_id = "c";
  m.message_id = "x";
  m.sender_id = "g";
  m.text = "add me on snap";
  engine_->Process(m, &a_);  // no timestamp: the conversation's last
  EXPECT_EQ(a_.conversation.reasons.size(), 2u);
  m.timestamp_ms = kT0;  // earlier than the last: counts as the last
  m.message_id = "y";
  engine_->Process(m, &a_);
  EXPECT_GT(a_.conversation.score, 0.3);
}

TEST_F(RiskEngineTest, MessagesWithoutTextOrIndicatorsAreCheap) {
  Send("c", "a", "b", "", 0);
  EXPECT_TRUE(a_.hits.empty());
  EXPECT_EQ(a_.conversation.score, 0);
  EXPECT_TRUE(a_.conversation.focus_sender.empty());
  EXPECT_EQ(a_.participants.size(), 2u);
}

TEST(RiskOptions, ValidationNamesTheSetting) {
  EXPECT_TRUE(ValidateRiskOptions(RiskOptions{}).ok());
  RiskOptions o;
  o.latch_k = 5;
  o.latch_n = 4;
  EXPECT_NE(ValidateRiskOptions(o).message().find("latch"), std::string::npos);
  o = RiskOptions{};
  o.review_threshold = 0.1;
  EXPECT_NE(ValidateRiskOptions(o).message().find("thresholds"), std::string::npos);
  o = RiskOptions{};
  o.half_life_ms = 0;
  EXPECT_NE(ValidateRiskOptions(o).message().find("half_life_ms"), std::string::npos);
  o = RiskOptions{};
  o.max_participants = 1;
  EXPECT_FALSE(ValidateRiskOptions(o).ok());
  o = RiskOptions{};
  o.classifier_weight = 2;
  EXPECT_FALSE(ValidateRiskOptions(o).ok());
}

TEST(RiskLevels, NamesRoundTrip) {
  for (RiskLevel l :
       {RiskLevel::kNone, RiskLevel::kWatch, RiskLevel::kReview, RiskLevel::kUrgent}) {
    EXPECT_EQ(RiskLevelFromName(RiskLevelName(l)), l);
  }
  EXPECT_FALSE(RiskLevelFromName("high").has_value());
  EXPECT_EQ(AgeRelationName(AgeRelation::kAdultToMinor), "adult_to_minor");
}

TEST_F(RiskEngineTest, AssessmentJsonFollowsTheSchema) {
  Play("c", GroomingPattern(), Adult(), MinorToAdult());
  const nlohmann::json j = nlohmann::json::parse(AssessmentJson(last_, a_, *Builtin()));
  for (const char* key :
       {"conversation", "message", "sender", "hits", "score", "level", "previous_level", "focus",
        "stages", "factors", "reasons", "sender_risk", "participants"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["level"], "urgent");
  EXPECT_EQ(j["focus"], "g");
  EXPECT_EQ(j["factors"]["relation"], "adult_to_minor");
  EXPECT_FALSE(j["factors"].contains("classifier"));  // no model
  ASSERT_FALSE(j["reasons"].empty());
  for (const auto& r : j["reasons"]) {
    for (const char* key : {"indicator", "stage", "message", "begin", "end", "weight"}) {
      EXPECT_TRUE(r.contains(key)) << key;
    }
  }
  EXPECT_EQ(j["hits"][0]["stage"], "meeting");
  EXPECT_EQ(j["sender_risk"]["sender"], "g");
}

}  // namespace
}  // namespace safeguard::text
