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
  // Where to write each video's signatures in the reference formats
  // (<sha256 of the file>.vpdq.txt and .tmk), ready for `bank import
  // --format vpdq|tmk`; empty: not written.
  std::string signatures_dir;
};

// The files WriteSignatureFiles wrote (empty names: none).
struct SignatureFiles {
  std::string vpdq;
  std::string tmk;
};

// Writes a fingerprinted video's vPDQ text and .tmk into `dir` (created if
// needed); nothing for other files. Errors: kIoError.
Result<SignatureFiles> WriteSignatureFiles(const std::string& dir, const FileSignals& signals);

// Files to hash, in output order: each argument in turn; a folder expands to
// its regular files, recursively, sorted by path. An argument that does not
// exist is kept, so that it gets an error line of its own.
std::vector<std::string> ExpandPaths(const std::vector<std::string>& args);

// One JSON object (no newline) for a file's signals or its error. An image
// or video that could not be decoded keeps its digests beside "error".
// "type" is "image", "video" or "file". A video has "format" (container),
// "codec", "width", "height", "rotation", "frame_rate", "duration",
// "vpdq" (one string per hashed frame, the reference's line
// "frame,quality,hash,timestamp"), "tmk_frames" and "tmk_sha256" (the bank
// key of its TMK+PDQF signature), and "vpdq_file"/"tmk_file" when `files`.
std::string SignalsJson(const std::string& path, const Result<FileSignals>& signals, bool dihedral,
                        const SignatureFiles* files = nullptr);

// Hashes every file, writing one line per file to `out` in input order while
// workers run ahead. Returns the process exit code: 0 when every file was
// processed, 1 when any had an error.
int RunHashCommand(const HashCommandOptions& options, std::ostream& out);

}  // namespace safeguard::cli
