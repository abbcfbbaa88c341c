// The SQLite schema, as forward migrations (internal to the store library;
// tests use it to build databases as older versions left them).
//
// PRAGMA user_version holds the schema version: migration i takes a database
// from version i to i + 1. Part of the database format: never edit a
// migration once released; add a new one.
#pragma once

#include <span>

struct sqlite3;

namespace safeguard::sqlite_schema {

// Migration i is one SQL script (several statements). Migration 4 calls
// unhex(X) (hex text to BLOB), built into SQLite from 3.41; the store adds it
// to connections where it is missing (RegisterFunctions).
std::span<const char* const> Migrations();

// The version this build writes: Migrations().size().
int CurrentVersion();

// Adds what the migrations need and this SQLite lacks (unhex before 3.41).
// Returns false if registering failed.
bool RegisterFunctions(sqlite3* db);

}  // namespace safeguard::sqlite_schema
