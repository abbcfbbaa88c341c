// Plain hash lists: one hex value per line, the signal type given by the
// caller. Blank lines and lines starting with '#' are skipped; spaces and a
// trailing '\r' around a value are ignored.
//
// Example:
//   ImportOptions o{.signal = SignalType::kPdq, .source = "list.txt", .now = time(nullptr)};
//   Result<ImportReport> r = ImportPlainList(store, "hotline", in, o);
//
// An import is one transaction: on any error (a malformed line without
// skip_invalid, a read error, a store failure) the bank is left unchanged and
// the error names the line ("line 7: ..."; a store failure names the lines of
// its batch, "lines 1-524288: ..."). Memory does not grow with the input:
// lines are read one at a time and written in batches of ImportOptions::batch
// (new entries get ids in line order).
//
// Thread safety: as the Store passed in (one thread at a time).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "safeguard/core/status.h"
#include "safeguard/store/store.h"

namespace safeguard {

// Longest line accepted (kLimitExceeded beyond it, with its number).
inline constexpr size_t kMaxImportLineBytes = 4096;
// ImportOptions::batch by default: about 70 MB pending at most.
inline constexpr size_t kDefaultImportBatch = size_t{1} << 19;
// How many skipped lines an ImportReport describes one by one.
inline constexpr size_t kMaxReportedSkips = 100;

struct ImportOptions {
  SignalType signal = SignalType::kPdq;
  // Import the valid lines and report the malformed ones (skipped) instead of
  // refusing the whole file.
  bool skip_invalid = false;
  Labels labels;         // given to every imported entry
  std::string source;    // provenance: where the list came from (e.g. its file name)
  std::string added_by;  // provenance: who imported it
  int64_t now = 0;       // provenance: when (Unix seconds)
  // Plain lists: values handed to the store at a time (EntryWriter::AddBatch).
  // The store writes a batch in key order, so larger batches touch fewer
  // index pages per entry once a bank outgrows the page cache; each value
  // costs about 130 bytes while its batch is pending. Other formats add one
  // entry at a time.
  size_t batch = kDefaultImportBatch;
};

struct ImportReport {
  int64_t lines = 0;                      // lines read, blank and comment lines included
  int64_t added = 0;                      // new entries
  int64_t revived = 0;                    // tombstones made live again
  int64_t unchanged = 0;                  // already live: re-imports are idempotent
  int64_t removed = 0;                    // entries a format marked deleted (not plain lists)
  int64_t skipped = 0;                    // malformed lines skipped (skip_invalid only)
  std::vector<std::string> skip_reasons;  // the first kMaxReportedSkips, "line N: why"
};

// Errors: kNotFound (no such bank), kInvalidArgument / kLimitExceeded
// ("line N: ..."), kIoError, and the store's.
Result<ImportReport> ImportPlainList(Store& store, std::string_view bank_name, std::istream& in,
                                     const ImportOptions& options);

// Writes the bank's live entries of one signal type, one per line, in entry
// id order. Returns how many. Errors: kNotFound, kIoError, the store's.
Result<int64_t> ExportPlainList(Store& store, std::string_view bank_name, SignalType signal,
                                std::ostream& out);

}  // namespace safeguard
