// AVX2 kernels (compiled with -mavx2 -mpopcnt; chosen at run time).
//
// The scan counts bits with the nibble lookup table (two PSHUFB per 32
// bytes) and sums each 64-bit lane with PSADBW, four hashes per step. The
// verification is bound by cache misses on scattered hashes, not by
// arithmetic: it is the scalar loop with the POPCNT instruction.

#include <immintrin.h>

#include "hamming_kernels.h"

namespace safeguard::index_internal {
namespace {

constexpr size_t kPrefetchAhead = 16;

inline uint32_t Distance(const uint64_t* q, const uint64_t* h) {
  return static_cast<uint32_t>(
      __builtin_popcountll(q[0] ^ h[0]) + __builtin_popcountll(q[1] ^ h[1]) +
      __builtin_popcountll(q[2] ^ h[2]) + __builtin_popcountll(q[3] ^ h[3]));
}

// Popcount of each 64-bit lane of x.
inline __m256i PopcountLanes(__m256i x) {
  const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2,
                                         1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low_mask = _mm256_set1_epi8(0x0f);
  const __m256i lo = _mm256_and_si256(x, low_mask);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low_mask);
  const __m256i bytes =
      _mm256_add_epi8(_mm256_shuffle_epi8(table, lo), _mm256_shuffle_epi8(table, hi));
  return _mm256_sad_epu8(bytes, _mm256_setzero_si256());
}

}  // namespace

size_t ScanAvx2(const uint64_t* query, const uint64_t* hashes, size_t count, uint32_t max_distance,
                uint32_t first_position, uint32_t* out_pos, uint16_t* out_dist) {
  const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(query));
  const __m256i limit = _mm256_set1_epi64x(static_cast<long long>(max_distance));
  size_t found = 0;
  size_t i = 0;
  for (; i + 4 <= count; i += 4) {
    const __m256i* p = reinterpret_cast<const __m256i*>(hashes + 4 * i);
    const __m256i a = PopcountLanes(_mm256_xor_si256(_mm256_loadu_si256(p), q));
    const __m256i b = PopcountLanes(_mm256_xor_si256(_mm256_loadu_si256(p + 1), q));
    const __m256i c = PopcountLanes(_mm256_xor_si256(_mm256_loadu_si256(p + 2), q));
    const __m256i d = PopcountLanes(_mm256_xor_si256(_mm256_loadu_si256(p + 3), q));
    // ab = [a0+a1, b0+b1, a2+a3, b2+b3], cd likewise; then the 128-bit halves
    // add up to [a, b, c, d].
    const __m256i ab = _mm256_add_epi64(_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b));
    const __m256i cd = _mm256_add_epi64(_mm256_unpacklo_epi64(c, d), _mm256_unpackhi_epi64(c, d));
    const __m256i dist = _mm256_add_epi64(_mm256_permute2x128_si256(ab, cd, 0x20),
                                          _mm256_permute2x128_si256(ab, cd, 0x31));
    const int over = _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(dist, limit)));
    if (over != 0xf) {
      alignas(32) uint64_t lanes[4];
      _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), dist);
      for (int j = 0; j < 4; ++j) {
        if ((over >> j) & 1) continue;
        out_pos[found] = first_position + static_cast<uint32_t>(i) + static_cast<uint32_t>(j);
        out_dist[found] = static_cast<uint16_t>(lanes[j]);
        ++found;
      }
    }
  }
  for (; i < count; ++i) {
    const uint32_t d = Distance(query, hashes + 4 * i);
    if (d <= max_distance) {
      out_pos[found] = first_position + static_cast<uint32_t>(i);
      out_dist[found] = static_cast<uint16_t>(d);
      ++found;
    }
  }
  return found;
}

size_t VerifyAvx2(const uint64_t* query, const uint64_t* hashes, const uint32_t* positions,
                  size_t count, uint32_t max_distance, uint32_t* out_pos, uint16_t* out_dist) {
  size_t found = 0;
  for (size_t i = 0; i < count; ++i) {
    if (i + kPrefetchAhead < count) {
      _mm_prefetch(reinterpret_cast<const char*>(
                       hashes + 4 * static_cast<size_t>(positions[i + kPrefetchAhead])),
                   _MM_HINT_T0);
    }
    const uint32_t p = positions[i];
    const uint32_t d = Distance(query, hashes + 4 * static_cast<size_t>(p));
    out_pos[found] = p;
    out_dist[found] = static_cast<uint16_t>(d);
    found += d <= max_distance ? 1 : 0;
  }
  return found;
}

}  // namespace safeguard::index_internal
