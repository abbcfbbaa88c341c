// Synthetic hashes for the index tests (test-only): uniformly random ones,
// and copies of a hash with exactly k bits flipped. Deterministic per seed.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "safeguard/core/hash256.h"
#include "safeguard/index/pdq_match.h"

namespace safeguard::index_test {

inline Hash256 RandomHash(std::mt19937_64& rng) {
  Hash256 h;
  for (uint64_t& w : h.words) w = rng();
  return h;
}

// `h` with exactly `k` distinct bits flipped (0 <= k <= 256).
inline Hash256 FlipBits(const Hash256& h, uint64_t k, std::mt19937_64& rng) {
  std::array<int, 256> bits;
  std::iota(bits.begin(), bits.end(), 0);
  Hash256 out = h;
  for (int i = 0; i < static_cast<int>(k); ++i) {
    std::uniform_int_distribution<int> pick(i, 255);
    std::swap(bits[i], bits[pick(rng)]);
    out.words[bits[i] >> 6] ^= uint64_t{1} << (bits[i] & 63);
  }
  return out;
}

inline std::vector<PdqEntry> RandomEntries(size_t n, std::mt19937_64& rng, uint64_t first_id = 0) {
  std::vector<PdqEntry> entries(n);
  for (size_t i = 0; i < n; ++i) entries[i] = {first_id + i, RandomHash(rng)};
  return entries;
}

// Eight query hashes standing in for one image's dihedral variants: the
// first `near` are `base` with a few bits flipped, the rest unrelated.
inline std::vector<Hash256> VariantBatch(const Hash256& base, int near, int max_flips,
                                         std::mt19937_64& rng) {
  std::vector<Hash256> q;
  std::uniform_int_distribution<int> flips(0, max_flips);
  for (int v = 0; v < 8; ++v)
    q.push_back(v < near ? FlipBits(base, flips(rng), rng) : RandomHash(rng));
  return q;
}

}  // namespace safeguard::index_test
