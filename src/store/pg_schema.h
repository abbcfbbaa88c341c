// The PostgreSQL schema, as forward migrations (internal to the store
// library; tests use it to build databases as older versions left them).
#pragma once

namespace safeguard::pg_schema {

// Forward migrations; the version is the row count of schema_migrations.
// Part of the database format: never edit a released one.
inline constexpr const char* kPgMigrations[] = {
    R"sql(
CREATE TABLE banks(
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  kind INTEGER NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 1,
  created_at BIGINT NOT NULL,
  source TEXT NOT NULL DEFAULT '',
  labels TEXT NOT NULL DEFAULT '{}',
  pdq_max_distance INTEGER NOT NULL DEFAULT 31,
  pdq_min_quality INTEGER NOT NULL DEFAULT 50);
CREATE TABLE entries(
  id BIGSERIAL PRIMARY KEY,
  bank_id BIGINT NOT NULL REFERENCES banks(id),
  signal INTEGER NOT NULL,
  value TEXT NOT NULL,
  added_at BIGINT NOT NULL,
  removed INTEGER NOT NULL DEFAULT 0,
  labels TEXT NOT NULL DEFAULT '{}',
  source TEXT NOT NULL DEFAULT '',
  source_id TEXT NOT NULL DEFAULT '',
  added_by TEXT NOT NULL DEFAULT '',
  removed_at BIGINT NOT NULL DEFAULT 0,
  removed_reason TEXT NOT NULL DEFAULT '',
  UNIQUE(bank_id, signal, value));
CREATE TABLE changes(
  seq BIGSERIAL PRIMARY KEY,
  kind INTEGER NOT NULL,
  bank_id BIGINT NOT NULL,
  entry_id BIGINT NOT NULL DEFAULT 0,
  time BIGINT NOT NULL);
)sql",
    R"sql(
CREATE INDEX entries_source_id ON entries(bank_id, source_id) WHERE source_id <> '';
)sql",
    // Values as bytes (bytea, half the hex text in rows and in the unique
    // index; callers still see canonical hex), and change-log events that name
    // a range of new entries (kEntriesAdded: entry_id..last_entry_id).
    R"sql(
ALTER TABLE entries ALTER COLUMN value TYPE bytea USING decode(value, 'hex');
ALTER TABLE changes ADD COLUMN last_entry_id BIGINT NOT NULL DEFAULT 0;
)sql",
    // The payloads of video signatures (vPDQ text, .tmk bytes), one row per
    // entry of a payload signal, apart from the entries so that scans of
    // them never read payloads.
    R"sql(
CREATE TABLE entry_payloads(
  entry_id BIGINT PRIMARY KEY REFERENCES entries(id),
  payload bytea NOT NULL);
)sql",
};

}  // namespace safeguard::pg_schema
