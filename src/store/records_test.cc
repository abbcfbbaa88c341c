#include "safeguard/store/records.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <filesystem>
#include <thread>

#include "pg_test_server.h"
#include "safeguard/store/store.h"
#include "test_support.h"

namespace safeguard {
namespace {

SubmissionInput MakeSubmission(std::string content_id, int64_t received_ms = 1000) {
  SubmissionInput s;
  s.content_id = std::move(content_id);
  s.uploader_id = "user-1";
  s.surface = "chat";
  s.content_kind = "image";
  s.content_time_ms = received_ms - 10;
  s.received_ms = received_ms;
  s.actor = "platform-key";
  s.signals_json = R"({"md5":"00"})";
  s.matches_json = "[]";
  s.decision_json = R"({"action":"review"})";
  s.action = "review";
  s.policy_version = 1;
  return s;
}

ReviewInput MakeReview(int priority, std::string dedupe_key = "", std::string media = "") {
  ReviewInput r;
  r.priority = priority;
  r.dedupe_key = std::move(dedupe_key);
  r.signals_json = R"({"pdq":"ab"})";
  r.media_type = media.empty() ? "" : "image/jpeg";
  r.media = std::move(media);
  return r;
}

AuditInput Event(std::string kind, std::string subject = "s", std::string details = "{}") {
  return AuditInput{"tester", std::move(kind), std::move(subject), std::move(details), 0};
}

// Every RecordTest runs against each back end: "sqlite" (a file in a
// scratch directory, so that tests can reach it directly too) and "postgres"
// (a throwaway server; skipped, saying why, if it cannot start).
class RecordTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres") {
      test_support::PgTestServer& pg = test_support::PgTestServer::Get();
      if (!pg.ok()) GTEST_SKIP() << "PostgreSQL test server could not start: " << pg.reason();
      url_ = pg.NewDatabase();
      ASSERT_TRUE(url_.starts_with("postgresql://")) << pg.reason();
    } else {
      url_ = "sqlite:" + dir_.File("safeguard.db");
    }
    Result<std::unique_ptr<RecordStore>> s = OpenRecordStore(url_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }

  bool postgres() const { return GetParam() == "postgres"; }

  // Runs SQL on the database behind the store's back (tampering, fault
  // injection), over a connection of its own.
  void RawExec(const std::string& sql) {
    if (postgres()) {
      PGconn* conn = PQconnectdb(url_.c_str());
      PGresult* r = PQexec(conn, sql.c_str());
      const ExecStatusType st = PQresultStatus(r);
      EXPECT_TRUE(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
          << sql << ": " << PQerrorMessage(conn);
      PQclear(r);
      PQfinish(conn);
      return;
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dir_.File("safeguard.db").c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << sql << ": " << (err != nullptr ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }

  // A trigger that makes every insert into `table` fail.
  void FailInsertsInto(const std::string& table) {
    if (postgres()) {
      RawExec(
          "CREATE FUNCTION injected_failure() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
          "RAISE EXCEPTION 'injected failure'; END $$; CREATE TRIGGER injected BEFORE INSERT ON " +
          table + " FOR EACH ROW EXECUTE FUNCTION injected_failure()");
    } else {
      RawExec("CREATE TRIGGER injected BEFORE INSERT ON " + table +
              " BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
    }
  }
  void StopFailing(const std::string& table) {
    RawExec(postgres() ? "DROP TRIGGER injected ON " + table : "DROP TRIGGER injected");
  }

  int64_t AuditCount() {
    Result<std::vector<AuditEvent>> all = store_->ListAudit(0, 1000000);
    EXPECT_TRUE(all.ok());
    return all.ok() ? static_cast<int64_t>(all->size()) : -1;
  }

  // Submits an item for review and returns its review id.
  int64_t Queue(int priority, int64_t received_ms, std::string key = "", std::string media = "") {
    Result<SubmitOutcome> out = store_->Submit(
        MakeSubmission("c" + std::to_string(received_ms), received_ms),
        MakeReview(priority, std::move(key), std::move(media)), {}, {Event("decision")});
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    return out.ok() ? out->review_id : 0;
  }

  test_support::ScratchDir dir_;
  std::string url_;
  std::unique_ptr<RecordStore> store_;
};

INSTANTIATE_TEST_SUITE_P(Backends, RecordTest, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return param.param;
                         });

TEST(AuditHashTest, EncodingIsUnambiguousAndFixed) {
  AuditEvent a;
  a.seq = 1;
  a.time_ms = 1700000000000;
  a.actor = "ab";
  a.kind = "c";
  a.subject = "review:1";
  a.details_json = "{}";
  a.prev_hash = std::string(kAuditGenesisHash);
  AuditEvent b = a;
  b.actor = "a";
  b.kind = "bc";
  EXPECT_NE(AuditEventHash(a), AuditEventHash(b));
  AuditEvent c = a;
  c.seq = 2;
  EXPECT_NE(AuditEventHash(a), AuditEventHash(c));
  c = a;
  c.hash = "ignored";
  EXPECT_EQ(AuditEventHash(a), AuditEventHash(c));
  // The chain format is persisted: this value must never change. It was
  // computed by a separate implementation of the encoding documented in
  // records.h (Python: hashlib.sha256 over struct.pack(">Q", len) + bytes).
  EXPECT_EQ(AuditEventHash(a), "fc2c3b9e58fd1f8f6a66a1666aedb7be5161ae35000e5edba922155aa0f391cc");
}

TEST(ReviewNamesTest, RoundTrip) {
  for (ReviewVerdict v :
       {ReviewVerdict::kConfirm, ReviewVerdict::kFalsePositive, ReviewVerdict::kEscalate}) {
    EXPECT_EQ(*ParseReviewVerdict(ReviewVerdictName(v)), v);
  }
  EXPECT_EQ(ParseReviewVerdict("none").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ReviewStateName(ReviewState::kLeased), "leased");
}

TEST_P(RecordTest, SubmitStoresEverything) {
  SubmissionInput in = MakeSubmission("content-1");
  const std::string media("\x00\xff\x01jpeg\x00", 8);  // bytes, not text
  Result<SubmitOutcome> out =
      store_->Submit(in, MakeReview(40, "sha256:aa", media), {{"hook", "http://x/", "{}"}},
                     {Event("decision", "submission:1", R"({"action":"review"})")});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_GT(out->submission_id, 0);
  EXPECT_GT(out->review_id, 0);
  EXPECT_EQ(out->already_confirmed_review, 0);

  Result<SubmissionRecord> got = store_->GetSubmission(out->submission_id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->review_id, out->review_id);
  EXPECT_EQ(got->in.content_id, "content-1");
  EXPECT_EQ(got->in.uploader_id, in.uploader_id);
  EXPECT_EQ(got->in.surface, in.surface);
  EXPECT_EQ(got->in.content_kind, in.content_kind);
  EXPECT_EQ(got->in.content_time_ms, in.content_time_ms);
  EXPECT_EQ(got->in.received_ms, in.received_ms);
  EXPECT_EQ(got->in.actor, in.actor);
  EXPECT_EQ(got->in.signals_json, in.signals_json);
  EXPECT_EQ(got->in.matches_json, in.matches_json);
  EXPECT_EQ(got->in.decision_json, in.decision_json);
  EXPECT_EQ(got->in.action, in.action);
  EXPECT_EQ(got->in.policy_version, in.policy_version);
  EXPECT_EQ(store_->GetSubmission(999).status().code(), ErrorCode::kNotFound);

  Result<ReviewItem> item = store_->GetReview(out->review_id);
  ASSERT_TRUE(item.ok());
  EXPECT_EQ(item->submission_id, out->submission_id);
  EXPECT_EQ(item->priority, 40);
  EXPECT_EQ(item->state, ReviewState::kQueued);
  EXPECT_EQ(item->dedupe_key, "sha256:aa");
  EXPECT_EQ(item->media_type, "image/jpeg");
  EXPECT_TRUE(item->has_media);
  EXPECT_EQ(item->created_ms, in.received_ms);
  EXPECT_EQ(store_->GetReview(999).status().code(), ErrorCode::kNotFound);

  // A second submission of the same content, allowed: no review item.
  Result<SubmitOutcome> again =
      store_->Submit(MakeSubmission("content-1", 2000), std::nullopt, {}, {Event("decision")});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->review_id, 0);
  Result<std::vector<SubmissionRecord>> found = store_->FindSubmissions("content-1");
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ((*found)[0].id, out->submission_id);
  EXPECT_EQ((*found)[1].review_id, 0);
  EXPECT_TRUE(store_->FindSubmissions("other")->empty());
  EXPECT_EQ(*store_->CountSubmissions(), 2);
  EXPECT_EQ(*store_->CountReviews(ReviewState::kQueued), 1);
  EXPECT_EQ(*store_->CountOutbox(OutboxMessage::State::kPending), 1);

  // Audit times default to the submission's received_ms.
  Result<std::vector<AuditEvent>> audit = store_->ListAudit(0, 10);
  ASSERT_EQ(audit->size(), 2u);
  EXPECT_EQ((*audit)[0].time_ms, 1000);
  EXPECT_EQ((*audit)[0].details_json, R"({"action":"review"})");
  EXPECT_EQ((*audit)[1].time_ms, 2000);
}

TEST_P(RecordTest, SubmitIsAllOrNothing) {
  const auto nothing_visible = [&] {
    EXPECT_EQ(*store_->CountSubmissions(), 0);
    EXPECT_EQ(*store_->CountReviews(ReviewState::kQueued), 0);
    EXPECT_EQ(*store_->CountOutbox(OutboxMessage::State::kPending), 0);
    EXPECT_EQ(AuditCount(), 0);
    EXPECT_TRUE(store_->FindSubmissions("c")->empty());
  };
  // The second audit event fails after the submission, its review item, its
  // media, its webhook and the first event were written.
  Result<SubmitOutcome> bad = store_->Submit(MakeSubmission("c"), MakeReview(10, "k", "bytes"),
                                             {{"hook", "http://x/", "{}"}},
                                             {Event("decision"), Event("decision", "s", "{oops")});
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  nothing_visible();

  // A failure inside the database, in the middle of the transaction.
  FailInsertsInto("rec_outbox");
  bad = store_->Submit(MakeSubmission("c"), MakeReview(10, "k", "bytes"),
                       {{"hook", "http://x/", "{}"}}, {Event("decision")});
  EXPECT_FALSE(bad.ok());
  nothing_visible();
  StopFailing("rec_outbox");

  EXPECT_EQ(store_->Submit(MakeSubmission("c"), MakeReview(101), {}, {}).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->Submit(MakeSubmission("c"), MakeReview(-1), {}, {}).status().code(),
            ErrorCode::kInvalidArgument);
  nothing_visible();

  // And the store still works, with an intact chain.
  Result<SubmitOutcome> ok = store_->Submit(MakeSubmission("c"), MakeReview(10, "k", "bytes"),
                                            {{"hook", "http://x/", "{}"}}, {Event("decision")});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(*VerifyAuditChain(*store_), 1);
}

TEST_P(RecordTest, SubmitBatchCommitsEachRequestAlone) {
  std::vector<RecordStore::SubmitRequest> batch(3);
  batch[0].submission = MakeSubmission("first", 100);
  batch[0].review = MakeReview(10, "k", "media");
  batch[0].webhooks = {{"hook", "http://x/", "{}"}};
  batch[0].audit = {Event("decision")};
  // Fails after its submission and review rows were written.
  batch[1].submission = MakeSubmission("second", 200);
  batch[1].review = MakeReview(10, "k2", "media");
  batch[1].webhooks = {{"hook", "http://x/", "{}"}};
  batch[1].audit = {Event("decision"), Event("decision", "s", "[unclosed")};
  batch[2].submission = MakeSubmission("third", 300);
  batch[2].audit = {Event("decision"), Event("decision")};
  Result<std::vector<Result<SubmitOutcome>>> out = store_->SubmitBatch(batch);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), 3u);
  ASSERT_TRUE((*out)[0].ok());
  EXPECT_GT((*out)[0]->review_id, 0);
  EXPECT_EQ((*out)[1].status().code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE((*out)[2].ok());
  EXPECT_EQ((*out)[2]->review_id, 0);
  EXPECT_EQ(*store_->CountSubmissions(), 2);
  EXPECT_TRUE(store_->FindSubmissions("second")->empty());
  EXPECT_EQ(*store_->CountReviews(ReviewState::kQueued), 1);
  EXPECT_EQ(*store_->CountOutbox(OutboxMessage::State::kPending), 1);
  EXPECT_EQ(*VerifyAuditChain(*store_), 3);
  EXPECT_TRUE(store_->SubmitBatch({})->empty());

  // A failure of the database itself fails the request, not the batch.
  FailInsertsInto("rec_outbox");
  out = store_->SubmitBatch(batch);
  StopFailing("rec_outbox");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_FALSE((*out)[0].ok());
  EXPECT_FALSE((*out)[1].ok());
  EXPECT_TRUE((*out)[2].ok());
  EXPECT_EQ(*store_->CountSubmissions(), 3);
  EXPECT_EQ(*VerifyAuditChain(*store_), 5);
}

TEST_P(RecordTest, LeasesByPriorityThenAge) {
  const int64_t low = Queue(10, 100);
  const int64_t mid_new = Queue(50, 300);
  const int64_t mid_old = Queue(50, 200);
  const int64_t high = Queue(90, 400);
  const int64_t audit_before = AuditCount();
  std::vector<int64_t> order;
  for (int i = 0; i < 4; ++i) {
    Result<std::optional<ReviewItem>> item =
        store_->LeaseNextReview("alice", 1000, 60000, {Event("review.lease")});
    ASSERT_TRUE(item.ok()) << item.status().ToString();
    ASSERT_TRUE(item->has_value());
    EXPECT_EQ((*item)->state, ReviewState::kLeased);
    EXPECT_EQ((*item)->lease_owner, "alice");
    EXPECT_EQ((*item)->lease_until_ms, 61000);
    order.push_back((*item)->id);
  }
  EXPECT_EQ(order, (std::vector<int64_t>{high, mid_old, mid_new, low}));
  Result<std::optional<ReviewItem>> none =
      store_->LeaseNextReview("alice", 1000, 60000, {Event("review.lease")});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(AuditCount(), audit_before + 4);  // none: nothing leased, nothing audited
  // Each lease's event names the item leased.
  Result<std::vector<AuditEvent>> events = store_->ListAudit(0, 1000000);
  ASSERT_TRUE(events.ok());
  std::vector<std::string> leased;
  for (const AuditEvent& e : *events) {
    if (e.kind == "review.lease") leased.push_back(e.subject);
  }
  std::vector<std::string> expected;
  for (int64_t id : order) expected.push_back("review:" + std::to_string(id));
  EXPECT_EQ(leased, expected);
  EXPECT_EQ(*store_->CountReviews(ReviewState::kLeased), 4);
  EXPECT_EQ(*store_->CountReviews(ReviewState::kQueued), 0);
}

TEST_P(RecordTest, ExpiredLeasesReturnToTheQueue) {
  const int64_t id = Queue(10, 100);
  Result<std::optional<ReviewItem>> a = store_->LeaseNextReview("alice", 1000, 100, {});
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->lease_until_ms, 1100);
  // Still held at its last millisecond (lease_until_ms < now is expired).
  EXPECT_FALSE(store_->LeaseNextReview("bob", 1100, 100, {})->has_value());
  Result<std::optional<ReviewItem>> b = store_->LeaseNextReview("bob", 1101, 100, {});
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ((*b)->id, id);
  EXPECT_EQ((*b)->lease_owner, "bob");
  EXPECT_EQ(
      store_->DecideReview(id, "alice", ReviewVerdict::kConfirm, "", 1101, {}, {}).status().code(),
      ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(store_->DecideReview(id, "bob", ReviewVerdict::kConfirm, "", 1150, {}, {}).ok());
}

TEST_P(RecordTest, DecideRequiresTheLease) {
  const int64_t queued_only = Queue(10, 100);
  const int64_t id = Queue(50, 200);
  ASSERT_EQ((*store_->LeaseNextReview("alice", 1000, 100, {}))->id, id);
  const auto decide = [&](int64_t item, const char* who, int64_t now) {
    return store_->DecideReview(item, who, ReviewVerdict::kEscalate, "note", now, {}, {}).status();
  };
  Status s = decide(queued_only, "alice", 1000);
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("not leased to you"), std::string::npos) << s.message();
  s = decide(id, "bob", 1000);
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("not leased to you"), std::string::npos) << s.message();
  s = decide(id, "alice", 1101);
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("lease expired"), std::string::npos) << s.message();
  EXPECT_EQ(decide(999, "alice", 1000).code(), ErrorCode::kNotFound);
  EXPECT_EQ(
      store_->DecideReview(id, "alice", ReviewVerdict::kNone, "", 1000, {}, {}).status().code(),
      ErrorCode::kInvalidArgument);

  // At its last millisecond the lease still holds (inclusive).
  const int64_t audit_before = AuditCount();
  Result<ReviewItem> done = store_->DecideReview(id, "alice", ReviewVerdict::kEscalate, "why", 1100,
                                                 {}, {Event("review.decision")});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->state, ReviewState::kDecided);
  EXPECT_EQ(done->verdict, ReviewVerdict::kEscalate);
  EXPECT_EQ(done->reviewer, "alice");
  EXPECT_EQ(done->note, "why");
  EXPECT_EQ(done->decided_ms, 1100);
  EXPECT_EQ(AuditCount(), audit_before + 1);
  s = decide(id, "alice", 1100);
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("already decided"), std::string::npos) << s.message();
  // A refused decision appends nothing.
  EXPECT_EQ(AuditCount(), audit_before + 1);
}

TEST_P(RecordTest, ConfirmClosesDuplicatesAndStopsRequeueing) {
  const int64_t first = Queue(90, 100, "sha256:same");
  const int64_t queued_dup = Queue(10, 200, "sha256:same");
  const int64_t held_dup = Queue(50, 300, "sha256:same");
  const int64_t other = Queue(5, 400, "sha256:other");
  ASSERT_EQ((*store_->LeaseNextReview("alice", 1000, 1000, {}))->id, first);
  ASSERT_EQ((*store_->LeaseNextReview("bob", 1000, 1000, {}))->id, held_dup);
  Result<ReviewItem> done =
      store_->DecideReview(first, "alice", ReviewVerdict::kConfirm, "", 1500, {}, {});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->verdict, ReviewVerdict::kConfirm);

  Result<ReviewItem> dup = store_->GetReview(queued_dup);
  EXPECT_EQ(dup->state, ReviewState::kDecided);
  EXPECT_EQ(dup->verdict, ReviewVerdict::kConfirm);
  EXPECT_EQ(dup->reviewer, "duplicate-of:" + std::to_string(first));
  EXPECT_EQ(dup->decided_ms, 1500);
  // Bob holds his copy: it stays his to decide.
  EXPECT_EQ(store_->GetReview(held_dup)->state, ReviewState::kLeased);
  EXPECT_EQ(store_->GetReview(other)->state, ReviewState::kQueued);

  // The same content again is not queued; the confirmed item is named.
  Result<SubmitOutcome> again =
      store_->Submit(MakeSubmission("again", 2000), MakeReview(90, "sha256:same", "m"), {}, {});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->review_id, 0);
  EXPECT_EQ(again->already_confirmed_review, first);
  EXPECT_GT(again->submission_id, 0);
  EXPECT_EQ(store_->GetSubmission(again->submission_id)->review_id, 0);
  // Without a key, nothing is deduplicated.
  Result<SubmitOutcome> nokey =
      store_->Submit(MakeSubmission("nokey", 2100), MakeReview(90), {}, {});
  EXPECT_GT(nokey->review_id, 0);
  EXPECT_EQ(nokey->already_confirmed_review, 0);
  // An escalated or false-positive key is queued again.
  EXPECT_EQ((*store_->LeaseNextReview("carol", 3000, 1000, {}))->id, nokey->review_id);
  ASSERT_TRUE(
      store_->DecideReview(nokey->review_id, "carol", ReviewVerdict::kEscalate, "", 3000, {}, {})
          .ok());
}

TEST_P(RecordTest, FalsePositiveDropsTheMedia) {
  const std::string media("\x89PNG\r\n\x1a\n\x00\x00binary\xff", 16);
  const int64_t fp = Queue(50, 100, "k1", media);
  const int64_t esc = Queue(40, 200, "k2", "kept");
  Result<std::pair<std::string, std::string>> view =
      store_->ViewReviewMedia(fp, "alice", false, {Event("media.view")});
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_EQ(view->first, "image/jpeg");
  EXPECT_EQ(view->second, media);

  ASSERT_EQ((*store_->LeaseNextReview("alice", 1000, 1000, {}))->id, fp);
  Result<ReviewItem> done =
      store_->DecideReview(fp, "alice", ReviewVerdict::kFalsePositive, "benign", 1100, {}, {});
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(done->has_media);
  EXPECT_EQ(done->verdict, ReviewVerdict::kFalsePositive);
  EXPECT_EQ(store_->ViewReviewMedia(fp, "alice", true, {}).status().code(), ErrorCode::kNotFound);

  ASSERT_EQ((*store_->LeaseNextReview("alice", 1000, 1000, {}))->id, esc);
  done = store_->DecideReview(esc, "alice", ReviewVerdict::kEscalate, "", 1100, {}, {});
  EXPECT_TRUE(done->has_media);
  EXPECT_EQ(store_->ViewReviewMedia(esc, "alice", false, {})->second, "kept");
}

TEST_P(RecordTest, CountsReviewerExposure) {
  const int64_t one = Queue(50, 100, "", "one");
  const int64_t two = Queue(50, 200, "", "two");
  const int64_t none = Queue(50, 300);
  const int64_t audit_before = AuditCount();
  ASSERT_TRUE(store_->ViewReviewMedia(one, "alice", false, {Event("media.view")}).ok());
  ASSERT_TRUE(store_->ViewReviewMedia(one, "alice", true, {Event("media.view_original")}).ok());
  ASSERT_TRUE(store_->ViewReviewMedia(two, "alice", false, {Event("media.view")}).ok());
  ASSERT_TRUE(store_->ViewReviewMedia(one, "bob", true, {Event("media.view_original")}).ok());
  ASSERT_TRUE(store_->ViewReviewMedia(one, "bob", true, {Event("media.view_original")}).ok());
  EXPECT_EQ(AuditCount(), audit_before + 5);
  // No media, no view: nothing counted, nothing audited.
  EXPECT_EQ(store_->ViewReviewMedia(none, "carol", false, {Event("media.view")}).status().code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(store_->ViewReviewMedia(999, "carol", false, {}).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(AuditCount(), audit_before + 5);

  Result<std::vector<ExposureRecord>> exposure = store_->ReviewerExposure();
  ASSERT_TRUE(exposure.ok()) << exposure.status().ToString();
  ASSERT_EQ(exposure->size(), 2u);
  EXPECT_EQ((*exposure)[0].reviewer, "alice");
  EXPECT_EQ((*exposure)[0].items_seen, 2);
  EXPECT_EQ((*exposure)[0].originals_viewed, 1);
  EXPECT_EQ((*exposure)[1].reviewer, "bob");
  EXPECT_EQ((*exposure)[1].items_seen, 1);
  EXPECT_EQ((*exposure)[1].originals_viewed, 2);
}

TEST_P(RecordTest, PolicyVersions) {
  Result<std::optional<PolicyRecord>> none = store_->GetPolicy(0);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(*store_->PutPolicy("rules: []", "admin", 100, {Event("policy.put")}), 1);
  EXPECT_EQ(*store_->PutPolicy("{\"rules\": [1]}", "admin2", 200, {Event("policy.put")}), 2);
  Result<std::optional<PolicyRecord>> live = store_->GetPolicy(0);
  ASSERT_TRUE(live.ok() && live->has_value());
  EXPECT_EQ((*live)->version, 2);
  EXPECT_EQ((*live)->text, "{\"rules\": [1]}");
  EXPECT_EQ((*live)->actor, "admin2");
  EXPECT_EQ((*live)->created_ms, 200);
  EXPECT_EQ((*store_->GetPolicy(1))->text, "rules: []");
  EXPECT_FALSE(store_->GetPolicy(3)->has_value());
  EXPECT_EQ(AuditCount(), 2);
  EXPECT_EQ(store_->ListAudit(0, 1)->front().time_ms, 100);
}

TEST_P(RecordTest, ApiKeys) {
  ApiKeyRecord key;
  key.name = "uploader";
  key.scopes = 0x80000001u;  // the top bit survives storage
  key.salt_hex = "0011";
  key.hash_hex = "aabb";
  key.created_ms = 500;
  key.revoked = true;  // ignored
  Result<int64_t> id = store_->CreateApiKey(key, {Event("key.create")});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  Result<ApiKeyRecord> got = store_->GetApiKey(*id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->id, *id);
  EXPECT_EQ(got->name, "uploader");
  EXPECT_EQ(got->scopes, 0x80000001u);
  EXPECT_EQ(got->salt_hex, "0011");
  EXPECT_EQ(got->hash_hex, "aabb");
  EXPECT_EQ(got->created_ms, 500);
  EXPECT_FALSE(got->revoked);
  EXPECT_EQ(store_->GetApiKeyByName("uploader")->id, *id);
  EXPECT_EQ(store_->GetApiKeyByName("nobody").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->GetApiKey(999).status().code(), ErrorCode::kNotFound);

  EXPECT_EQ(store_->CreateApiKey(key, {Event("key.create")}).status().code(),
            ErrorCode::kInvalidArgument);
  ApiKeyRecord unnamed;
  EXPECT_EQ(store_->CreateApiKey(unnamed, {}).status().code(), ErrorCode::kInvalidArgument);
  key.name = "reviewer";
  Result<int64_t> second = store_->CreateApiKey(key, {Event("key.create")});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(AuditCount(), 2);  // the refused ones left no trace

  ASSERT_TRUE(store_->RevokeApiKey(*id, {Event("key.revoke")}).ok());
  EXPECT_TRUE(store_->GetApiKey(*id)->revoked);
  EXPECT_FALSE(store_->GetApiKey(*second)->revoked);
  EXPECT_EQ(store_->RevokeApiKey(999, {Event("key.revoke")}).code(), ErrorCode::kNotFound);
  Result<std::vector<ApiKeyRecord>> all = store_->ListApiKeys();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "uploader");
  EXPECT_EQ((*all)[1].name, "reviewer");
  EXPECT_EQ(AuditCount(), 3);
}

TEST_P(RecordTest, OutboxDeliversRetriesAndGivesUp) {
  ASSERT_TRUE(store_
                  ->Submit(MakeSubmission("c", 1000), MakeReview(10),
                           {{"a", "http://a/", "{\"n\":1}"}, {"b", "http://b/", "{}"}}, {})
                  .ok());
  EXPECT_TRUE(store_->DueOutbox(999, 10)->empty());
  Result<std::vector<OutboxMessage>> due = store_->DueOutbox(1000, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 2u);
  const OutboxMessage a = (*due)[0];
  const OutboxMessage b = (*due)[1];
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.url, "http://a/");
  EXPECT_EQ(a.body_json, "{\"n\":1}");
  EXPECT_EQ(a.created_ms, 1000);
  EXPECT_EQ(a.next_attempt_ms, 1000);
  EXPECT_EQ(a.attempts, 0);
  EXPECT_EQ(a.state, OutboxMessage::State::kPending);
  EXPECT_EQ(store_->DueOutbox(1000, 1)->size(), 1u);

  // a fails and backs off; b is delivered.
  ASSERT_TRUE(store_->MarkFailed(a.id, 5000, "timeout", false).ok());
  ASSERT_TRUE(store_->MarkDelivered(b.id, 1200).ok());
  EXPECT_TRUE(store_->DueOutbox(4999, 10)->empty());
  due = store_->DueOutbox(5000, 10);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].attempts, 1);
  EXPECT_EQ((*due)[0].last_error, "timeout");
  EXPECT_EQ(store_->MarkDelivered(b.id, 1300).code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store_->MarkDelivered(999, 1300).code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->MarkFailed(999, 1, "x", false).code(), ErrorCode::kNotFound);

  // A decision's webhook, due at its time; a gives up.
  const int64_t id = Queue(90, 2000);
  ASSERT_EQ((*store_->LeaseNextReview("alice", 3000, 1000, {}))->id, id);
  ASSERT_TRUE(store_
                  ->DecideReview(id, "alice", ReviewVerdict::kConfirm, "", 3500,
                                 {{"c", "http://c/", "{}"}}, {})
                  .ok());
  ASSERT_TRUE(store_->MarkFailed(a.id, 9000, "HTTP 500", true).ok());
  EXPECT_EQ(store_->MarkFailed(a.id, 9000, "again", false).code(), ErrorCode::kFailedPrecondition);
  due = store_->DueOutbox(100000, 10);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].name, "c");
  EXPECT_EQ((*due)[0].created_ms, 3500);
  EXPECT_EQ(*store_->CountOutbox(OutboxMessage::State::kPending), 1);
  EXPECT_EQ(*store_->CountOutbox(OutboxMessage::State::kDelivered), 1);
  EXPECT_EQ(*store_->CountOutbox(OutboxMessage::State::kDead), 1);
}

TEST_P(RecordTest, AuditChainVerifies) {
  Result<int64_t> empty = VerifyAuditChain(*store_);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, 0);
  for (int batch = 0; batch < 30; ++batch) {
    std::vector<AuditInput> events;
    for (int i = 0; i < 10; ++i) {
      events.push_back(AuditInput{"actor-" + std::to_string(i), "bank.import",
                                  "bank:b" + std::to_string(batch),
                                  "{\"n\":" + std::to_string(i) + "}", 10000 + batch * 10 + i});
    }
    ASSERT_TRUE(store_->AppendAudit(events).ok());
  }
  Result<int64_t> verified = VerifyAuditChain(*store_);
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_EQ(*verified, 300);

  Result<std::vector<AuditEvent>> page = store_->ListAudit(0, 2);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].seq, 1);
  EXPECT_EQ((*page)[0].prev_hash, kAuditGenesisHash);
  EXPECT_EQ((*page)[0].hash, AuditEventHash((*page)[0]));
  EXPECT_EQ((*page)[0].actor, "actor-0");
  EXPECT_EQ((*page)[0].kind, "bank.import");
  EXPECT_EQ((*page)[0].subject, "bank:b0");
  EXPECT_EQ((*page)[0].details_json, "{\"n\":0}");
  EXPECT_EQ((*page)[0].time_ms, 10000);
  EXPECT_EQ((*page)[1].prev_hash, (*page)[0].hash);
  page = store_->ListAudit(295, 100);
  ASSERT_EQ(page->size(), 5u);
  EXPECT_EQ(page->back().seq, 300);

  int64_t seen = 0;
  ASSERT_TRUE(store_
                  ->ForEachAudit(100,
                                 [&](const AuditEvent& e) {
                                   EXPECT_EQ(e.seq, 101 + seen);
                                   ++seen;
                                   return Status::Ok();
                                 })
                  .ok());
  EXPECT_EQ(seen, 200);
  // fn's error stops the walk.
  EXPECT_EQ(
      store_->ForEachAudit(0, [](const AuditEvent&) { return Status::Internal("stop"); }).code(),
      ErrorCode::kInternal);

  // A bad event in a batch appends none of it; no time means now.
  EXPECT_EQ(store_->AppendAudit({Event("x"), Event("y", "s", "not json")}).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(AuditCount(), 300);
  ASSERT_TRUE(store_->AppendAudit({Event("policy.put")}).ok());
  EXPECT_GT(store_->ListAudit(300, 1)->front().time_ms, 1600000000000);
  EXPECT_EQ(*VerifyAuditChain(*store_), 301);
}

// Fills the chain with 20 events for the tampering tests.
void Fill(RecordStore& store) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(
        store.AppendAudit({AuditInput{"a", "decision", "submission:" + std::to_string(i), "{}", 0}})
            .ok());
  }
  ASSERT_EQ(*VerifyAuditChain(store), 20);
}

void ExpectCorruptAt(RecordStore& store, int64_t seq) {
  Result<int64_t> r = VerifyAuditChain(store);
  ASSERT_EQ(r.status().code(), ErrorCode::kCorrupt) << r.status().ToString();
  EXPECT_NE(r.status().message().find("audit seq " + std::to_string(seq) + ":"), std::string::npos)
      << r.status().message();
}

TEST_P(RecordTest, AuditDetectsEditedDetails) {
  Fill(*store_);
  RawExec("UPDATE rec_audit SET details_json='{\"edited\":true}' WHERE seq=7");
  ExpectCorruptAt(*store_, 7);
}

TEST_P(RecordTest, AuditDetectsEditedAndRehashedEvent) {
  Fill(*store_);
  // Recomputing the edited event's own hash breaks the next event's link.
  AuditEvent e = store_->ListAudit(6, 1)->front();
  e.actor = "someone-else";
  RawExec("UPDATE rec_audit SET actor='someone-else', hash='" + AuditEventHash(e) +
          "' WHERE seq=7");
  ExpectCorruptAt(*store_, 8);
}

TEST_P(RecordTest, AuditDetectsDeletedEvent) {
  Fill(*store_);
  RawExec("DELETE FROM rec_audit WHERE seq=10");
  ExpectCorruptAt(*store_, 10);
}

TEST_P(RecordTest, AuditDetectsChangedHash) {
  Fill(*store_);
  RawExec("UPDATE rec_audit SET hash='" + std::string(64, 'f') + "' WHERE seq=13");
  ExpectCorruptAt(*store_, 13);
}

TEST_P(RecordTest, ConcurrentWritersKeepTheChainLinear) {
  // Two connections (as two service processes would have) append at once.
  Result<std::unique_ptr<RecordStore>> other = OpenRecordStore(url_);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  constexpr int kEach = 50;
  auto write = [](RecordStore* s, std::string who) {
    for (int i = 0; i < kEach; ++i) {
      Result<SubmitOutcome> out =
          s->Submit(MakeSubmission(who + std::to_string(i), 1000 + i), std::nullopt, {},
                    {AuditInput{who, "decision", "submission", "{}", 0}});
      EXPECT_TRUE(out.ok()) << out.status().ToString();
    }
  };
  std::thread t1(write, store_.get(), "one");
  std::thread t2(write, other->get(), "two");
  t1.join();
  t2.join();
  Result<int64_t> verified = VerifyAuditChain(*store_);
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_EQ(*verified, 2 * kEach);
  EXPECT_EQ(*store_->CountSubmissions(), 2 * kEach);
}

TEST_P(RecordTest, RefusesNewerSchema) {
  EXPECT_EQ(store_->SchemaVersion(), 1);
  RawExec("INSERT INTO rec_schema(version) VALUES(99)");
  EXPECT_EQ(OpenRecordStore(url_).status().code(), ErrorCode::kUnsupported);
}

TEST(SqliteRecordTest, SurvivesReopenAndUsesWal) {
  test_support::ScratchDir dir;
  const std::string path = dir.File("data/sub/safeguard.db");
  int64_t review = 0;
  {
    Result<std::unique_ptr<RecordStore>> s = OpenRecordStore("sqlite:" + path);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    Result<SubmitOutcome> out = (*s)->Submit(MakeSubmission("kept"), MakeReview(5, "k", "media"),
                                             {{"h", "http://h/", "{}"}}, {Event("decision")});
    ASSERT_TRUE(out.ok());
    review = out->review_id;
    ASSERT_TRUE((*s)->PutPolicy("p", "admin", 1, {Event("policy.put")}).ok());
  }
  Result<std::unique_ptr<RecordStore>> s = OpenRecordStore(path);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)->FindSubmissions("kept")->size(), 1u);
  EXPECT_TRUE((*s)->GetReview(review)->has_media);
  EXPECT_EQ((*s)->DueOutbox(1000, 10)->size(), 1u);
  EXPECT_EQ((*(*s)->GetPolicy(0))->text, "p");
  EXPECT_EQ(*VerifyAuditChain(**s), 2);
  // The chain goes on across the reopen.
  ASSERT_TRUE((*s)->AppendAudit({Event("key.create")}).ok());
  EXPECT_EQ(*VerifyAuditChain(**s), 3);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST(SqliteRecordTest, CoexistsWithTheBankStore) {
  test_support::ScratchDir dir;
  const std::string url = "sqlite:" + dir.File("safeguard.db");
  // Records first, then banks, then both writing in turn.
  Result<std::unique_ptr<RecordStore>> records = OpenRecordStore(url);
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  Result<std::unique_ptr<Store>> banks = OpenStore(url);
  ASSERT_TRUE(banks.ok()) << banks.status().ToString();
  BankSpec spec;
  spec.name = "hotline";
  Result<Bank> bank = (*banks)->CreateBank(spec, 1);
  ASSERT_TRUE(bank.ok()) << bank.status().ToString();
  ASSERT_TRUE((*records)->AppendAudit({Event("bank.create", "bank:hotline")}).ok());
  {
    auto w = (*banks)->BeginWrite(bank->id);
    ASSERT_TRUE(w.ok());
    Entry e;
    e.signal = SignalType::kMd5;
    e.value = std::string(32, 'a');
    ASSERT_TRUE((*w)->Add(e).ok());
    ASSERT_TRUE((*w)->Commit().ok());
  }
  ASSERT_TRUE((*records)->Submit(MakeSubmission("c"), MakeReview(1), {}, {Event("decision")}).ok());
  // A bank import holding the write lock only delays a submission.
  {
    auto w = (*banks)->BeginWrite(bank->id);
    ASSERT_TRUE(w.ok());
    Entry e;
    e.signal = SignalType::kMd5;
    e.value = std::string(32, 'b');
    ASSERT_TRUE((*w)->Add(e).ok());
    std::thread submit([&] {
      EXPECT_TRUE(
          (*records)->Submit(MakeSubmission("during"), std::nullopt, {}, {Event("decision")}).ok());
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_TRUE((*w)->Commit().ok());
    submit.join();
  }
  records->reset();
  banks->reset();

  // Opened again in the other order, both see their data.
  banks = OpenStore(url);
  ASSERT_TRUE(banks.ok()) << banks.status().ToString();
  records = OpenRecordStore(url);
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  EXPECT_EQ((*banks)->CountEntries(bank->id)->live, 2);
  EXPECT_EQ(*(*records)->CountSubmissions(), 2);
  EXPECT_EQ(*VerifyAuditChain(**records), 3);
}

TEST(RecordUrlTest, SameRulesAsTheBankStore) {
  EXPECT_EQ(OpenRecordStore("mysql://x").status().code(), ErrorCode::kInvalidArgument);
  const std::string keywords = "host=127.0.0.1 port=1 dbname=x connect_timeout=2";
  EXPECT_EQ(OpenRecordStore(keywords).status().code(), ErrorCode::kIoError);
  EXPECT_FALSE(std::filesystem::exists(keywords));
  Result<std::unique_ptr<RecordStore>> memory = OpenRecordStore("sqlite::memory:");
  ASSERT_TRUE(memory.ok()) << memory.status().ToString();
  EXPECT_TRUE((*memory)->AppendAudit({Event("x")}).ok());
}

}  // namespace
}  // namespace safeguard
