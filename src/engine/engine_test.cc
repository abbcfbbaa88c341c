#include "safeguard/engine/engine.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "engine_test_util.h"
#include "pg_test_server.h"
#include "review_media.h"
#include "safeguard/store/records.h"
#include "safeguard/store/store.h"
#include "webhook.h"

namespace safeguard {
namespace {

using nlohmann::json;
using test_support::MakeImage;
using test_support::PdqOf;
using test_support::ScratchDir;
using test_support::TestConfig;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitializeImageDecoding().ok());
    Open(TestConfig(dir_));
  }

  void Open(const ServiceConfig& config) {
    engine_.reset();
    Result<std::unique_ptr<Engine>> e = Engine::Open(config);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(*e);
    admin_ = Key("admin", kScopeAdmin);
    submitter_ = Key("uploads", kScopeSubmit);
    reviewer_ = Key("alice", kScopeReview);
  }

  Principal Key(const std::string& name, uint32_t scopes) {
    Result<std::string> token = engine_->CreateKey(name, scopes, "test");
    if (!token.ok()) {
      // Reopened engines find the keys already made: make a fresh name.
      token = engine_->CreateKey(name + std::to_string(++keys_made_), scopes, "test");
    }
    EXPECT_TRUE(token.ok()) << token.status().ToString();
    Result<Principal> who = engine_->Authenticate(*token);
    EXPECT_TRUE(who.ok());
    return *who;
  }

  // A block bank holding `pdq_hex`.
  void BlockBank(const std::string& name, const std::string& pdq_hex,
                 const json& labels = json::object()) {
    ASSERT_TRUE(engine_->CreateBank(admin_, {{"name", name}, {"labels", labels}}).ok());
    Result<json> r = engine_->ImportBank(admin_, name, "plain", "pdq", false, pdq_hex + "\n");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ((*r)["added"], 1);
  }

  json Submit(const std::string& bytes, const std::string& id) {
    Result<json> r = engine_->SubmitContent(submitter_, bytes, ContentMeta{id, "u1", "chat", 1});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : json();
  }

  ScratchDir dir_;
  std::unique_ptr<Engine> engine_;
  Principal admin_, submitter_, reviewer_;
  int keys_made_ = 0;
};

TEST_F(EngineTest, UnknownImageIsAllowedAndStoredWithoutReview) {
  const json a = Submit(MakeImage(1), "c1");
  EXPECT_EQ(a["decision"]["action"], "allow");
  EXPECT_TRUE(a["matches"].empty());
  EXPECT_TRUE(a["review"].is_null());
  EXPECT_EQ(a["kind"], "image");
  EXPECT_EQ(a["signals"]["pdq"].get<std::string>().size(), 64u);
  EXPECT_GE(a["signals"]["quality"].get<int>(), 50);
  Result<json> stored = engine_->GetSubmission(a["submission_id"].get<int64_t>());
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ((*stored)["content_id"], "c1");
  EXPECT_EQ((*stored)["decision"]["action"], "allow");
  EXPECT_EQ(engine_->Stats().review_queued, 0);
}

TEST_F(EngineTest, BlockMatchIsBlockedQueuedConfirmedAndFedBack) {
  const std::string image = MakeImage(2);
  BlockBank("hotline", PdqOf(image).first, {{"category", "A1"}});
  const json a = Submit(image, "c2");
  EXPECT_EQ(a["decision"]["action"], "block");
  ASSERT_EQ(a["matches"].size(), 1u);
  EXPECT_EQ(a["matches"][0]["bank"], "hotline");
  EXPECT_EQ(a["matches"][0]["distance"], 0);
  EXPECT_EQ(a["matches"][0]["bank_labels"]["category"], "A1");
  EXPECT_EQ(a["decision"]["review_priority"], 90);
  ASSERT_TRUE(a["review"].is_object());
  const int64_t review_id = a["review"]["id"];
  EXPECT_EQ(engine_->Stats().review_queued, 1);

  // A submitter may not review; the reviewer leases the item.
  EXPECT_EQ(engine_->NextReview(submitter_).status().code(), ErrorCode::kPermissionDenied);
  Result<json> item = engine_->NextReview(reviewer_);
  ASSERT_TRUE(item.ok()) << item.status().ToString();
  ASSERT_FALSE(item->is_null());
  EXPECT_EQ((*item)["id"], review_id);
  EXPECT_EQ((*item)["submission"]["decision"]["action"], "block");
  EXPECT_TRUE((*item)["has_media"].get<bool>());
  // Nothing else is waiting.
  Result<json> none = engine_->NextReview(reviewer_);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->is_null());

  Result<json> decided = engine_->DecideReview(reviewer_, review_id, "confirm", "seen");
  ASSERT_TRUE(decided.ok()) << decided.status().ToString();
  EXPECT_EQ((*decided)["verdict"], "confirm");

  // The confirmed hashes are in the platform's own block bank now, and the
  // same content is not put in front of a person again.
  const json again = Submit(image, "c2-again");
  bool own = false;
  for (const json& m : again["matches"]) own = own || m["bank"] == "platform-confirmed";
  EXPECT_TRUE(own) << again.dump();
  EXPECT_EQ(again["decision"]["action"], "block");
  EXPECT_EQ(again["review"]["already_confirmed_by"], review_id);
  EXPECT_EQ(engine_->Stats().review_queued, 0);

  Result<int64_t> verified = engine_->VerifyAudit();
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_GE(*verified, 6);  // keys, bank create/import, decisions, lease, review
}

// A video upload is fingerprinted (vPDQ, TMK) and matched against banks of
// video signatures imported through the engine; the default policy blocks
// and queues it; a confirmation adds its vPDQ to the platform's bank; a
// different video is allowed; lookups do not take video signals.
TEST_F(EngineTest, VideoContentIsMatchedByVpdqAndTmk) {
  SAFEGUARD_REQUIRE_TESTDATA();
  const std::string dir = test_support::TestDataDir() + "/tmk/";
  auto read = [](const std::string& path) {
    const std::vector<uint8_t> b = test_support::ReadBytes(path);
    return std::string(b.begin(), b.end());
  };
  const std::string video = read(dir + "sample-videos/chair-19-sd-bar.mp4");
  ASSERT_TRUE(engine_->CreateBank(admin_, {{"name", "videos"}}).ok());
  Result<json> r = engine_->ImportBank(admin_, "videos", "tmk", "", false,
                                       read(dir + "sample-hashes/chair-20-sd-bar.tmk"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["added"], 1);
  EXPECT_FALSE(engine_->ImportBank(admin_, "videos", "tmk", "", false, "not a tmk").ok());

  // The chair-20 clip is a variant of chair-19: TMK matches at level 2.
  const json a = Submit(video, "v1");
  EXPECT_EQ(a["kind"], "video");
  EXPECT_EQ(a["signals"]["codec"], "h264");
  EXPECT_EQ(a["signals"]["vpdq_frames"], 19);
  ASSERT_EQ(a["matches"].size(), 1u) << a.dump();
  EXPECT_EQ(a["matches"][0]["signal"], "tmk");
  EXPECT_GE(a["matches"][0]["level2"].get<double>(), 0.7);
  EXPECT_EQ(a["decision"]["action"], "block");
  ASSERT_TRUE(a["review"].is_object());

  Result<json> item = engine_->NextReview(reviewer_);
  ASSERT_TRUE(item.ok());
  ASSERT_TRUE(engine_->DecideReview(reviewer_, (*item)["id"], "confirm", "seen").ok());
  // The same upload again: the confirmed vPDQ now matches at 100%.
  const json again = Submit(video, "v1-again");
  bool own = false;
  for (const json& m : again["matches"]) {
    if (m["bank"] == "platform-confirmed" && m["signal"] == "vpdq") {
      own = true;
      EXPECT_DOUBLE_EQ(m["query_percent"].get<double>(), 100.0);
    }
  }
  EXPECT_TRUE(own) << again.dump();

  const json other = Submit(read(dir + "sample-videos/doorknob-hd-no-bar.mp4"), "v2");
  EXPECT_EQ(other["kind"], "video");
  EXPECT_TRUE(other["matches"].empty()) << other.dump();
  EXPECT_EQ(other["decision"]["action"], "allow");

  // A truncated video is refused and changes nothing.
  const int64_t before = engine_->Stats().submissions;
  EXPECT_EQ(engine_
                ->SubmitContent(submitter_, video.substr(0, video.size() / 2),
                                ContentMeta{"v3", "", "", 0})
                .status()
                .code(),
            ErrorCode::kCorrupt);
  EXPECT_EQ(engine_->Stats().submissions, before);
  Result<json> lookup = engine_->Lookup(
      submitter_, {{"signals", {{{"type", "tmk"}, {"value", std::string(64, 'a')}}}}});
  EXPECT_EQ(lookup.status().code(), ErrorCode::kInvalidArgument);

  // A video longer than limits.max_video_seconds is refused (413) unstored.
  ServiceConfig short_videos = TestConfig(dir_);
  short_videos.max_video_seconds = 5;
  Open(short_videos);
  const int64_t stored = engine_->Stats().submissions;
  EXPECT_EQ(engine_->SubmitContent(submitter_, video, ContentMeta{"v4", "", "", 0}).status().code(),
            ErrorCode::kLimitExceeded);
  EXPECT_EQ(engine_->Stats().submissions, stored);
}

TEST_F(EngineTest, FalsePositiveJoinsTheAllowBankAndSuppressesLaterMatches) {
  const std::string image = MakeImage(3);
  BlockBank("industry", PdqOf(image).first);
  const int64_t id = Submit(image, "fp")["review"]["id"];
  ASSERT_TRUE(engine_->NextReview(reviewer_).ok());
  ASSERT_TRUE(engine_->DecideReview(reviewer_, id, "false_positive", "a logo").ok());
  const json again = Submit(image, "fp-again");
  EXPECT_EQ(again["decision"]["action"], "allow") << again.dump();
  ASSERT_FALSE(again["allow"].empty());
  EXPECT_EQ(again["allow"][0]["bank"], "platform-false-positives");
  EXPECT_EQ(again["decision"]["reasons"][0]["rule"], "allow-list");
  // The media kept for review is gone after a false positive.
  EXPECT_EQ(engine_->ReviewMedia(reviewer_, id, false).status().code(), ErrorCode::kNotFound);
}

TEST_F(EngineTest, OnlyTheLeaseHolderDecides) {
  const std::string image = MakeImage(4);
  BlockBank("b", PdqOf(image).first);
  const int64_t id = Submit(image, "x")["review"]["id"];
  const Principal bob = Key("bob", kScopeReview);
  // Not leased yet: nobody may decide.
  EXPECT_EQ(engine_->DecideReview(reviewer_, id, "confirm", "").status().code(),
            ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(engine_->NextReview(reviewer_).ok());
  EXPECT_EQ(engine_->DecideReview(bob, id, "confirm", "").status().code(),
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ(engine_->DecideReview(reviewer_, id, "maybe", "").status().code(),
            ErrorCode::kInvalidArgument);
  ASSERT_TRUE(engine_->DecideReview(reviewer_, id, "escalate", "unsure").ok());
  EXPECT_EQ(engine_->DecideReview(reviewer_, id, "confirm", "").status().code(),
            ErrorCode::kFailedPrecondition);
}

TEST_F(EngineTest, ReviewerSeesABlurredGreyRenditionUnlessAskingForTheOriginal) {
  const std::string image = MakeImage(5, 800, 600);
  BlockBank("b", PdqOf(image).first);
  const int64_t id = Submit(image, "m")["review"]["id"];
  ASSERT_TRUE(engine_->NextReview(reviewer_).ok());
  Result<std::pair<std::string, std::string>> soft = engine_->ReviewMedia(reviewer_, id, false);
  ASSERT_TRUE(soft.ok()) << soft.status().ToString();
  EXPECT_EQ(soft->first, "image/jpeg");
  Result<RgbImage> decoded = DecodeImage(reinterpret_cast<const uint8_t*>(soft->second.data()),
                                         soft->second.size(), DecodeOptions{}, "rendition");
  ASSERT_TRUE(decoded.ok());
  EXPECT_LE(std::max(decoded->width, decoded->height), 512);
  // Grey: the three channels agree (JPEG of a one-band image).
  for (size_t i = 0; i < decoded->pixels.size(); i += 3) {
    ASSERT_EQ(decoded->pixels[i], decoded->pixels[i + 1]);
    ASSERT_EQ(decoded->pixels[i], decoded->pixels[i + 2]);
  }
  Result<std::pair<std::string, std::string>> original = engine_->ReviewMedia(reviewer_, id, true);
  ASSERT_TRUE(original.ok());
  EXPECT_EQ(original->second, image);
  Result<json> exposure = engine_->ReviewerExposure();
  ASSERT_TRUE(exposure.ok());
  ASSERT_EQ(exposure->size(), 1u);
  EXPECT_EQ((*exposure)[0]["reviewer"], "alice");
  EXPECT_EQ((*exposure)[0]["items_seen"], 1);
  EXPECT_EQ((*exposure)[0]["originals_viewed"], 1);
  // Both views are audited, the original one under its own kind.
  Result<json> audit = engine_->ListAudit(0, 1000);
  ASSERT_TRUE(audit.ok());
  int views = 0, originals = 0;
  for (const json& e : *audit) {
    views += e["kind"] == "media.view";
    originals += e["kind"] == "media.view_original";
  }
  EXPECT_EQ(views, 1);
  EXPECT_EQ(originals, 1);
}

// The same engine on PostgreSQL (`serve --store postgresql://...`): a match,
// its review, the feedback into the platform's bank, the audit chain.
TEST(EngineOnPostgres, MatchReviewFeedbackAndAudit) {
  test_support::PgTestServer& pg = test_support::PgTestServer::Get();
  if (!pg.ok()) GTEST_SKIP() << "PostgreSQL test server could not start: " << pg.reason();
  ASSERT_TRUE(InitializeImageDecoding().ok());
  ServiceConfig config;
  config.store_url = pg.NewDatabase();
  ASSERT_TRUE(config.store_url.starts_with("postgresql://")) << pg.reason();
  config.index_refresh_ms = 50;
  Result<std::unique_ptr<Engine>> engine = Engine::Open(config);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  Engine& e = **engine;
  const Principal admin = *e.Authenticate(*e.CreateKey("admin", kScopeAdmin, "test"));
  const Principal submit = *e.Authenticate(*e.CreateKey("submit", kScopeSubmit, "test"));
  const Principal review = *e.Authenticate(*e.CreateKey("review", kScopeReview, "test"));
  const std::string image = MakeImage(31);
  ASSERT_TRUE(e.CreateBank(admin, {{"name", "pg-bank"}}).ok());
  ASSERT_TRUE(e.ImportBank(admin, "pg-bank", "plain", "pdq", false, PdqOf(image).first).ok());
  Result<json> a = e.SubmitContent(submit, image, ContentMeta{"pg-1", "u", "", 0});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ((*a)["decision"]["action"], "block");
  const int64_t id = (*a)["review"]["id"];
  ASSERT_TRUE(e.NextReview(review).ok());
  ASSERT_TRUE(e.DecideReview(review, id, "confirm", "").ok());
  Result<json> again = e.SubmitContent(submit, image, ContentMeta{"pg-2", "u", "", 0});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)["review"]["already_confirmed_by"], id);
  bool own = false;
  for (const json& m : (*again)["matches"]) own = own || m["bank"] == "platform-confirmed";
  EXPECT_TRUE(own);
  Result<int64_t> verified = e.VerifyAudit();
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_GE(*verified, 6);
}

TEST(ReviewMedia, BlurSmoothsEdgesAndZeroSigmaKeepsThem) {
  ASSERT_TRUE(InitializeImageDecoding().ok());
  const std::string image = MakeImage(6, 300, 200);
  Result<engine_internal::GreyImage> sharp = engine_internal::ReviewPixels(image, 0);
  Result<engine_internal::GreyImage> soft = engine_internal::ReviewPixels(image, 8);
  ASSERT_TRUE(sharp.ok() && soft.ok());
  ASSERT_EQ(sharp->width, 300);
  auto gradient = [](const engine_internal::GreyImage& g) {
    double sum = 0;
    for (int y = 0; y < g.height; ++y) {
      for (int x = 1; x < g.width; ++x) {
        const size_t i = static_cast<size_t>(y) * g.width + x;
        sum += std::abs(static_cast<uint8_t>(g.pixels[i]) - static_cast<uint8_t>(g.pixels[i - 1]));
      }
    }
    return sum;
  };
  EXPECT_LT(gradient(*soft), 0.5 * gradient(*sharp));
  EXPECT_EQ(engine_internal::ReviewPixels("not an image", 8).status().code(),
            ErrorCode::kUnsupported);
}

TEST_F(EngineTest, LookupMatchesHashesAndKeepsOnlyWhatIsNotAllowed) {
  const std::string image = MakeImage(7);
  const std::string pdq = PdqOf(image).first;
  BlockBank("hashes", pdq);
  const int64_t before = engine_->Stats().submissions;
  Result<json> miss = engine_->Lookup(
      submitter_, {{"signals", {{{"type", "md5"}, {"value", std::string(32, 'a')}}}}});
  ASSERT_TRUE(miss.ok()) << miss.status().ToString();
  EXPECT_EQ((*miss)["decision"]["action"], "allow");
  EXPECT_TRUE((*miss)["submission_id"].is_null());
  EXPECT_EQ(engine_->Stats().submissions, before);

  // One bit off, with quality: still a match.
  std::string near = pdq;
  near[0] = near[0] == '0' ? '1' : '0';
  Result<json> hit = engine_->Lookup(
      submitter_, {{"content_id", "client-1"},
                   {"signals", {{{"type", "pdq"}, {"value", near}, {"quality", 90}}}}});
  ASSERT_TRUE(hit.ok()) << hit.status().ToString();
  EXPECT_EQ((*hit)["decision"]["action"], "block");
  ASSERT_EQ((*hit)["matches"].size(), 1u);
  EXPECT_GE((*hit)["matches"][0]["distance"].get<int>(), 1);
  EXPECT_FALSE((*hit)["submission_id"].is_null());
  EXPECT_EQ(engine_->Stats().submissions, before + 1);

  // Bad requests are refused with the reason and change nothing.
  for (const json& bad : {json::array(), json{{"signals", json::array()}},
                          json{{"signals", {{{"type", "pdq"}, {"value", "xyz"}}}}},
                          json{{"signals", {{{"type", "tlsh"}, {"value", pdq}}}}},
                          json{{"signals", {{{"type", "pdq"}, {"value", pdq}, {"quality", 101}}}}},
                          json{{"signals", {{{"type", "pdq"}, {"value", pdq}, {"extra", 1}}}}}}) {
    EXPECT_EQ(engine_->Lookup(submitter_, bad).status().code(), ErrorCode::kInvalidArgument)
        << bad.dump();
  }
  EXPECT_EQ(engine_->Stats().submissions, before + 1);
}

TEST_F(EngineTest, CorruptMediaIsRefusedAndChangesNothing) {
  std::string image = MakeImage(8, 256, 192, "jpeg");
  image.resize(image.size() / 2);
  const int64_t submissions = engine_->Stats().submissions;
  Result<json> r = engine_->SubmitContent(submitter_, image, ContentMeta{"bad", "", "", 0});
  EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt) << r.status().ToString();
  EXPECT_EQ(engine_->Stats().submissions, submissions);
  // A non-image file is matched by its digests only.
  Result<json> file =
      engine_->SubmitContent(submitter_, "plain text, not media", ContentMeta{"t", "", "", 0});
  ASSERT_TRUE(file.ok());
  EXPECT_EQ((*file)["kind"], "file");
  EXPECT_FALSE((*file)["signals"].contains("pdq"));
  EXPECT_EQ(engine_->SubmitContent(submitter_, "", ContentMeta{}).status().code(),
            ErrorCode::kInvalidArgument);
  // Metadata must be text: bytes that are not UTF-8 would break every later
  // answer that shows them.
  for (const char* bad : {"\xff\xfe", "a\xc3", "\xed\xa0\x80", "\xc0\xaf"}) {
    EXPECT_EQ(engine_->SubmitContent(submitter_, "x", ContentMeta{bad, "", "", 0}).status().code(),
              ErrorCode::kInvalidArgument);
    EXPECT_EQ(engine_
                  ->Lookup(submitter_,
                           {{"uploader_id", bad},
                            {"signals", {{{"type", "md5"}, {"value", std::string(32, 'a')}}}}})
                  .status()
                  .code(),
              ErrorCode::kInvalidArgument);
  }
  EXPECT_TRUE(
      engine_
          ->SubmitContent(submitter_, "x", ContentMeta{"caf\xc3\xa9 \xf0\x9f\x93\xb7", "", "", 0})
          .ok());
}

TEST_F(EngineTest, PolicyVersionsAreValidatedStoredAndUsedForDecisions) {
  Result<json> p0 = engine_->GetPolicy();
  ASSERT_TRUE(p0.ok());
  EXPECT_EQ((*p0)["version"], 0);
  EXPECT_TRUE((*p0)["default"].get<bool>());
  EXPECT_EQ(engine_->PutPolicy(admin_, "{\"rules\": [{\"id\": \"x\"}]}").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(engine_->PutPolicy(submitter_, "{\"rules\": []}").status().code(),
            ErrorCode::kPermissionDenied);
  // Webhooks need a signing secret configured.
  EXPECT_EQ(engine_
                ->ValidatePolicy(R"({"webhooks": {"soc": "http://127.0.0.1:9/x"},
      "rules": [{"id": "w", "when": {"bank_kind": "block"}, "then": [{"webhook": "soc"}]}]})")
                .status()
                .code(),
            ErrorCode::kInvalidArgument);
  // Everything to review, in YAML.
  const std::string yaml =
      "rules:\n  - id: everything\n    then:\n      - review: {priority: 10}\n";
  Result<json> put = engine_->PutPolicy(admin_, yaml);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ((*put)["version"], 1);
  const json a = Submit(MakeImage(9), "p");
  EXPECT_EQ(a["decision"]["action"], "review");
  EXPECT_EQ(a["decision"]["policy_version"], 1);
  EXPECT_EQ(a["review"]["priority"], 10);

  // The stored policy is live again after a restart.
  Open(TestConfig(dir_));
  Result<json> p1 = engine_->GetPolicy();
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ((*p1)["version"], 1);
  EXPECT_EQ((*p1)["text"], yaml);
}

TEST_F(EngineTest, KeysAuthenticateOnlyWithTheirExactToken) {
  Result<std::string> token = engine_->CreateKey("svc", kScopeSubmit, "test");
  ASSERT_TRUE(token.ok());
  EXPECT_TRUE(token->starts_with("sgk_"));
  EXPECT_TRUE(engine_->Authenticate(*token).ok());
  std::string wrong = *token;
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  for (const std::string& bad :
       {wrong, std::string(), std::string("sgk_"),
        std::string("sgk_999999_") + std::string(32, 'a'), token->substr(0, token->size() - 1)}) {
    EXPECT_EQ(engine_->Authenticate(bad).status().code(), ErrorCode::kPermissionDenied) << bad;
  }
  EXPECT_EQ(engine_->CreateKey("svc", kScopeSubmit, "test").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(engine_->CreateKey("no scopes", 0, "test").status().code(),
            ErrorCode::kInvalidArgument);
  Result<Principal> who = engine_->Authenticate(*token);
  ASSERT_TRUE(engine_->RevokeKey(who->key_id, "test").ok());
  EXPECT_EQ(engine_->Authenticate(*token).status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(ParseScopes("submit,admin").value_or(0), kScopeSubmit | kScopeAdmin);
  EXPECT_FALSE(ParseScopes("submit,root").ok());
}

TEST_F(EngineTest, BankAdministrationIsAdminOnlyAndAudited) {
  EXPECT_EQ(engine_->CreateBank(submitter_, {{"name", "x"}}).status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(engine_->CreateBank(admin_, {{"name", "bad name!"}}).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(engine_->CreateBank(admin_, {{"name", "x"}, {"colour", "red"}}).status().code(),
            ErrorCode::kInvalidArgument);
  ASSERT_TRUE(engine_->CreateBank(admin_, {{"name", "list"}, {"kind", "block"}}).ok());
  // A malformed import is refused whole, with the line.
  Result<json> bad = engine_->ImportBank(admin_, "list", "plain", "md5", false,
                                         std::string(32, 'a') + "\nnot-hex\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 2"), std::string::npos) << bad.status().message();
  EXPECT_EQ(engine_->ImportBank(admin_, "nope", "plain", "md5", false, "").status().code(),
            ErrorCode::kNotFound);
  ASSERT_TRUE(
      engine_->ImportBank(admin_, "list", "plain", "md5", false, std::string(32, 'a') + "\n").ok());
  Result<json> banks = engine_->ListBanks();
  ASSERT_TRUE(banks.ok());
  bool seen = false;
  for (const json& b : *banks) {
    if (b["name"] == "list") {
      seen = true;
      EXPECT_EQ(b["entries"], 1);
    }
  }
  EXPECT_TRUE(seen);
  Result<json> hit = engine_->Lookup(
      submitter_, {{"signals", {{{"type", "md5"}, {"value", std::string(32, 'a')}}}}});
  ASSERT_TRUE(hit.ok());
  EXPECT_EQ((*hit)["decision"]["action"], "block");
  ASSERT_TRUE(engine_->SetBankEnabled(admin_, "list", false).ok());
  hit = engine_->Lookup(submitter_,
                        {{"signals", {{{"type", "md5"}, {"value", std::string(32, 'a')}}}}});
  ASSERT_TRUE(hit.ok());
  EXPECT_EQ((*hit)["decision"]["action"], "allow");
  ASSERT_TRUE(engine_->SetBankEnabled(admin_, "list", true).ok());
  ASSERT_TRUE(engine_->RemoveEntry(admin_, "list", "md5", std::string(32, 'a'), "withdrawn").ok());
  EXPECT_EQ(
      engine_->RemoveEntry(admin_, "list", "md5", std::string(32, 'a'), "again").status().code(),
      ErrorCode::kNotFound);
  hit = engine_->Lookup(submitter_,
                        {{"signals", {{{"type", "md5"}, {"value", std::string(32, 'a')}}}}});
  EXPECT_EQ((*hit)["decision"]["action"], "allow");
  Result<json> audit = engine_->ListAudit(0, 1000);
  ASSERT_TRUE(audit.ok());
  std::set<std::string> kinds;
  for (const json& e : *audit) kinds.insert(e["kind"].get<std::string>());
  for (const char* k : {"bank.create", "bank.import", "bank.disable", "bank.enable",
                        "bank.remove_entry", "key.create"}) {
    EXPECT_TRUE(kinds.count(k)) << k;
  }
  EXPECT_TRUE(engine_->VerifyAudit().ok());
}

TEST_F(EngineTest, WebhooksAreSignedDeliveredAndRetriedWithBackoff) {
  httplib::Server receiver;
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> received;  // (signature, body)
  std::atomic<int> failures_left{2};
  receiver.Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
    if (failures_left.fetch_sub(1) > 0) {
      res.status = 503;
      return;
    }
    std::lock_guard lock(mu);
    received.emplace_back(req.get_header_value("X-Safeguard-Signature"), req.body);
    res.status = 204;
  });
  const int port = receiver.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { receiver.listen_after_bind(); });

  ServiceConfig config = TestConfig(dir_);
  config.webhook_secret = "s3cret";
  config.webhook_backoff_ms = 10;
  Open(config);
  const std::string policy = R"({"webhooks": {"soc": "http://127.0.0.1:)" + std::to_string(port) +
                             R"(/hook"}, "rules": [{"id": "notify",
      "when": {"bank_kind": "block"}, "then": ["block", {"webhook": "soc"}]}]})";
  ASSERT_TRUE(engine_->PutPolicy(admin_, policy).ok());
  const std::string image = MakeImage(10);
  BlockBank("b", PdqOf(image).first);
  Submit(image, "hooked");
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard lock(mu);
      if (!received.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  receiver.stop();
  serving.join();
  std::lock_guard lock(mu);
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].first, "sha256=" + WebhookSignature("s3cret", received[0].second));
  const json body = json::parse(received[0].second);
  EXPECT_EQ(body["content_id"], "hooked");
  EXPECT_EQ(body["decision"]["action"], "block");
  EXPECT_EQ(engine_->Stats().outbox_pending, 0);
}

// The synthetic conversations of the text subsystem's tests (non-explicit).
std::vector<std::string> ConversationLines(const std::string& prefix) {
  std::ifstream in(std::string(SAFEGUARD_TEXT_TESTDATA) + "/conversations.jsonl");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("\"conversation\": \"" + prefix) != std::string::npos ||
        line.find("\"conversation\":\"" + prefix) != std::string::npos) {
      lines.push_back(line);
    }
  }
  return lines;
}

TEST_F(EngineTest, ConversationsAreQueuedOncePerLevelAndTextIsNeverStored) {
  const std::vector<std::string> grooming = ConversationLines("grooming-1");
  ASSERT_GE(grooming.size(), 4u);
  int committed = 0;
  std::string last_level;
  for (const std::string& line : grooming) {
    Result<json> r = engine_->SubmitMessage(submitter_, line);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ((*r)["kind"], "message");
    EXPECT_FALSE((*r)["assessment"].contains("text"));
    if (!(*r)["submission_id"].is_null()) {
      ++committed;
      EXPECT_EQ((*r)["decision"]["action"], "review");
      Result<json> stored = engine_->GetSubmission((*r)["submission_id"].get<int64_t>());
      ASSERT_TRUE(stored.ok());
      // Ids and scores are kept; the words are not.
      const json message = json::parse(line);
      EXPECT_EQ(stored->dump().find(message["text"].get<std::string>()), std::string::npos);
    }
    last_level = (*r)["assessment"]["level"];
  }
  EXPECT_TRUE(last_level == "review" || last_level == "urgent") << last_level;
  EXPECT_GE(committed, 1);
  EXPECT_LE(committed, 2);  // once per level reached, not once per message
  EXPECT_EQ(engine_->Stats().review_queued, committed);

  for (const std::string& line : ConversationLines("benign-")) {
    Result<json> r = engine_->SubmitMessage(submitter_, line);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE((*r)["submission_id"].is_null()) << line;
  }
  EXPECT_EQ(engine_->SubmitMessage(submitter_, "{\"text\": \"no ids\"}").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(engine_->SubmitMessage(reviewer_, grooming[0]).status().code(),
            ErrorCode::kPermissionDenied);
}

TEST(Webhook, SplitsUrlsAndSignsWithHmacSha256) {
  // RFC 4231 test case 2.
  EXPECT_EQ(WebhookSignature("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  Result<std::pair<std::string, std::string>> u = SplitUrl("https://example.org:8443/a/b?c=1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->first, "https://example.org:8443");
  EXPECT_EQ(u->second, "/a/b?c=1");
  EXPECT_EQ(SplitUrl("http://host")->second, "/");
  EXPECT_FALSE(SplitUrl("ftp://host/x").ok());
  EXPECT_FALSE(SplitUrl("http:///x").ok());
}

}  // namespace
}  // namespace safeguard
