// Shared by both record stores: the audit hash and its verification, names,
// input checks and the URL dispatch.
#include "safeguard/store/records.h"

#include <openssl/evp.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

#include "records_internal.h"
#include "safeguard/core/hash256.h"
#include "store_url.h"

namespace safeguard {
namespace {

// The hash input of one field: its length as 8 big-endian bytes, then its
// bytes. Length prefixes make the concatenation unambiguous ("ab"+"c" and
// "a"+"bc" differ).
void AppendField(std::string* out, std::string_view bytes) {
  uint64_t n = bytes.size();
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((n >> shift) & 0xff));
  }
  out->append(bytes);
}

void AppendField(std::string* out, int64_t v) {
  char be[8];
  const auto u = static_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i) be[i] = static_cast<char>((u >> (56 - 8 * i)) & 0xff);
  AppendField(out, std::string_view(be, 8));
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

}  // namespace

std::string AuditEventHash(const AuditEvent& e) {
  std::string buf;
  buf.reserve(7 * 8 + e.prev_hash.size() + 16 + e.actor.size() + e.kind.size() + e.subject.size() +
              e.details_json.size());
  AppendField(&buf, e.prev_hash);
  AppendField(&buf, e.seq);
  AppendField(&buf, e.time_ms);
  AppendField(&buf, e.actor);
  AppendField(&buf, e.kind);
  AppendField(&buf, e.subject);
  AppendField(&buf, e.details_json);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  // SHA-256 is always available in OpenSSL's default provider; failing here
  // means no memory, and an empty hash then never verifies.
  if (ctx == nullptr || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), buf.data(), buf.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out, &len) != 1) {
    return std::string();
  }
  return BytesToHex(out, len);
}

std::string_view ReviewStateName(ReviewState state) {
  switch (state) {
    case ReviewState::kQueued:
      return "queued";
    case ReviewState::kLeased:
      return "leased";
    case ReviewState::kDecided:
      return "decided";
  }
  return "unknown";
}

std::string_view ReviewVerdictName(ReviewVerdict verdict) {
  switch (verdict) {
    case ReviewVerdict::kNone:
      return "none";
    case ReviewVerdict::kConfirm:
      return "confirm";
    case ReviewVerdict::kFalsePositive:
      return "false_positive";
    case ReviewVerdict::kEscalate:
      return "escalate";
  }
  return "unknown";
}

Result<ReviewVerdict> ParseReviewVerdict(std::string_view name) {
  if (name == "confirm") return ReviewVerdict::kConfirm;
  if (name == "false_positive") return ReviewVerdict::kFalsePositive;
  if (name == "escalate") return ReviewVerdict::kEscalate;
  return Status::InvalidArgument("unknown review verdict '" + std::string(name) +
                                 "' (expected confirm, false_positive or escalate)");
}

Result<std::unique_ptr<RecordStore>> OpenRecordStore(const std::string& url) {
  Result<store_internal::StoreUrl> target = store_internal::ParseStoreUrl(url);
  if (!target.ok()) return target.status();
  if (target->postgres) return OpenPostgresRecordStore(target->target);
  return OpenSqliteRecordStore(target->target);
}

Result<int64_t> VerifyAuditChain(RecordStore& store) {
  int64_t expected_seq = 1;
  std::string prev_hash(kAuditGenesisHash);
  Status s = store.ForEachAudit(0, [&](const AuditEvent& e) -> Status {
    const std::string at = "audit seq " + std::to_string(expected_seq) + ": ";
    if (e.seq != expected_seq) {
      return Status::Corrupt(at + "missing (the next stored event is seq " + std::to_string(e.seq) +
                             ")");
    }
    if (e.prev_hash != prev_hash) {
      return Status::Corrupt(at + "prev_hash does not match the hash of the event before it");
    }
    if (AuditEventHash(e) != e.hash) {
      return Status::Corrupt(at + "hash does not match the event's contents");
    }
    prev_hash = e.hash;
    ++expected_seq;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return expected_seq - 1;
}

namespace records_internal {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status ValidateReviewInput(const ReviewInput& review) {
  if (review.priority < kMinReviewPriority || review.priority > kMaxReviewPriority) {
    return Status::InvalidArgument("review priority must be " + std::to_string(kMinReviewPriority) +
                                   ".." + std::to_string(kMaxReviewPriority) + ", not " +
                                   std::to_string(review.priority));
  }
  return Status::Ok();
}

Status ValidateApiKey(const ApiKeyRecord& key) {
  if (key.name.empty()) return Status::InvalidArgument("an API key needs a name");
  return Status::Ok();
}

Result<AuditEvent> AuditChainer::Next(const AuditInput& in) {
  if (!nlohmann::json::accept(in.details_json)) {
    return Status::InvalidArgument("audit event '" + in.kind +
                                   "': details_json is not a JSON document");
  }
  AuditEvent e;
  e.seq = last_seq_ + 1;
  e.time_ms = in.time_ms != 0 ? in.time_ms : default_time_ms_;
  e.actor = in.actor;
  e.kind = in.kind;
  e.subject = in.subject;
  e.details_json = in.details_json;
  e.prev_hash = last_hash_;
  e.hash = AuditEventHash(e);
  if (e.hash.empty()) return Status::Internal("SHA-256 of an audit event failed");
  last_seq_ = e.seq;
  last_hash_ = e.hash;
  return e;
}

std::string DuplicateReviewer(int64_t confirmed_id) {
  return "duplicate-of:" + std::to_string(confirmed_id);
}

}  // namespace records_internal
}  // namespace safeguard
