// The portable kernels: plain C++, no instruction-set flags. Every other
// kernel is tested against these (hamming_kernels_test.cc).

#include "hamming_kernels.h"

namespace safeguard::index_internal {
namespace {

// How many candidates ahead the verification loops prefetch: enough to keep
// a dozen cache misses in flight, few enough that the lines are still in L1
// when their turn comes.
constexpr size_t kPrefetchAhead = 16;

inline uint32_t Distance(const uint64_t* q, const uint64_t* h) {
  return static_cast<uint32_t>(
      __builtin_popcountll(q[0] ^ h[0]) + __builtin_popcountll(q[1] ^ h[1]) +
      __builtin_popcountll(q[2] ^ h[2]) + __builtin_popcountll(q[3] ^ h[3]));
}

}  // namespace

size_t ScanScalar(const uint64_t* query, const uint64_t* hashes, size_t count,
                  uint32_t max_distance, uint32_t first_position, uint32_t* out_pos,
                  uint16_t* out_dist) {
  size_t found = 0;
  for (size_t i = 0; i < count; ++i) {
    const uint32_t d = Distance(query, hashes + 4 * i);
    // Branch-free: the slot is overwritten unless the hash matched.
    out_pos[found] = first_position + static_cast<uint32_t>(i);
    out_dist[found] = static_cast<uint16_t>(d);
    found += d <= max_distance ? 1 : 0;
  }
  return found;
}

size_t VerifyScalar(const uint64_t* query, const uint64_t* hashes, const uint32_t* positions,
                    size_t count, uint32_t max_distance, uint32_t* out_pos, uint16_t* out_dist) {
  size_t found = 0;
  for (size_t i = 0; i < count; ++i) {
    if (i + kPrefetchAhead < count) {
      __builtin_prefetch(hashes + 4 * static_cast<size_t>(positions[i + kPrefetchAhead]));
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
