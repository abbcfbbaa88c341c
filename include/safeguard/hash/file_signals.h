// All signals of one file: digests for every file, PDQ for images, vPDQ and
// TMK+PDQF for videos.
//
// What a file is: an image when its signature is one the image decoder
// reads; otherwise a video when FFmpeg's probe finds a container with a video
// stream that the decoder accepts (media/video.h); otherwise a plain file.
// Files over the video size limit (VideoLimits::max_file_bytes) are not
// probed: digests only.
// A video is decoded twice, once per fingerprint (vPDQ at 1 frame/s by
// default, TMK at 15 fps resampled to 64x64).
//
// Example:
//   SignalOptions opt;
//   opt.pdq_mode = PdqMode::kFast;
//   Result<FileSignals> s = ComputeFileSignals("upload.jpg", opt);
//   if (s.ok() && s->is_image) Use(s->pdq.hash);
//
// Thread safety: reentrant; hash many files on many threads at once.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "safeguard/core/status.h"
#include "safeguard/hash/digest.h"
#include "safeguard/hash/pdq.h"
#include "safeguard/hash/tmk.h"
#include "safeguard/hash/vpdq.h"
#include "safeguard/media/image.h"
#include "safeguard/media/video.h"

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
inline constexpr int kDefaultFastMinSide = 384;

struct SignalOptions {
  PdqMode pdq_mode = PdqMode::kCanonical;
  bool dihedral = false;  // also the eight dihedral PDQ variants
  int fast_min_side = kDefaultFastMinSide;
  DecodeOptions decode;  // limits and EXIF orientation
  // Videos: probe files that are not images, and fingerprint the videos.
  bool video = true;
  VpdqOptions vpdq;  // vpdq.open (limits, threads) applies to TMK's decode too
  bool tmk = true;   // TMK+PDQF besides vPDQ
};

struct FileSignals {
  // True when the file is in an image format we decode (by its signature);
  // false for any other file, which then has digests only.
  bool is_image = false;
  // For an image: OK when it decoded and `pdq` is valid; otherwise why not
  // (kCorrupt, kLimitExceeded, kUnsupported, ...; the message names the file).
  // The digests are valid either way: an exact match needs no decoding.
  Status image_status;
  PdqHashes pdq;  // valid when is_image && image_status.ok()
  int width = 0;  // full-resolution size (before any shrink-on-load)
  int height = 0;
  std::string format;  // e.g. "jpeg"; for a video its container; else empty
  Digests digests;     // of the file's bytes, always

  // True when the file is a video (see the top of this file).
  bool is_video = false;
  // For a video: OK when its fingerprints were computed; otherwise why not
  // (the digests are valid either way).
  Status video_status;
  VideoInfo video;                  // what the container says
  std::vector<VpdqFrame> vpdq;      // valid when is_video && video_status.ok()
  std::optional<TmkSignature> tmk;  // likewise, when SignalOptions::tmk

  // True when every signal the file should have was computed.
  bool complete() const { return image_status.ok() && video_status.ok(); }
};

// Reads the file once for the digests (an image over max_file_bytes is
// streamed through them and not decoded); a video is read again by its
// decoders. Errors: kNotFound, kIoError, kInvalidArgument
// (a directory). Decode failures are not errors of this function: they are
// in FileSignals::image_status, beside the digests.
Result<FileSignals> ComputeFileSignals(const std::string& path, const SignalOptions& options);

// The same for bytes held in memory; `name` appears in error messages.
Result<FileSignals> ComputeSignals(const uint8_t* data, size_t size, const SignalOptions& options,
                                   std::string_view name);

}  // namespace safeguard
