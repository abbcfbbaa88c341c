// PDQ after the blur: quality, the 64->16 DCT, the median threshold and the
// dihedral variants; kernel dispatch; the reference-CLI compatibility mode.

#include "safeguard/hash/pdq.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "pdq_internal.h"

namespace safeguard {
namespace pdq_internal {
namespace {

// The reference's 16x64 DCT-II matrix: rows 1..16 of the 64-point basis
// (row 0, the DC term, is dropped), scaled by sqrt(2/64). Computed in double
// and stored as float, as the reference does. Also kept transposed.
struct DctMatrix {
  float d[16][64];
  float dt[64][16];
  DctMatrix() {
    const float scale = static_cast<float>(std::sqrt(2.0 / 64.0));
    for (int i = 0; i < 16; ++i) {
      for (int j = 0; j < 64; ++j) {
        d[i][j] = static_cast<float>(
            scale * std::cos((3.14159265358979323846 / 2.0 / 64.0) * (i + 1) * (2 * j + 1)));
        dt[j][i] = d[i][j];
      }
    }
  }
};

const DctMatrix& Dct() {
  static const DctMatrix m;
  return m;
}

int Quality(const float a[64][64]) {
  int gradient_sum = 0;
  for (int i = 0; i < 63; ++i) {
    for (int j = 0; j < 64; ++j) {
      gradient_sum += std::abs(static_cast<int>(((a[i][j] - a[i + 1][j]) * 100) / 255));
    }
  }
  for (int i = 0; i < 64; ++i) {
    for (int j = 0; j < 63; ++j) {
      gradient_sum += std::abs(static_cast<int>(((a[i][j] - a[i][j + 1]) * 100) / 255));
    }
  }
  return std::min(gradient_sum / 90, 100);
}

// B = D A D^T with every sum accumulated over k in increasing order, as in
// the reference; the loops are ordered so that the inner one runs across
// independent outputs (and vectorises) instead of along a sum.
void Dct64To16(const float a[64][64], float b[16][16]) {
  const DctMatrix& m = Dct();
  float t[16][64];
  for (int i = 0; i < 16; ++i) {
    float* row = t[i];
    std::fill(row, row + 64, 0.0f);
    for (int k = 0; k < 64; ++k) {
      const float dik = m.d[i][k];
      for (int j = 0; j < 64; ++j) row[j] += dik * a[k][j];
    }
  }
  for (int i = 0; i < 16; ++i) {
    float* row = b[i];
    std::fill(row, row + 16, 0.0f);
    for (int k = 0; k < 64; ++k) {
      const float tik = t[i][k];
      for (int j = 0; j < 16; ++j) row[j] += tik * m.dt[k][j];
    }
  }
}

// The reference thresholds at Torben's median, which for 256 values is the
// 128th smallest (the lower median); nth_element finds the same value.
Hash256 Bits(const float dct[16][16]) {
  float sorted[256];
  std::copy(&dct[0][0], &dct[0][0] + 256, sorted);
  std::nth_element(sorted, sorted + 127, sorted + 256);
  const float median = sorted[127];
  Hash256 h;
  const float* v = &dct[0][0];
  for (int k = 0; k < 256; ++k) {
    if (v[k] > median) h.set_bit(k);
  }
  return h;
}

// The DCT of a transformed image is the original DCT with some coefficients
// negated (odd basis functions change sign under a flip) and, for the
// transforms that swap axes, transposed. `transpose` says whether output
// (j, i) takes input (i, j); the sign of coefficient (i, j) is given by the
// parity masks: negate when ((i & ni) + (j & nj) + c) is odd.
struct DihedralRule {
  bool transpose;
  int ni, nj, c;
};
// i, j index frequencies 1..16, so an even index is an odd frequency.
constexpr DihedralRule kRules[8] = {
    {false, 0, 0, 0},  // original
    {true, 0, 1, 1},   // rotate90: negate where j is even
    {false, 1, 1, 0},  // rotate180: negate where i + j is odd
    {true, 1, 0, 1},   // rotate270: negate where i is even
    {false, 1, 0, 1},  // flipx: negate where i is even
    {false, 0, 1, 1},  // flipy: negate where j is even
    {true, 0, 0, 0},   // flipplus1: transpose
    {true, 1, 1, 0},   // flipminus1: transpose, negate where i + j is odd
};

}  // namespace

void DecimationIndices(int in_size, int out[64]) {
  for (int i = 0; i < 64; ++i) out[i] = static_cast<int>(((i + 0.5) * in_size) / 64);
}

const LumaTables& Luma() {
  static const LumaTables tables = [] {
    LumaTables t;
    for (int v = 0; v < 256; ++v) {
      t.r[v] = 0.299f * static_cast<float>(v);
      t.g[v] = 0.587f * static_cast<float>(v);
      t.b[v] = 0.114f * static_cast<float>(v);
    }
    return t;
  }();
  return tables;
}

void PdqFloatFromDownsampled(const float buffer[64][64], float out[16][16], int* quality) {
  *quality = Quality(buffer);
  Dct64To16(buffer, out);
}

PdqHashes HashFromDownsampled(const float buffer[64][64], bool dihedral) {
  PdqHashes result;
  result.quality = Quality(buffer);
  float b[16][16];
  Dct64To16(buffer, b);
  result.hash = Bits(b);
  result.has_dihedral = dihedral;
  if (!dihedral) return result;
  result.dihedral[0] = result.hash;
  for (int r = 1; r < 8; ++r) {
    const DihedralRule& rule = kRules[r];
    float x[16][16];
    for (int i = 0; i < 16; ++i) {
      for (int j = 0; j < 16; ++j) {
        const bool negate = (((i & rule.ni) + (j & rule.nj) + rule.c) & 1) != 0;
        const float v = negate ? -b[i][j] : b[i][j];
        if (rule.transpose) {
          x[j][i] = v;
        } else {
          x[i][j] = v;
        }
      }
    }
    result.dihedral[r] = Bits(x);
  }
  return result;
}

size_t BlurScratchFloats(int width, int col_window) {
  // Four bands of 16 rows (two transposed, two row-major), and the two column
  // passes' rings of window + 16 rows plus their sums and outputs (see
  // pdq_blur.inc).
  constexpr size_t kBandRows = 16;
  const size_t w = static_cast<size_t>(width);
  const size_t ring_rows = static_cast<size_t>(col_window) + kBandRows + 2;
  return 4 * kBandRows * w + ring_rows * w + ring_rows * kMaxGatheredColumns;
}

void BlurDecimate(const RgbView& image, const BlurGeometry& geometry, Kernel kernel,
                  float out[64][64]) {
  if (kernel == Kernel::kOracle) {
    BlurDecimateOracle(image, geometry, out);
    return;
  }
  std::vector<float> scratch(BlurScratchFloats(image.width, geometry.col_window));
  switch (kernel) {
    case Kernel::kOracle:
      break;
    case Kernel::kSse2:
      BlurDecimateSse2(image, geometry, scratch.data(), out);
      break;
    case Kernel::kAvx2:
      BlurDecimateAvx2(image, geometry, scratch.data(), out);
      break;
    case Kernel::kAvx512:
      BlurDecimateAvx512(image, geometry, scratch.data(), out);
      break;
  }
}

BlurGeometry BlurGeometry::Canonical(int width, int height) {
  BlurGeometry g;
  g.row_window = JaroszWindow(width);
  g.col_window = JaroszWindow(height);
  DecimationIndices(height, g.sample_rows);
  DecimationIndices(width, g.sample_cols);
  return g;
}

namespace {

// One axis of BlurGeometry::Scaled. The reference's box filter writes output
// o from inputs [o + h - w, o + h - 1], h = (w + 2) / 2: centred at o + off(w),
// off(w) = h - 1 - (w - 1) / 2, half a pixel late for even w. After its two
// passes the canonical sample x averages around x + 2 off(w). A reduced pixel
// k stands for the original pixels [k s, (k + 1) s), centred at
// (k + 0.5) s - 0.5. With the reduced window w' ~ w / s, the reduced position
// whose two-pass centre lands on the canonical one is fractional; the sample
// is interpolated there. (Rounding to the nearest pixel instead doubles the
// mean distance to the canonical hash: docs/performance.md.)
void ScaleAxis(int reduced, int original, int* window, int samples[64], float fractions[64]) {
  const double s = static_cast<double>(original) / reduced;
  const int w = JaroszWindow(original);
  const int w_reduced = std::clamp(static_cast<int>(std::lround(w / s)), 1, reduced);
  auto offset = [](int win) { return (win + 2) / 2 - 1 - (win - 1) / 2.0; };
  *window = w_reduced;
  int canonical[64];
  DecimationIndices(original, canonical);
  for (int i = 0; i < 64; ++i) {
    const double centre = canonical[i] + 2 * offset(w);
    const double k = std::clamp((centre + 0.5) / s - 0.5 - 2 * offset(w_reduced), 0.0,
                                static_cast<double>(reduced - 1));
    samples[i] = static_cast<int>(k);  // non-decreasing, as k is
    fractions[i] = samples[i] == reduced - 1 ? 0.0f : static_cast<float>(k - samples[i]);
  }
}

}  // namespace

BlurGeometry BlurGeometry::Scaled(int width, int height, int original_width, int original_height) {
  if (width == original_width && height == original_height) return Canonical(width, height);
  BlurGeometry g;
  g.interpolate = true;
  ScaleAxis(width, original_width, &g.row_window, g.sample_cols, g.col_frac);
  ScaleAxis(height, original_height, &g.col_window, g.sample_rows, g.row_frac);
  return g;
}

bool KernelSupported(Kernel k) {
  switch (k) {
    case Kernel::kOracle:
    case Kernel::kSse2:
      return true;
    case Kernel::kAvx2:
      return __builtin_cpu_supports("avx2");
    case Kernel::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl");
  }
  return false;
}

Kernel BestKernel() {
  static const Kernel best = [] {
    if (const char* forced = std::getenv("SAFEGUARD_PDQ_KERNEL")) {
      for (Kernel k : {Kernel::kSse2, Kernel::kAvx2, Kernel::kAvx512}) {
        if (KernelName(k) == forced && KernelSupported(k)) return k;
      }
    }
    if (KernelSupported(Kernel::kAvx512)) return Kernel::kAvx512;
    if (KernelSupported(Kernel::kAvx2)) return Kernel::kAvx2;
    return Kernel::kSse2;
  }();
  return best;
}

std::string_view KernelName(Kernel k) {
  switch (k) {
    case Kernel::kOracle:
      return "oracle";
    case Kernel::kSse2:
      return "sse2";
    case Kernel::kAvx2:
      return "avx2";
    case Kernel::kAvx512:
      return "avx512";
  }
  return "unknown";
}

PdqHashes PdqHashRgbWithKernel(const RgbView& image, bool dihedral, Kernel kernel) {
  if (image.width < kPdqMinDimension || image.height < kPdqMinDimension) {
    PdqHashes zero;
    zero.has_dihedral = dihedral;
    return zero;
  }
  return PdqHashWithGeometry(image, BlurGeometry::Canonical(image.width, image.height), dihedral,
                             kernel);
}

PdqHashes PdqHashWithGeometry(const RgbView& image, const BlurGeometry& geometry, bool dihedral,
                              Kernel kernel) {
  if (image.width < kPdqMinDimension || image.height < kPdqMinDimension) {
    PdqHashes zero;
    zero.has_dihedral = dihedral;
    return zero;
  }
  float buffer[64][64];
  BlurDecimate(image, geometry, kernel, buffer);
  return HashFromDownsampled(buffer, dihedral);
}

}  // namespace pdq_internal

std::string_view DihedralName(Dihedral d) {
  static constexpr std::string_view kNames[8] = {"original", "rotate90", "rotate180", "rotate270",
                                                 "flipx",    "flipy",    "flipplus1", "flipminus1"};
  const int i = static_cast<int>(d);
  return i >= 0 && i < 8 ? kNames[i] : "unknown";
}

PdqHashes PdqHashRgb(const RgbView& image, bool dihedral) {
  return pdq_internal::PdqHashRgbWithKernel(image, dihedral, pdq_internal::BestKernel());
}

PdqHashes PdqHashReference512(const RgbView& image, bool dihedral) {
  constexpr int kSide = 512;
  if (image.width <= kSide && image.height <= kSide) {
    if (image.width == 64 && image.height == 64) {
      // The reference's single-hash path copies a 64x64 luma image straight
      // into the DCT input, without the blur.
      const pdq_internal::LumaTables& luma = pdq_internal::Luma();
      float buffer[64][64];
      for (int i = 0; i < 64; ++i) {
        const uint8_t* p = image.data + i * image.row_stride;
        for (int j = 0; j < 64; ++j) {
          buffer[i][j] = luma.r[p[3 * j]] + luma.g[p[3 * j + 1]] + luma.b[p[3 * j + 2]];
        }
      }
      return pdq_internal::HashFromDownsampled(buffer, dihedral);
    }
    return PdqHashRgb(image, dihedral);
  }
  // CImg's nearest-neighbour resize: output index x reads source index
  // floor(x * old / new), computed in double.
  std::vector<int> src_col(kSide), src_row(kSide);
  for (int x = 0; x < kSide; ++x) {
    src_col[x] = static_cast<int>((static_cast<double>(x) * image.width) / kSide);
    src_row[x] = static_cast<int>((static_cast<double>(x) * image.height) / kSide);
  }
  std::vector<uint8_t> resized(static_cast<size_t>(kSide) * kSide * 3);
  for (int y = 0; y < kSide; ++y) {
    const uint8_t* src = image.data + src_row[y] * image.row_stride;
    uint8_t* dst = &resized[static_cast<size_t>(y) * kSide * 3];
    for (int x = 0; x < kSide; ++x) {
      std::memcpy(dst + 3 * x, src + 3 * src_col[x], 3);
    }
  }
  return PdqHashRgb(RgbView{resized.data(), kSide, kSide, kSide * 3}, dihedral);
}

PdqHashes PdqHashRgbReduced(const RgbView& image, int original_width, int original_height,
                            bool dihedral) {
  if (original_width < kPdqMinDimension || original_height < kPdqMinDimension) {
    PdqHashes zero;
    zero.has_dihedral = dihedral;
    return zero;
  }
  return pdq_internal::PdqHashWithGeometry(
      image,
      pdq_internal::BlurGeometry::Scaled(image.width, image.height, original_width,
                                         original_height),
      dihedral, pdq_internal::BestKernel());
}

std::string_view PdqKernelName() { return pdq_internal::KernelName(pdq_internal::BestKernel()); }

}  // namespace safeguard
