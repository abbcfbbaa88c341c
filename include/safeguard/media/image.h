// Image decoding: any supported file or buffer -> 8-bit RGB pixels.
//
// Every input goes through the same rules, so hashes are reproducible:
//   - alpha is dropped, not composited (the convention of the reference
//     hashes: ImageMagick's RGB export of an RGBA PNG);
//   - grey becomes R = G = B; palette, 16-bit and CMYK become 8-bit sRGB;
//   - animated formats (GIF, WebP) give their first frame;
//   - EXIF orientation is ignored unless DecodeOptions::apply_exif_orientation.
//
// Limits are checked from the header, before any pixel is decoded, so a
// decompression bomb (a 60000x60000 PNG of a few kilobytes) is refused cheaply.
// A truncated or corrupt file is an error, never a partly grey image.
//
// Thread safety: all functions may be called from many threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "safeguard/core/status.h"

namespace safeguard {

// Named defaults for DecodeLimits (documented in docs/limits.md).
inline constexpr uint64_t kDefaultMaxImageFileBytes = uint64_t{256} << 20;  // 256 MiB
inline constexpr uint64_t kDefaultMaxImagePixels = 100'000'000;             // 100 megapixels
inline constexpr int kDefaultMaxImageDimension = 30'000;                    // px, either side

struct DecodeLimits {
  // Files larger than this are not decoded (their digests are still computed).
  uint64_t max_file_bytes = kDefaultMaxImageFileBytes;
  // width * height above this is refused before decoding.
  uint64_t max_pixels = kDefaultMaxImagePixels;
  // A width or height above this is refused before decoding.
  int max_dimension = kDefaultMaxImageDimension;
};

struct DecodeOptions {
  DecodeLimits limits;
  // Rotate/flip by the EXIF Orientation tag. Off by default, as in the PDQ
  // reference and hash lists made with it.
  bool apply_exif_orientation = false;
  // Shrink-on-load for the fast path: when > 0, formats that can decode at a
  // reduced scale (JPEG by 2/4/8 in the DCT domain, WebP) do so by the largest
  // factor that keeps both sides >= this many pixels. 0 = full resolution.
  int shrink_to_min_side = 0;
};

// 8-bit RGB, interleaved, rows packed (row stride = 3 * width).
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;
  // Full-resolution dimensions of the picture returned: before any
  // shrink-on-load, after EXIF orientation when it was applied (so a
  // 4032x3024 photo with orientation 6, applied, reports 3024x4032).
  int original_width = 0;
  int original_height = 0;
  // Loader that decoded it: "jpeg", "png", "webp", "gif", "tiff", "heif"
  // (HEIC and AVIF) or "bmp".
  std::string format;
};

// Starts the image library. Idempotent and thread-safe; the decode functions
// call it themselves, so callers need it only to fail early.
Status InitializeImageDecoding();

// Name of the image format whose signature starts `head` ("jpeg", "png",
// "webp", "gif", "tiff", "heif"), or "" if it is not an image format this
// build can decode (BMP, for one: see src/media/README.md). Needs at most the
// first 64 bytes.
std::string SniffImageFormat(const uint8_t* head, size_t size);

// Decodes an image held in memory. `name` is used in error messages only.
// Errors: kUnsupported (not an image we can decode), kCorrupt (damaged or
// truncated), kLimitExceeded (over a DecodeLimits value).
Result<RgbImage> DecodeImage(const uint8_t* data, size_t size, const DecodeOptions& options,
                             std::string_view name);

// Reads and decodes a file; errors name the file. Adds kNotFound, kIoError
// and kInvalidArgument (a directory or other non-regular file) to the errors
// of DecodeImage; a file over max_file_bytes is refused before it is read.
Result<RgbImage> DecodeImageFile(const std::string& path, const DecodeOptions& options);

// Image loaders this build has, e.g. {"jpeg", "png", "webp", "gif", ...}.
std::vector<std::string> SupportedImageFormats();

}  // namespace safeguard
