// Pattern packs: the built-in English pack on obfuscated and innocent text,
// extending packs, and every way a pack can be refused.

#include "safeguard/text/indicators.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "test_support.h"

namespace safeguard::text {
namespace {

std::shared_ptr<const IndicatorSet> Builtin() {
  static const std::shared_ptr<const IndicatorSet> set = [] {
    Result<std::shared_ptr<const IndicatorSet>> s = IndicatorSet::Load({*BuiltinPack("en")});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return *s;
  }();
  return set;
}

std::set<std::string> Names(const IndicatorSet& set, std::string_view text) {
  std::set<std::string> names;
  for (const IndicatorHit& h : set.Find(text)) names.insert(set.indicators()[h.indicator].name);
  return names;
}

using S = std::set<std::string>;

Status LoadStatus(const std::string& json, const PackLimits& limits = {}) {
  return IndicatorSet::Load({{"test.json", json}}, limits).status();
}

std::string Pack(const std::string& indicators) {
  return R"({"format": "safeguard-text-pack", "version": 1, "language": "xx", "indicators": [)" +
         indicators + "]}";
}

TEST(IndicatorStages, NamesRoundTrip) {
  for (size_t i = 0; i < kStageCount; ++i) {
    const Stage s = static_cast<Stage>(i);
    EXPECT_EQ(StageFromName(StageName(s)), s);
  }
  EXPECT_EQ(StageName(Stage::kPlatformMove), "platform_move");
  EXPECT_FALSE(StageFromName("sexual").has_value());
}

TEST(BuiltinPack, LoadsAndCoversEveryStage) {
  EXPECT_EQ(BuiltinPackLanguages(), std::vector<std::string>{"en"});
  EXPECT_FALSE(BuiltinPack("xx").has_value());
  const auto set = Builtin();
  EXPECT_EQ(set->origins(), std::vector<std::string>{"builtin:en"});
  std::set<Stage> stages;
  for (const Indicator& ind : set->indicators()) {
    stages.insert(ind.stage);
    EXPECT_GT(ind.weight, 0);
    EXPECT_LE(ind.weight, 0.5) << ind.name << ": no single indicator is strong evidence";
    EXPECT_GT(ind.patterns, 0u);
    EXPECT_FALSE(ind.description.empty());
  }
  EXPECT_EQ(stages.size(), kStageCount);
}

TEST(BuiltinPack, FindsIndicatorsThroughObfuscation) {
  const auto set = Builtin();
  EXPECT_EQ(Names(*set, "dont tell anyone ok"), S{"secrecy_request"});
  EXPECT_EQ(Names(*set, "D0N'T t3ll ＡＮＹＯＮＥ"), S{"secrecy_request"});
  EXPECT_EQ(Names(*set, "this is our little s.e.c.r.e.t"), S{"secrecy_request"});
  EXPECT_EQ(Names(*set, "how old r u"), S{"age_probe"});
  EXPECT_EQ(Names(*set, "hoooow oooold are youuu"), S{"age_probe"});
  EXPECT_EQ(Names(*set, "add me on sn@pchat"), S{"platform_move"});
  EXPECT_EQ(Names(*set, "are ur parents home rn"), S{"parents_check"});
  EXPECT_EQ(Names(*set, "r u h0me al0ne"), S{"alone_check"});
  EXPECT_EQ(Names(*set, "send me a selfie"), S{"photo_request"});
  EXPECT_EQ(Names(*set, "we should meet up irl"), S{"meeting_request"});
  EXPECT_EQ(Names(*set, "ur so mature for ur age"), S{"flattery_maturity"});
  EXPECT_EQ(Names(*set, "i can send u robux"), S{"money_offer"});
  EXPECT_EQ(Names(*set, "your parents dont understand you"), S{"isolation"});
}

TEST(BuiltinPack, OrdinaryChatFindsNothing) {
  const auto set = Builtin();
  for (const char* text : {"what time is practice tomorrow", "can you grab milk on the way home",
                           "the game was so good last night", "did you finish the math homework",
                           "happy birthday!! have a great day", "we met at school in 2019",
                           "lol that meme", "see you at the mall at 3", ""}) {
    EXPECT_EQ(Names(*set, text), S{}) << text;
  }
}

TEST(BuiltinPack, HitsPointAtOriginalCharacters) {
  const auto set = Builtin();
  const std::string text = "ok so… ＤＯＮ’Ｔ tell anyone!!";
  const std::vector<IndicatorHit> hits = set->Find(text);
  ASSERT_EQ(hits.size(), 1u);
  // "ok so… " is 7 code points; "ＤＯＮ’Ｔ tell anyone" is 17.
  EXPECT_EQ(hits[0].begin, 7u);
  EXPECT_EQ(hits[0].end, 24u);
}

TEST(PackLoading, ExtendingAnIndicatorAddsPatternsAndMayReweight) {
  const std::string extra = Pack(
      R"({"name": "secrecy_request", "weight": 0.5, "patterns": ["tell nobody about us"]},
         {"name": "gaming_gift", "stage": "gifts", "weight": 0.2, "description": "d",
          "patterns": ["free emotes"]})");
  Result<std::shared_ptr<const IndicatorSet>> set =
      IndicatorSet::Load({*BuiltinPack("en"), {"extra.json", extra}});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(Names(**set, "tell nobody about us"), S{"secrecy_request"});
  EXPECT_EQ(Names(**set, "dont tell anyone"), S{"secrecy_request"});
  EXPECT_EQ(Names(**set, "free emotes"), S{"gaming_gift"});
  for (const Indicator& ind : (*set)->indicators()) {
    if (ind.name == "secrecy_request") {
      EXPECT_EQ(ind.weight, 0.5);
      EXPECT_EQ(ind.origin, "builtin:en");
    }
    if (ind.name == "gaming_gift") {
      EXPECT_EQ(ind.origin, "extra.json");
    }
  }
  EXPECT_EQ((*set)->origins(), (std::vector<std::string>{"builtin:en", "extra.json"}));

  const Status clash =
      IndicatorSet::Load({*BuiltinPack("en"), {"x.json", Pack(R"({"name": "secrecy_request",
                                             "stage": "gifts"})")}})
          .status();
  EXPECT_EQ(clash.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(clash.message().find("differs from secrecy"), std::string::npos) << clash.message();
}

TEST(PackLoading, RefusesMalformedPacksWithClearErrors) {
  auto message = [](const std::string& json) { return LoadStatus(json).message(); };
  EXPECT_NE(message("{not json").find("pack test.json: not valid JSON"), std::string::npos);
  EXPECT_NE(message("[]").find("not a JSON object"), std::string::npos);
  EXPECT_NE(message(R"({"format": "other", "version": 1, "indicators": []})").find("\"format\""),
            std::string::npos);
  EXPECT_EQ(
      LoadStatus(R"({"format": "safeguard-text-pack", "version": 2, "indicators": []})").code(),
      ErrorCode::kUnsupported);
  EXPECT_NE(message(R"({"format": "safeguard-text-pack", "version": 1, "indicator": []})")
                .find("unknown key \"indicator\""),
            std::string::npos);
  EXPECT_NE(message(Pack(R"({"name": "Bad Name", "stage": "gifts", "weight": 0.1,
                             "patterns": ["x"]})"))
                .find("\"name\""),
            std::string::npos);
  EXPECT_NE(message(Pack(R"({"name": "a", "stage": "sexual", "weight": 0.1, "patterns": ["x"]})"))
                .find("indicator 'a': unknown stage \"sexual\""),
            std::string::npos);
  for (const char* w : {"0", "1.5", "-1", "\"0.3\""}) {
    EXPECT_NE(message(Pack(std::string(R"({"name": "a", "stage": "gifts", "weight": )") + w +
                           R"(, "patterns": ["x"]})"))
                  .find("\"weight\" must be a number in (0, 1]"),
              std::string::npos)
        << w;
  }
  EXPECT_NE(message(Pack(R"({"name": "a", "stage": "gifts", "weight": 0.1})"))
                .find("needs \"stage\", \"weight\" and \"patterns\""),
            std::string::npos);
  EXPECT_NE(message(Pack(R"({"name": "a", "stage": "gifts", "weight": 0.1, "patterns": [3]})"))
                .find("array of strings"),
            std::string::npos);
  EXPECT_NE(message(Pack(R"({"name": "a", "stage": "gifts", "weight": 0.1, "pattern": ["x"]})"))
                .find("unknown key \"pattern\""),
            std::string::npos);
  EXPECT_EQ(message(Pack(R"({"name": "a", "stage": "gifts", "weight": 0.1,
                             "patterns": ["ok", "give (me|you"]})")),
            "pack test.json: indicator 'a': pattern \"give (me|you\": unbalanced '(' at column 6");
  EXPECT_EQ(message(Pack(R"({"name": "a", "stage": "gifts", "weight": 0.1, "patterns": ["* x"]})")),
            "pack test.json: indicator 'a': pattern \"* x\": '*' cannot start or end a pattern");
}

TEST(PackLoading, EnforcesLimits) {
  PackLimits small;
  small.max_pack_bytes = 10;
  EXPECT_EQ(LoadStatus(Pack(""), small).code(), ErrorCode::kLimitExceeded);
  PackLimits one;
  one.max_indicators = 1;
  EXPECT_EQ(LoadStatus(Pack(R"({"name": "a", "stage": "gifts", "weight": 0.1, "patterns": ["x"]},
                               {"name": "b", "stage": "gifts", "weight": 0.1, "patterns": ["y"]})"),
                       one)
                .code(),
            ErrorCode::kLimitExceeded);
  PackLimits few;
  few.max_patterns_per_indicator = 1;
  EXPECT_EQ(LoadStatus(Pack(R"({"name": "a", "stage": "gifts", "weight": 0.1,
                               "patterns": ["x", "y"]})"),
                       few)
                .code(),
            ErrorCode::kLimitExceeded);
  PackLimits total;
  total.max_total_expansions = 3;
  EXPECT_EQ(LoadStatus(Pack(R"j({"name": "a", "stage": "gifts", "weight": 0.1,
                               "patterns": ["(a|b) (c|d)"]})j"),
                       total)
                .code(),
            ErrorCode::kLimitExceeded);
}

TEST(PackLoading, ReadsPackFiles) {
  test_support::ScratchDir dir;
  const std::string path = dir.Write(
      "p.json", Pack(R"({"name": "a", "stage": "gifts", "weight": 0.1, "patterns": ["xyz"]})"));
  Result<PackSource> src = ReadPackFile(path);
  ASSERT_TRUE(src.ok());
  EXPECT_EQ(src->origin, path);
  Result<std::shared_ptr<const IndicatorSet>> set = IndicatorSet::Load({*src});
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(Names(**set, "XYZ"), S{"a"});
  EXPECT_EQ(ReadPackFile(dir.File("missing.json")).status().code(), ErrorCode::kNotFound);
  PackLimits tiny;
  tiny.max_pack_bytes = 8;
  EXPECT_EQ(ReadPackFile(path, tiny).status().code(), ErrorCode::kLimitExceeded);
}

}  // namespace
}  // namespace safeguard::text
