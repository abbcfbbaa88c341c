// The SQLite record store: the rec_ tables beside the banks in one database
// file, over a connection of its own.
//
// Every write is one BEGIN IMMEDIATE transaction: it takes the database's
// write lock before reading anything it depends on (the audit head, the next
// policy version, a lease), so concurrent writers (this process's bank Store,
// other processes) cannot interleave with it.
#include <sqlite3.h>

#include <array>
#include <filesystem>
#include <system_error>

#include "records_internal.h"
#include "safeguard/store/records.h"
#include "sqlite_util.h"

namespace safeguard {
namespace {

using records_internal::AuditChainer;
using records_internal::NowMs;
using store_internal::Exec;
using store_internal::Stmt;

// The records schema as forward migrations; rec_schema holds one row per
// applied version. Part of the database format: never edit a released
// migration; add a new one.
constexpr const char* kRecV1 = R"sql(
CREATE TABLE rec_submissions(
  id INTEGER PRIMARY KEY,
  content_id TEXT NOT NULL,
  uploader_id TEXT NOT NULL,
  surface TEXT NOT NULL,
  content_kind TEXT NOT NULL,
  content_time_ms INTEGER NOT NULL,
  received_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  signals_json TEXT NOT NULL,
  matches_json TEXT NOT NULL,
  decision_json TEXT NOT NULL,
  action TEXT NOT NULL,
  policy_version INTEGER NOT NULL);
CREATE INDEX rec_submissions_content ON rec_submissions(content_id);
CREATE TABLE rec_reviews(
  id INTEGER PRIMARY KEY,
  submission_id INTEGER NOT NULL REFERENCES rec_submissions(id),
  priority INTEGER NOT NULL CHECK(priority BETWEEN 0 AND 100),
  state INTEGER NOT NULL DEFAULT 0,
  dedupe_key TEXT NOT NULL,
  signals_json TEXT NOT NULL,
  media_type TEXT NOT NULL,
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until_ms INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL,
  verdict INTEGER NOT NULL DEFAULT 0,
  reviewer TEXT NOT NULL DEFAULT '',
  note TEXT NOT NULL DEFAULT '',
  decided_ms INTEGER NOT NULL DEFAULT 0,
  duplicate_of INTEGER NOT NULL DEFAULT 0);
CREATE INDEX rec_reviews_open ON rec_reviews(priority DESC, created_ms, id) WHERE state < 2;
CREATE INDEX rec_reviews_dedupe ON rec_reviews(dedupe_key, verdict) WHERE dedupe_key != '';
CREATE INDEX rec_reviews_submission ON rec_reviews(submission_id);
CREATE TABLE rec_review_media(
  review_id INTEGER PRIMARY KEY REFERENCES rec_reviews(id),
  bytes BLOB NOT NULL);
CREATE TABLE rec_exposure(
  reviewer TEXT NOT NULL,
  review_id INTEGER NOT NULL REFERENCES rec_reviews(id),
  originals INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(reviewer, review_id));
CREATE TABLE rec_audit(
  seq INTEGER PRIMARY KEY,
  time_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  details_json TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL);
CREATE TABLE rec_api_keys(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  scopes INTEGER NOT NULL,
  salt_hex TEXT NOT NULL,
  hash_hex TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE rec_policies(
  version INTEGER PRIMARY KEY,
  text TEXT NOT NULL,
  actor TEXT NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE TABLE rec_outbox(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  url TEXT NOT NULL,
  body_json TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL,
  next_attempt_ms INTEGER NOT NULL,
  delivered_ms INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  state INTEGER NOT NULL DEFAULT 0);
CREATE INDEX rec_outbox_due ON rec_outbox(next_attempt_ms) WHERE state = 0;
)sql";

constexpr std::array<const char*, 1> kRecMigrations = {kRecV1};
constexpr int kRecVersion = static_cast<int>(kRecMigrations.size());

constexpr const char* kSubmissionColumns =
    "s.id, s.content_id, s.uploader_id, s.surface, s.content_kind, s.content_time_ms, "
    "s.received_ms, s.actor, s.signals_json, s.matches_json, s.decision_json, s.action, "
    "s.policy_version, COALESCE((SELECT MIN(r.id) FROM rec_reviews r WHERE r.submission_id = "
    "s.id), 0)";
constexpr const char* kReviewColumns =
    "r.id, r.submission_id, r.priority, r.state, r.dedupe_key, r.signals_json, r.media_type, "
    "EXISTS(SELECT 1 FROM rec_review_media m WHERE m.review_id = r.id), r.lease_owner, "
    "r.lease_until_ms, r.created_ms, r.verdict, r.reviewer, r.note, r.decided_ms";
constexpr const char* kAuditColumns =
    "seq, time_ms, actor, kind, subject, details_json, prev_hash, hash";
constexpr const char* kKeyColumns = "id, name, scopes, salt_hex, hash_hex, created_ms, revoked";
constexpr const char* kOutboxColumns =
    "id, name, url, body_json, attempts, created_ms, next_attempt_ms, delivered_ms, last_error, "
    "state";

SubmissionRecord SubmissionFromRow(const Stmt& q) {
  SubmissionRecord r;
  r.id = q.Int(0);
  r.in.content_id = q.Text(1);
  r.in.uploader_id = q.Text(2);
  r.in.surface = q.Text(3);
  r.in.content_kind = q.Text(4);
  r.in.content_time_ms = q.Int(5);
  r.in.received_ms = q.Int(6);
  r.in.actor = q.Text(7);
  r.in.signals_json = q.Text(8);
  r.in.matches_json = q.Text(9);
  r.in.decision_json = q.Text(10);
  r.in.action = q.Text(11);
  r.in.policy_version = q.Int(12);
  r.review_id = q.Int(13);
  return r;
}

ReviewItem ReviewFromRow(const Stmt& q) {
  ReviewItem r;
  r.id = q.Int(0);
  r.submission_id = q.Int(1);
  r.priority = static_cast<int>(q.Int(2));
  r.state = static_cast<ReviewState>(q.Int(3));
  r.dedupe_key = q.Text(4);
  r.signals_json = q.Text(5);
  r.media_type = q.Text(6);
  r.has_media = q.Int(7) != 0;
  r.lease_owner = q.Text(8);
  r.lease_until_ms = q.Int(9);
  r.created_ms = q.Int(10);
  r.verdict = static_cast<ReviewVerdict>(q.Int(11));
  r.reviewer = q.Text(12);
  r.note = q.Text(13);
  r.decided_ms = q.Int(14);
  return r;
}

AuditEvent AuditFromRow(const Stmt& q) {
  AuditEvent e;
  e.seq = q.Int(0);
  e.time_ms = q.Int(1);
  e.actor = q.Text(2);
  e.kind = q.Text(3);
  e.subject = q.Text(4);
  e.details_json = q.Text(5);
  e.prev_hash = q.Text(6);
  e.hash = q.Text(7);
  return e;
}

ApiKeyRecord KeyFromRow(const Stmt& q) {
  ApiKeyRecord k;
  k.id = q.Int(0);
  k.name = q.Text(1);
  k.scopes = static_cast<uint32_t>(q.Int(2));
  k.salt_hex = q.Text(3);
  k.hash_hex = q.Text(4);
  k.created_ms = q.Int(5);
  k.revoked = q.Int(6) != 0;
  return k;
}

OutboxMessage OutboxFromRow(const Stmt& q) {
  OutboxMessage m;
  m.id = q.Int(0);
  m.name = q.Text(1);
  m.url = q.Text(2);
  m.body_json = q.Text(3);
  m.attempts = static_cast<int>(q.Int(4));
  m.created_ms = q.Int(5);
  m.next_attempt_ms = q.Int(6);
  m.delivered_ms = q.Int(7);
  m.last_error = q.Text(8);
  m.state = static_cast<OutboxMessage::State>(q.Int(9));
  return m;
}

class SqliteRecordStore final : public RecordStore {
 public:
  explicit SqliteRecordStore(sqlite3* db) : db_(db) {}
  ~SqliteRecordStore() override { sqlite3_close_v2(db_); }
  SqliteRecordStore(const SqliteRecordStore&) = delete;
  SqliteRecordStore& operator=(const SqliteRecordStore&) = delete;

  Status Init(bool in_memory) {
    // The bank Store's connection may hold the write lock (an import): wait
    // for it rather than fail at once.
    sqlite3_busy_timeout(db_, 10000);
    if (!in_memory) {
      if (Status s = Exec(db_, "PRAGMA journal_mode=WAL"); !s.ok()) return s;
    }
    // FULL: a 2xx answer of the service promises that the submission
    // survives a crash and a power loss, so every commit is fsynced.
    if (Status s = Exec(db_, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON"); !s.ok()) {
      return s;
    }
    return Migrate();
  }

  int SchemaVersion() const override { return kRecVersion; }

  Result<SubmitOutcome> Submit(const SubmissionInput& in, const std::optional<ReviewInput>& review,
                               const std::vector<WebhookInput>& webhooks,
                               const std::vector<AuditInput>& audit) override {
    SubmitOutcome out;
    Status s = InTransaction([&] { return SubmitOne(in, review, webhooks, audit, &out); });
    if (!s.ok()) return s;
    return out;
  }

  Result<std::vector<Result<SubmitOutcome>>> SubmitBatch(
      const std::vector<SubmitRequest>& requests) override {
    std::vector<Result<SubmitOutcome>> results;
    Status s = InTransaction([&]() -> Status {
      results.clear();
      for (const SubmitRequest& r : requests) {
        if (Status sp = Exec(db_, "SAVEPOINT rec_submit"); !sp.ok()) return sp;
        SubmitOutcome out;
        Status one = SubmitOne(r.submission, r.review, r.webhooks, r.audit, &out);
        if (!one.ok()) {
          // Some errors (I/O, disk full) end the whole transaction; then
          // there is no savepoint to go back to and the batch fails.
          if (Status back = Exec(db_, "ROLLBACK TO rec_submit"); !back.ok()) return back;
        }
        if (Status rel = Exec(db_, "RELEASE rec_submit"); !rel.ok()) return rel;
        if (one.ok()) {
          results.emplace_back(out);
        } else {
          results.emplace_back(one);
        }
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return results;
  }

  Result<SubmissionRecord> GetSubmission(int64_t id) override {
    Result<Stmt> q = Stmt::Prepare(
        db_, std::string("SELECT ") + kSubmissionColumns + " FROM rec_submissions s WHERE s.id=?1");
    if (!q.ok()) return q.status();
    q->Bind(1, id);
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("no submission " + std::to_string(id));
    return SubmissionFromRow(*q);
  }

  Result<std::vector<SubmissionRecord>> FindSubmissions(std::string_view content_id) override {
    Result<Stmt> q =
        Stmt::Prepare(db_, std::string("SELECT ") + kSubmissionColumns +
                               " FROM rec_submissions s WHERE s.content_id=?1 ORDER BY s.id");
    if (!q.ok()) return q.status();
    q->Bind(1, content_id);
    std::vector<SubmissionRecord> out;
    for (;;) {
      Result<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) return out;
      out.push_back(SubmissionFromRow(*q));
    }
  }

  Result<int64_t> CountSubmissions() override {
    return Count("SELECT COUNT(*) FROM rec_submissions", std::nullopt);
  }

  Result<std::optional<ReviewItem>> LeaseNextReview(std::string_view reviewer, int64_t now_ms,
                                                    int64_t lease_ms,
                                                    const std::vector<AuditInput>& audit) override {
    std::optional<ReviewItem> leased;
    Status s = InTransaction([&]() -> Status {
      Result<Stmt> pick = Stmt::Prepare(
          db_,
          "SELECT id FROM rec_reviews WHERE state < 2 AND (state = 0 OR lease_until_ms < ?1) "
          "ORDER BY priority DESC, created_ms, id LIMIT 1");
      if (!pick.ok()) return pick.status();
      pick->Bind(1, now_ms);
      Result<bool> row = pick->Step();
      if (!row.ok()) return row.status();
      if (!*row) return Status::Ok();
      const int64_t id = pick->Int(0);
      Result<Stmt> up = Stmt::Prepare(
          db_, "UPDATE rec_reviews SET state=1, lease_owner=?2, lease_until_ms=?3 WHERE id=?1");
      if (!up.ok()) return up.status();
      if (Status r = up->Bind(1, id).Bind(2, reviewer).Bind(3, now_ms + lease_ms).Run(); !r.ok()) {
        return r;
      }
      Result<ReviewItem> item = GetReview(id);
      if (!item.ok()) return item.status();
      leased = std::move(*item);
      // The events name the item leased.
      std::vector<AuditInput> events = audit;
      for (AuditInput& e : events) e.subject = "review:" + std::to_string(id);
      return Append(events, now_ms);
    });
    if (!s.ok()) return s;
    return leased;
  }

  Result<ReviewItem> GetReview(int64_t id) override {
    Result<Stmt> q = Stmt::Prepare(
        db_, std::string("SELECT ") + kReviewColumns + " FROM rec_reviews r WHERE r.id=?1");
    if (!q.ok()) return q.status();
    q->Bind(1, id);
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("no review item " + std::to_string(id));
    return ReviewFromRow(*q);
  }

  Result<ReviewItem> DecideReview(int64_t id, std::string_view reviewer, ReviewVerdict verdict,
                                  std::string_view note, int64_t now_ms,
                                  const std::vector<WebhookInput>& webhooks,
                                  const std::vector<AuditInput>& audit) override {
    if (verdict == ReviewVerdict::kNone) {
      return Status::InvalidArgument("a review decision needs a verdict");
    }
    Status s = InTransaction([&]() -> Status {
      Result<ReviewItem> item = GetReview(id);
      if (!item.ok()) return item.status();
      if (Status r = CheckLease(*item, reviewer, now_ms); !r.ok()) return r;
      Result<Stmt> up = Stmt::Prepare(
          db_,
          "UPDATE rec_reviews SET state=2, verdict=?2, reviewer=?3, note=?4, decided_ms=?5 "
          "WHERE id=?1");
      if (!up.ok()) return up.status();
      if (Status r = up->Bind(1, id)
                         .Bind(2, static_cast<int64_t>(verdict))
                         .Bind(3, reviewer)
                         .Bind(4, note)
                         .Bind(5, now_ms)
                         .Run();
          !r.ok())
        return r;
      if (verdict == ReviewVerdict::kConfirm && !item->dedupe_key.empty()) {
        // Items nobody holds (queued, or their lease ran out) are the same
        // content: a person need not see them again.
        Result<Stmt> dup = Stmt::Prepare(
            db_,
            "UPDATE rec_reviews SET state=2, verdict=1, reviewer=?3, decided_ms=?4, "
            "duplicate_of=?1 WHERE dedupe_key=?2 AND id != ?1 AND (state = 0 OR (state = 1 "
            "AND lease_until_ms < ?4))");
        if (!dup.ok()) return dup.status();
        if (Status r = dup->Bind(1, id)
                           .Bind(2, item->dedupe_key)
                           .Bind(3, records_internal::DuplicateReviewer(id))
                           .Bind(4, now_ms)
                           .Run();
            !r.ok())
          return r;
      }
      if (verdict == ReviewVerdict::kFalsePositive) {
        // Nothing to preserve: no one should see benign content again.
        Result<Stmt> del = Stmt::Prepare(db_, "DELETE FROM rec_review_media WHERE review_id=?1");
        if (!del.ok()) return del.status();
        if (Status r = del->Bind(1, id).Run(); !r.ok()) return r;
      }
      if (Status r = Enqueue(webhooks, now_ms); !r.ok()) return r;
      return Append(audit, now_ms);
    });
    if (!s.ok()) return s;
    return GetReview(id);
  }

  Result<std::pair<std::string, std::string>> ViewReviewMedia(
      int64_t id, std::string_view reviewer, bool original,
      const std::vector<AuditInput>& audit) override {
    std::pair<std::string, std::string> media;
    Status s = InTransaction([&]() -> Status {
      Result<Stmt> q = Stmt::Prepare(
          db_,
          "SELECT r.media_type, m.bytes FROM rec_review_media m JOIN rec_reviews r ON r.id = "
          "m.review_id WHERE m.review_id=?1");
      if (!q.ok()) return q.status();
      q->Bind(1, id);
      Result<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) return Status::NotFound("no media kept for review item " + std::to_string(id));
      media = {q->Text(0), q->Blob(1)};
      Result<Stmt> seen = Stmt::Prepare(
          db_,
          "INSERT INTO rec_exposure(reviewer, review_id, originals) VALUES(?1, ?2, ?3) "
          "ON CONFLICT(reviewer, review_id) DO UPDATE SET originals = originals + "
          "excluded.originals");
      if (!seen.ok()) return seen.status();
      if (Status r = seen->Bind(1, reviewer).Bind(2, id).Bind(3, int64_t{original ? 1 : 0}).Run();
          !r.ok())
        return r;
      return Append(audit, NowMs());
    });
    if (!s.ok()) return s;
    return media;
  }

  Result<std::vector<ExposureRecord>> ReviewerExposure() override {
    Result<Stmt> q = Stmt::Prepare(
        db_,
        "SELECT reviewer, COUNT(*), SUM(originals) FROM rec_exposure GROUP BY reviewer "
        "ORDER BY reviewer");
    if (!q.ok()) return q.status();
    std::vector<ExposureRecord> out;
    for (;;) {
      Result<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) return out;
      out.push_back(ExposureRecord{q->Text(0), q->Int(1), q->Int(2)});
    }
  }

  Result<int64_t> CountReviews(ReviewState state) override {
    return Count("SELECT COUNT(*) FROM rec_reviews WHERE state=?1", static_cast<int64_t>(state));
  }

  Status AppendAudit(const std::vector<AuditInput>& audit) override {
    return InTransaction([&] { return Append(audit, NowMs()); });
  }

  Status ForEachAudit(int64_t after_seq,
                      const std::function<Status(const AuditEvent&)>& fn) override {
    Result<Stmt> q = Stmt::Prepare(
        db_, std::string("SELECT ") + kAuditColumns + " FROM rec_audit WHERE seq>?1 ORDER BY seq");
    if (!q.ok()) return q.status();
    q->Bind(1, after_seq);
    for (;;) {
      Result<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) return Status::Ok();
      if (Status s = fn(AuditFromRow(*q)); !s.ok()) return s;
    }
  }

  Result<std::vector<AuditEvent>> ListAudit(int64_t after_seq, size_t limit) override {
    Result<Stmt> q = Stmt::Prepare(db_, std::string("SELECT ") + kAuditColumns +
                                            " FROM rec_audit WHERE seq>?1 ORDER BY seq LIMIT ?2");
    if (!q.ok()) return q.status();
    q->Bind(1, after_seq).Bind(2, static_cast<int64_t>(limit));
    std::vector<AuditEvent> out;
    for (;;) {
      Result<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) return out;
      out.push_back(AuditFromRow(*q));
    }
  }

  Result<int64_t> CreateApiKey(const ApiKeyRecord& key,
                               const std::vector<AuditInput>& audit) override {
    if (Status s = records_internal::ValidateApiKey(key); !s.ok()) return s;
    int64_t id = 0;
    Status s = InTransaction([&]() -> Status {
      // Checked inside the write lock, so the answer cannot go stale.
      if (GetApiKeyByName(key.name).ok()) {
        return Status::InvalidArgument("an API key named '" + key.name + "' exists");
      }
      Result<Stmt> ins =
          Stmt::Prepare(db_,
                        "INSERT INTO rec_api_keys(name, scopes, salt_hex, hash_hex, created_ms) "
                        "VALUES(?1, ?2, ?3, ?4, ?5)");
      if (!ins.ok()) return ins.status();
      if (Status r = ins->Bind(1, key.name)
                         .Bind(2, int64_t{key.scopes})
                         .Bind(3, key.salt_hex)
                         .Bind(4, key.hash_hex)
                         .Bind(5, key.created_ms)
                         .Run();
          !r.ok())
        return r;
      id = sqlite3_last_insert_rowid(db_);
      return Append(audit, key.created_ms != 0 ? key.created_ms : NowMs());
    });
    if (!s.ok()) return s;
    return id;
  }

  Result<ApiKeyRecord> GetApiKey(int64_t id) override {
    return OneKey(std::string("SELECT ") + kKeyColumns + " FROM rec_api_keys WHERE id=?1", {}, id);
  }

  Result<ApiKeyRecord> GetApiKeyByName(std::string_view name) override {
    return OneKey(std::string("SELECT ") + kKeyColumns + " FROM rec_api_keys WHERE name=?1", name,
                  0);
  }

  Result<std::vector<ApiKeyRecord>> ListApiKeys() override {
    Result<Stmt> q =
        Stmt::Prepare(db_, std::string("SELECT ") + kKeyColumns + " FROM rec_api_keys ORDER BY id");
    if (!q.ok()) return q.status();
    std::vector<ApiKeyRecord> out;
    for (;;) {
      Result<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) return out;
      out.push_back(KeyFromRow(*q));
    }
  }

  Status RevokeApiKey(int64_t id, const std::vector<AuditInput>& audit) override {
    return InTransaction([&]() -> Status {
      Result<Stmt> up = Stmt::Prepare(db_, "UPDATE rec_api_keys SET revoked=1 WHERE id=?1");
      if (!up.ok()) return up.status();
      if (Status r = up->Bind(1, id).Run(); !r.ok()) return r;
      if (sqlite3_changes(db_) == 0) return Status::NotFound("no API key " + std::to_string(id));
      return Append(audit, NowMs());
    });
  }

  Result<int64_t> PutPolicy(std::string_view text, std::string_view actor, int64_t now_ms,
                            const std::vector<AuditInput>& audit) override {
    int64_t version = 0;
    Status s = InTransaction([&]() -> Status {
      Result<int64_t> last = Count("SELECT COALESCE(MAX(version), 0) FROM rec_policies", {});
      if (!last.ok()) return last.status();
      version = *last + 1;
      Result<Stmt> ins = Stmt::Prepare(
          db_, "INSERT INTO rec_policies(version, text, actor, created_ms) VALUES(?1, ?2, ?3, ?4)");
      if (!ins.ok()) return ins.status();
      if (Status r = ins->Bind(1, version).Bind(2, text).Bind(3, actor).Bind(4, now_ms).Run();
          !r.ok())
        return r;
      return Append(audit, now_ms);
    });
    if (!s.ok()) return s;
    return version;
  }

  Result<std::optional<PolicyRecord>> GetPolicy(int64_t version) override {
    Result<Stmt> q = Stmt::Prepare(
        db_, version == 0 ? "SELECT version, text, actor, created_ms FROM rec_policies ORDER BY "
                            "version DESC LIMIT 1"
                          : "SELECT version, text, actor, created_ms FROM rec_policies WHERE "
                            "version=?1");
    if (!q.ok()) return q.status();
    if (version != 0) q->Bind(1, version);
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<PolicyRecord>();
    return std::optional<PolicyRecord>(PolicyRecord{q->Int(0), q->Text(1), q->Text(2), q->Int(3)});
  }

  Result<std::vector<OutboxMessage>> DueOutbox(int64_t now_ms, size_t limit) override {
    Result<Stmt> q = Stmt::Prepare(db_, std::string("SELECT ") + kOutboxColumns +
                                            " FROM rec_outbox WHERE state=0 AND "
                                            "next_attempt_ms<=?1 ORDER BY id LIMIT ?2");
    if (!q.ok()) return q.status();
    q->Bind(1, now_ms).Bind(2, static_cast<int64_t>(limit));
    std::vector<OutboxMessage> out;
    for (;;) {
      Result<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) return out;
      out.push_back(OutboxFromRow(*q));
    }
  }

  Status MarkDelivered(int64_t id, int64_t now_ms) override {
    return InTransaction([&]() -> Status {
      if (Status r = CheckPending(id); !r.ok()) return r;
      Result<Stmt> up = Stmt::Prepare(
          db_, "UPDATE rec_outbox SET state=1, attempts=attempts+1, delivered_ms=?2 WHERE id=?1");
      if (!up.ok()) return up.status();
      return up->Bind(1, id).Bind(2, now_ms).Run();
    });
  }

  Status MarkFailed(int64_t id, int64_t next_attempt_ms, std::string_view error,
                    bool dead) override {
    return InTransaction([&]() -> Status {
      if (Status r = CheckPending(id); !r.ok()) return r;
      Result<Stmt> up =
          Stmt::Prepare(db_,
                        "UPDATE rec_outbox SET state=?4, attempts=attempts+1, next_attempt_ms=?2, "
                        "last_error=?3 WHERE id=?1");
      if (!up.ok()) return up.status();
      const auto state = dead ? OutboxMessage::State::kDead : OutboxMessage::State::kPending;
      return up->Bind(1, id)
          .Bind(2, next_attempt_ms)
          .Bind(3, error)
          .Bind(4, static_cast<int64_t>(state))
          .Run();
    });
  }

  Result<int64_t> CountOutbox(OutboxMessage::State state) override {
    return Count("SELECT COUNT(*) FROM rec_outbox WHERE state=?1", static_cast<int64_t>(state));
  }

 private:
  // Runs fn inside BEGIN IMMEDIATE ... COMMIT; rolls back on any error.
  Status InTransaction(const std::function<Status()>& fn) {
    if (Status s = Exec(db_, "BEGIN IMMEDIATE"); !s.ok()) return s;
    Status s = fn();
    if (s.ok()) s = Exec(db_, "COMMIT");
    if (!s.ok()) (void)Exec(db_, "ROLLBACK");
    return s;
  }

  // One submission. REQUIRES: inside InTransaction.
  Status SubmitOne(const SubmissionInput& in, const std::optional<ReviewInput>& review,
                   const std::vector<WebhookInput>& webhooks, const std::vector<AuditInput>& audit,
                   SubmitOutcome* out) {
    if (review) {
      if (Status s = records_internal::ValidateReviewInput(*review); !s.ok()) return s;
    }
    Result<Stmt> ins = Stmt::Prepare(
        db_,
        "INSERT INTO rec_submissions(content_id, uploader_id, surface, content_kind, "
        "content_time_ms, received_ms, actor, signals_json, matches_json, decision_json, "
        "action, policy_version) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    if (!ins.ok()) return ins.status();
    if (Status r = ins->Bind(1, in.content_id)
                       .Bind(2, in.uploader_id)
                       .Bind(3, in.surface)
                       .Bind(4, in.content_kind)
                       .Bind(5, in.content_time_ms)
                       .Bind(6, in.received_ms)
                       .Bind(7, in.actor)
                       .Bind(8, in.signals_json)
                       .Bind(9, in.matches_json)
                       .Bind(10, in.decision_json)
                       .Bind(11, in.action)
                       .Bind(12, in.policy_version)
                       .Run();
        !r.ok())
      return r;
    out->submission_id = sqlite3_last_insert_rowid(db_);
    if (review) {
      if (Status r = AddReview(out->submission_id, in.received_ms, *review, out); !r.ok()) {
        return r;
      }
    }
    if (Status r = Enqueue(webhooks, in.received_ms); !r.ok()) return r;
    return Append(audit, in.received_ms);
  }

  // Creates the review item of a submission, unless its key was confirmed.
  Status AddReview(int64_t submission_id, int64_t created_ms, const ReviewInput& review,
                   SubmitOutcome* out) {
    if (!review.dedupe_key.empty()) {
      // The item a person confirmed (not one closed as its duplicate).
      Result<Stmt> q = Stmt::Prepare(
          db_,
          "SELECT id FROM rec_reviews WHERE dedupe_key=?1 AND verdict=1 AND duplicate_of=0 "
          "ORDER BY id LIMIT 1");
      if (!q.ok()) return q.status();
      q->Bind(1, review.dedupe_key);
      Result<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (*row) {
        out->already_confirmed_review = q->Int(0);
        return Status::Ok();
      }
    }
    Result<Stmt> ins = Stmt::Prepare(
        db_,
        "INSERT INTO rec_reviews(submission_id, priority, dedupe_key, signals_json, media_type, "
        "created_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    if (!ins.ok()) return ins.status();
    if (Status r = ins->Bind(1, submission_id)
                       .Bind(2, int64_t{review.priority})
                       .Bind(3, review.dedupe_key)
                       .Bind(4, review.signals_json)
                       .Bind(5, review.media_type)
                       .Bind(6, created_ms)
                       .Run();
        !r.ok())
      return r;
    out->review_id = sqlite3_last_insert_rowid(db_);
    if (review.media.empty()) return Status::Ok();
    Result<Stmt> media =
        Stmt::Prepare(db_, "INSERT INTO rec_review_media(review_id, bytes) VALUES(?1, ?2)");
    if (!media.ok()) return media.status();
    return media->Bind(1, out->review_id).BindBlob(2, review.media).Run();
  }

  Status Enqueue(const std::vector<WebhookInput>& webhooks, int64_t now_ms) {
    if (webhooks.empty()) return Status::Ok();
    Result<Stmt> ins =
        Stmt::Prepare(db_,
                      "INSERT INTO rec_outbox(name, url, body_json, created_ms, next_attempt_ms) "
                      "VALUES(?1, ?2, ?3, ?4, ?4)");
    if (!ins.ok()) return ins.status();
    for (const WebhookInput& w : webhooks) {
      if (Status r = ins->Bind(1, w.name).Bind(2, w.url).Bind(3, w.body_json).Bind(4, now_ms).Run();
          !r.ok())
        return r;
    }
    return Status::Ok();
  }

  // Appends to the audit chain. REQUIRES: inside InTransaction (the write
  // lock is held, so the head read here stays the head).
  Status Append(const std::vector<AuditInput>& audit, int64_t default_time_ms) {
    if (audit.empty()) return Status::Ok();
    Result<Stmt> head =
        Stmt::Prepare(db_, "SELECT seq, hash FROM rec_audit ORDER BY seq DESC LIMIT 1");
    if (!head.ok()) return head.status();
    Result<bool> row = head->Step();
    if (!row.ok()) return row.status();
    AuditChainer chain(*row ? head->Int(0) : 0,
                       *row ? head->Text(1) : std::string(kAuditGenesisHash), default_time_ms);
    Result<Stmt> ins = Stmt::Prepare(db_, std::string("INSERT INTO rec_audit(") + kAuditColumns +
                                              ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (!ins.ok()) return ins.status();
    for (const AuditInput& in : audit) {
      Result<AuditEvent> e = chain.Next(in);
      if (!e.ok()) return e.status();
      if (Status r = ins->Bind(1, e->seq)
                         .Bind(2, e->time_ms)
                         .Bind(3, e->actor)
                         .Bind(4, e->kind)
                         .Bind(5, e->subject)
                         .Bind(6, e->details_json)
                         .Bind(7, e->prev_hash)
                         .Bind(8, e->hash)
                         .Run();
          !r.ok())
        return r;
    }
    return Status::Ok();
  }

  static Status CheckLease(const ReviewItem& item, std::string_view reviewer, int64_t now_ms) {
    const std::string at = "review item " + std::to_string(item.id) + ": ";
    if (item.state == ReviewState::kDecided)
      return Status::FailedPrecondition(at + "already decided");
    if (item.state != ReviewState::kLeased || item.lease_owner != reviewer) {
      return Status::FailedPrecondition(at + "not leased to you");
    }
    if (item.lease_until_ms < now_ms) return Status::FailedPrecondition(at + "lease expired");
    return Status::Ok();
  }

  Status CheckPending(int64_t id) {
    Result<Stmt> q = Stmt::Prepare(db_, "SELECT state FROM rec_outbox WHERE id=?1");
    if (!q.ok()) return q.status();
    q->Bind(1, id);
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("no outbox message " + std::to_string(id));
    if (q->Int(0) != static_cast<int64_t>(OutboxMessage::State::kPending)) {
      return Status::FailedPrecondition("outbox message " + std::to_string(id) +
                                        " is no longer pending");
    }
    return Status::Ok();
  }

  Result<int64_t> Count(const char* sql, std::optional<int64_t> arg) {
    Result<Stmt> q = Stmt::Prepare(db_, sql);
    if (!q.ok()) return q.status();
    if (arg) q->Bind(1, *arg);
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    return q->Int(0);
  }

  Result<ApiKeyRecord> OneKey(const std::string& sql, std::string_view name, int64_t id) {
    Result<Stmt> q = Stmt::Prepare(db_, sql);
    if (!q.ok()) return q.status();
    if (id != 0) {
      q->Bind(1, id);
    } else {
      q->Bind(1, name);
    }
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) {
      return Status::NotFound(id != 0 ? "no API key " + std::to_string(id)
                                      : "no API key named '" + std::string(name) + "'");
    }
    return KeyFromRow(*q);
  }

  // Applies every records migration past the database's version in one
  // transaction (so a crash leaves a whole version), taken before reading
  // the version so that two processes opening at once do not both migrate.
  Status Migrate() {
    return InTransaction([&]() -> Status {
      if (Status s =
              Exec(db_, "CREATE TABLE IF NOT EXISTS rec_schema(version INTEGER PRIMARY KEY)");
          !s.ok())
        return s;
      Result<int64_t> version = Count("SELECT COALESCE(MAX(version), 0) FROM rec_schema", {});
      if (!version.ok()) return version.status();
      if (*version > kRecVersion) {
        return Status::Unsupported("records schema version " + std::to_string(*version) +
                                   " is newer than this build's " + std::to_string(kRecVersion));
      }
      for (int64_t v = *version; v < kRecVersion; ++v) {
        if (Status s = Exec(db_, kRecMigrations[static_cast<size_t>(v)]); !s.ok()) {
          return Status::Corrupt("migrating the records to schema version " +
                                 std::to_string(v + 1) + ": " + s.message());
        }
        Result<Stmt> ins = Stmt::Prepare(db_, "INSERT INTO rec_schema(version) VALUES(?1)");
        if (!ins.ok()) return ins.status();
        if (Status s = ins->Bind(1, v + 1).Run(); !s.ok()) return s;
      }
      return Status::Ok();
    });
  }

  sqlite3* db_;
};

}  // namespace

Result<std::unique_ptr<RecordStore>> OpenSqliteRecordStore(const std::string& path) {
  const bool in_memory = path == ":memory:";
  Result<sqlite3*> db = store_internal::OpenDatabaseFile(path);
  if (!db.ok()) return db.status();
  auto store = std::make_unique<SqliteRecordStore>(*db);
  if (Status s = store->Init(in_memory); !s.ok()) {
    return Status::Error(s.code(), path + ": " + s.message());
  }
  return std::unique_ptr<RecordStore>(std::move(store));
}

}  // namespace safeguard
