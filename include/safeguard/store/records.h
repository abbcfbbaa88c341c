// RecordStore: what the matching service persists besides banks.
//
// Submissions with their decisions, the review queue (leases, verdicts, the
// media kept for reviewers, reviewer exposure), the hash-chained audit log,
// API keys, policy versions and the webhook outbox. It lives in the same
// database as the banks (same URL, see OpenStore in store.h) in its own
// tables (prefix `rec_`) with its own schema version, over its own
// connection.
//
// Every method that changes something is one transaction: all of it or none
// of it. On SQLite a commit is fsynced (WAL, synchronous=FULL): a method that
// returned OK survives a crash and a power loss.
//
// Example:
//   Result<std::unique_ptr<RecordStore>> records = OpenRecordStore(kDefaultStoreUrl);
//   if (!records.ok()) return records.status();
//   Result<SubmitOutcome> out = (*records)->Submit(submission, review, webhooks, audit);
//
// Thread safety: a RecordStore is used by one thread at a time (wrap it in a
// mutex to share). Several processes may share one database: on SQLite
// writers are serialised by the database (waiting up to 10 s for a lock); on
// PostgreSQL every writing transaction takes an advisory lock, so the audit
// chain stays linear.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "safeguard/core/status.h"

namespace safeguard {

// ---------------------------------------------------------------------------
// Audit

// An audit event to append; the store assigns seq, prev_hash and hash.
// details_json must be a valid JSON document (kInvalidArgument otherwise).
// time_ms 0 means "the time of the operation": received_ms for Submit, now_ms
// where the method takes one, else the system clock.
struct AuditInput {
  std::string actor;  // who: an API key name, a reviewer, "system"
  // Kinds the engine uses: "decision", "review.lease", "review.decision",
  // "bank.create", "bank.import", "bank.enable", "bank.disable",
  // "bank.remove_entry", "policy.put", "media.view", "media.view_original",
  // "key.create", "key.revoke". The store accepts any string.
  std::string kind;
  std::string subject;  // what: e.g. "submission:12", "review:3", "bank:hotline"
  std::string details_json = "{}";
  int64_t time_ms = 0;
};

// A stored audit event. Sequence numbers start at 1 and have no gaps.
struct AuditEvent {
  int64_t seq = 0;
  int64_t time_ms = 0;
  std::string actor, kind, subject, details_json;
  std::string prev_hash;  // hex; the previous event's hash, kAuditGenesisHash for seq 1
  std::string hash;       // hex SHA-256, AuditEventHash(*this)
};

// The prev_hash of the first event: 64 zeros.
inline constexpr std::string_view kAuditGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// The chain hash of an event: lowercase hex SHA-256 over, in this order,
// prev_hash, seq, time_ms, actor, kind, subject, details_json, each field
// encoded as an 8-byte big-endian length followed by its bytes (integers as
// their 8-byte big-endian two's complement, so their length is 8). The
// encoding is unambiguous: no two different events hash the same bytes.
// Uses every field except e.hash. Part of the database format: never change.
//
// Example: AuditEventHash(event) == event.hash for an untouched event.
std::string AuditEventHash(const AuditEvent& e);

// ---------------------------------------------------------------------------
// Webhook outbox

struct WebhookInput {
  std::string name;  // the policy's webhook name
  std::string url;
  std::string body_json;
};

struct OutboxMessage {
  int64_t id = 0;
  std::string name, url, body_json;
  int attempts = 0;  // delivery attempts so far (failed ones and the delivering one)
  int64_t created_ms = 0, next_attempt_ms = 0, delivered_ms = 0;
  std::string last_error;
  // Part of the database format (stored as these numbers): never renumber.
  enum class State : int { kPending = 0, kDelivered = 1, kDead = 2 } state = State::kPending;
};

// ---------------------------------------------------------------------------
// Submissions and the review queue

struct ReviewInput {
  int priority = 0;  // 0..100 inclusive, higher first; else kInvalidArgument
  // e.g. "sha256:<hex>", "pdq:<hex>": items whose key was confirmed before
  // are never queued again. "" disables deduplication for the item.
  std::string dedupe_key;
  std::string signals_json;  // the hashes a decision feeds back to banks
  std::string media_type;
  std::string media;  // bytes kept for the reviewer; empty when none
};

struct SubmissionInput {
  std::string content_id, uploader_id, surface;
  std::string content_kind;  // image | video | file | hashes
  int64_t content_time_ms = 0, received_ms = 0;
  std::string actor;  // the API key name
  std::string signals_json, matches_json, decision_json;
  std::string action;  // allow | review | block
  int64_t policy_version = 0;
};

struct SubmissionRecord {
  int64_t id = 0;
  SubmissionInput in;
  int64_t review_id = 0;  // 0 when none
};

struct SubmitOutcome {
  int64_t submission_id = 0;
  int64_t review_id = 0;  // 0 when no review item was created
  // Set (instead of review_id) when the review's dedupe_key was confirmed
  // before: the id of the earliest item confirmed with that key.
  int64_t already_confirmed_review = 0;
};

// Part of the database format (stored as these numbers): never renumber.
enum class ReviewState : int { kQueued = 0, kLeased = 1, kDecided = 2 };
// Part of the database format (stored as these numbers): never renumber.
enum class ReviewVerdict : int { kNone = 0, kConfirm = 1, kFalsePositive = 2, kEscalate = 3 };

std::string_view ReviewStateName(ReviewState state);  // "queued", "leased", "decided"
std::string_view ReviewVerdictName(
    ReviewVerdict verdict);  // "none", "confirm", "false_positive", "escalate"
// "confirm", "false_positive", "escalate" (not "none"). Errors: kInvalidArgument.
Result<ReviewVerdict> ParseReviewVerdict(std::string_view name);

struct ReviewItem {
  int64_t id = 0, submission_id = 0;
  int priority = 0;
  ReviewState state = ReviewState::kQueued;
  std::string dedupe_key, signals_json, media_type;
  bool has_media = false;
  std::string lease_owner;  // the last reviewer it was leased to; "" if never
  int64_t lease_until_ms = 0;
  int64_t created_ms = 0;  // the submission's received_ms
  ReviewVerdict verdict = ReviewVerdict::kNone;
  std::string reviewer;  // who decided; "duplicate-of:<id>" when closed by a confirmation
  std::string note;
  int64_t decided_ms = 0;
};

struct ExposureRecord {
  std::string reviewer;
  int64_t items_seen = 0;        // distinct review items whose media the reviewer viewed
  int64_t originals_viewed = 0;  // views of an original (each view counts)
};

// ---------------------------------------------------------------------------
// Keys and policies

struct ApiKeyRecord {
  int64_t id = 0;
  std::string name;     // unique, non-empty
  uint32_t scopes = 0;  // bit set, engine-defined
  std::string salt_hex, hash_hex;
  int64_t created_ms = 0;
  bool revoked = false;
};

struct PolicyRecord {
  int64_t version = 0;  // 1, 2, ...
  std::string text;     // as submitted
  std::string actor;
  int64_t created_ms = 0;
};

// ---------------------------------------------------------------------------

class RecordStore {
 public:
  virtual ~RecordStore() = default;

  // The records schema version this build writes; older ones are migrated
  // forward on open, newer ones refused (kUnsupported).
  virtual int SchemaVersion() const = 0;

  // One transaction: the submission, its review item (if `review`), its
  // webhook messages (created and due at received_ms) and its audit events.
  // All or nothing. The review item is skipped, and already_confirmed_review
  // set, when an item with the same non-empty dedupe_key was confirmed before.
  // Errors: kInvalidArgument (priority out of range, details_json not JSON).
  virtual Result<SubmitOutcome> Submit(const SubmissionInput& submission,
                                       const std::optional<ReviewInput>& review,
                                       const std::vector<WebhookInput>& webhooks,
                                       const std::vector<AuditInput>& audit) = 0;
  // Group commit (an addition to the brief's API): several submissions in
  // one transaction, so one fsync for all of them (on SQLite, about 6 ms
  // each on a typical disk, the bound on Submit's rate). Each request stands
  // alone, as in Submit: one that fails is rolled back to its own savepoint
  // and gets its error in the reply; the others commit. One Result per
  // request, in order; an error of the call itself (the commit failed)
  // means none of them was committed.
  struct SubmitRequest {
    SubmissionInput submission;
    std::optional<ReviewInput> review;
    std::vector<WebhookInput> webhooks;
    std::vector<AuditInput> audit;
  };
  virtual Result<std::vector<Result<SubmitOutcome>>> SubmitBatch(
      const std::vector<SubmitRequest>& requests) = 0;

  // Errors: kNotFound.
  virtual Result<SubmissionRecord> GetSubmission(int64_t id) = 0;
  // In id order.
  virtual Result<std::vector<SubmissionRecord>> FindSubmissions(std::string_view content_id) = 0;
  virtual Result<int64_t> CountSubmissions() = 0;

  // Leases the highest-priority (then oldest: created_ms, then id) item that
  // is queued or whose lease expired (lease_until_ms < now_ms, strict) to
  // `reviewer` until now_ms + lease_ms, and appends the audit events, in one
  // transaction; each event's subject becomes the item leased ("review:ID").
  // nullopt (and no audit) when there is none.
  virtual Result<std::optional<ReviewItem>> LeaseNextReview(
      std::string_view reviewer, int64_t now_ms, int64_t lease_ms,
      const std::vector<AuditInput>& audit) = 0;
  // Errors: kNotFound.
  virtual Result<ReviewItem> GetReview(int64_t id) = 0;

  // REQUIRES: the item is leased to `reviewer` with lease_until_ms >= now_ms
  // (inclusive); else kFailedPrecondition ("already decided", "not leased to
  // you", "lease expired"). Sets state decided, verdict, reviewer, note and
  // decided_ms. kConfirm also decides every other item with the same
  // non-empty dedupe_key that nobody holds (queued, or its lease expired
  // before now_ms) as confirmed (reviewer "duplicate-of:<id>"); an item
  // another reviewer holds stays theirs to decide.
  // kFalsePositive deletes the kept media; kEscalate just records the verdict.
  // Webhooks (due at now_ms) and audit in the same transaction.
  // Errors: kNotFound, kInvalidArgument (verdict kNone), kFailedPrecondition.
  virtual Result<ReviewItem> DecideReview(int64_t id, std::string_view reviewer,
                                          ReviewVerdict verdict, std::string_view note,
                                          int64_t now_ms, const std::vector<WebhookInput>& webhooks,
                                          const std::vector<AuditInput>& audit) = 0;

  // The media kept for a review item as (media_type, bytes); kNotFound when
  // the item or its media does not exist. Records the view for `reviewer`
  // and appends the audit events, in one transaction. Leases are the
  // caller's business: this does not check them.
  virtual Result<std::pair<std::string, std::string>> ViewReviewMedia(
      int64_t id, std::string_view reviewer, bool original,
      const std::vector<AuditInput>& audit) = 0;
  // One record per reviewer who viewed anything, by reviewer name.
  virtual Result<std::vector<ExposureRecord>> ReviewerExposure() = 0;
  // Items in `state` (kLeased counts leases even if expired).
  virtual Result<int64_t> CountReviews(ReviewState state) = 0;

  // Appends standalone events (bank, policy, key changes) as one transaction.
  virtual Status AppendAudit(const std::vector<AuditInput>& audit) = 0;
  // Calls fn for every event with seq > after_seq in seq order; stops at and
  // returns fn's first error. Memory does not grow with the log's size.
  virtual Status ForEachAudit(int64_t after_seq,
                              const std::function<Status(const AuditEvent&)>& fn) = 0;
  // Events with seq > after_seq in seq order, at most `limit`.
  virtual Result<std::vector<AuditEvent>> ListAudit(int64_t after_seq, size_t limit) = 0;

  // Stores a key (its id and `revoked` are ignored) and the audit events;
  // returns the new id. Errors: kInvalidArgument (empty name; name taken).
  virtual Result<int64_t> CreateApiKey(const ApiKeyRecord& key,
                                       const std::vector<AuditInput>& audit) = 0;
  // Errors: kNotFound.
  virtual Result<ApiKeyRecord> GetApiKey(int64_t id) = 0;
  // Errors: kNotFound. (Addition to the brief's API.)
  virtual Result<ApiKeyRecord> GetApiKeyByName(std::string_view name) = 0;
  // By id.
  virtual Result<std::vector<ApiKeyRecord>> ListApiKeys() = 0;
  // Marks the key revoked (again is fine) and appends the audit events.
  // Errors: kNotFound.
  virtual Status RevokeApiKey(int64_t id, const std::vector<AuditInput>& audit) = 0;

  // Stores the next policy version (1, 2, ...) and the audit events; returns
  // the version. The latest version is the live one.
  virtual Result<int64_t> PutPolicy(std::string_view text, std::string_view actor, int64_t now_ms,
                                    const std::vector<AuditInput>& audit) = 0;
  // version 0: the latest. nullopt when there is no such version (none
  // stored, for 0).
  virtual Result<std::optional<PolicyRecord>> GetPolicy(int64_t version) = 0;

  // Pending messages with next_attempt_ms <= now_ms (inclusive), oldest (by
  // id) first, at most `limit`. Several deliverers may see the same message:
  // delivery is at least once.
  virtual Result<std::vector<OutboxMessage>> DueOutbox(int64_t now_ms, size_t limit) = 0;
  // attempts += 1; state delivered. Errors: kNotFound, kFailedPrecondition
  // (not pending).
  virtual Status MarkDelivered(int64_t id, int64_t now_ms) = 0;
  // attempts += 1; last_error; pending again at next_attempt_ms, or dead
  // (never retried) if `dead`. Errors: kNotFound, kFailedPrecondition (not
  // pending).
  virtual Status MarkFailed(int64_t id, int64_t next_attempt_ms, std::string_view error,
                            bool dead) = 0;
  virtual Result<int64_t> CountOutbox(OutboxMessage::State state) = 0;
};

// Opens the records of the database at `url`, with the URL rules of
// OpenStore (store.h): sqlite:PATH or PATH, sqlite::memory: (a private
// in-memory database, NOT the one a Store opened with the same URL sees),
// postgres://..., postgresql://..., libpq keyword strings. Creates or
// migrates the rec_ tables. Errors: kInvalidArgument (unknown scheme),
// kIoError, kCorrupt, kUnsupported (a records schema newer than this build).
Result<std::unique_ptr<RecordStore>> OpenRecordStore(const std::string& url);
Result<std::unique_ptr<RecordStore>> OpenSqliteRecordStore(const std::string& path);
Result<std::unique_ptr<RecordStore>> OpenPostgresRecordStore(const std::string& conninfo);

// Walks the chain from seq 1: recomputes each hash, checks the prev_hash
// links and that seq has no gaps. Returns the number of events verified, or
// kCorrupt naming the first bad seq and what is wrong with it ("audit seq 7:
// ..."). Removing the newest events is not detectable from the chain alone:
// compare with a head (seq, hash) kept elsewhere.
Result<int64_t> VerifyAuditChain(RecordStore& store);

}  // namespace safeguard
