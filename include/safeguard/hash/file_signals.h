// All signals of one file: digests for every file, PDQ for images.
//
// Example:
//   SignalOptions opt;
//   opt.pdq_mode = PdqMode::kFast;
//   Result<FileSignals> s = ComputeFileSignals("upload.jpg", opt);
//   if (s.ok() && s->is_image) Use(s->pdq.hash);
//
// Thread safety: reentrant; hash many files on many threads at once.
#pragma once

#include <string>
#include <string_view>

#include "safeguard/core/status.h"
#include "safeguard/hash/digest.h"
#include "safeguard/hash/pdq.h"
#include "safeguard/media/image.h"

namespace safeguard {

enum class PdqMode {
  // Reference core on the full-resolution pixels: the hash lists' convention.
  kCanonical,
  // Decode at reduced size (JPEG DCT-domain scaling) keeping both sides >=
  // SignalOptions::fast_min_side, then the same core. Within a few bits of
  // canonical (docs/performance.md has the measured distribution).
  kFast,
  // The reference CLI's 512x512 nearest-neighbour pre-resize.
  kReference512,
};

std::string_view PdqModeName(PdqMode mode);  // "canonical", "fast", "reference512"
Result<PdqMode> ParsePdqMode(std::string_view name);

// The smallest side the fast mode decodes to. Chosen on the benchmark corpus
// (docs/performance.md): smaller is faster but drifts further from canonical.
inline constexpr int kDefaultFastMinSide = 256;

struct SignalOptions {
  PdqMode pdq_mode = PdqMode::kCanonical;
  bool dihedral = false;  // also the eight dihedral PDQ variants
  int fast_min_side = kDefaultFastMinSide;
  DecodeOptions decode;  // limits and EXIF orientation
};

struct FileSignals {
  // True when the file is in an image format we decode; false for any other
  // file, which then has digests only.
  bool is_image = false;
  PdqHashes pdq;            // valid when is_image
  int width = 0;            // of the image as stored (before any shrink)
  int height = 0;
  std::string format;       // e.g. "jpeg"; empty for non-images
  Digests digests;          // of the file's bytes, always
};

// Reads the file once. Errors: kNotFound, kIoError; for files in an image
// format, also the decode errors (kCorrupt, kLimitExceeded, ...), whose
// messages name the file. A file that is not an image is not an error.
Result<FileSignals> ComputeFileSignals(const std::string& path, const SignalOptions& options);

// The same for bytes held in memory; `name` appears in error messages.
Result<FileSignals> ComputeSignals(const uint8_t* data, size_t size, const SignalOptions& options,
                                   std::string_view name);

}  // namespace safeguard
