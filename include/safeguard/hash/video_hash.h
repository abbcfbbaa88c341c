// vPDQ and TMK+PDQF of one video from a single decode.
//
// Hashing a video for both fingerprints one after the other decodes it
// twice; here each frame is decoded once and handed to whichever of the two
// takes it (VideoDecoder::SampleEach). The signatures are the same as
// VpdqHashVideo's and TmkHashVideo's (tested); the decode costs about what
// TMK's alone does, since vPDQ's frames are a subset of the frames TMK's
// needs decoded (docs/performance.md, "Video").

#pragma once

#include <optional>

#include "safeguard/core/status.h"
#include "safeguard/hash/tmk.h"
#include "safeguard/hash/vpdq.h"
#include "safeguard/media/video.h"

namespace safeguard {

struct VideoSignatures {
  VpdqSignature vpdq;
  std::optional<TmkSignature> tmk;  // when asked for
};

// vPDQ with `vpdq`'s options and, when `tmk` is given, TMK+PDQF, from one
// decode of `video` (which is then used up). Errors: those of the two
// (VpdqHashVideo, TmkHashVideo).
Result<VideoSignatures> VideoSignaturesOf(VideoDecoder& video, const VpdqOptions& vpdq,
                                          const TmkOptions* tmk);

}  // namespace safeguard
