// Internals shared by the PDQ implementations: the blur kernels, the simple
// oracle, and the steps after the 64x64 downsample. Not part of the API.
#pragma once

#include <cstdint>
#include <string_view>

#include "safeguard/hash/pdq.h"

namespace safeguard::pdq_internal {

// Which implementation of the blur+decimate stage to run.
enum class Kernel {
  kOracle,  // full-size float buffers, the reference's loops as written
  kSse2,    // streamed, vectorised by the compiler for baseline x86-64
  kAvx2,
  kAvx512,
};

// The fastest kernel this CPU supports (never kOracle).
Kernel BestKernel();
std::string_view KernelName(Kernel k);
bool KernelSupported(Kernel k);

// The reference's Jarosz box-filter window for downsampling a side of
// `old_dim` pixels to 64: ceil-ish of old_dim / 128.
inline int JaroszWindow(int old_dim) { return (old_dim + 2 * 64 - 1) / (2 * 64); }

// Source row/column index of each of the 64 decimated samples, as the
// reference computes it (in double precision).
void DecimationIndices(int in_size, int out[64]);

// What the blur+decimate stage does to an image: the box filter's window
// along rows (horizontal) and along columns, and the 64 rows and columns it
// keeps (non-decreasing, inside the image).
struct BlurGeometry {
  int row_window = 1;
  int col_window = 1;
  int sample_rows[64] = {};
  int sample_cols[64] = {};
  // Bilinear sampling (the fast mode's): sample i lies `row_frac[i]` of the
  // way from row sample_rows[i] to the next (clamped to the last row), and
  // likewise for columns; each output is lo + frac * (hi - lo) in float,
  // first along the row, then between the two rows. Off for the canonical
  // geometry, which picks pixels exactly as the reference does.
  bool interpolate = false;
  float row_frac[64] = {};
  float col_frac[64] = {};

  // The reference's: windows from JaroszWindow, samples from DecimationIndices.
  static BlurGeometry Canonical(int width, int height);
  // For an image decoded at reduced scale from an original_width x
  // original_height one: windows scaled down and samples moved so that each
  // output sample averages about the same part of the scene as the canonical
  // pipeline on the original would.
  static BlurGeometry Scaled(int width, int height, int original_width, int original_height);
};

// The reference's float luma, 0.299 R + 0.587 G + 0.114 B, evaluated in that
// order in single precision. Tables of the three products per byte value.
struct LumaTables {
  float r[256];
  float g[256];
  float b[256];
};
const LumaTables& Luma();

// Blur (two passes of rows-then-columns box filters) and decimate to 64x64,
// exactly as the reference does with the canonical geometry.
// REQUIRES: width, height >= kPdqMinDimension; windows <= the sides.
void BlurDecimateOracle(const RgbView& image, const BlurGeometry& geometry, float out[64][64]);

// The streamed kernels need BlurScratchFloats(width, col_window) floats of
// scratch memory (a few rows' worth, not the image).
// Columns the last pass keeps: 64, or 128 (two per sample) when interpolating.
constexpr int kMaxGatheredColumns = 128;
size_t BlurScratchFloats(int width, int col_window);
void BlurDecimateSse2(const RgbView& image, const BlurGeometry& geometry, float* scratch,
                      float out[64][64]);
void BlurDecimateAvx2(const RgbView& image, const BlurGeometry& geometry, float* scratch,
                      float out[64][64]);
void BlurDecimateAvx512(const RgbView& image, const BlurGeometry& geometry, float* scratch,
                        float out[64][64]);
// Runs one of the four, allocating the scratch.
void BlurDecimate(const RgbView& image, const BlurGeometry& geometry, Kernel kernel,
                  float out[64][64]);

// PDQF, the float feature TMK uses per frame: the 16x16 DCT of a 64x64
// buffer (no blur, as the reference's pdqFloat256FromFloatLuma does for a
// frame already scaled to 64x64), and its quality.
void PdqFloatFromDownsampled(const float buffer[64][64], float out[16][16], int* quality);

// Quality, DCT, median threshold and dihedral hashes from the 64x64 buffer.
PdqHashes HashFromDownsampled(const float buffer[64][64], bool dihedral);

// The whole hash with a chosen kernel (tests compare kernels).
PdqHashes PdqHashRgbWithKernel(const RgbView& image, bool dihedral, Kernel kernel);
PdqHashes PdqHashWithGeometry(const RgbView& image, const BlurGeometry& geometry, bool dihedral,
                              Kernel kernel);

// The whole reference hash written as the reference's loops, for property
// tests of every step: luma buffer, blur, decimation, quality, DCT, Torben
// median, bits. Shares nothing with the fast path but the luma tables.
PdqHashes PdqHashOracle(const RgbView& image, bool dihedral);

}  // namespace safeguard::pdq_internal
