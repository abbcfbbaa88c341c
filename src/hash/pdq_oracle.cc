// The PDQ oracle: the reference algorithm in its plainest form, full-size
// float buffers and the same loops in the same order. Slow (it walks a
// full-resolution buffer four times, column passes with a stride of a row)
// but easy to check against the published algorithm; the fast kernels are
// property-tested against it bit for bit.

#include <cmath>
#include <cstdlib>
#include <vector>

#include "pdq_internal.h"

namespace safeguard::pdq_internal {
namespace {

constexpr float kLumaR = 0.299f;
constexpr float kLumaG = 0.587f;
constexpr float kLumaB = 0.114f;

// One box filter over a strided vector, in four phases: fill the first half
// window, write while the window grows, slide the full window, and write while
// it shrinks at the far end. Float sums are updated, never recomputed, exactly
// as the reference does (so rounding matches).
void Box1D(const float* in, float* out, int length, int stride, int window) {
  const int half = (window + 2) / 2;
  const int phase1 = half - 1;
  const int phase2 = window - half + 1;
  const int phase3 = length - window;
  const int phase4 = half - 1;
  int li = 0, ri = 0, oi = 0;
  float sum = 0.0f;
  int count = 0;
  for (int i = 0; i < phase1; ++i) {
    sum += in[ri];
    ++count;
    ri += stride;
  }
  for (int i = 0; i < phase2; ++i) {
    sum += in[ri];
    ++count;
    out[oi] = sum / static_cast<float>(count);
    ri += stride;
    oi += stride;
  }
  for (int i = 0; i < phase3; ++i) {
    sum += in[ri];
    sum -= in[li];
    out[oi] = sum / static_cast<float>(count);
    li += stride;
    ri += stride;
    oi += stride;
  }
  for (int i = 0; i < phase4; ++i) {
    sum -= in[li];
    --count;
    out[oi] = sum / static_cast<float>(count);
    li += stride;
    oi += stride;
  }
}

float TorbenMedian(const float* m, int n) {
  float min = m[0], max = m[0];
  for (int i = 1; i < n; ++i) {
    if (m[i] < min) min = m[i];
    if (m[i] > max) max = m[i];
  }
  int less = 0, greater = 0, equal = 0;
  float guess = 0, max_lt = 0, min_gt = 0;
  while (true) {
    guess = (min + max) / 2;
    less = greater = equal = 0;
    max_lt = min;
    min_gt = max;
    for (int i = 0; i < n; ++i) {
      if (m[i] < guess) {
        ++less;
        if (m[i] > max_lt) max_lt = m[i];
      } else if (m[i] > guess) {
        ++greater;
        if (m[i] < min_gt) min_gt = m[i];
      } else {
        ++equal;
      }
    }
    if (less <= (n + 1) / 2 && greater <= (n + 1) / 2) break;
    if (less > greater) {
      max = max_lt;
    } else {
      min = min_gt;
    }
  }
  if (less >= (n + 1) / 2) return max_lt;
  if (less + equal >= (n + 1) / 2) return guess;
  return min_gt;
}

Hash256 Bits(const float dct[16][16]) {
  const float median = TorbenMedian(&dct[0][0], 256);
  Hash256 h;
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 16; ++j) {
      if (dct[i][j] > median) h.set_bit(i * 16 + j);
    }
  }
  return h;
}

}  // namespace

void BlurDecimateOracle(const RgbView& image, const BlurGeometry& geometry, float out[64][64]) {
  const int rows = image.height, cols = image.width;
  std::vector<float> buf1(static_cast<size_t>(rows) * cols), buf2(buf1.size());
  for (int i = 0; i < rows; ++i) {
    const uint8_t* p = image.data + i * image.row_stride;
    for (int j = 0; j < cols; ++j) {
      buf1[static_cast<size_t>(i) * cols + j] =
          kLumaR * p[3 * j] + kLumaG * p[3 * j + 1] + kLumaB * p[3 * j + 2];
    }
  }
  const int window_along_rows = geometry.row_window;
  const int window_along_cols = geometry.col_window;
  for (int pass = 0; pass < 2; ++pass) {
    for (int i = 0; i < rows; ++i) {
      const size_t o = static_cast<size_t>(i) * cols;
      Box1D(&buf1[o], &buf2[o], cols, 1, window_along_rows);
    }
    for (int j = 0; j < cols; ++j) Box1D(&buf2[j], &buf1[j], rows, cols, window_along_cols);
  }
  auto at = [&](int row, int col) { return buf1[static_cast<size_t>(row) * cols + col]; };
  for (int i = 0; i < 64; ++i) {
    const int r0 = geometry.sample_rows[i];
    for (int j = 0; j < 64; ++j) {
      const int c0 = geometry.sample_cols[j];
      if (!geometry.interpolate) {
        out[i][j] = at(r0, c0);
        continue;
      }
      // Bilinear: along the row first, then between the two rows.
      const int r1 = r0 + 1 < rows ? r0 + 1 : r0;
      const int c1 = c0 + 1 < cols ? c0 + 1 : c0;
      const float fx = geometry.col_frac[j], fy = geometry.row_frac[i];
      const float lower = at(r0, c0) + fx * (at(r0, c1) - at(r0, c0));
      const float upper = at(r1, c0) + fx * (at(r1, c1) - at(r1, c0));
      out[i][j] = lower + fy * (upper - lower);
    }
  }
}

PdqHashes PdqHashOracle(const RgbView& image, bool dihedral) {
  PdqHashes result;
  result.has_dihedral = dihedral;
  if (image.width < kPdqMinDimension || image.height < kPdqMinDimension) return result;

  // The reference's geometry, written out here rather than taken from
  // BlurGeometry::Canonical, so the oracle checks that too.
  BlurGeometry g;
  g.row_window = (image.width + 127) / 128;
  g.col_window = (image.height + 127) / 128;
  for (int i = 0; i < 64; ++i) {
    g.sample_rows[i] = static_cast<int>(((i + 0.5) * image.height) / 64);
    g.sample_cols[i] = static_cast<int>(((i + 0.5) * image.width) / 64);
  }
  float a[64][64];
  BlurDecimateOracle(image, g, a);

  int gradient_sum = 0;
  for (int i = 0; i < 63; ++i) {
    for (int j = 0; j < 64; ++j) {
      const int d = static_cast<int>(((a[i][j] - a[i + 1][j]) * 100) / 255);
      gradient_sum += std::abs(d);
    }
  }
  for (int i = 0; i < 64; ++i) {
    for (int j = 0; j < 63; ++j) {
      const int d = static_cast<int>(((a[i][j] - a[i][j + 1]) * 100) / 255);
      gradient_sum += std::abs(d);
    }
  }
  result.quality = gradient_sum / 90 > 100 ? 100 : gradient_sum / 90;

  float d[16][64];
  const float scale = static_cast<float>(std::sqrt(2.0 / 64.0));
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 64; ++j) {
      d[i][j] = static_cast<float>(
          scale * std::cos((3.14159265358979323846 / 2.0 / 64.0) * (i + 1) * (2 * j + 1)));
    }
  }
  float t[16][64];
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 64; ++j) {
      float sum = 0.0f;
      for (int k = 0; k < 64; ++k) sum += d[i][k] * a[k][j];
      t[i][j] = sum;
    }
  }
  float b[16][16];
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 16; ++j) {
      float sum = 0.0f;
      for (int k = 0; k < 64; ++k) sum += t[i][k] * d[j][k];
      b[i][j] = sum;
    }
  }

  result.hash = Bits(b);
  if (!dihedral) return result;
  // The reference's eight transforms of the DCT output, written out one by one.
  float x[16][16];
  result.dihedral[0] = result.hash;
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) x[j][i] = (j & 1) ? b[i][j] : -b[i][j];
  result.dihedral[1] = Bits(x);
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) x[i][j] = ((i + j) & 1) ? -b[i][j] : b[i][j];
  result.dihedral[2] = Bits(x);
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) x[j][i] = (i & 1) ? b[i][j] : -b[i][j];
  result.dihedral[3] = Bits(x);
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) x[i][j] = (i & 1) ? b[i][j] : -b[i][j];
  result.dihedral[4] = Bits(x);
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) x[i][j] = (j & 1) ? b[i][j] : -b[i][j];
  result.dihedral[5] = Bits(x);
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) x[j][i] = b[i][j];
  result.dihedral[6] = Bits(x);
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) x[j][i] = ((i + j) & 1) ? -b[i][j] : b[i][j];
  result.dihedral[7] = Bits(x);
  return result;
}

}  // namespace safeguard::pdq_internal
