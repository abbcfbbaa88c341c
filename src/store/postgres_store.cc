// The PostgreSQL store: the same model as the SQLite one, for deployments
// where several processes share one system of record.
//
// Writers serialise on one transaction-scoped advisory lock, so change-log
// sequence numbers are assigned in commit order (a follower that has seen
// seq N never later finds a smaller one committed).
#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>

#include "labels_json.h"
#include "pg_schema.h"
#include "pg_util.h"
#include "safeguard/store/store.h"
#include "signal_bytes.h"

namespace safeguard {
namespace {

using pg_schema::kPgMigrations;
constexpr int kPgVersion = static_cast<int>(std::size(kPgMigrations));

// The advisory lock every writing transaction takes first.
constexpr const char* kLockSql = "SELECT pg_advisory_xact_lock(7405151)";

using store_internal::Int;
using store_internal::LabelsFromJson;
using store_internal::LabelsToJson;
using store_internal::Params;
using store_internal::PgConnection;
using store_internal::ResultPtr;
using store_internal::Text;

constexpr const char* kBankColumns =
    "id, name, description, kind, enabled, created_at, source, labels, pdq_max_distance, "
    "pdq_min_quality";
// Values are bytea; callers see canonical hex (encode gives lowercase).
constexpr const char* kEntryColumns =
    "id, bank_id, signal, encode(value, 'hex'), added_at, removed, labels, source, source_id, "
    "added_by, removed_at, removed_reason";
// kEntryColumns and then the payload as hex ('' for signals without one).
constexpr const char* kEntryColumnsWithPayload =
    "id, bank_id, signal, encode(value, 'hex'), added_at, removed, labels, source, source_id, "
    "added_by, removed_at, removed_reason, "
    "COALESCE((SELECT encode(payload, 'hex') FROM entry_payloads WHERE entry_id = entries.id), "
    "'')";
constexpr const char* kInsertChange =
    "INSERT INTO changes(kind, bank_id, entry_id, time, last_entry_id) VALUES($1, $2, $3, $4, $5)";

Bank BankFromRow(const PGresult* r, int row) {
  Bank b;
  b.id = Int(r, row, 0);
  b.spec.name = Text(r, row, 1);
  b.spec.description = Text(r, row, 2);
  b.spec.kind = static_cast<BankKind>(Int(r, row, 3));
  b.spec.enabled = Int(r, row, 4) != 0;
  b.created_at = Int(r, row, 5);
  b.spec.source = Text(r, row, 6);
  b.spec.labels = LabelsFromJson(Text(r, row, 7));
  b.spec.pdq_max_distance = static_cast<int>(Int(r, row, 8));
  b.spec.pdq_min_quality = static_cast<int>(Int(r, row, 9));
  return b;
}

Entry EntryFromRow(const PGresult* r, int row) {
  Entry e;
  e.id = Int(r, row, 0);
  e.bank_id = Int(r, row, 1);
  e.signal = static_cast<SignalType>(Int(r, row, 2));
  e.value = Text(r, row, 3);
  e.provenance.added_at = Int(r, row, 4);
  e.removed = Int(r, row, 5) != 0;
  e.labels = LabelsFromJson(Text(r, row, 6));
  e.provenance.source = Text(r, row, 7);
  e.provenance.source_id = Text(r, row, 8);
  e.provenance.added_by = Text(r, row, 9);
  e.removed_at = Int(r, row, 10);
  e.removed_reason = Text(r, row, 11);
  if (PQnfields(r) > 12) {
    // encode() may break long hex into lines of 76 characters.
    std::string hex = Text(r, row, 12);
    std::erase(hex, '\n');
    (void)store_internal::AppendHexBytes(hex, &e.payload);
  }
  return e;
}

Status AppendChange(PgConnection& db, ChangeKind kind, int64_t bank_id, int64_t entry_id,
                    int64_t time, int64_t last_entry_id = 0) {
  return db
      .Exec(kInsertChange, Params()
                               .Add(static_cast<int64_t>(kind))
                               .Add(bank_id)
                               .Add(entry_id)
                               .Add(time)
                               .Add(last_entry_id))
      .status();
}

// The check the SQLite store makes when it converts a value to bytes, so
// that both refuse the same values.
Status CheckCanonical(SignalType signal, std::string_view value) {
  std::string bytes;
  if (!store_internal::AppendSignalBytes(signal, value, &bytes)) {
    return store_internal::NotCanonical(signal);
  }
  return Status::Ok();
}

// Runs fn inside BEGIN ... COMMIT with the writers' lock; rolls back on error.
Status InTransaction(PgConnection& db, const std::function<Status()>& fn) {
  if (Status s = db.Script("BEGIN"); !s.ok()) return s;
  Status s = db.Exec(kLockSql).status();
  if (s.ok()) s = fn();
  if (!s.ok()) {
    (void)db.Script("ROLLBACK");
    return s;
  }
  return db.Script("COMMIT");
}

class PgEntryWriter final : public EntryWriter {
 public:
  PgEntryWriter(PgConnection* db, int64_t bank_id, bool* open)
      : db_(db), bank_id_(bank_id), open_(open) {}
  ~PgEntryWriter() override {
    if (!done_) (void)db_->Script("ROLLBACK");
    *open_ = false;
  }
  PgEntryWriter(const PgEntryWriter&) = delete;
  PgEntryWriter& operator=(const PgEntryWriter&) = delete;

  Status Init() {
    if (Status s = db_->Script("BEGIN"); !s.ok()) return s;
    return db_->Exec(kLockSql).status();
  }

  Result<AddOutcome> Add(const Entry& e) override {
    if (Status s = Usable(); !s.ok()) return s;
    if (Status s = CheckCanonical(e.signal, e.value); !s.ok()) return s;
    if (Status s = store_internal::CheckPayload(e); !s.ok()) return s;
    Result<std::pair<AddOutcome, int64_t>> added = AddOne(e, e.value, LabelsToJson(e.labels));
    if (!added.ok()) return Broken(added.status());
    if (added->first == AddOutcome::kAdded && !e.payload.empty()) {
      Result<ResultPtr> ins =
          db_->Exec("INSERT INTO entry_payloads(entry_id, payload) VALUES($1, decode($2, 'hex'))",
                    Params().Add(added->second).Add(store_internal::SignalHex(e.payload)));
      if (!ins.ok()) return Broken(ins.status());
    }
    if (added->first == AddOutcome::kAdded) {
      if (Status s = AppendChange(*db_, ChangeKind::kEntryAdded, bank_id_, added->second,
                                  e.provenance.added_at);
          !s.ok())
        return Broken(s);
    }
    return added->first;
  }

  // One entry after another (ids in input order); the new ones are logged as
  // one kEntriesAdded range. Under the writers' lock no other transaction
  // takes ids in between, so the range holds this batch's new entries only.
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
    for (size_t i = 0; i < values.size(); ++i) {
      if (Status s = CheckCanonical(common.signal, values[i]); !s.ok()) {
        return Status::InvalidArgument("value " + std::to_string(i + 1) +
                                       " of the batch: " + s.message());
      }
    }
    const std::string labels = LabelsToJson(common.labels);
    int64_t first = 0;
    int64_t last = 0;
    for (size_t i = 0; i < values.size(); ++i) {
      Result<std::pair<AddOutcome, int64_t>> added = AddOne(common, values[i], labels);
      if (!added.ok()) return Broken(added.status());
      outcomes[i] = added->first;
      if (added->first != AddOutcome::kAdded) continue;
      if (first == 0) first = added->second;
      last = added->second;
    }
    if (last == 0) return Status::Ok();
    if (Status s = AppendChange(*db_, ChangeKind::kEntriesAdded, bank_id_, first,
                                common.provenance.added_at, last);
        !s.ok())
      return Broken(s);
    return Status::Ok();
  }

  Result<bool> Remove(SignalType signal, std::string_view value, int64_t time,
                      std::string_view reason) override {
    if (Status s = Usable(); !s.ok()) return s;
    if (Status s = CheckCanonical(signal, value); !s.ok()) return s;
    Result<ResultPtr> r = db_->Exec(
        "UPDATE entries SET removed=1, removed_at=$4, removed_reason=$5 WHERE bank_id=$1 AND "
        "signal=$2 AND value=decode($3, 'hex') AND removed=0 RETURNING id",
        Params().Add(bank_id_).Add(static_cast<int64_t>(signal)).Add(value).Add(time).Add(reason));
    if (!r.ok()) return Broken(r.status());
    if (PQntuples(r->get()) == 0) return false;
    if (Status s =
            AppendChange(*db_, ChangeKind::kEntryRemoved, bank_id_, Int(r->get(), 0, 0), time);
        !s.ok())
      return Broken(s);
    return true;
  }

  Result<int64_t> RemoveBySourceId(std::string_view source_id, int64_t time,
                                   std::string_view reason) override {
    if (Status s = Usable(); !s.ok()) return s;
    Result<ResultPtr> r = db_->Exec(
        "UPDATE entries SET removed=1, removed_at=$3, removed_reason=$4 WHERE bank_id=$1 AND "
        "source_id=$2 AND source_id <> '' AND removed=0 RETURNING id",
        Params().Add(bank_id_).Add(source_id).Add(time).Add(reason));
    if (!r.ok()) return Broken(r.status());
    const int n = PQntuples(r->get());
    for (int i = 0; i < n; ++i) {
      if (Status s =
              AppendChange(*db_, ChangeKind::kEntryRemoved, bank_id_, Int(r->get(), i, 0), time);
          !s.ok())
        return Broken(s);
    }
    return int64_t{n};
  }

  Status Commit() override {
    if (Status s = Usable(); !s.ok()) return s;
    done_ = true;
    Status s = db_->Script("COMMIT");
    if (!s.ok()) (void)db_->Script("ROLLBACK");
    return s;
  }

 private:
  Status Usable() const {
    if (done_) return Status::InvalidArgument("writer already committed");
    if (broken_) return Status::FailedPrecondition("writer failed earlier; its changes are lost");
    return Status::Ok();
  }

  // A failure part-way through a change may leave a row without its log
  // event: the transaction must not commit.
  Status Broken(Status s) {
    broken_ = true;
    return s;
  }

  // Adds or revives one entry of canonical `value` (revivals are logged here;
  // new entries by the caller). Returns the outcome and the entry's id.
  Result<std::pair<AddOutcome, int64_t>> AddOne(const Entry& e, std::string_view value,
                                                const std::string& labels) {
    const Provenance& p = e.provenance;
    // The common case, a new entry, is one statement; a conflict means the
    // bank has the value, live or tombstoned.
    Result<ResultPtr> ins = db_->Exec(
        "INSERT INTO entries(bank_id, signal, value, added_at, labels, source, source_id, "
        "added_by) VALUES($1, $2, decode($3, 'hex'), $4, $5, $6, $7, $8) "
        "ON CONFLICT (bank_id, signal, value) DO NOTHING RETURNING id",
        Params()
            .Add(bank_id_)
            .Add(static_cast<int64_t>(e.signal))
            .Add(value)
            .Add(p.added_at)
            .Add(labels)
            .Add(p.source)
            .Add(p.source_id)
            .Add(p.added_by));
    if (!ins.ok()) return ins.status();
    if (PQntuples(ins->get()) == 1) return std::pair{AddOutcome::kAdded, Int(ins->get(), 0, 0)};
    Result<ResultPtr> revived = db_->Exec(
        "UPDATE entries SET removed=0, removed_at=0, removed_reason='', added_at=$4, labels=$5, "
        "source=$6, source_id=$7, added_by=$8 WHERE bank_id=$1 AND signal=$2 AND "
        "value=decode($3, 'hex') AND removed=1 RETURNING id",
        Params()
            .Add(bank_id_)
            .Add(static_cast<int64_t>(e.signal))
            .Add(value)
            .Add(p.added_at)
            .Add(labels)
            .Add(p.source)
            .Add(p.source_id)
            .Add(p.added_by));
    if (!revived.ok()) return revived.status();
    if (PQntuples(revived->get()) == 0) return std::pair{AddOutcome::kUnchanged, int64_t{0}};
    const int64_t id = Int(revived->get(), 0, 0);
    if (Status s = AppendChange(*db_, ChangeKind::kEntryAdded, bank_id_, id, p.added_at); !s.ok())
      return s;
    return std::pair{AddOutcome::kRevived, id};
  }

  PgConnection* db_;
  int64_t bank_id_;
  bool* open_;
  bool done_ = false;
  bool broken_ = false;
};

class PgStore final : public Store {
 public:
  explicit PgStore(PGconn* conn) : db_(conn) {}

  Status Migrate() {
    return InTransaction(db_, [&]() -> Status {
      if (Status s = db_.Script("CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER "
                                "PRIMARY KEY)");
          !s.ok())
        return s;
      Result<ResultPtr> v = db_.Exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
      if (!v.ok()) return v.status();
      const int64_t version = Int(v->get(), 0, 0);
      if (version > kPgVersion) {
        return Status::Unsupported("database schema version " + std::to_string(version) +
                                   " is newer than this build's " + std::to_string(kPgVersion));
      }
      for (int64_t i = version; i < kPgVersion; ++i) {
        if (Status s = db_.Script(kPgMigrations[i]); !s.ok()) return s;
        if (Status s =
                db_.Exec("INSERT INTO schema_migrations(version) VALUES($1)", Params().Add(i + 1))
                    .status();
            !s.ok())
          return s;
      }
      return Status::Ok();
    });
  }

  int SchemaVersion() const override { return kPgVersion; }

  Result<Bank> CreateBank(const BankSpec& spec, int64_t now) override {
    if (Status s = ValidateBankSpec(spec); !s.ok()) return s;
    if (GetBank(spec.name).ok()) {
      return Status::InvalidArgument("bank '" + spec.name + "' already exists");
    }
    Status s = InTransaction(db_, [&]() -> Status {
      Result<ResultPtr> r = db_.Exec(
          "INSERT INTO banks(name, description, kind, enabled, created_at, source, labels, "
          "pdq_max_distance, pdq_min_quality) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9) "
          "RETURNING id",
          Params()
              .Add(spec.name)
              .Add(spec.description)
              .Add(static_cast<int64_t>(spec.kind))
              .Add(int64_t{spec.enabled ? 1 : 0})
              .Add(now)
              .Add(spec.source)
              .Add(LabelsToJson(spec.labels))
              .Add(int64_t{spec.pdq_max_distance})
              .Add(int64_t{spec.pdq_min_quality}));
      if (!r.ok()) return r.status();
      return AppendChange(db_, ChangeKind::kBankCreated, Int(r->get(), 0, 0), 0, now);
    });
    if (!s.ok()) return s;
    return GetBank(spec.name);
  }

  Result<Bank> GetBank(std::string_view name) override {
    return OneBank(std::string("SELECT ") + kBankColumns + " FROM banks WHERE name=$1",
                   Params().Add(name), "no bank named '" + std::string(name) + "'");
  }
  Result<Bank> GetBankById(int64_t id) override {
    return OneBank(std::string("SELECT ") + kBankColumns + " FROM banks WHERE id=$1",
                   Params().Add(id), "no bank with id " + std::to_string(id));
  }

  Result<std::vector<Bank>> ListBanks() override {
    Result<ResultPtr> r =
        db_.Exec(std::string("SELECT ") + kBankColumns + " FROM banks ORDER BY name COLLATE \"C\"");
    if (!r.ok()) return r.status();
    std::vector<Bank> banks;
    for (int i = 0; i < PQntuples(r->get()); ++i) banks.push_back(BankFromRow(r->get(), i));
    return banks;
  }

  Status SetBankEnabled(std::string_view name, bool enabled, int64_t now) override {
    Result<Bank> bank = GetBank(name);
    if (!bank.ok()) return bank.status();
    if (bank->spec.enabled == enabled) return Status::Ok();
    return InTransaction(db_, [&]() -> Status {
      if (Status s = db_.Exec("UPDATE banks SET enabled=$2 WHERE id=$1",
                              Params().Add(bank->id).Add(int64_t{enabled ? 1 : 0}))
                         .status();
          !s.ok())
        return s;
      return AppendChange(db_, ChangeKind::kBankUpdated, bank->id, 0, now);
    });
  }

  Result<std::unique_ptr<EntryWriter>> BeginWrite(int64_t bank_id) override {
    if (writer_open_) return Status::InvalidArgument("another entry writer is open");
    if (Result<Bank> b = GetBankById(bank_id); !b.ok()) return b.status();
    auto w = std::make_unique<PgEntryWriter>(&db_, bank_id, &writer_open_);
    writer_open_ = true;
    if (Status s = w->Init(); !s.ok()) return s;
    return std::unique_ptr<EntryWriter>(std::move(w));
  }

  Result<Entry> GetEntry(int64_t entry_id) override {
    Result<ResultPtr> r =
        db_.Exec(std::string("SELECT ") + kEntryColumnsWithPayload + " FROM entries WHERE id=$1",
                 Params().Add(entry_id));
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0) return Status::NotFound("no entry " + std::to_string(entry_id));
    return EntryFromRow(r->get(), 0);
  }

  // Pages through the bank by id (keyset pagination): memory stays bounded.
  Status ForEachEntry(int64_t bank_id, const EntryFilter& filter,
                      const std::function<Status(const Entry&)>& fn) override {
    // Pages of payloads (up to kMaxPayloadBytes each, a .tmk 257 KiB) are
    // kept small.
    const int64_t page = filter.payloads ? 64 : 10000;
    std::string sql = std::string("SELECT ") +
                      (filter.payloads ? kEntryColumnsWithPayload : kEntryColumns) +
                      " FROM entries WHERE bank_id=$1 AND id>$2 AND id<=$4 AND ($3 < 0 OR "
                      "signal=$3)";
    if (!filter.include_removed) sql += " AND removed=0";
    sql += " ORDER BY id LIMIT " + std::to_string(page);
    if (filter.first_id > filter.last_id) return Status::Ok();
    int64_t after = std::max<int64_t>(filter.first_id, 1) - 1;
    const int64_t signal = filter.signal ? static_cast<int64_t>(*filter.signal) : -1;
    for (;;) {
      Result<ResultPtr> r =
          db_.Exec(sql, Params().Add(bank_id).Add(after).Add(signal).Add(filter.last_id));
      if (!r.ok()) return r.status();
      const int n = PQntuples(r->get());
      for (int i = 0; i < n; ++i) {
        Entry e = EntryFromRow(r->get(), i);
        after = e.id;
        if (Status s = fn(e); !s.ok()) return s;
      }
      if (n < page) return Status::Ok();
    }
  }

  Result<EntryCounts> CountEntries(int64_t bank_id) override {
    Result<ResultPtr> r = db_.Exec(
        "SELECT COUNT(*) FILTER (WHERE removed=0), COUNT(*) FILTER (WHERE removed=1) FROM "
        "entries WHERE bank_id=$1",
        Params().Add(bank_id));
    if (!r.ok()) return r.status();
    return EntryCounts{Int(r->get(), 0, 0), Int(r->get(), 0, 1)};
  }

  Result<std::vector<Change>> ChangesSince(int64_t after, size_t limit) override {
    Result<ResultPtr> r = db_.Exec(
        "SELECT seq, kind, bank_id, entry_id, time, last_entry_id FROM changes WHERE seq>$1 "
        "ORDER BY seq LIMIT $2",
        Params().Add(after).Add(static_cast<int64_t>(limit)));
    if (!r.ok()) return r.status();
    std::vector<Change> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      out.push_back(Change{Int(r->get(), i, 0), static_cast<ChangeKind>(Int(r->get(), i, 1)),
                           Int(r->get(), i, 2), Int(r->get(), i, 3), Int(r->get(), i, 4),
                           Int(r->get(), i, 5)});
    }
    return out;
  }

  Result<int64_t> LastSequence() override {
    Result<ResultPtr> r = db_.Exec("SELECT COALESCE(MAX(seq), 0) FROM changes");
    if (!r.ok()) return r.status();
    return Int(r->get(), 0, 0);
  }

 private:
  Result<Bank> OneBank(const std::string& sql, const Params& params, const std::string& missing) {
    Result<ResultPtr> r = db_.Exec(sql, params);
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0) return Status::NotFound(missing);
    return BankFromRow(r->get(), 0);
  }

  PgConnection db_;
  bool writer_open_ = false;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (conn == nullptr) return Status::IoError("postgres: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    PQfinish(conn);
    return Status::IoError("postgres: " + message);
  }
  auto store = std::make_unique<PgStore>(conn);
  if (Status s = store->Migrate(); !s.ok()) return s;
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace safeguard
