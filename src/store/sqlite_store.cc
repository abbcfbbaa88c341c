// The SQLite store: one database file, WAL journal, forward migrations.
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <system_error>
#include <vector>

#include "labels_json.h"
#include "safeguard/store/store.h"
#include "signal_bytes.h"
#include "sqlite_schema.h"
#include "sqlite_util.h"

namespace safeguard {
namespace {

using store_internal::AppendSignalBytes;
using store_internal::Exec;
using store_internal::LabelsFromJson;
using store_internal::LabelsToJson;
using store_internal::NotCanonical;
using store_internal::SignalBytes;
using store_internal::SignalHex;
using store_internal::Stmt;

constexpr const char* kBankColumns =
    "id, name, description, kind, enabled, created_at, source, labels, pdq_max_distance, "
    "pdq_min_quality";
constexpr const char* kEntryColumns =
    "id, bank_id, signal, value, added_at, removed, labels, source, source_id, added_by, "
    "removed_at, removed_reason";
// kEntryColumns and then the payload (NULL for the signals without one).
constexpr const char* kEntryColumnsWithPayload =
    "id, bank_id, signal, value, added_at, removed, labels, source, source_id, added_by, "
    "removed_at, removed_reason, "
    "(SELECT payload FROM entry_payloads WHERE entry_id = entries.id)";

Bank BankFromRow(const Stmt& s) {
  Bank b;
  b.id = s.Int(0);
  b.spec.name = s.Text(1);
  b.spec.description = s.Text(2);
  b.spec.kind = static_cast<BankKind>(s.Int(3));
  b.spec.enabled = s.Int(4) != 0;
  b.created_at = s.Int(5);
  b.spec.source = s.Text(6);
  b.spec.labels = LabelsFromJson(s.Text(7));
  b.spec.pdq_max_distance = static_cast<int>(s.Int(8));
  b.spec.pdq_min_quality = static_cast<int>(s.Int(9));
  return b;
}

Entry EntryFromRow(const Stmt& s) {
  Entry e;
  e.id = s.Int(0);
  e.bank_id = s.Int(1);
  e.signal = static_cast<SignalType>(s.Int(2));
  e.value = SignalHex(s.Blob(3));
  e.provenance.added_at = s.Int(4);
  e.removed = s.Int(5) != 0;
  e.labels = LabelsFromJson(s.Text(6));
  e.provenance.source = s.Text(7);
  e.provenance.source_id = s.Text(8);
  e.provenance.added_by = s.Text(9);
  e.removed_at = s.Int(10);
  e.removed_reason = s.Text(11);
  if (s.ColumnCount() > 12) e.payload = s.Blob(12);
  return e;
}

Status AppendChange(Stmt& insert, ChangeKind kind, int64_t bank_id, int64_t entry_id, int64_t time,
                    int64_t last_entry_id = 0) {
  return insert.Bind(1, static_cast<int64_t>(kind))
      .Bind(2, bank_id)
      .Bind(3, entry_id)
      .Bind(4, time)
      .Bind(5, last_entry_id)
      .Run();
}

constexpr const char* kInsertChange =
    "INSERT INTO changes(kind, bank_id, entry_id, time, last_entry_id) VALUES(?1, ?2, ?3, ?4, ?5)";

// Writes one bank's entries inside one BEGIN IMMEDIATE transaction. The unique
// key of an entry lives in entry_keys (see sqlite_schema.cc, version 4), kept
// here together with the row: a new entry is its key row plus its entries
// row, with an id this writer assigns (it holds the write lock, so
// MAX(id) + 1 stays free).
class SqliteEntryWriter final : public EntryWriter {
 public:
  SqliteEntryWriter(sqlite3* db, int64_t bank_id, bool* writer_open)
      : db_(db), bank_id_(bank_id), writer_open_(writer_open) {}
  ~SqliteEntryWriter() override {
    if (!done_) (void)Exec(db_, "ROLLBACK");
    *writer_open_ = false;
  }
  SqliteEntryWriter(const SqliteEntryWriter&) = delete;
  SqliteEntryWriter& operator=(const SqliteEntryWriter&) = delete;

  Status Init() {
    const std::pair<Stmt*, const char*> statements[] = {
        {&insert_key_,
         "INSERT INTO entry_keys(bank_id, signal, value, id) VALUES(?1, ?2, ?3, ?4) "
         "ON CONFLICT DO NOTHING"},
        {&find_,
         "SELECT e.id, e.removed FROM entry_keys k JOIN entries e ON e.id = k.id "
         "WHERE k.bank_id=?1 AND k.signal=?2 AND k.value=?3"},
        // Answered from the small partial index entries_tombstones.
        {&find_tombstone_,
         "SELECT id FROM entries WHERE bank_id=?1 AND signal=?2 AND value=?3 AND removed=1"},
        {&insert_,
         "INSERT INTO entries(id, bank_id, signal, value, added_at, labels, source, source_id, "
         "added_by) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
        {&revive_,
         "UPDATE entries SET removed=0, removed_at=0, removed_reason='', added_at=?2, "
         "labels=?3, source=?4, source_id=?5, added_by=?6 WHERE id=?1"},
        {&remove_, "UPDATE entries SET removed=1, removed_at=?2, removed_reason=?3 WHERE id=?1"},
        {&insert_payload_, "INSERT INTO entry_payloads(entry_id, payload) VALUES(?1, ?2)"},
        {&change_, kInsertChange},
    };
    for (const auto& [stmt, sql] : statements) {
      Result<Stmt> r = Stmt::Prepare(db_, sql);
      if (!r.ok()) return r.status();
      *stmt = std::move(*r);
    }
    if (Status s = Exec(db_, "BEGIN IMMEDIATE"); !s.ok()) return s;
    Result<Stmt> max = Stmt::Prepare(db_, "SELECT COALESCE(MAX(id), 0) FROM entries");
    if (!max.ok()) return max.status();
    Result<bool> row = max->Step();
    if (!row.ok()) return row.status();
    next_id_ = max->Int(0) + 1;
    return Status::Ok();
  }

  Result<AddOutcome> Add(const Entry& e) override {
    if (Status s = Usable(); !s.ok()) return s;
    std::string key;
    if (!AppendSignalBytes(e.signal, e.value, &key)) return NotCanonical(e.signal);
    if (Status s = store_internal::CheckPayload(e); !s.ok()) return s;
    const std::string labels = LabelsToJson(e.labels);
    const int64_t id = next_id_;
    Result<bool> fresh = InsertKey(e.signal, key, id);
    if (!fresh.ok()) return Broken(fresh.status());
    if (!*fresh) {
      Result<AddOutcome> outcome = ReviveIfRemoved(e, key, labels);
      if (!outcome.ok()) return Broken(outcome.status());
      return *outcome;
    }
    if (Status s = InsertRow(id, e, key, labels); !s.ok()) return Broken(s);
    if (!e.payload.empty()) {
      if (Status s = insert_payload_.Bind(1, id).BindBlob(2, e.payload).Run(); !s.ok())
        return Broken(s);
    }
    next_id_ = id + 1;
    if (Status s =
            AppendChange(change_, ChangeKind::kEntryAdded, bank_id_, id, e.provenance.added_at);
        !s.ok())
      return Broken(s);
    return AddOutcome::kAdded;
  }

  // Keys first, in key order (one sweep over the key B-tree), each new one
  // taking the id of its input position; then the rows of the new entries in
  // input order, so ids ascend with the input and rows append.
  Status AddBatch(const Entry& common, std::span<const std::string_view> values,
                  std::span<AddOutcome> outcomes) override {
    if (Status s = Usable(); !s.ok()) return s;
    if (values.size() != outcomes.size()) {
      return Status::InvalidArgument("AddBatch: one outcome per value");
    }
    if (SignalHasPayload(common.signal)) {
      return Status::InvalidArgument("AddBatch: " + std::string(SignalTypeName(common.signal)) +
                                     " entries carry payloads; add them one by one");
    }
    // Positions are sorted as 32-bit numbers.
    if (values.size() > std::numeric_limits<uint32_t>::max()) {
      return Status::LimitExceeded("AddBatch: over 2^32 values in one batch");
    }
    const size_t n = values.size();
    const size_t width = SignalBytes(common.signal);
    std::string keys;
    keys.reserve(n * width);
    for (size_t i = 0; i < n; ++i) {
      if (!AppendSignalBytes(common.signal, values[i], &keys)) {
        Status bad = NotCanonical(common.signal);
        return Status::InvalidArgument("value " + std::to_string(i + 1) +
                                       " of the batch: " + bad.message());
      }
    }
    auto key = [&](size_t i) { return std::string_view(keys).substr(i * width, width); };
    // Key order, by the first 8 bytes as a number (hashes are uniform, so
    // they almost always decide) and then the whole key. Equal keys keep input
    // order, so a repeated value is added at its first position, as one Add
    // after another would.
    struct Sorted {
      uint64_t prefix;
      uint32_t index;
    };
    std::vector<Sorted> order(n);
    for (size_t i = 0; i < n; ++i) {
      uint64_t prefix = 0;
      for (size_t b = 0; b < 8; ++b) {
        prefix = prefix << 8 | static_cast<unsigned char>(keys[i * width + b]);
      }
      order[i] = {prefix, static_cast<uint32_t>(i)};
    }
    std::sort(order.begin(), order.end(), [&](const Sorted& a, const Sorted& b) {
      if (a.prefix != b.prefix) return a.prefix < b.prefix;
      const int c = key(a.index).compare(key(b.index));
      return c != 0 ? c < 0 : a.index < b.index;
    });
    const std::string labels = LabelsToJson(common.labels);
    std::vector<bool> fresh(n, false);
    for (size_t k = 0; k < n; ++k) {
      const size_t i = order[k].index;
      if (k > 0 && key(order[k - 1].index) == key(i)) {
        outcomes[i] = AddOutcome::kUnchanged;
        continue;
      }
      Result<bool> inserted = InsertKey(common.signal, key(i), next_id_ + static_cast<int64_t>(i));
      if (!inserted.ok()) return Broken(inserted.status());
      if (*inserted) {
        fresh[i] = true;
        outcomes[i] = AddOutcome::kAdded;
        continue;
      }
      Result<AddOutcome> outcome = ReviveIfRemoved(common, key(i), labels);
      if (!outcome.ok()) return Broken(outcome.status());
      outcomes[i] = *outcome;
    }
    int64_t first = 0;
    int64_t last = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!fresh[i]) continue;
      const int64_t id = next_id_ + static_cast<int64_t>(i);
      if (Status s = InsertRow(id, common, key(i), labels); !s.ok()) return Broken(s);
      if (first == 0) first = id;
      last = id;
    }
    if (last == 0) return Status::Ok();
    next_id_ = last + 1;
    if (Status s = AppendChange(change_, ChangeKind::kEntriesAdded, bank_id_, first,
                                common.provenance.added_at, last);
        !s.ok())
      return Broken(s);
    return Status::Ok();
  }

  Result<bool> Remove(SignalType signal, std::string_view value, int64_t time,
                      std::string_view reason) override {
    if (Status s = Usable(); !s.ok()) return s;
    std::string key;
    if (!AppendSignalBytes(signal, value, &key)) return NotCanonical(signal);
    find_.Bind(1, bank_id_).Bind(2, static_cast<int64_t>(signal)).BindBlob(3, key);
    Result<bool> row = find_.Step();
    const int64_t id = row.ok() && *row && find_.Int(1) == 0 ? find_.Int(0) : 0;
    find_.Reset();
    if (!row.ok()) return Broken(row.status());
    if (id == 0) return false;
    if (Status s = remove_.Bind(1, id).Bind(2, time).Bind(3, reason).Run(); !s.ok()) {
      return Broken(s);
    }
    if (Status s = AppendChange(change_, ChangeKind::kEntryRemoved, bank_id_, id, time); !s.ok())
      return Broken(s);
    return true;
  }

  Result<int64_t> RemoveBySourceId(std::string_view source_id, int64_t time,
                                   std::string_view reason) override {
    if (Status s = Usable(); !s.ok()) return s;
    Result<Stmt> q = Stmt::Prepare(
        db_,
        "UPDATE entries SET removed=1, removed_at=?3, removed_reason=?4 "
        "WHERE bank_id=?1 AND source_id=?2 AND source_id != '' AND removed=0 RETURNING id");
    if (!q.ok()) return q.status();
    q->Bind(1, bank_id_).Bind(2, source_id).Bind(3, time).Bind(4, reason);
    std::vector<int64_t> ids;
    for (;;) {
      Result<bool> row = q->Step();
      if (!row.ok()) return Broken(row.status());
      if (!*row) break;
      ids.push_back(q->Int(0));
    }
    for (int64_t id : ids) {
      if (Status s = AppendChange(change_, ChangeKind::kEntryRemoved, bank_id_, id, time); !s.ok())
        return Broken(s);
    }
    return static_cast<int64_t>(ids.size());
  }

  Status Commit() override {
    if (Status s = Usable(); !s.ok()) return s;
    Status s = Exec(db_, "COMMIT");
    if (!s.ok()) {
      (void)Exec(db_, "ROLLBACK");
    }
    done_ = true;
    return s;
  }

 private:
  Status Usable() const {
    if (done_) return Status::InvalidArgument("writer already committed");
    if (broken_) return Status::FailedPrecondition("writer failed earlier; its changes are lost");
    return Status::Ok();
  }

  // A failure part-way through a change may leave a key without its row (or
  // a row without its log event): the transaction must not commit.
  Status Broken(Status s) {
    broken_ = true;
    return s;
  }

  // True when the key was new and now names `id`; false when the bank has it.
  Result<bool> InsertKey(SignalType signal, std::string_view key, int64_t id) {
    Status s = insert_key_.Bind(1, bank_id_)
                   .Bind(2, static_cast<int64_t>(signal))
                   .BindBlob(3, key)
                   .Bind(4, id)
                   .Run();
    if (!s.ok()) return s;
    return sqlite3_changes(db_) == 1;
  }

  Status InsertRow(int64_t id, const Entry& e, std::string_view key, const std::string& labels) {
    const Provenance& p = e.provenance;
    return insert_.Bind(1, id)
        .Bind(2, bank_id_)
        .Bind(3, static_cast<int64_t>(e.signal))
        .BindBlob(4, key)
        .Bind(5, p.added_at)
        .Bind(6, labels)
        .Bind(7, p.source)
        .Bind(8, p.source_id)
        .Bind(9, p.added_by)
        .Run();
  }

  // For a key the bank has: makes its tombstone live again (kRevived, logged
  // as kEntryAdded), or leaves a live entry alone (kUnchanged).
  Result<AddOutcome> ReviveIfRemoved(const Entry& e, std::string_view key,
                                     const std::string& labels) {
    find_tombstone_.Bind(1, bank_id_).Bind(2, static_cast<int64_t>(e.signal)).BindBlob(3, key);
    Result<bool> row = find_tombstone_.Step();
    const int64_t id = row.ok() && *row ? find_tombstone_.Int(0) : 0;
    find_tombstone_.Reset();
    if (!row.ok()) return row.status();
    if (id == 0) return AddOutcome::kUnchanged;
    const Provenance& p = e.provenance;
    Status s = revive_.Bind(1, id)
                   .Bind(2, p.added_at)
                   .Bind(3, labels)
                   .Bind(4, p.source)
                   .Bind(5, p.source_id)
                   .Bind(6, p.added_by)
                   .Run();
    if (!s.ok()) return s;
    if (Status c = AppendChange(change_, ChangeKind::kEntryAdded, bank_id_, id, p.added_at);
        !c.ok())
      return c;
    return AddOutcome::kRevived;
  }

  sqlite3* db_;
  int64_t bank_id_;
  bool* writer_open_;
  bool done_ = false;
  bool broken_ = false;
  int64_t next_id_ = 1;
  Stmt insert_key_, find_, find_tombstone_, insert_, revive_, remove_, insert_payload_, change_;
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  ~SqliteStore() override { sqlite3_close_v2(db_); }
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Status Init(bool in_memory) {
    sqlite3_busy_timeout(db_, 10000);
    if (!sqlite_schema::RegisterFunctions(db_)) {
      return Status::Internal(std::string("sqlite: ") + sqlite3_errmsg(db_));
    }
    if (!in_memory) {
      // 16 KiB pages for a new database (a no-op on an existing one): a
      // quarter of the page reads, writes and splits per entry of a big
      // import. It must come before WAL mode, which fixes the page size.
      if (Status s = Exec(db_, "PRAGMA page_size=16384; PRAGMA journal_mode=WAL"); !s.ok()) {
        return s;
      }
    }
    // FULL: a committed import survives power loss, not just a crash.
    // cache_size: 256 MiB of pages, the bound on an import's memory; random
    // hashes land on random index pages, so a small cache makes big imports
    // disk-bound.
    if (Status s = Exec(db_,
                        "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
                        "PRAGMA cache_size=-262144");
        !s.ok()) {
      return s;
    }
    return Migrate();
  }

  int SchemaVersion() const override { return sqlite_schema::CurrentVersion(); }

  Result<Bank> CreateBank(const BankSpec& spec, int64_t now) override {
    if (Status s = ValidateBankSpec(spec); !s.ok()) return s;
    if (GetBank(spec.name).ok()) {
      return Status::InvalidArgument("bank '" + spec.name + "' already exists");
    }
    if (Status s = Exec(db_, "BEGIN IMMEDIATE"); !s.ok()) return s;
    Status s = [&]() -> Status {
      Result<Stmt> ins = Stmt::Prepare(
          db_,
          "INSERT INTO banks(name, description, kind, enabled, created_at, source, labels, "
          "pdq_max_distance, pdq_min_quality) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
      if (!ins.ok()) return ins.status();
      Status r = ins->Bind(1, spec.name)
                     .Bind(2, spec.description)
                     .Bind(3, static_cast<int64_t>(spec.kind))
                     .Bind(4, int64_t{spec.enabled ? 1 : 0})
                     .Bind(5, now)
                     .Bind(6, spec.source)
                     .Bind(7, LabelsToJson(spec.labels))
                     .Bind(8, int64_t{spec.pdq_max_distance})
                     .Bind(9, int64_t{spec.pdq_min_quality})
                     .Run();
      if (!r.ok()) return r;
      Result<Stmt> ch = Stmt::Prepare(db_, kInsertChange);
      if (!ch.ok()) return ch.status();
      return AppendChange(*ch, ChangeKind::kBankCreated, sqlite3_last_insert_rowid(db_), 0, now);
    }();
    if (!s.ok()) {
      (void)Exec(db_, "ROLLBACK");
      return s;
    }
    if (Status c = Exec(db_, "COMMIT"); !c.ok()) return c;
    return GetBank(spec.name);
  }

  Result<Bank> GetBank(std::string_view name) override {
    return QueryBank(std::string("SELECT ") + kBankColumns + " FROM banks WHERE name=?1", name, 0);
  }
  Result<Bank> GetBankById(int64_t id) override {
    return QueryBank(std::string("SELECT ") + kBankColumns + " FROM banks WHERE id=?1", {}, id);
  }

  Result<std::vector<Bank>> ListBanks() override {
    Result<Stmt> q =
        Stmt::Prepare(db_, std::string("SELECT ") + kBankColumns + " FROM banks ORDER BY name");
    if (!q.ok()) return q.status();
    std::vector<Bank> banks;
    for (;;) {
      Result<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      banks.push_back(BankFromRow(*q));
    }
    return banks;
  }

  Status SetBankEnabled(std::string_view name, bool enabled, int64_t now) override {
    Result<Bank> bank = GetBank(name);
    if (!bank.ok()) return bank.status();
    if (bank->spec.enabled == enabled) return Status::Ok();
    if (Status s = Exec(db_, "BEGIN IMMEDIATE"); !s.ok()) return s;
    Status s = [&]() -> Status {
      Result<Stmt> up = Stmt::Prepare(db_, "UPDATE banks SET enabled=?2 WHERE id=?1");
      if (!up.ok()) return up.status();
      if (Status r = up->Bind(1, bank->id).Bind(2, int64_t{enabled ? 1 : 0}).Run(); !r.ok()) {
        return r;
      }
      Result<Stmt> ch = Stmt::Prepare(db_, kInsertChange);
      if (!ch.ok()) return ch.status();
      return AppendChange(*ch, ChangeKind::kBankUpdated, bank->id, 0, now);
    }();
    if (!s.ok()) {
      (void)Exec(db_, "ROLLBACK");
      return s;
    }
    return Exec(db_, "COMMIT");
  }

  Result<std::unique_ptr<EntryWriter>> BeginWrite(int64_t bank_id) override {
    if (writer_open_) return Status::InvalidArgument("another entry writer is open");
    if (Result<Bank> b = GetBankById(bank_id); !b.ok()) return b.status();
    auto w = std::make_unique<SqliteEntryWriter>(db_, bank_id, &writer_open_);
    writer_open_ = true;
    if (Status s = w->Init(); !s.ok()) return s;
    return std::unique_ptr<EntryWriter>(std::move(w));
  }

  Result<Entry> GetEntry(int64_t entry_id) override {
    Result<Stmt> q = Stmt::Prepare(
        db_, std::string("SELECT ") + kEntryColumnsWithPayload + " FROM entries WHERE id=?1");
    if (!q.ok()) return q.status();
    q->Bind(1, entry_id);
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("no entry " + std::to_string(entry_id));
    return EntryFromRow(*q);
  }

  Status ForEachEntry(int64_t bank_id, const EntryFilter& filter,
                      const std::function<Status(const Entry&)>& fn) override {
    std::string sql = std::string("SELECT ") +
                      (filter.payloads ? kEntryColumnsWithPayload : kEntryColumns) +
                      " FROM entries WHERE bank_id=?1 AND id BETWEEN ?3 AND ?4";
    if (filter.signal) sql += " AND signal=?2";
    if (!filter.include_removed) sql += " AND removed=0";
    sql += " ORDER BY id";
    Result<Stmt> q = Stmt::Prepare(db_, sql);
    if (!q.ok()) return q.status();
    q->Bind(1, bank_id).Bind(3, filter.first_id).Bind(4, filter.last_id);
    if (filter.signal) q->Bind(2, static_cast<int64_t>(*filter.signal));
    for (;;) {
      Result<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) return Status::Ok();
      if (Status s = fn(EntryFromRow(*q)); !s.ok()) return s;
    }
  }

  Result<EntryCounts> CountEntries(int64_t bank_id) override {
    Result<Stmt> q = Stmt::Prepare(
        db_,
        "SELECT COALESCE(SUM(removed=0), 0), COALESCE(SUM(removed=1), 0) FROM entries WHERE "
        "bank_id=?1");
    if (!q.ok()) return q.status();
    q->Bind(1, bank_id);
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    return EntryCounts{q->Int(0), q->Int(1)};
  }

  Result<std::vector<Change>> ChangesSince(int64_t after, size_t limit) override {
    Result<Stmt> q = Stmt::Prepare(
        db_,
        "SELECT seq, kind, bank_id, entry_id, time, last_entry_id FROM changes WHERE seq>?1 "
        "ORDER BY seq LIMIT ?2");
    if (!q.ok()) return q.status();
    q->Bind(1, after).Bind(2, static_cast<int64_t>(limit));
    std::vector<Change> out;
    for (;;) {
      Result<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) return out;
      out.push_back(Change{q->Int(0), static_cast<ChangeKind>(q->Int(1)), q->Int(2), q->Int(3),
                           q->Int(4), q->Int(5)});
    }
  }

  Result<int64_t> LastSequence() override {
    Result<Stmt> q = Stmt::Prepare(db_, "SELECT COALESCE(MAX(seq), 0) FROM changes");
    if (!q.ok()) return q.status();
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    return q->Int(0);
  }

 private:
  Result<Bank> QueryBank(const std::string& sql, std::string_view name, int64_t id) {
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
      return Status::NotFound(id != 0 ? "no bank with id " + std::to_string(id)
                                      : "no bank named '" + std::string(name) + "'");
    }
    return BankFromRow(*q);
  }

  // Applies every migration past the database's version, each in its own
  // transaction with the version bump, so a crash leaves a whole version.
  Status Migrate() {
    Result<Stmt> q = Stmt::Prepare(db_, "PRAGMA user_version");
    if (!q.ok()) return q.status();
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    const int64_t version = q->Int(0);
    q = Stmt();
    const auto migrations = sqlite_schema::Migrations();
    if (version > static_cast<int64_t>(migrations.size())) {
      return Status::Unsupported("database schema version " + std::to_string(version) +
                                 " is newer than this build's " +
                                 std::to_string(migrations.size()));
    }
    for (size_t v = static_cast<size_t>(version); v < migrations.size(); ++v) {
      if (Status s = Exec(db_, "BEGIN IMMEDIATE"); !s.ok()) return s;
      Status s = Exec(db_, migrations[v]);
      if (s.ok()) {
        s = Exec(db_, ("PRAGMA user_version=" + std::to_string(v + 1)).c_str());
      }
      if (!s.ok()) {
        (void)Exec(db_, "ROLLBACK");
        return Status::Corrupt("migrating to schema version " + std::to_string(v + 1) + ": " +
                               s.message());
      }
      if (Status c = Exec(db_, "COMMIT"); !c.ok()) return c;
    }
    return Status::Ok();
  }

  sqlite3* db_;
  bool writer_open_ = false;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
  const bool in_memory = path == ":memory:";
  Result<sqlite3*> db = store_internal::OpenDatabaseFile(path);
  if (!db.ok()) return db.status();
  auto store = std::make_unique<SqliteStore>(*db);
  if (Status s = store->Init(in_memory); !s.ok()) {
    return Status::Error(s.code(), path + ": " + s.message());
  }
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace safeguard
