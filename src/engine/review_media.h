// The rendition reviewers see by default: greyscale, at most 512 px on the
// longest side, blurred (reviewer wellbeing: a person can judge a match
// without the full detail; the original is one audited click away).
#pragma once

#include <string>
#include <string_view>

#include "safeguard/core/status.h"

namespace safeguard::engine_internal {

inline constexpr int kRenditionMaxSide = 512;

// A JPEG of the image in `bytes`, greyscale, longest side <= 512 px,
// Gaussian-like blur of `sigma` pixels at that scale (three box passes; 0:
// none). Errors: as DecodeImage (kUnsupported for non-images, kCorrupt...).
Result<std::string> RenderForReview(std::string_view bytes, int sigma);

// The greyscale, downscaled, blurred pixels themselves (row-major, one byte
// per pixel); RenderForReview encodes them. Exposed for tests.
struct GreyImage {
  int width = 0;
  int height = 0;
  std::string pixels;
};
Result<GreyImage> ReviewPixels(std::string_view bytes, int sigma);

}  // namespace safeguard::engine_internal
