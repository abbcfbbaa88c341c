// libFuzzer target: arbitrary bytes -> DecodeImage -> PDQ (with dihedral).
//
// Finds memory errors and undefined behaviour (ASan/UBSan) in the decode path
// (our code and the libvips loaders it reaches: JPEG, PNG, WebP, GIF, TIFF,
// HEIF) and in the hashing of whatever decodes, and checks the contracts:
// failures carry one of the documented codes; successes are well-formed
// images within the limits; the sniffed format names the loader used.
//
// Limits are small so that each input runs in milliseconds and a
// "decompression bomb" shows up as kLimitExceeded, not as a slow unit.
// Build and run: fuzz/run.sh (see fuzz/README.md).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "safeguard/hash/pdq.h"
#include "safeguard/media/image.h"

namespace {

constexpr uint64_t kFuzzMaxPixels = 4'000'000;
constexpr int kFuzzMaxDimension = 8'192;
constexpr uint64_t kFuzzMaxFileBytes = 8u << 20;

void Check(bool condition) {
  if (!condition) std::abort();  // libFuzzer reports it as a crash
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  Check(safeguard::InitializeImageDecoding().ok());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using safeguard::ErrorCode;
  safeguard::DecodeOptions options;
  options.limits.max_pixels = kFuzzMaxPixels;
  options.limits.max_dimension = kFuzzMaxDimension;
  options.limits.max_file_bytes = kFuzzMaxFileBytes;
  // Vary the options with the input length, not its bytes, so seeds stay
  // valid images and every input is reproducible on its own.
  options.apply_exif_orientation = (size & 1) != 0;
  options.shrink_to_min_side = (size & 2) != 0 ? 64 : 0;

  safeguard::Result<safeguard::RgbImage> image =
      safeguard::DecodeImage(data, size, options, "fuzz-input");
  if (!image.ok()) {
    const ErrorCode code = image.status().code();
    Check(code == ErrorCode::kUnsupported || code == ErrorCode::kCorrupt ||
          code == ErrorCode::kLimitExceeded);
    Check(!image.status().message().empty());
    return 0;
  }

  const safeguard::RgbImage& rgb = *image;
  Check(rgb.width > 0 && rgb.height > 0);
  Check(rgb.pixels.size() == size_t(rgb.width) * size_t(rgb.height) * 3);
  Check(uint64_t(rgb.original_width) * uint64_t(rgb.original_height) <= kFuzzMaxPixels);
  Check(rgb.original_width <= kFuzzMaxDimension && rgb.original_height <= kFuzzMaxDimension);
  Check(!rgb.format.empty() && safeguard::SniffImageFormat(data, size) == rgb.format);

  const safeguard::RgbView view{rgb.pixels.data(), rgb.width, rgb.height,
                                std::ptrdiff_t{3} * rgb.width};
  const safeguard::PdqHashes hashes = safeguard::PdqHashRgb(view, /*dihedral=*/true);
  Check(hashes.quality >= 0 && hashes.quality <= 100);
  Check(hashes.has_dihedral && hashes.dihedral[0] == hashes.hash);
  // The fast mode's core, with the geometry scaled from the full size.
  const safeguard::PdqHashes reduced =
      safeguard::PdqHashRgbReduced(view, rgb.original_width, rgb.original_height, true);
  Check(reduced.quality >= 0 && reduced.quality <= 100);
  if (rgb.width == rgb.original_width && rgb.height == rgb.original_height) {
    Check(reduced.hash == hashes.hash);
  }
  return 0;
}
