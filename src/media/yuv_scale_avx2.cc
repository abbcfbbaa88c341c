// AVX2 kernels of the swscale-exact scaler (yuv_scale.h), compiled with
// -mavx2 and called only where the CPU has it. Both are exact integer
// arithmetic: the same sums as the scalar kernels, in another order.

#include <immintrin.h>

#include "yuv_scale.h"

namespace safeguard::media_internal {

namespace {

// Eight 8-lane partial sums to one sum per output: pairwise adds of
// interleaved lanes leave outputs 0-3 and 4-7 in each 128-bit half, the
// halves are then added.
inline __m256i SumEach(const __m256i (&s)[8]) {
  auto pairs = [](__m256i a, __m256i b) {
    return _mm256_add_epi32(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b));
  };
  const __m256i a01 = pairs(s[0], s[1]);
  const __m256i a23 = pairs(s[2], s[3]);
  const __m256i a45 = pairs(s[4], s[5]);
  const __m256i a67 = pairs(s[6], s[7]);
  const __m256i b0123 =
      _mm256_add_epi32(_mm256_unpacklo_epi64(a01, a23), _mm256_unpackhi_epi64(a01, a23));
  const __m256i b4567 =
      _mm256_add_epi32(_mm256_unpacklo_epi64(a45, a67), _mm256_unpackhi_epi64(a45, a67));
  return _mm256_add_epi32(_mm256_permute2x128_si256(b0123, b4567, 0x20),
                          _mm256_permute2x128_si256(b0123, b4567, 0x31));
}

// kTaps > 0: the tap count known at compile time (the loops unroll; three
// times faster than a run-time count for TMK's 32 taps); 0: `taps`.
template <int kTaps>
void Horizontal(const uint8_t* src, const int32_t* pos, const int16_t* coeff, int taps, int outputs,
                int16_t* out) {
  if constexpr (kTaps > 0) taps = kTaps;
  for (int i = 0; i < outputs; i += 8) {
    __m256i sums[8];
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) {
      const uint8_t* s = src + pos[i + k];
      const int16_t* c = coeff + static_cast<ptrdiff_t>(i + k) * taps;
      __m256i acc = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int t = 0; t < taps; t += 16) {
        const __m256i px =
            _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + t)));
        const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + t));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(px, w));
      }
      sums[k] = acc;
    }
    __m256i total = SumEach(sums);
    total = _mm256_min_epi32(_mm256_srai_epi32(total, 7), _mm256_set1_epi32((1 << 15) - 1));
    // Pack to 16 bits (values are within range after the clamp above; the
    // lower saturation cannot trigger: the most negative sum of 8-bit
    // samples and these taps is far above -32768 << 7).
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packs_epi32(total, total), 0x08);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm256_castsi256_si128(packed));
  }
}

}  // namespace

void HorizontalAvx2(const uint8_t* src, const int32_t* pos, const int16_t* coeff, int taps,
                    int outputs, int16_t* out) {
  switch (taps) {
    case 16:
      return Horizontal<16>(src, pos, coeff, taps, outputs, out);
    case 32:
      return Horizontal<32>(src, pos, coeff, taps, outputs, out);
    case 48:
      return Horizontal<48>(src, pos, coeff, taps, outputs, out);
    case 64:
      return Horizontal<64>(src, pos, coeff, taps, outputs, out);
    default:
      return Horizontal<0>(src, pos, coeff, taps, outputs, out);
  }
}

void VerticalAvx2(const int16_t* const* rows, const int16_t* coeff, int taps, int width,
                  int32_t* out) {
  const __m256i round = _mm256_set1_epi32(1 << 18);
  for (int x = 0; x < width; x += 16) {
    // Pairs of rows interleaved so that one multiply-add takes two taps:
    // `lo` holds outputs 0-3 and 8-11, `hi` 4-7 and 12-15.
    __m256i lo = round;
    __m256i hi = round;
    int j = 0;
    for (; j + 1 < taps; j += 2) {
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[j] + x));
      const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[j + 1] + x));
      const __m256i w = _mm256_set1_epi32(
          static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(coeff[j])) |
                               (static_cast<uint32_t>(static_cast<uint16_t>(coeff[j + 1])) << 16)));
      lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), w));
      hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), w));
    }
    if (j < taps) {
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[j] + x));
      const __m256i zero = _mm256_setzero_si256();
      const __m256i w = _mm256_set1_epi32(static_cast<int32_t>(static_cast<uint16_t>(coeff[j])));
      lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(a, zero), w));
      hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(a, zero), w));
    }
    lo = _mm256_srai_epi32(lo, 19);
    hi = _mm256_srai_epi32(hi, 19);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + x),
                        _mm256_permute2x128_si256(lo, hi, 0x20));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + x + 8),
                        _mm256_permute2x128_si256(lo, hi, 0x31));
  }
}

}  // namespace safeguard::media_internal
