// vPDQ: Meta's video fingerprint, the PDQ hash of sampled frames.
//
// Each sampled frame (at its native resolution unless asked otherwise) gets a
// canonical PDQ hash (PdqHashRgb), its quality, its frame number and its
// timestamp (frame number / the stream's average frame rate), as the
// reference (facebook/ThreatExchange vpdq/) computes them. The text format is
// the reference's: one line per frame, `frame,quality,hash,timestamp`, the
// timestamp with three decimals.
//
// Matching a query video against a stored one (VpdqMatch) follows the
// reference's brute-force matcher as python-threatexchange and HMA use it:
// both lists are deduplicated (identical hashes kept once) and filtered by
// quality; a frame of one list matches when some frame of the other is
// within the distance (inclusive). The result is the share of the query's
// frames found in the stored video and the share of the stored video's
// frames found in the query, in percent.
//
// Example:
//   Result<VpdqSignature> q = VpdqHashFile(path, {});      // 1 frame/s
//   Result<std::vector<VpdqFrame>> s = ParseVpdq(stored_text);
//   VpdqMatchResult m = VpdqMatch(q->frames, *s, {});
//   if (m.query_percent >= 80) ...
//
// Thread safety: all functions are reentrant.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "safeguard/core/hash256.h"
#include "safeguard/core/status.h"
#include "safeguard/media/video.h"

namespace safeguard {

struct VpdqFrame {
  Hash256 hash;
  int quality = 0;         // 0..100
  int64_t frame = 0;       // decoded-frame index
  double timestamp = 0.0;  // seconds: frame / average frame rate
  friend bool operator==(const VpdqFrame&, const VpdqFrame&) = default;
};

struct VpdqSignature {
  std::vector<VpdqFrame> frames;
  VideoInfo info;
};

struct VpdqOptions {
  VideoOpenOptions open;
  // Seconds between hashed frames (by frame index, as the reference: every
  // int(seconds * fps)-th frame). 0 hashes every frame (the conformance mode).
  double seconds_per_hash = 1.0;
  // Hash frames scaled to this size first (the reference's -d option, e.g.
  // 128x128); 0 = native resolution (the reference's default).
  int downsample_width = 0;
  int downsample_height = 0;
};

// VpdqHashVideo's parts, for decoding once for several fingerprints
// (VideoSignaturesOf in video_hash.h): the frames vPDQ takes
// (kInvalidArgument for a half-given downsample size) and one frame's entry.
Result<FrameSampling> VpdqSampling(const VpdqOptions& options);
VpdqFrame VpdqHashFrame(const VideoFrame& frame);

// Hashes a video file. Errors: those of VideoDecoder::OpenFile and Sample.
Result<VpdqSignature> VpdqHashFile(const std::string& path, const VpdqOptions& options);
// Hashes frames from an open decoder (which is then used up).
Result<VpdqSignature> VpdqHashVideo(VideoDecoder& video, const VpdqOptions& options);

// The reference's text: "frame,quality,hash,timestamp\n" per frame,
// timestamp with three decimals ("12,100,e271...,0.400").
std::string FormatVpdq(const std::vector<VpdqFrame>& frames);
// Parses that text (blank lines and a trailing newline allowed; a fourth
// field is required, further fields are ignored as the reference does).
// kInvalidArgument names the line. At most kMaxVpdqLines lines.
inline constexpr size_t kMaxVpdqLines = 10'000'000;
Result<std::vector<VpdqFrame>> ParseVpdq(std::string_view text);

inline constexpr int kVpdqDefaultDistance = 31;  // inclusive
inline constexpr int kVpdqDefaultQuality = 50;   // frames below are ignored

struct VpdqMatchOptions {
  int max_distance = kVpdqDefaultDistance;  // frames match when distance <= this
  int min_quality = kVpdqDefaultQuality;    // frames with quality below are dropped
  // Besides dropping exact repeats (always, as the reference), collapse a
  // run of consecutive frames each within this distance of the run's first
  // frame into that frame. -1 (default): off, the reference's numbers.
  int collapse_distance = -1;
};

struct VpdqMatchResult {
  double query_percent = 0;   // share of the query's frames found in the stored video
  double stored_percent = 0;  // share of the stored video's frames found in the query
  int query_frames = 0;       // frames compared after dedup and the quality filter
  int stored_frames = 0;
};

// Brute force (the oracle); either list empty after filtering gives 0, 0.
VpdqMatchResult VpdqMatch(const std::vector<VpdqFrame>& query, const std::vector<VpdqFrame>& stored,
                          const VpdqMatchOptions& options);

// The frames VpdqMatch compares: quality-filtered, exact repeats removed
// (first kept), then consecutive near-duplicates collapsed if asked.
std::vector<VpdqFrame> VpdqPrepare(const std::vector<VpdqFrame>& frames,
                                   const VpdqMatchOptions& options);

}  // namespace safeguard
