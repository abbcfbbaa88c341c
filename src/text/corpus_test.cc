// The synthetic JSON-lines corpus (testdata/conversations.jsonl) end to end
// through the parser and the engine: every grooming-pattern conversation
// reaches review, every hard negative stays below it. A plumbing test on
// our own tiny corpus, not a quality claim.

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <string>

#include "safeguard/text/message.h"
#include "safeguard/text/risk_engine.h"

namespace safeguard::text {
namespace {

const std::string kTestData = SAFEGUARD_TEXT_TESTDATA;

TEST(SyntheticCorpus, GroomingPatternsReachReviewAndHardNegativesDoNot) {
  std::FILE* f = std::fopen((kTestData + "/conversations.jsonl").c_str(), "rb");
  ASSERT_NE(f, nullptr);
  JsonLinesReader reader(f, MessageLimits{}.max_line_bytes);
  RiskEngine engine(*IndicatorSet::Load({*BuiltinPack("en")}), nullptr, RiskOptions{});
  std::map<std::string, RiskLevel> level;
  Assessment a;
  std::string_view line;
  size_t lines = 0;
  while (reader.Next(&line) == JsonLinesReader::kLine) {
    Message m;
    const Status s = ParseMessageJson(line, MessageLimits{}, &m);
    ASSERT_TRUE(s.ok()) << "line " << reader.line_number() << ": " << s.ToString();
    engine.Process(m, &a);
    level[m.conversation_id] = a.conversation.level;
    ++lines;
  }
  std::fclose(f);
  EXPECT_EQ(lines, 74u);
  ASSERT_EQ(level.size(), 12u);
  for (const auto& [id, l] : level) {
    if (id.rfind("grooming-", 0) == 0) {
      EXPECT_GE(l, RiskLevel::kReview) << id;
    } else {
      EXPECT_LT(l, RiskLevel::kReview) << id;
    }
  }
  // g1 wrote to two children: the sender aggregate says so.
  std::optional<SenderRisk> g1 = engine.GetSender("g1");
  ASSERT_TRUE(g1.has_value());
  EXPECT_EQ(g1->conversations, 2u);
  EXPECT_EQ(g1->minors_contacted, 2u);
  EXPECT_EQ(g1->level, RiskLevel::kUrgent);
}

}  // namespace
}  // namespace safeguard::text
