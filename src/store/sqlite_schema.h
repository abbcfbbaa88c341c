// The SQLite schema, as forward migrations (internal to the store library;
// tests use it to build databases as older versions left them).
//
// PRAGMA user_version holds the schema version: migration i takes a database
// from version i to i + 1. Part of the database format: never edit a
// migration once released; add a new one.
#pragma once

#include <span>

namespace safeguard::sqlite_schema {

// Migration i is one SQL script (several statements).
std::span<const char* const> Migrations();

// The version this build writes: Migrations().size().
int CurrentVersion();

}  // namespace safeguard::sqlite_schema
