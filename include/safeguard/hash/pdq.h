// PDQ: Meta's 256-bit perceptual image hash, exact to the reference.
//
// PdqHashRgb is the canonical hash: the reference core
// (pdqDihedralHash256esFromFloatLuma) on full-resolution pixels, reproduced
// operation for operation in IEEE single precision, so its output equals the
// reference's bit for bit on any input (hash lists from the field are made
// that way). It is streamed and vectorised: the image is read once, and the
// blur never materialises a full-size float buffer.
//
// Matching conventions (see docs/pdq.md): two hashes match when their Hamming
// distance is <= kPdqMatchThreshold (inclusive); hashes with quality below
// kPdqMinQuality carry too little signal to be matched.
//
// Example:
//   RgbView view{img.pixels.data(), img.width, img.height, 3 * img.width};
//   PdqHashes h = PdqHashRgb(view, /*dihedral=*/true);
//   std::string hex = h.hash.ToHex();   // == h.dihedral[0].ToHex()
//
// Thread safety: all functions are reentrant; call them from any number of
// threads at once.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "safeguard/core/hash256.h"

namespace safeguard {

inline constexpr int kPdqMatchThreshold = 31;  // match iff distance <= 31
inline constexpr int kPdqMinQuality = 50;      // do not match below this quality
inline constexpr int kPdqMinDimension = 5;     // smaller sides hash to zero, quality 0

// Borrowed 8-bit RGB pixels, interleaved. REQUIRES: row_stride >= 3 * width,
// data valid for height rows while a hash function runs.
struct RgbView {
  const uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  std::ptrdiff_t row_stride = 0;
};

// The eight dihedral transforms, in the reference's order. The value is the
// index into PdqHashes::dihedral. Part of output formats: never renumber.
enum class Dihedral : int {
  kOriginal = 0,
  kRotate90 = 1,
  kRotate180 = 2,
  kRotate270 = 3,
  kFlipX = 4,
  kFlipY = 5,
  kFlipPlus1 = 6,   // transpose
  kFlipMinus1 = 7,  // anti-transpose
};

// "original", "rotate90", ..., "flipminus1".
std::string_view DihedralName(Dihedral d);

struct PdqHashes {
  Hash256 hash;     // the hash of the image as given
  int quality = 0;  // 0..100, the reference's gradient measure
  // Hashes of the eight transforms of the image (dihedral[0] == hash),
  // computed from one DCT by sign flips and transposes. Filled only when
  // requested; otherwise all zero.
  std::array<Hash256, 8> dihedral{};
  bool has_dihedral = false;
};

// Canonical PDQ of full-resolution pixels. Images with a side under
// kPdqMinDimension give an all-zero hash with quality 0.
PdqHashes PdqHashRgb(const RgbView& image, bool dihedral = false);

// The reference command-line tool (pdq-photo-hasher): an image with a side
// over 512 is first resized to exactly 512x512 by nearest neighbour (aspect
// ratio not kept), then hashed; a 64x64 image skips the blur. A compatibility
// mode for lists made with that tool, not the canonical hash.
PdqHashes PdqHashReference512(const RgbView& image, bool dihedral = false);

// The fast mode's core: `image` was decoded at reduced scale (e.g. JPEG DCT
// scaling) from an original_width x original_height image. The blur windows
// and sample positions are scaled so that the result approximates
// PdqHashRgb of the original (docs/performance.md has the measured
// distances). Equals PdqHashRgb when the sizes are equal.
PdqHashes PdqHashRgbReduced(const RgbView& image, int original_width, int original_height,
                            bool dihedral = false);

// Name of the blur kernel chosen for this CPU: "avx512", "avx2" or "sse2".
std::string_view PdqKernelName();

}  // namespace safeguard
