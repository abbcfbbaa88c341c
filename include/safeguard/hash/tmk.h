// TMK+PDQF: Meta's whole-video temporal signature (facebook/ThreatExchange
// tmk/), the one NCMEC's hash-sharing lists carry as TMK_PDQF.
//
// The video is resampled to 15 frames/s at 64x64 RGB (as the reference gets
// it from `ffmpeg -s 64:64 -pix_fmt rgb24 -r 15`); each frame gives a PDQF
// feature (the 256 floats of PDQ's 16x16 DCT, before thresholding). The
// signature holds their average (level 1) and, for each of four periods
// (2731, 4391, 9767, 14653 frames) and 32 Fourier coefficients, the cosine-
// and sine-weighted sums of the L2-normalised features (level 2).
//
// Scores, with the reference's definitions and float arithmetic:
//   level 1: cosine similarity of the two average features;
//   level 2: for each period, the best time offset's kernel value, the
//            maximum over periods, divided by the coefficients' normaliser.
// Two videos match when both are >= 0.7 (the reference's defaults).
//
// The .tmk file (TmkToBytes/ParseTmk) is the reference's, byte for byte:
// little-endian, a 32-byte header "TMK1" "FVEC" "PDQF" then fps, periods,
// coefficients, feature dimension and frame count as int32, then periods,
// coefficients, the average, the cosine and the sine features. 263,344 bytes
// with the standard parameters.
//
// Example:
//   Result<TmkSignature> a = TmkHashFile(path, {});
//   Result<TmkSignature> b = ReadTmkFile("stored.tmk");
//   TmkScores s = TmkCompare(*a, *b);
//   if (s.match) ...
//
// Thread safety: all functions are reentrant; a TmkBuilder is used by one
// thread at a time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "safeguard/core/status.h"
#include "safeguard/media/video.h"

namespace safeguard {

inline constexpr int kTmkFramesPerSecond = 15;
inline constexpr int kTmkFrameSize = 64;          // frames are scaled to 64x64
inline constexpr int kTmkFeatureDimension = 256;  // PDQF
inline constexpr std::array<int, 4> kTmkPeriods = {2731, 4391, 9767, 14653};
inline constexpr int kTmkFourierCoefficientCount = 32;
// Bytes of a .tmk file with the standard parameters.
inline constexpr size_t kTmkFileBytes = 263'344;
inline constexpr double kTmkDefaultLevel1Threshold = 0.7;  // inclusive
inline constexpr double kTmkDefaultLevel2Threshold = 0.7;  // inclusive
// ParseTmk refuses headers past these (a .tmk is read whole).
inline constexpr int kTmkMaxPeriods = 64;
inline constexpr int kTmkMaxCoefficients = 256;
inline constexpr int kTmkMaxDimension = 4096;

// The Poullot Fourier coefficients (Bessel-function weights, beta = 32) the
// reference tabulates.
const std::vector<float>& TmkFourierCoefficients();

struct TmkSignature {
  int frames_per_second = kTmkFramesPerSecond;
  int frame_count = 0;  // resampled frames hashed (informational)
  std::vector<int32_t> periods;
  std::vector<float> coefficients;
  std::vector<float> average;  // dimension floats
  // periods x coefficients x dimension, period-major.
  std::vector<float> cos_features;
  std::vector<float> sin_features;

  int dimension() const { return static_cast<int>(average.size()); }
  friend bool operator==(const TmkSignature&, const TmkSignature&) = default;
};

// Accumulates PDQF frame features into a signature, one frame at a time.
class TmkBuilder {
 public:
  TmkBuilder();
  // REQUIRES: 256 floats.
  void AddFrame(const float* feature);
  // The PDQF feature of a sampled 64x64 frame (TmkSampling's), added.
  void AddVideoFrame(const VideoFrame& frame);
  // The signature of the frames added so far (normalised as the reference).
  TmkSignature Finish() const;
  int frames() const { return frame_count_; }

 private:
  std::vector<int32_t> periods_;
  std::vector<float> coefficients_;
  std::vector<float> average_;
  std::vector<float> cos_;
  std::vector<float> sin_;
  int frame_count_ = 0;
};

// PDQF of one 64x64 RGB frame: reference luma, then PDQ's DCT without the
// blur. REQUIRES: row_stride >= 192.
void PdqfFeature(const uint8_t* rgb, std::ptrdiff_t row_stride, float out[256]);

struct TmkOptions {
  VideoOpenOptions open;
  // Frames scaled by the exact fast scaler (FrameSampling::
  // exact_fast_scaler: libswscale's bits, faster). Off: swscale for every
  // frame; the signature is the same.
  bool exact_fast_scaler = true;
};

// The frames TMK takes: 15 fps, 64x64, as the reference's ffmpeg pipe.
FrameSampling TmkSampling(const TmkOptions& options);

// Hashes a video file (15 fps, 64x64, as the reference). Errors: those of
// VideoDecoder; a video without frames is kCorrupt.
Result<TmkSignature> TmkHashFile(const std::string& path, const TmkOptions& options);
Result<TmkSignature> TmkHashVideo(VideoDecoder& video, const TmkOptions& options);

// The .tmk bytes. REQUIRES: consistent sizes (as built or parsed).
std::vector<uint8_t> TmkToBytes(const TmkSignature& signature);
// Parses .tmk bytes. kInvalidArgument for a wrong magic or algorithm,
// kCorrupt for a size that disagrees with the header, kLimitExceeded past the
// kTmkMax* values.
Result<TmkSignature> ParseTmk(const uint8_t* data, size_t size);
Result<TmkSignature> ReadTmkFile(const std::string& path);

// True when two signatures can be scored against each other (same fps,
// periods, coefficients and dimension).
bool TmkCompatible(const TmkSignature& a, const TmkSignature& b);

struct TmkScores {
  double level1 = 0;
  double level2 = 0;
  bool match = false;  // level1 >= threshold and level2 >= threshold
};

struct TmkMatchOptions {
  double level1_threshold = kTmkDefaultLevel1Threshold;
  double level2_threshold = kTmkDefaultLevel2Threshold;
};

// Level 1 only (the cheap prefilter). REQUIRES: TmkCompatible(a, b).
double TmkLevel1(const TmkSignature& a, const TmkSignature& b);
// Level 2. REQUIRES: TmkCompatible(a, b).
double TmkLevel2(const TmkSignature& a, const TmkSignature& b);
// Both, level 2 only when level 1 passes (else 0). Incompatible signatures
// score 0 and do not match.
TmkScores TmkCompare(const TmkSignature& a, const TmkSignature& b,
                     const TmkMatchOptions& options = {});

}  // namespace safeguard
