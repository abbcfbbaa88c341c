#include "sqlite_schema.h"

#include <array>

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

constexpr std::array<const char*, 3> kMigrations = {kV1, kV2, kV3};

}  // namespace

std::span<const char* const> Migrations() { return kMigrations; }

int CurrentVersion() { return static_cast<int>(kMigrations.size()); }

}  // namespace safeguard::sqlite_schema
