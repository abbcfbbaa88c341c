// What the SQLite and PostgreSQL record stores share (internal to the store
// library): input checks, the chaining of audit events, the clock.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "safeguard/store/records.h"

namespace safeguard::records_internal {

// The system clock in Unix milliseconds, for audit events whose caller gave
// no time.
int64_t NowMs();

// Errors: kInvalidArgument (priority outside 0..100).
Status ValidateReviewInput(const ReviewInput& review);

// Errors: kInvalidArgument (empty name).
Status ValidateApiKey(const ApiKeyRecord& key);

// Appends audit events to a chain whose newest event is (seq, hash); an
// empty chain is (0, kAuditGenesisHash). Backends call it inside their
// writing transaction, after reading the head under their lock.
class AuditChainer {
 public:
  AuditChainer(int64_t last_seq, std::string last_hash, int64_t default_time_ms)
      : last_seq_(last_seq), last_hash_(std::move(last_hash)), default_time_ms_(default_time_ms) {}

  // The next event, with seq, prev_hash and hash filled in; a time_ms of 0
  // becomes the operation's time. Errors: kInvalidArgument (details_json is
  // not a JSON document); the chain is then unchanged.
  Result<AuditEvent> Next(const AuditInput& in);

 private:
  int64_t last_seq_;
  std::string last_hash_;
  int64_t default_time_ms_;
};

// Submission.action, content kinds and verdicts are the engine's words; the
// store checks only what its own queries rely on.
constexpr int kMinReviewPriority = 0;
constexpr int kMaxReviewPriority = 100;

// Reviewer name given to queued items a confirmation closes.
std::string DuplicateReviewer(int64_t confirmed_id);

}  // namespace safeguard::records_internal
