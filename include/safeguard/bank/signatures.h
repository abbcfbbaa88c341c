// Video signatures in banks: vPDQ and TMK+PDQF entries, imported from and
// exported to the reference's one-file-per-video formats.
//
//   vpdq   the vPDQ reference's text, one line per hashed frame,
//          "frame,quality,hash,timestamp" (hash/vpdq.h)
//   tmk    the TMK reference's .tmk file, 263,344 bytes (hash/tmk.h)
//
// A signature is stored canonically (vPDQ text as FormatVpdq writes it, .tmk
// bytes as TmkToBytes writes them) as the entry's payload; the entry's value
// is the payload's SHA-256 (store.h), so the same signature imported twice
// is one entry, and a file's `safeguard hash` line names that key
// ("tmk_sha256").
//
// Example:
//   ImportOptions o{.source = "hotline-2026-11", .now = time(nullptr)};
//   Result<ImportReport> r =
//       ImportSignatureFiles(store, "videos", SignalType::kTmk, {"a.tmk", "b.tmk"}, o);
//
// Thread safety: as the Store passed in.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "safeguard/bank/plain_list.h"

namespace safeguard {

// The canonical payload of a signature given in its reference format.
// Errors: kInvalidArgument (not a signal with a payload, or bytes that do not
// parse: the parser's message), kCorrupt and kLimitExceeded from ParseTmk,
// kLimitExceeded over kMaxPayloadBytes.
Result<std::string> CanonicalSignature(SignalType signal, std::string_view bytes);

// An entry of `signal` for a signature in its reference format: payload
// canonical, value its key. Errors: those of CanonicalSignature.
Result<Entry> SignatureEntry(SignalType signal, std::string_view bytes);

// Imports one signature per file, all in one transaction. Each entry's
// provenance: source = options.source (the file's path when empty),
// source_id = the file's name without its extension. A file that cannot be
// read or does not parse fails the import, naming the file, unless
// options.skip_invalid (then it is skipped and reported). ImportReport::lines
// counts the files. Errors: kNotFound (bank), kInvalidArgument, kIoError,
// kLimitExceeded, the store's.
Result<ImportReport> ImportSignatureFiles(Store& store, std::string_view bank_name,
                                          SignalType signal, const std::vector<std::string>& paths,
                                          const ImportOptions& options);

// Imports one signature given as bytes (e.g. an upload), as
// ImportSignatureFiles does a file, with no source_id; messages name it
// "signature".
Result<ImportReport> ImportSignature(Store& store, std::string_view bank_name, SignalType signal,
                                     std::string_view bytes, const ImportOptions& options);

// Writes every live `signal` entry of the bank into `dir` (created if needed)
// as <value>.vpdq.txt or <value>.tmk. Returns how many files were written.
// Errors: kNotFound (bank), kInvalidArgument (a signal without payload),
// kIoError, the store's.
Result<int64_t> ExportSignatureFiles(Store& store, std::string_view bank_name, SignalType signal,
                                     const std::string& dir);

// Binary signatures (.tmk) inside text formats (NCMEC's <tmk_pdqf>): written
// as base64; read as base64 or as hex (whitespace ignored), since the
// exchange formats' documents do not pin the encoding down.
std::string SignatureToText(std::string_view bytes);
// Errors: kInvalidArgument (neither hex nor base64).
Result<std::string> SignatureFromText(std::string_view text);

// The file name extension of a signature file: ".vpdq.txt" or ".tmk".
std::string_view SignatureFileExtension(SignalType signal);

}  // namespace safeguard
