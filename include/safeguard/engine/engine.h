// Engine: what the service does, without HTTP. Content in -> signals ->
// matches against every enabled bank -> a policy decision -> one committed
// record (submission, decision, review item, webhooks, audit events); the
// review queue and its feedback into the platform's own banks; bank, policy
// and key administration, each audited.
//
// Every answer is a JSON value because that is what the service returns;
// errors are Status values whose codes the API maps to HTTP statuses
// (kInvalidArgument -> 400, kNotFound -> 404, kPermissionDenied -> 403,
// kFailedPrecondition -> 409, kLimitExceeded -> 413, kCorrupt/kUnsupported
// -> 422). A call that fails changes nothing.
//
// Example:
//   Result<std::unique_ptr<Engine>> engine = Engine::Open(config);
//   Result<Principal> who = (*engine)->Authenticate(token);
//   Result<nlohmann::json> answer = (*engine)->SubmitContent(*who, bytes, meta);
//
// Thread safety: every method may be called from any number of threads at
// once. Lookups and the hashing of submissions run in parallel; writes to
// the stores are serialised inside.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "safeguard/core/status.h"
#include "safeguard/engine/config.h"

namespace safeguard {

// API key scopes (a bit set). Part of the stored key format: never renumber.
enum Scope : uint32_t {
  kScopeSubmit = 1u << 0,  // submit content and lookups
  kScopeReview = 1u << 1,  // lease, view and decide review items
  kScopeAdmin = 1u << 2,   // banks, policy, audit, submissions
};
// "submit,review" -> bits. Errors: kInvalidArgument naming the unknown scope.
Result<uint32_t> ParseScopes(std::string_view text);
std::string ScopesToString(uint32_t scopes);

class RecordStore;

// Makes a new API key in `records` and returns its token, shown once: only a
// salted hash is stored. Errors: kInvalidArgument (name taken or malformed,
// no scopes). Engine::CreateKey and `safeguard keys create` both use it.
Result<std::string> MintApiKey(RecordStore& records, std::string_view name, uint32_t scopes,
                               std::string_view actor);

// Who is calling: an authenticated API key.
struct Principal {
  int64_t key_id = 0;
  std::string name;
  uint32_t scopes = 0;
  bool Has(Scope s) const { return (scopes & s) != 0; }
};

// The platform's facts about a piece of content.
struct ContentMeta {
  std::string content_id;   // the platform's own id (free text, <= 256 bytes)
  std::string uploader_id;  // <= 256 bytes
  std::string surface;      // e.g. "profile-photo", "chat"; <= 64 bytes
  int64_t content_time_ms = 0;
};

// Counts for /metrics and /readyz.
struct EngineStats {
  int64_t index_entries = 0;
  int64_t index_sequence = 0;
  int64_t review_queued = 0;
  int64_t review_leased = 0;
  int64_t outbox_pending = 0;
  int64_t outbox_dead = 0;
  int64_t submissions = 0;
  std::vector<std::pair<std::string, int64_t>> matches_per_bank;  // since start
};

class Engine {
 public:
  // Opens the stores named by config.store_url (bank store and records in
  // the same database), creates the platform's own block and allow banks
  // when missing, builds the indexes, loads the newest stored policy (the
  // default policy when none), and starts the index follower and the webhook
  // delivery threads.
  static Result<std::unique_ptr<Engine>> Open(const ServiceConfig& config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const ServiceConfig& config() const;

  // --- keys -----------------------------------------------------------------
  // A new API key; returns the token, shown once (only a salted hash is
  // stored). Errors: kInvalidArgument (name taken or malformed, no scopes).
  Result<std::string> CreateKey(std::string_view name, uint32_t scopes, std::string_view actor);
  Status RevokeKey(int64_t id, std::string_view actor);
  // Errors: kPermissionDenied for any token that is not a live key (the
  // message does not say which part was wrong).
  Result<Principal> Authenticate(std::string_view token);

  // --- content --------------------------------------------------------------
  // Hashes the bytes (an image gets PDQ and its dihedral variants; any file
  // gets MD5, SHA-1, SHA-256), matches, decides, commits. Media is kept only
  // when the decision sends it to review.
  Result<nlohmann::json> SubmitContent(const Principal& who, std::string_view bytes,
                                       const ContentMeta& meta);
  // Signals computed elsewhere: {"signals": [{"type": "pdq", "value": hex,
  // "quality": 0..100 (optional)}, {"type": "md5", "value": hex}, ...],
  // "content_id": ..., "uploader_id": ..., "surface": ...}. A lookup whose
  // decision is not allow is committed like a submission (no media); an
  // allow is answered and not stored.
  Result<nlohmann::json> Lookup(const Principal& who, const nlohmann::json& request);
  // One chat message, as `safeguard text score` reads a line (docs/text.md,
  // "Input"): scored for grooming risk within its conversation, then decided
  // by policy with text_risk = the conversation's score (content kind
  // "message"). The text is never stored. The message is committed (ids and
  // the assessment, no text) when the decision asks for review and the
  // conversation's risk level rose with this message, or when it blocks;
  // otherwise it is answered and not stored, so a conversation is queued once
  // per level, not once per message.
  Result<nlohmann::json> SubmitMessage(const Principal& who, std::string_view body);
  // Admin: a stored submission with its decision and the evidence for it.
  Result<nlohmann::json> GetSubmission(int64_t id);

  // --- review ---------------------------------------------------------------
  // Leases the most urgent item to the caller; null when the queue is empty.
  Result<nlohmann::json> NextReview(const Principal& who);
  // verdict: "confirm" (hashes join config.own_block_bank), "false_positive"
  // (they join config.own_allow_bank; kept media is deleted), "escalate".
  // Errors: kFailedPrecondition when the caller does not hold the lease.
  Result<nlohmann::json> DecideReview(const Principal& who, int64_t id, std::string_view verdict,
                                      std::string_view note);
  // (content type, bytes): a blurred greyscale JPEG rendition, or the
  // original when `original` (audited separately). Counts exposure.
  Result<std::pair<std::string, std::string>> ReviewMedia(const Principal& who, int64_t id,
                                                          bool original);
  Result<nlohmann::json> ReviewerExposure();

  // --- banks (admin) --------------------------------------------------------
  // Bank metadata and entry counts only: entry values are never listed here.
  Result<nlohmann::json> ListBanks();
  // {"name", "kind": "block"|"allow", "description", "source", "labels": {},
  //  "pdq_max_distance", "pdq_min_quality", "enabled"}
  Result<nlohmann::json> CreateBank(const Principal& who, const nlohmann::json& spec);
  Result<nlohmann::json> ImportBank(const Principal& who, std::string_view name,
                                    std::string_view format, std::string_view signal,
                                    bool skip_invalid, std::string_view body);
  Result<nlohmann::json> SetBankEnabled(const Principal& who, std::string_view name, bool enabled);
  Result<nlohmann::json> RemoveEntry(const Principal& who, std::string_view name,
                                     std::string_view signal, std::string_view value,
                                     std::string_view reason);

  // --- policy (admin) -------------------------------------------------------
  Result<nlohmann::json> GetPolicy();
  // Checks a policy document without storing it: {"valid": true, ...} or
  // kInvalidArgument with the reason.
  Result<nlohmann::json> ValidatePolicy(std::string_view text);
  // Stores a new version and makes it live for every later decision.
  Result<nlohmann::json> PutPolicy(const Principal& who, std::string_view text);

  // --- audit (admin) --------------------------------------------------------
  Result<nlohmann::json> ListAudit(int64_t after_seq, size_t limit);
  // Events verified; kCorrupt naming the first bad one.
  Result<int64_t> VerifyAudit();

  // --- operations -----------------------------------------------------------
  EngineStats Stats();
  // Applies the bank change log now (the follower thread also does, every
  // config.index_refresh_ms).
  Status RefreshIndex();
  // Delivers due webhook messages now; returns how many were attempted.
  Result<int> DeliverWebhooks();

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace safeguard
