// `safeguard hash`: signals of files and folders as JSON lines.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "safeguard/hash/file_signals.h"

namespace safeguard::cli {

struct HashCommandOptions {
  std::vector<std::string> paths;  // files and folders (walked recursively)
  SignalOptions signals;
  int jobs = 0;          // worker threads; 0 = one per core
  bool progress = true;  // on stderr, only when it is a terminal and the run is long
};

// Files to hash, in output order: each argument in turn; a folder expands to
// its regular files, recursively, sorted by path. An argument that does not
// exist is kept, so that it gets an error line of its own.
std::vector<std::string> ExpandPaths(const std::vector<std::string>& args);

// One JSON object (no newline) for a file's signals or its error. An image
// that could not be decoded keeps its digests beside "error".
std::string SignalsJson(const std::string& path, const Result<FileSignals>& signals, bool dihedral);

// Hashes every file, writing one line per file to `out` in input order while
// workers run ahead. Returns the process exit code: 0 when every file was
// processed, 1 when any had an error.
int RunHashCommand(const HashCommandOptions& options, std::ostream& out);

}  // namespace safeguard::cli
