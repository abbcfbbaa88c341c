// Store: where banks, their entries and the change log persist.
//
// One interface, several back ends (SQLite embedded by default; PostgreSQL
// for shared deployments, see docs/banks.md). Callers never see SQL.
//
// Example:
//   Result<std::unique_ptr<Store>> store = OpenStore("sqlite:./safeguard-data/safeguard.db");
//   if (!store.ok()) return store.status();
//   Result<Bank> bank = (*store)->CreateBank(BankSpec{.name = "hotline"});
//
// Thread safety: a Store is used by one thread at a time (wrap it in a mutex
// to share). Several processes may open the same SQLite file: writes are
// serialised by the database, readers see committed data only (WAL).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "safeguard/core/status.h"

namespace safeguard {

// Part of the database format (stored as these numbers): never renumber.
enum class BankKind : int {
  kBlock = 0,  // known material: a match is reported
  kAllow = 1,  // known false positives: hits are reported alongside, for policy
};

// Part of the database format (stored as these numbers): never renumber.
enum class SignalType : int {
  kPdq = 0,
  kMd5 = 1,
  kSha1 = 2,
  kSha256 = 3,
  // Video signatures (see SignalHasPayload): the entry's value is the SHA-256
  // of the signature, which the entry carries as its payload.
  kVpdq = 4,  // vPDQ frames, the reference's text (FormatVpdq)
  kTmk = 5,   // TMK+PDQF, the reference's .tmk bytes
};

std::string_view BankKindName(BankKind kind);  // "block", "allow"
Result<BankKind> ParseBankKind(std::string_view name);
// "pdq", "md5", "sha1", "sha256", "vpdq", "tmk".
std::string_view SignalTypeName(SignalType type);
Result<SignalType> ParseSignalType(std::string_view name);

// True for the signals whose entries carry a payload (the video signatures,
// too large and too structured to be a key): their value is
// PayloadKey(payload), the SHA-256 of the payload, so that the bank still
// holds one entry per distinct signature.
constexpr bool SignalHasPayload(SignalType type) {
  return type == SignalType::kVpdq || type == SignalType::kTmk;
}

// Hex digits of a value: 64 for PDQ, SHA-256 and the payload signals, 32 for
// MD5, 40 for SHA-1.
constexpr size_t SignalHexDigits(SignalType type) {
  switch (type) {
    case SignalType::kMd5:
      return 32;
    case SignalType::kSha1:
      return 40;
    case SignalType::kPdq:
    case SignalType::kSha256:
    case SignalType::kVpdq:
    case SignalType::kTmk:
      return 64;
  }
  return 0;
}

// The value of an entry whose signal has a payload: the lowercase hex SHA-256
// of the payload's bytes.
std::string PayloadKey(std::string_view payload);

// The largest payload a store accepts (a vPDQ of every frame of a four-hour
// video at 30 fps is about 36 MiB of text).
inline constexpr size_t kMaxPayloadBytes = size_t{64} << 20;

// Checks a signal value and returns its canonical form: lowercase hex of the
// right length (SignalHexDigits).
// Surrounding spaces are not accepted here: callers trim.
Result<std::string> NormalizeSignalValue(SignalType type, std::string_view value);

// Free-form key/value labels, e.g. {"category": "A1"}. Keys sorted.
using Labels = std::map<std::string, std::string>;

// The PDQ standard: a match is a Hamming distance <= 31 (inclusive), and
// hashes of quality below 50 are not matched.
inline constexpr int kDefaultPdqMaxDistance = 31;
inline constexpr int kDefaultPdqMinQuality = 50;

// What a new bank is made from.
struct BankSpec {
  std::string name;  // unique; 1..kMaxBankNameLength of [A-Za-z0-9._-]
  std::string description;
  BankKind kind = BankKind::kBlock;
  std::string source;  // where its entries come from, e.g. "hotline X"
  Labels labels;
  bool enabled = true;
  int pdq_max_distance = kDefaultPdqMaxDistance;  // inclusive, 0..64
  int pdq_min_quality = kDefaultPdqMinQuality;    // 0..100
};

inline constexpr size_t kMaxBankNameLength = 128;

// Checks a name against the rule on BankSpec::name.
Status ValidateBankName(std::string_view name);

// A bank specification either store accepts: a valid name, a PDQ distance
// threshold in 0..64 and a minimum quality in 0..100. Errors: kInvalidArgument.
Status ValidateBankSpec(const BankSpec& spec);

struct Bank {
  int64_t id = 0;
  BankSpec spec;
  int64_t created_at = 0;  // Unix seconds
};

// Where an entry came from.
struct Provenance {
  std::string source;     // e.g. the file or feed it was imported from
  std::string source_id;  // the source's own id for it, if any
  int64_t added_at = 0;   // Unix seconds
  std::string added_by;   // who imported it (a user or service name)
};

struct Entry {
  int64_t id = 0;  // unique across banks; stable once given
  int64_t bank_id = 0;
  SignalType signal = SignalType::kPdq;
  std::string value;  // canonical (NormalizeSignalValue)
  // The signature of a payload signal (SignalHasPayload): vPDQ text or .tmk
  // bytes; value == PayloadKey(payload). Empty for the other signals.
  // GetEntry fills it; ForEachEntry only when EntryFilter::payloads is set.
  std::string payload;
  Labels labels;
  Provenance provenance;
  // A removed entry is kept as a tombstone, so that its removal is known.
  bool removed = false;
  int64_t removed_at = 0;
  std::string removed_reason;
};

// Part of the database format (stored as these numbers): never renumber.
enum class ChangeKind : int {
  kBankCreated = 0,
  kBankUpdated = 1,  // settings or enabled flag: an index rebuilds that bank
  kEntryAdded = 2,   // new, or a tombstone revived
  kEntryRemoved = 3,
  // A batch of new entries (EntryWriter::AddBatch): the bank's entries with
  // ids in [entry_id, last_entry_id] (inclusive; there may be gaps). A
  // follower indexes those of them that are live when it reads them.
  kEntriesAdded = 4,
};

// One numbered event in the change log. Sequence numbers increase by commit
// order; an index that has applied everything up to N asks for > N.
struct Change {
  int64_t seq = 0;
  ChangeKind kind = ChangeKind::kBankCreated;
  int64_t bank_id = 0;
  int64_t entry_id = 0;       // 0 for bank changes; kEntriesAdded: the first id
  int64_t time = 0;           // Unix seconds
  int64_t last_entry_id = 0;  // kEntriesAdded: the last id (inclusive); 0 otherwise
};

// What EntryWriter::Add did.
enum class AddOutcome {
  kAdded,      // a new entry
  kRevived,    // a tombstone made live again
  kUnchanged,  // already live (re-imports are idempotent)
};

// A batch of entry changes to one bank, applied as one transaction: all of it
// on Commit, none of it if the writer is destroyed without Commit (or Commit
// fails). Only one writer per Store at a time.
// REQUIRES: the writer is destroyed before the Store that made it.
class EntryWriter {
 public:
  virtual ~EntryWriter() = default;

  // Adds an entry (entry.value must be canonical; id, bank_id and removal
  // fields are ignored). A live entry with the same signal and value is left
  // as it is. A payload signal needs its payload (1..kMaxPayloadBytes bytes)
  // and value == PayloadKey(payload); other signals none. The store keeps
  // the payload's bytes as given: the caller checks that they parse.
  // Errors: kInvalidArgument (a value that is not canonical, a payload
  // missing, unexpected or not matching the value), kLimitExceeded (payload
  // too large).
  virtual Result<AddOutcome> Add(const Entry& entry) = 0;

  // Adds entries that differ only in their value (a plain list): the same
  // end state as Add(common with value = values[i]) for each i in turn, and
  // outcomes[i] is what that Add would have returned (a value repeated in the
  // batch is kUnchanged after its first time). New entries get increasing ids
  // in input order, possibly with gaps; the store may write them in another
  // order (key order, for B-tree locality) and log them as one kEntriesAdded
  // event (revived ones stay kEntryAdded events). common.value is ignored.
  // Memory: proportional to the batch, which the caller bounds.
  // REQUIRES: outcomes.size() == values.size().
  // Errors: kInvalidArgument (a value that is not canonical, or a payload
  // signal, which only Add takes; nothing of the
  // batch is written), the store's. After an error other than that, part of
  // the batch may be written: abandon the writer (its transaction rolls back).
  virtual Status AddBatch(const Entry& common, std::span<const std::string_view> values,
                          std::span<AddOutcome> outcomes) = 0;

  // Tombstones the live entry with this signal and value. False when there is
  // none (already removed, or never added).
  virtual Result<bool> Remove(SignalType signal, std::string_view value, int64_t time,
                              std::string_view reason) = 0;

  // Tombstones every live entry of the bank whose provenance source_id is
  // `source_id` (formats that delete by their own id). Returns how many.
  virtual Result<int64_t> RemoveBySourceId(std::string_view source_id, int64_t time,
                                           std::string_view reason) = 0;

  virtual Status Commit() = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // The schema version this build writes; a store opens older ones by
  // migrating them forward, and refuses newer ones (kUnsupported).
  virtual int SchemaVersion() const = 0;

  // Errors: kInvalidArgument (bad name or settings; a name already taken).
  virtual Result<Bank> CreateBank(const BankSpec& spec, int64_t now) = 0;
  // Errors: kNotFound.
  virtual Result<Bank> GetBank(std::string_view name) = 0;
  virtual Result<Bank> GetBankById(int64_t id) = 0;
  // All banks, by name.
  virtual Result<std::vector<Bank>> ListBanks() = 0;
  // Errors: kNotFound.
  virtual Status SetBankEnabled(std::string_view name, bool enabled, int64_t now) = 0;

  // REQUIRES: the bank exists; no other writer of this Store is open.
  virtual Result<std::unique_ptr<EntryWriter>> BeginWrite(int64_t bank_id) = 0;

  // Errors: kNotFound.
  virtual Result<Entry> GetEntry(int64_t entry_id) = 0;

  // Calls `fn` for the bank's entries in id order, optionally one signal type
  // only, tombstones only if asked. Stops at and returns fn's first error.
  // Streams: memory does not grow with the bank's size.
  struct EntryFilter {
    std::optional<SignalType> signal;
    bool include_removed = false;
    // Only ids in [first_id, last_id] (inclusive), e.g. a kEntriesAdded range.
    int64_t first_id = 0;
    int64_t last_id = std::numeric_limits<int64_t>::max();
    // Fill Entry::payload (payload signals). Off, a scan reads no payload.
    bool payloads = false;
  };
  virtual Status ForEachEntry(int64_t bank_id, const EntryFilter& filter,
                              const std::function<Status(const Entry&)>& fn) = 0;

  // Entry counts of a bank: live and tombstoned.
  struct EntryCounts {
    int64_t live = 0;
    int64_t removed = 0;
  };
  virtual Result<EntryCounts> CountEntries(int64_t bank_id) = 0;

  // Changes with seq > after, in order, at most `limit` of them.
  virtual Result<std::vector<Change>> ChangesSince(int64_t after, size_t limit) = 0;
  // The newest sequence number (0 when the log is empty).
  virtual Result<int64_t> LastSequence() = 0;
};

// The default store: the embedded SQLite database in ./safeguard-data/.
inline constexpr const char* kDefaultStoreUrl = "sqlite:./safeguard-data/safeguard.db";

// Opens a store by URL:
//   sqlite:PATH or a plain PATH   SQLite database file (its folder is created)
//   sqlite::memory:               a private in-memory database (tests)
//   postgres://... or postgresql://...   PostgreSQL (a libpq connection URI)
//   anything with '=' ("host=... dbname=...")  PostgreSQL (libpq keywords)
// Errors: kInvalidArgument (unknown scheme), kIoError, kCorrupt,
// kUnsupported (a schema newer than this build).
Result<std::unique_ptr<Store>> OpenStore(const std::string& url);

// OpenStore for commands that only read: a SQLite file that does not exist is
// kNotFound ("no store at PATH") instead of being created with its folder.
// (An existing store is still migrated forward on open.)
Result<std::unique_ptr<Store>> OpenExistingStore(const std::string& url);

// SQLite store at `path` (":memory:" for an in-memory database).
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

// PostgreSQL store; `conninfo` is a libpq connection string or URI. The
// schema is created or migrated forward on open. Several processes may share
// one database: writers serialise on an advisory lock, so change-log sequence
// numbers follow commit order.
Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& conninfo);

}  // namespace safeguard
