// AVX-512 kernels (compiled with -mavx512f -mavx512vpopcntdq; chosen at run
// time on CPUs that have VPOPCNTDQ).
//
// The scan XORs and counts eight hashes per step in four 512-bit registers
// and folds the 32 word counts into eight distances with two unpacks and two
// lane shuffles. The verification gathers word w of eight scattered hashes
// into one register per word, so the eight distances come out in candidate
// order without any shuffling.

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

}  // namespace

size_t ScanAvx512(const uint64_t* query, const uint64_t* hashes, size_t count,
                  uint32_t max_distance, uint32_t first_position, uint32_t* out_pos,
                  uint16_t* out_dist) {
  // The query twice, so one register holds two hashes' worth.
  const __m512i q =
      _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(query)));
  const __m512i limit = _mm512_set1_epi64(static_cast<long long>(max_distance));
  // Which hash of the eight each lane of the folded distances belongs to.
  constexpr uint32_t kHashOfLane[8] = {0, 2, 1, 3, 4, 6, 5, 7};
  size_t found = 0;
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const uint64_t* p = hashes + 4 * i;
    const __m512i a = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(p), q));
    const __m512i b = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(p + 8), q));
    const __m512i c = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(p + 16), q));
    const __m512i d = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(p + 24), q));
    // a holds hashes 0 and 1, b 2 and 3, ... Per 128-bit lane, ab sums word
    // pairs: lanes [h0 w0+w1, h2 w0+w1], [h0 w2+w3, h2 w2+w3], then h1, h3.
    const __m512i ab = _mm512_add_epi64(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
    const __m512i cd = _mm512_add_epi64(_mm512_unpacklo_epi64(c, d), _mm512_unpackhi_epi64(c, d));
    // Even 128-bit lanes plus odd ones: distances of h0 h2 h1 h3 h4 h6 h5 h7.
    const __m512i dist = _mm512_add_epi64(_mm512_shuffle_i64x2(ab, cd, _MM_SHUFFLE(2, 0, 2, 0)),
                                          _mm512_shuffle_i64x2(ab, cd, _MM_SHUFFLE(3, 1, 3, 1)));
    unsigned hits = _mm512_cmple_epu64_mask(dist, limit);
    if (hits != 0) {
      alignas(64) uint64_t lanes[8];
      _mm512_store_si512(lanes, dist);
      while (hits != 0) {
        const int lane = __builtin_ctz(hits);
        hits &= hits - 1;
        out_pos[found] = first_position + static_cast<uint32_t>(i) + kHashOfLane[lane];
        out_dist[found] = static_cast<uint16_t>(lanes[lane]);
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

size_t VerifyAvx512(const uint64_t* query, const uint64_t* hashes, const uint32_t* positions,
                    size_t count, uint32_t max_distance, uint32_t* out_pos, uint16_t* out_dist) {
  const __m512i q0 = _mm512_set1_epi64(static_cast<long long>(query[0]));
  const __m512i q1 = _mm512_set1_epi64(static_cast<long long>(query[1]));
  const __m512i q2 = _mm512_set1_epi64(static_cast<long long>(query[2]));
  const __m512i q3 = _mm512_set1_epi64(static_cast<long long>(query[3]));
  const __m512i limit = _mm512_set1_epi64(static_cast<long long>(max_distance));
  const __m512i one = _mm512_set1_epi64(1);
  const long long* base = reinterpret_cast<const long long*>(hashes);
  size_t found = 0;
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    if (i + kPrefetchAhead + 8 <= count) {
      for (size_t j = 0; j < 8; ++j) {
        _mm_prefetch(reinterpret_cast<const char*>(
                         hashes + 4 * static_cast<size_t>(positions[i + kPrefetchAhead + j])),
                     _MM_HINT_T0);
      }
    }
    // Word index of word 0 of each hash: position * 4, in 64 bits so that
    // positions up to 2^32 cannot overflow.
    const __m512i w0 = _mm512_slli_epi64(
        _mm512_cvtepu32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(positions + i))),
        2);
    const __m512i w1 = _mm512_add_epi64(w0, one);
    const __m512i w2 = _mm512_add_epi64(w1, one);
    const __m512i w3 = _mm512_add_epi64(w2, one);
    const __m512i d0 =
        _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_i64gather_epi64(w0, base, 8), q0));
    const __m512i d1 =
        _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_i64gather_epi64(w1, base, 8), q1));
    const __m512i d2 =
        _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_i64gather_epi64(w2, base, 8), q2));
    const __m512i d3 =
        _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_i64gather_epi64(w3, base, 8), q3));
    const __m512i dist = _mm512_add_epi64(_mm512_add_epi64(d0, d1), _mm512_add_epi64(d2, d3));
    unsigned hits = _mm512_cmple_epu64_mask(dist, limit);
    if (hits != 0) {
      alignas(64) uint64_t lanes[8];
      _mm512_store_si512(lanes, dist);
      while (hits != 0) {
        const int lane = __builtin_ctz(hits);
        hits &= hits - 1;
        out_pos[found] = positions[i + static_cast<size_t>(lane)];
        out_dist[found] = static_cast<uint16_t>(lanes[lane]);
        ++found;
      }
    }
  }
  for (; i < count; ++i) {
    const uint32_t p = positions[i];
    const uint32_t d = Distance(query, hashes + 4 * static_cast<size_t>(p));
    if (d <= max_distance) {
      out_pos[found] = p;
      out_dist[found] = static_cast<uint16_t>(d);
      ++found;
    }
  }
  return found;
}

}  // namespace safeguard::index_internal
