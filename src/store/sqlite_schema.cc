#include "sqlite_schema.h"

#include <sqlite3.h>

#include <array>
#include <string>

namespace safeguard::sqlite_schema {
namespace {

// Version 1: banks and entries, no provenance, no change log.
constexpr const char* kV1 = R"sql(
CREATE TABLE banks(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  kind INTEGER NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL);
CREATE TABLE entries(
  id INTEGER PRIMARY KEY,
  bank_id INTEGER NOT NULL REFERENCES banks(id),
  signal INTEGER NOT NULL,
  value TEXT NOT NULL,
  added_at INTEGER NOT NULL,
  removed INTEGER NOT NULL DEFAULT 0,
  UNIQUE(bank_id, signal, value));
)sql";

// Version 2: bank source, labels and match settings; entry labels,
// provenance and tombstone details; the numbered change log. Existing banks
// and live entries get change events so that a follower sees them.
constexpr const char* kV2 = R"sql(
ALTER TABLE banks ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE banks ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
ALTER TABLE banks ADD COLUMN pdq_max_distance INTEGER NOT NULL DEFAULT 31;
ALTER TABLE banks ADD COLUMN pdq_min_quality INTEGER NOT NULL DEFAULT 50;
ALTER TABLE entries ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
ALTER TABLE entries ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE entries ADD COLUMN source_id TEXT NOT NULL DEFAULT '';
ALTER TABLE entries ADD COLUMN added_by TEXT NOT NULL DEFAULT '';
ALTER TABLE entries ADD COLUMN removed_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE entries ADD COLUMN removed_reason TEXT NOT NULL DEFAULT '';
CREATE TABLE changes(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind INTEGER NOT NULL,
  bank_id INTEGER NOT NULL,
  entry_id INTEGER NOT NULL DEFAULT 0,
  time INTEGER NOT NULL);
INSERT INTO changes(kind, bank_id, entry_id, time)
  SELECT 0, id, 0, created_at FROM banks ORDER BY id;
INSERT INTO changes(kind, bank_id, entry_id, time)
  SELECT 2, bank_id, id, added_at FROM entries WHERE removed = 0 ORDER BY id;
)sql";

// Version 3: deletions by the source's own id (NCMEC) find entries by index.
constexpr const char* kV3 = R"sql(
CREATE INDEX entries_source_id ON entries(bank_id, source_id) WHERE source_id != '';
)sql";

// Version 4, for imports of millions of entries:
// - values as bytes (BLOB, unhex of the canonical hex: 16 to 32 bytes, half
//   the text), in rows and in the unique key;
// - the unique key (bank_id, signal, value) -> id moves from a UNIQUE index
//   on entries to the table entry_keys, which the store keeps in the same
//   transactions as entries. A batch then inserts its keys in key order (one
//   sweep over the key B-tree instead of one random page per entry) and its
//   rows in id order (appends), which one SQLite index could not do;
// - tombstones get a partial index, so that re-adding a known value learns
//   whether it is removed without reading its row;
// - a change-log event can name a range of new entries (kEntriesAdded:
//   entry_id..last_entry_id).
// unhex() is SQLite's from 3.41; the store registers its own on older ones.
constexpr const char* kV4 = R"sql(
CREATE TABLE entries_v4(
  id INTEGER PRIMARY KEY,
  bank_id INTEGER NOT NULL REFERENCES banks(id),
  signal INTEGER NOT NULL,
  value BLOB NOT NULL,
  added_at INTEGER NOT NULL,
  removed INTEGER NOT NULL DEFAULT 0,
  labels TEXT NOT NULL DEFAULT '{}',
  source TEXT NOT NULL DEFAULT '',
  source_id TEXT NOT NULL DEFAULT '',
  added_by TEXT NOT NULL DEFAULT '',
  removed_at INTEGER NOT NULL DEFAULT 0,
  removed_reason TEXT NOT NULL DEFAULT '');
INSERT INTO entries_v4
  SELECT id, bank_id, signal, unhex(value), added_at, removed, labels, source, source_id,
         added_by, removed_at, removed_reason
  FROM entries ORDER BY id;
DROP TABLE entries;
ALTER TABLE entries_v4 RENAME TO entries;
CREATE INDEX entries_source_id ON entries(bank_id, source_id) WHERE source_id != '';
CREATE INDEX entries_tombstones ON entries(bank_id, signal, value) WHERE removed = 1;
CREATE TABLE entry_keys(
  bank_id INTEGER NOT NULL,
  signal INTEGER NOT NULL,
  value BLOB NOT NULL,
  id INTEGER NOT NULL,
  PRIMARY KEY(bank_id, signal, value)) WITHOUT ROWID;
INSERT INTO entry_keys SELECT bank_id, signal, value, id FROM entries
  ORDER BY bank_id, signal, value;
ALTER TABLE changes ADD COLUMN last_entry_id INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 5: the payloads of video signatures (vPDQ text, .tmk bytes), one
// row per entry of a payload signal, in their own table so that scans of the
// entries never read them.
constexpr const char* kV5 = R"sql(
CREATE TABLE entry_payloads(
  entry_id INTEGER PRIMARY KEY,
  payload BLOB NOT NULL);
)sql";

constexpr std::array<const char*, 5> kMigrations = {kV1, kV2, kV3, kV4, kV5};

}  // namespace

std::span<const char* const> Migrations() { return kMigrations; }

int CurrentVersion() { return static_cast<int>(kMigrations.size()); }

namespace {

// unhex(X) as SQLite 3.41 defines it for one argument: the bytes that hex
// text X spells (either case), NULL when X is not hex.
void Unhex(sqlite3_context* context, int /*argc*/, sqlite3_value** argv) {
  const auto* text = sqlite3_value_text(argv[0]);
  const int n = sqlite3_value_bytes(argv[0]);
  if (text == nullptr || n % 2 != 0) {
    sqlite3_result_null(context);
    return;
  }
  auto nibble = [](unsigned char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string bytes(static_cast<size_t>(n / 2), '\0');
  for (int i = 0; i < n; i += 2) {
    const int hi = nibble(text[i]);
    const int lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) {
      sqlite3_result_null(context);
      return;
    }
    bytes[static_cast<size_t>(i / 2)] = static_cast<char>(hi << 4 | lo);
  }
  sqlite3_result_blob(context, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
}

}  // namespace

bool RegisterFunctions(sqlite3* db) {
  if (sqlite3_libversion_number() >= 3041000) return true;
  return sqlite3_create_function(db, "unhex", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                                 &Unhex, nullptr, nullptr) == SQLITE_OK;
}

}  // namespace safeguard::sqlite_schema
