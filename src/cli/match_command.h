// `safeguard match`: match files, or PDQ hashes sent by clients, against
// every enabled bank of a store (docs/banks.md).
//
//   safeguard [--store URL] match [--dihedral] [-j N] PATH...
//     one JSON line per file, in input order (hashed on N threads, default
//     one per core): {"path": ..., "type": "image"|"video"|"file", "pdq": ...,
//     "matches": [...], "allow": [...]}; a video has "vpdq_frames" and
//     "tmk_frames" instead of "pdq" and is matched by vPDQ, TMK and digests
//   safeguard [--store URL] match --hashes FILE|-
//     one JSON line per PDQ hash: {"pdq": "<hex>", "matches": [...], "allow": [...]}
//
// A match: {"bank", "entry", "signal", "distance", "labels" (the bank's),
// "entry_labels"} and, with --dihedral, "variant"; a vPDQ match also has
// "query_percent" and "entry_percent", a TMK match "level1" and "level2". Files are hashed as
// `safeguard hash` hashes them; a file with an error gets "error" and
// "error_code" (its digests are still matched when it was read).
//
// Exit codes: 0 every input processed; 1 some had an error line; 2 nothing
// done (the store could not be opened, or does not exist: "no store at
// PATH", and nothing is created; the error is on stderr).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "ordered_output.h"
#include "safeguard/bank/matcher.h"
#include "safeguard/hash/file_signals.h"

namespace safeguard::cli {

// One JSON object (no newline) for a file's matches.
std::string FileMatchJson(const std::string& path, const Result<FileSignals>& signals,
                          const BankMatcher& matcher, bool dihedral);

class MatchCommand {
 public:
  MatchCommand(CLI::App* app, const std::string* store_url);
  bool parsed() const { return match_->parsed(); }
  // REQUIRES: parsed(). `in` is the input of `--hashes -`. Image decoding
  // must be initialised (InitializeImageDecoding) when paths are given.
  int Run(std::istream& in, std::ostream& out, std::ostream& err);

 private:
  const std::string* store_url_;
  CLI::App* match_;
  std::vector<std::string> paths_;
  std::string hashes_;
  bool dihedral_ = false;
  int jobs_ = 0;
};

}  // namespace safeguard::cli
