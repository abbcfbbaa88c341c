// The PostgreSQL record store: the rec_ tables beside the banks, over a
// connection of its own.
//
// Every writing transaction first takes one advisory lock (its own key, not
// the bank store's), so that with several service processes on one database
// the audit chain stays linear: each transaction reads the chain's head and
// appends to it while no other can. Statements run at READ COMMITTED, so
// everything committed before the lock was granted is visible after it.
#include <libpq-fe.h>

#include <functional>
#include <iterator>

#include "pg_util.h"
#include "records_internal.h"
#include "safeguard/core/hash256.h"
#include "safeguard/store/records.h"

namespace safeguard {
namespace {

using records_internal::AuditChainer;
using records_internal::NowMs;
using store_internal::Int;
using store_internal::Params;
using store_internal::PgConnection;
using store_internal::ResultPtr;
using store_internal::Text;

// The records schema as forward migrations; rec_schema holds one row per
// applied version. Part of the database format: never edit a released one.
constexpr const char* kRecPgMigrations[] = {
    R"sql(
CREATE TABLE rec_submissions(
  id BIGSERIAL PRIMARY KEY,
  content_id TEXT NOT NULL,
  uploader_id TEXT NOT NULL,
  surface TEXT NOT NULL,
  content_kind TEXT NOT NULL,
  content_time_ms BIGINT NOT NULL,
  received_ms BIGINT NOT NULL,
  actor TEXT NOT NULL,
  signals_json TEXT NOT NULL,
  matches_json TEXT NOT NULL,
  decision_json TEXT NOT NULL,
  action TEXT NOT NULL,
  policy_version BIGINT NOT NULL);
CREATE INDEX rec_submissions_content ON rec_submissions(content_id);
CREATE TABLE rec_reviews(
  id BIGSERIAL PRIMARY KEY,
  submission_id BIGINT NOT NULL REFERENCES rec_submissions(id),
  priority INTEGER NOT NULL CHECK(priority BETWEEN 0 AND 100),
  state INTEGER NOT NULL DEFAULT 0,
  dedupe_key TEXT NOT NULL,
  signals_json TEXT NOT NULL,
  media_type TEXT NOT NULL,
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until_ms BIGINT NOT NULL DEFAULT 0,
  created_ms BIGINT NOT NULL,
  verdict INTEGER NOT NULL DEFAULT 0,
  reviewer TEXT NOT NULL DEFAULT '',
  note TEXT NOT NULL DEFAULT '',
  decided_ms BIGINT NOT NULL DEFAULT 0,
  duplicate_of BIGINT NOT NULL DEFAULT 0);
CREATE INDEX rec_reviews_open ON rec_reviews(priority DESC, created_ms, id) WHERE state < 2;
CREATE INDEX rec_reviews_dedupe ON rec_reviews(dedupe_key, verdict) WHERE dedupe_key <> '';
CREATE INDEX rec_reviews_submission ON rec_reviews(submission_id);
CREATE TABLE rec_review_media(
  review_id BIGINT PRIMARY KEY REFERENCES rec_reviews(id),
  bytes BYTEA NOT NULL);
CREATE TABLE rec_exposure(
  reviewer TEXT NOT NULL,
  review_id BIGINT NOT NULL REFERENCES rec_reviews(id),
  originals BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY(reviewer, review_id));
CREATE TABLE rec_audit(
  seq BIGINT PRIMARY KEY,
  time_ms BIGINT NOT NULL,
  actor TEXT NOT NULL,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  details_json TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL);
CREATE TABLE rec_api_keys(
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  scopes BIGINT NOT NULL,
  salt_hex TEXT NOT NULL,
  hash_hex TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE rec_policies(
  version BIGINT PRIMARY KEY,
  text TEXT NOT NULL,
  actor TEXT NOT NULL,
  created_ms BIGINT NOT NULL);
CREATE TABLE rec_outbox(
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL,
  url TEXT NOT NULL,
  body_json TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_ms BIGINT NOT NULL,
  next_attempt_ms BIGINT NOT NULL,
  delivered_ms BIGINT NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  state INTEGER NOT NULL DEFAULT 0);
CREATE INDEX rec_outbox_due ON rec_outbox(next_attempt_ms) WHERE state = 0;
)sql",
};
constexpr int kRecPgVersion = static_cast<int>(std::size(kRecPgMigrations));

// The records writers' advisory lock; the bank store's is 7405151, so a bank
// import does not hold up submissions.
constexpr const char* kRecordsLockSql = "SELECT pg_advisory_xact_lock(7405152)";

constexpr const char* kSubmissionColumns =
    "s.id, s.content_id, s.uploader_id, s.surface, s.content_kind, s.content_time_ms, "
    "s.received_ms, s.actor, s.signals_json, s.matches_json, s.decision_json, s.action, "
    "s.policy_version, COALESCE((SELECT MIN(r.id) FROM rec_reviews r WHERE r.submission_id = "
    "s.id), 0)";
// has_media as 0/1: Int() reads numbers, not PostgreSQL's 't'/'f'.
constexpr const char* kReviewColumns =
    "r.id, r.submission_id, r.priority, r.state, r.dedupe_key, r.signals_json, r.media_type, "
    "CASE WHEN EXISTS(SELECT 1 FROM rec_review_media m WHERE m.review_id = r.id) THEN 1 ELSE 0 "
    "END, r.lease_owner, r.lease_until_ms, r.created_ms, r.verdict, r.reviewer, r.note, "
    "r.decided_ms";
constexpr const char* kAuditColumns =
    "seq, time_ms, actor, kind, subject, details_json, prev_hash, hash";
constexpr const char* kKeyColumns = "id, name, scopes, salt_hex, hash_hex, created_ms, revoked";
constexpr const char* kOutboxColumns =
    "id, name, url, body_json, attempts, created_ms, next_attempt_ms, delivered_ms, last_error, "
    "state";

SubmissionRecord SubmissionFromRow(const PGresult* r, int i) {
  SubmissionRecord s;
  s.id = Int(r, i, 0);
  s.in.content_id = Text(r, i, 1);
  s.in.uploader_id = Text(r, i, 2);
  s.in.surface = Text(r, i, 3);
  s.in.content_kind = Text(r, i, 4);
  s.in.content_time_ms = Int(r, i, 5);
  s.in.received_ms = Int(r, i, 6);
  s.in.actor = Text(r, i, 7);
  s.in.signals_json = Text(r, i, 8);
  s.in.matches_json = Text(r, i, 9);
  s.in.decision_json = Text(r, i, 10);
  s.in.action = Text(r, i, 11);
  s.in.policy_version = Int(r, i, 12);
  s.review_id = Int(r, i, 13);
  return s;
}

ReviewItem ReviewFromRow(const PGresult* r, int i) {
  ReviewItem v;
  v.id = Int(r, i, 0);
  v.submission_id = Int(r, i, 1);
  v.priority = static_cast<int>(Int(r, i, 2));
  v.state = static_cast<ReviewState>(Int(r, i, 3));
  v.dedupe_key = Text(r, i, 4);
  v.signals_json = Text(r, i, 5);
  v.media_type = Text(r, i, 6);
  v.has_media = Int(r, i, 7) != 0;
  v.lease_owner = Text(r, i, 8);
  v.lease_until_ms = Int(r, i, 9);
  v.created_ms = Int(r, i, 10);
  v.verdict = static_cast<ReviewVerdict>(Int(r, i, 11));
  v.reviewer = Text(r, i, 12);
  v.note = Text(r, i, 13);
  v.decided_ms = Int(r, i, 14);
  return v;
}

AuditEvent AuditFromRow(const PGresult* r, int i) {
  AuditEvent e;
  e.seq = Int(r, i, 0);
  e.time_ms = Int(r, i, 1);
  e.actor = Text(r, i, 2);
  e.kind = Text(r, i, 3);
  e.subject = Text(r, i, 4);
  e.details_json = Text(r, i, 5);
  e.prev_hash = Text(r, i, 6);
  e.hash = Text(r, i, 7);
  return e;
}

ApiKeyRecord KeyFromRow(const PGresult* r, int i) {
  ApiKeyRecord k;
  k.id = Int(r, i, 0);
  k.name = Text(r, i, 1);
  k.scopes = static_cast<uint32_t>(Int(r, i, 2));
  k.salt_hex = Text(r, i, 3);
  k.hash_hex = Text(r, i, 4);
  k.created_ms = Int(r, i, 5);
  k.revoked = Int(r, i, 6) != 0;
  return k;
}

OutboxMessage OutboxFromRow(const PGresult* r, int i) {
  OutboxMessage m;
  m.id = Int(r, i, 0);
  m.name = Text(r, i, 1);
  m.url = Text(r, i, 2);
  m.body_json = Text(r, i, 3);
  m.attempts = static_cast<int>(Int(r, i, 4));
  m.created_ms = Int(r, i, 5);
  m.next_attempt_ms = Int(r, i, 6);
  m.delivered_ms = Int(r, i, 7);
  m.last_error = Text(r, i, 8);
  m.state = static_cast<OutboxMessage::State>(Int(r, i, 9));
  return m;
}

// Media travels as bytea's text form ("\x" and hex digits): the statement
// helpers pass text parameters only, and media are small enough (kept
// uploads) that doubling them on the wire costs little.
std::string ByteaLiteral(std::string_view bytes) {
  return "\\x" + BytesToHex(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

Result<std::string> FromBytea(const PGresult* r, int row, int col) {
  size_t n = 0;
  unsigned char* p =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r, row, col)), &n);
  if (p == nullptr) return Status::IoError("postgres: cannot decode bytea (out of memory?)");
  std::string out(reinterpret_cast<const char*>(p), n);
  PQfreemem(p);
  return out;
}

class PgRecordStore final : public RecordStore {
 public:
  explicit PgRecordStore(PGconn* conn) : db_(conn) {}

  Status Migrate() {
    return InTransaction([&]() -> Status {
      if (Status s =
              db_.Script("CREATE TABLE IF NOT EXISTS rec_schema(version INTEGER PRIMARY KEY)");
          !s.ok())
        return s;
      Result<ResultPtr> v = db_.Exec("SELECT COALESCE(MAX(version), 0) FROM rec_schema");
      if (!v.ok()) return v.status();
      const int64_t version = Int(v->get(), 0, 0);
      if (version > kRecPgVersion) {
        return Status::Unsupported("records schema version " + std::to_string(version) +
                                   " is newer than this build's " + std::to_string(kRecPgVersion));
      }
      for (int64_t i = version; i < kRecPgVersion; ++i) {
        if (Status s = db_.Script(kRecPgMigrations[i]); !s.ok()) {
          return Status::Corrupt("migrating the records to schema version " +
                                 std::to_string(i + 1) + ": " + s.message());
        }
        if (Status s = db_.Exec("INSERT INTO rec_schema(version) VALUES($1)", Params().Add(i + 1))
                           .status();
            !s.ok())
          return s;
      }
      return Status::Ok();
    });
  }

  int SchemaVersion() const override { return kRecPgVersion; }

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
        if (Status sp = db_.Script("SAVEPOINT rec_submit"); !sp.ok()) return sp;
        SubmitOutcome out;
        Status one = SubmitOne(r.submission, r.review, r.webhooks, r.audit, &out);
        // A failed statement leaves the transaction aborted until it goes
        // back to the savepoint.
        if (!one.ok()) {
          if (Status back = db_.Script("ROLLBACK TO SAVEPOINT rec_submit"); !back.ok()) return back;
        }
        if (Status rel = db_.Script("RELEASE SAVEPOINT rec_submit"); !rel.ok()) return rel;
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
    Result<ResultPtr> r = db_.Exec(
        std::string("SELECT ") + kSubmissionColumns + " FROM rec_submissions s WHERE s.id=$1",
        Params().Add(id));
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0) return Status::NotFound("no submission " + std::to_string(id));
    return SubmissionFromRow(r->get(), 0);
  }

  Result<std::vector<SubmissionRecord>> FindSubmissions(std::string_view content_id) override {
    Result<ResultPtr> r =
        db_.Exec(std::string("SELECT ") + kSubmissionColumns +
                     " FROM rec_submissions s WHERE s.content_id=$1 ORDER BY s.id",
                 Params().Add(content_id));
    if (!r.ok()) return r.status();
    std::vector<SubmissionRecord> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) out.push_back(SubmissionFromRow(r->get(), i));
    return out;
  }

  Result<int64_t> CountSubmissions() override {
    return Count("SELECT COUNT(*) FROM rec_submissions", {});
  }

  Result<std::optional<ReviewItem>> LeaseNextReview(std::string_view reviewer, int64_t now_ms,
                                                    int64_t lease_ms,
                                                    const std::vector<AuditInput>& audit) override {
    std::optional<ReviewItem> leased;
    Status s = InTransaction([&]() -> Status {
      Result<ResultPtr> pick = db_.Exec(
          "SELECT id FROM rec_reviews WHERE state < 2 AND (state = 0 OR lease_until_ms < $1) "
          "ORDER BY priority DESC, created_ms, id LIMIT 1",
          Params().Add(now_ms));
      if (!pick.ok()) return pick.status();
      if (PQntuples(pick->get()) == 0) return Status::Ok();
      const int64_t id = Int(pick->get(), 0, 0);
      if (Status r = db_.Exec("UPDATE rec_reviews SET state=1, lease_owner=$2, lease_until_ms=$3 "
                              "WHERE id=$1",
                              Params().Add(id).Add(reviewer).Add(now_ms + lease_ms))
                         .status();
          !r.ok())
        return r;
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
    Result<ResultPtr> r =
        db_.Exec(std::string("SELECT ") + kReviewColumns + " FROM rec_reviews r WHERE r.id=$1",
                 Params().Add(id));
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0) return Status::NotFound("no review item " + std::to_string(id));
    return ReviewFromRow(r->get(), 0);
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
      if (Status r = db_.Exec("UPDATE rec_reviews SET state=2, verdict=$2, reviewer=$3, note=$4, "
                              "decided_ms=$5 WHERE id=$1",
                              Params()
                                  .Add(id)
                                  .Add(static_cast<int64_t>(verdict))
                                  .Add(reviewer)
                                  .Add(note)
                                  .Add(now_ms))
                         .status();
          !r.ok())
        return r;
      if (verdict == ReviewVerdict::kConfirm && !item->dedupe_key.empty()) {
        // Items nobody holds (queued, or their lease ran out) are the same
        // content: a person need not see them again.
        if (Status r = db_.Exec("UPDATE rec_reviews SET state=2, verdict=1, reviewer=$3, "
                                "decided_ms=$4, duplicate_of=$1 WHERE dedupe_key=$2 AND id <> $1 "
                                "AND (state = 0 OR (state = 1 AND lease_until_ms < $4))",
                                Params()
                                    .Add(id)
                                    .Add(item->dedupe_key)
                                    .Add(records_internal::DuplicateReviewer(id))
                                    .Add(now_ms))
                           .status();
            !r.ok())
          return r;
      }
      if (verdict == ReviewVerdict::kFalsePositive) {
        // Nothing to preserve: no one should see benign content again.
        if (Status r = db_.Exec("DELETE FROM rec_review_media WHERE review_id=$1", Params().Add(id))
                           .status();
            !r.ok())
          return r;
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
      Result<ResultPtr> r = db_.Exec(
          "SELECT r.media_type, m.bytes FROM rec_review_media m JOIN rec_reviews r ON r.id = "
          "m.review_id WHERE m.review_id=$1",
          Params().Add(id));
      if (!r.ok()) return r.status();
      if (PQntuples(r->get()) == 0) {
        return Status::NotFound("no media kept for review item " + std::to_string(id));
      }
      Result<std::string> bytes = FromBytea(r->get(), 0, 1);
      if (!bytes.ok()) return bytes.status();
      media = {Text(r->get(), 0, 0), std::move(*bytes)};
      if (Status e = db_.Exec("INSERT INTO rec_exposure(reviewer, review_id, originals) "
                              "VALUES($1, $2, $3) ON CONFLICT(reviewer, review_id) DO UPDATE SET "
                              "originals = rec_exposure.originals + excluded.originals",
                              Params().Add(reviewer).Add(id).Add(int64_t{original ? 1 : 0}))
                         .status();
          !e.ok())
        return e;
      return Append(audit, NowMs());
    });
    if (!s.ok()) return s;
    return media;
  }

  Result<std::vector<ExposureRecord>> ReviewerExposure() override {
    Result<ResultPtr> r = db_.Exec(
        "SELECT reviewer, COUNT(*), SUM(originals) FROM rec_exposure GROUP BY reviewer "
        "ORDER BY reviewer COLLATE \"C\"");
    if (!r.ok()) return r.status();
    std::vector<ExposureRecord> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      out.push_back(ExposureRecord{Text(r->get(), i, 0), Int(r->get(), i, 1), Int(r->get(), i, 2)});
    }
    return out;
  }

  Result<int64_t> CountReviews(ReviewState state) override {
    return Count("SELECT COUNT(*) FROM rec_reviews WHERE state=$1",
                 Params().Add(static_cast<int64_t>(state)));
  }

  Status AppendAudit(const std::vector<AuditInput>& audit) override {
    return InTransaction([&] { return Append(audit, NowMs()); });
  }

  // Pages through the log by seq (keyset pagination): memory stays bounded.
  Status ForEachAudit(int64_t after_seq,
                      const std::function<Status(const AuditEvent&)>& fn) override {
    constexpr size_t kPage = 1000;
    for (;;) {
      Result<std::vector<AuditEvent>> page = ListAudit(after_seq, kPage);
      if (!page.ok()) return page.status();
      for (const AuditEvent& e : *page) {
        after_seq = e.seq;
        if (Status s = fn(e); !s.ok()) return s;
      }
      if (page->size() < kPage) return Status::Ok();
    }
  }

  Result<std::vector<AuditEvent>> ListAudit(int64_t after_seq, size_t limit) override {
    Result<ResultPtr> r = db_.Exec(std::string("SELECT ") + kAuditColumns +
                                       " FROM rec_audit WHERE seq>$1 ORDER BY seq LIMIT $2",
                                   Params().Add(after_seq).Add(static_cast<int64_t>(limit)));
    if (!r.ok()) return r.status();
    std::vector<AuditEvent> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) out.push_back(AuditFromRow(r->get(), i));
    return out;
  }

  Result<int64_t> CreateApiKey(const ApiKeyRecord& key,
                               const std::vector<AuditInput>& audit) override {
    if (Status s = records_internal::ValidateApiKey(key); !s.ok()) return s;
    int64_t id = 0;
    Status s = InTransaction([&]() -> Status {
      // Checked under the writers' lock, so the answer cannot go stale (a
      // race would still fail on the UNIQUE constraint, as kInvalidArgument).
      if (GetApiKeyByName(key.name).ok()) {
        return Status::InvalidArgument("an API key named '" + key.name + "' exists");
      }
      Result<ResultPtr> ins = db_.Exec(
          "INSERT INTO rec_api_keys(name, scopes, salt_hex, hash_hex, created_ms) "
          "VALUES($1, $2, $3, $4, $5) RETURNING id",
          Params()
              .Add(key.name)
              .Add(int64_t{key.scopes})
              .Add(key.salt_hex)
              .Add(key.hash_hex)
              .Add(key.created_ms));
      if (!ins.ok()) return ins.status();
      id = Int(ins->get(), 0, 0);
      return Append(audit, key.created_ms != 0 ? key.created_ms : NowMs());
    });
    if (!s.ok()) return s;
    return id;
  }

  Result<ApiKeyRecord> GetApiKey(int64_t id) override {
    return OneKey(std::string("SELECT ") + kKeyColumns + " FROM rec_api_keys WHERE id=$1",
                  Params().Add(id), "no API key " + std::to_string(id));
  }

  Result<ApiKeyRecord> GetApiKeyByName(std::string_view name) override {
    return OneKey(std::string("SELECT ") + kKeyColumns + " FROM rec_api_keys WHERE name=$1",
                  Params().Add(name), "no API key named '" + std::string(name) + "'");
  }

  Result<std::vector<ApiKeyRecord>> ListApiKeys() override {
    Result<ResultPtr> r =
        db_.Exec(std::string("SELECT ") + kKeyColumns + " FROM rec_api_keys ORDER BY id");
    if (!r.ok()) return r.status();
    std::vector<ApiKeyRecord> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) out.push_back(KeyFromRow(r->get(), i));
    return out;
  }

  Status RevokeApiKey(int64_t id, const std::vector<AuditInput>& audit) override {
    return InTransaction([&]() -> Status {
      Result<ResultPtr> r =
          db_.Exec("UPDATE rec_api_keys SET revoked=1 WHERE id=$1 RETURNING id", Params().Add(id));
      if (!r.ok()) return r.status();
      if (PQntuples(r->get()) == 0) return Status::NotFound("no API key " + std::to_string(id));
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
      if (Status r = db_.Exec("INSERT INTO rec_policies(version, text, actor, created_ms) "
                              "VALUES($1, $2, $3, $4)",
                              Params().Add(version).Add(text).Add(actor).Add(now_ms))
                         .status();
          !r.ok())
        return r;
      return Append(audit, now_ms);
    });
    if (!s.ok()) return s;
    return version;
  }

  Result<std::optional<PolicyRecord>> GetPolicy(int64_t version) override {
    Result<ResultPtr> r =
        version == 0 ? db_.Exec(
                           "SELECT version, text, actor, created_ms FROM rec_policies ORDER BY "
                           "version DESC LIMIT 1")
                     : db_.Exec(
                           "SELECT version, text, actor, created_ms FROM rec_policies WHERE "
                           "version=$1",
                           Params().Add(version));
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0) return std::optional<PolicyRecord>();
    const PGresult* p = r->get();
    return std::optional<PolicyRecord>(
        PolicyRecord{Int(p, 0, 0), Text(p, 0, 1), Text(p, 0, 2), Int(p, 0, 3)});
  }

  Result<std::vector<OutboxMessage>> DueOutbox(int64_t now_ms, size_t limit) override {
    Result<ResultPtr> r = db_.Exec(std::string("SELECT ") + kOutboxColumns +
                                       " FROM rec_outbox WHERE state=0 AND next_attempt_ms<=$1 "
                                       "ORDER BY id LIMIT $2",
                                   Params().Add(now_ms).Add(static_cast<int64_t>(limit)));
    if (!r.ok()) return r.status();
    std::vector<OutboxMessage> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) out.push_back(OutboxFromRow(r->get(), i));
    return out;
  }

  Status MarkDelivered(int64_t id, int64_t now_ms) override {
    return InTransaction([&]() -> Status {
      if (Status r = CheckPending(id); !r.ok()) return r;
      return db_
          .Exec("UPDATE rec_outbox SET state=1, attempts=attempts+1, delivered_ms=$2 WHERE id=$1",
                Params().Add(id).Add(now_ms))
          .status();
    });
  }

  Status MarkFailed(int64_t id, int64_t next_attempt_ms, std::string_view error,
                    bool dead) override {
    return InTransaction([&]() -> Status {
      if (Status r = CheckPending(id); !r.ok()) return r;
      const auto state = dead ? OutboxMessage::State::kDead : OutboxMessage::State::kPending;
      return db_
          .Exec(
              "UPDATE rec_outbox SET state=$4, attempts=attempts+1, next_attempt_ms=$2, "
              "last_error=$3 WHERE id=$1",
              Params().Add(id).Add(next_attempt_ms).Add(error).Add(static_cast<int64_t>(state)))
          .status();
    });
  }

  Result<int64_t> CountOutbox(OutboxMessage::State state) override {
    return Count("SELECT COUNT(*) FROM rec_outbox WHERE state=$1",
                 Params().Add(static_cast<int64_t>(state)));
  }

 private:
  // Runs fn inside BEGIN ... COMMIT with the records writers' lock; rolls
  // back on any error.
  Status InTransaction(const std::function<Status()>& fn) {
    if (Status s = db_.Script("BEGIN"); !s.ok()) return s;
    Status s = db_.Exec(kRecordsLockSql).status();
    if (s.ok()) s = fn();
    if (s.ok()) s = db_.Script("COMMIT");
    if (!s.ok()) (void)db_.Script("ROLLBACK");
    return s;
  }

  // One submission. REQUIRES: inside InTransaction.
  Status SubmitOne(const SubmissionInput& in, const std::optional<ReviewInput>& review,
                   const std::vector<WebhookInput>& webhooks, const std::vector<AuditInput>& audit,
                   SubmitOutcome* out) {
    if (review) {
      if (Status s = records_internal::ValidateReviewInput(*review); !s.ok()) return s;
    }
    Result<ResultPtr> ins = db_.Exec(
        "INSERT INTO rec_submissions(content_id, uploader_id, surface, content_kind, "
        "content_time_ms, received_ms, actor, signals_json, matches_json, decision_json, "
        "action, policy_version) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
        "RETURNING id",
        Params()
            .Add(in.content_id)
            .Add(in.uploader_id)
            .Add(in.surface)
            .Add(in.content_kind)
            .Add(in.content_time_ms)
            .Add(in.received_ms)
            .Add(in.actor)
            .Add(in.signals_json)
            .Add(in.matches_json)
            .Add(in.decision_json)
            .Add(in.action)
            .Add(in.policy_version));
    if (!ins.ok()) return ins.status();
    out->submission_id = Int(ins->get(), 0, 0);
    if (review) {
      if (Status r = AddReview(out->submission_id, in.received_ms, *review, out); !r.ok()) {
        return r;
      }
    }
    if (Status r = Enqueue(webhooks, in.received_ms); !r.ok()) return r;
    return Append(audit, in.received_ms);
  }

  Status AddReview(int64_t submission_id, int64_t created_ms, const ReviewInput& review,
                   SubmitOutcome* out) {
    if (!review.dedupe_key.empty()) {
      // The item a person confirmed (not one closed as its duplicate).
      Result<ResultPtr> q = db_.Exec(
          "SELECT id FROM rec_reviews WHERE dedupe_key=$1 AND verdict=1 AND duplicate_of=0 "
          "ORDER BY id LIMIT 1",
          Params().Add(review.dedupe_key));
      if (!q.ok()) return q.status();
      if (PQntuples(q->get()) > 0) {
        out->already_confirmed_review = Int(q->get(), 0, 0);
        return Status::Ok();
      }
    }
    Result<ResultPtr> ins = db_.Exec(
        "INSERT INTO rec_reviews(submission_id, priority, dedupe_key, signals_json, media_type, "
        "created_ms) VALUES($1, $2, $3, $4, $5, $6) RETURNING id",
        Params()
            .Add(submission_id)
            .Add(int64_t{review.priority})
            .Add(review.dedupe_key)
            .Add(review.signals_json)
            .Add(review.media_type)
            .Add(created_ms));
    if (!ins.ok()) return ins.status();
    out->review_id = Int(ins->get(), 0, 0);
    if (review.media.empty()) return Status::Ok();
    return db_
        .Exec("INSERT INTO rec_review_media(review_id, bytes) VALUES($1, $2::bytea)",
              Params().Add(out->review_id).Add(ByteaLiteral(review.media)))
        .status();
  }

  Status Enqueue(const std::vector<WebhookInput>& webhooks, int64_t now_ms) {
    for (const WebhookInput& w : webhooks) {
      if (Status r = db_.Exec("INSERT INTO rec_outbox(name, url, body_json, created_ms, "
                              "next_attempt_ms) VALUES($1, $2, $3, $4, $4)",
                              Params().Add(w.name).Add(w.url).Add(w.body_json).Add(now_ms))
                         .status();
          !r.ok())
        return r;
    }
    return Status::Ok();
  }

  // Appends to the audit chain. REQUIRES: inside InTransaction (the lock is
  // held, so the head read here stays the head until COMMIT).
  Status Append(const std::vector<AuditInput>& audit, int64_t default_time_ms) {
    if (audit.empty()) return Status::Ok();
    Result<ResultPtr> head = db_.Exec("SELECT seq, hash FROM rec_audit ORDER BY seq DESC LIMIT 1");
    if (!head.ok()) return head.status();
    const bool any = PQntuples(head->get()) > 0;
    AuditChainer chain(any ? Int(head->get(), 0, 0) : 0,
                       any ? Text(head->get(), 0, 1) : std::string(kAuditGenesisHash),
                       default_time_ms);
    for (const AuditInput& in : audit) {
      Result<AuditEvent> e = chain.Next(in);
      if (!e.ok()) return e.status();
      if (Status r = db_.Exec(std::string("INSERT INTO rec_audit(") + kAuditColumns +
                                  ") VALUES($1, $2, $3, $4, $5, $6, $7, $8)",
                              Params()
                                  .Add(e->seq)
                                  .Add(e->time_ms)
                                  .Add(e->actor)
                                  .Add(e->kind)
                                  .Add(e->subject)
                                  .Add(e->details_json)
                                  .Add(e->prev_hash)
                                  .Add(e->hash))
                         .status();
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
    Result<ResultPtr> r = db_.Exec("SELECT state FROM rec_outbox WHERE id=$1", Params().Add(id));
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0)
      return Status::NotFound("no outbox message " + std::to_string(id));
    if (Int(r->get(), 0, 0) != static_cast<int64_t>(OutboxMessage::State::kPending)) {
      return Status::FailedPrecondition("outbox message " + std::to_string(id) +
                                        " is no longer pending");
    }
    return Status::Ok();
  }

  Result<int64_t> Count(const std::string& sql, const Params& params) {
    Result<ResultPtr> r = db_.Exec(sql, params);
    if (!r.ok()) return r.status();
    return Int(r->get(), 0, 0);
  }

  Result<ApiKeyRecord> OneKey(const std::string& sql, const Params& params,
                              const std::string& missing) {
    Result<ResultPtr> r = db_.Exec(sql, params);
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0) return Status::NotFound(missing);
    return KeyFromRow(r->get(), 0);
  }

  PgConnection db_;
};

}  // namespace

Result<std::unique_ptr<RecordStore>> OpenPostgresRecordStore(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (conn == nullptr) return Status::IoError("postgres: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    PQfinish(conn);
    return Status::IoError("postgres: " + message);
  }
  // The server's notices ("relation ... already exists, skipping" on every
  // open) are not errors; a service should not print them on stderr.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  auto store = std::make_unique<PgRecordStore>(conn);
  if (Status s = store->Migrate(); !s.ok()) return s;
  return std::unique_ptr<RecordStore>(std::move(store));
}

}  // namespace safeguard
