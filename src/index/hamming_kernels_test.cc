// Every Hamming kernel against the scalar one, and the scalar one against
// planted distances.

#include "hamming_kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include "test_hashes.h"

namespace safeguard::index_internal {
namespace {

using index_test::FlipBits;
using index_test::RandomHash;

using Hits = std::vector<std::pair<uint32_t, uint16_t>>;

Hits Sorted(const std::vector<uint32_t>& pos, const std::vector<uint16_t>& dist, size_t n) {
  Hits h;
  for (size_t i = 0; i < n; ++i) h.emplace_back(pos[i], dist[i]);
  std::sort(h.begin(), h.end());
  return h;
}

std::vector<HammingKernel> SupportedKernels() {
  std::vector<HammingKernel> out;
  for (HammingKernel k : {HammingKernel::kScalar, HammingKernel::kAvx2, HammingKernel::kAvx512}) {
    if (HammingKernelSupported(k)) out.push_back(k);
  }
  return out;
}

// Hashes at every distance 0..256 from the query, shuffled among random ones.
std::vector<uint64_t> PlantedHashes(const Hash256& q, std::mt19937_64& rng,
                                    std::vector<int>* distances) {
  std::vector<Hash256> hashes;
  for (int d = 0; d <= 256; ++d) hashes.push_back(FlipBits(q, d, rng));
  for (int i = 0; i < 300; ++i) hashes.push_back(RandomHash(rng));
  std::shuffle(hashes.begin(), hashes.end(), rng);
  std::vector<uint64_t> words;
  distances->clear();
  for (const Hash256& h : hashes) {
    words.insert(words.end(), h.words.begin(), h.words.end());
    distances->push_back(HammingDistance(h, q));
  }
  return words;
}

TEST(HammingKernelsTest, ScalarScanFindsExactlyThePlantedDistances) {
  std::mt19937_64 rng(1);
  const Hash256 q = RandomHash(rng);
  std::vector<int> distances;
  const std::vector<uint64_t> words = PlantedHashes(q, rng, &distances);
  const size_t n = distances.size();
  for (uint32_t r : {0u, 1u, 31u, 32u, 64u, 255u, 256u}) {
    std::vector<uint32_t> pos(n);
    std::vector<uint16_t> dist(n);
    const size_t found =
        ScanScalar(q.words.data(), words.data(), n, r, 10, pos.data(), dist.data());
    Hits expected;
    for (size_t i = 0; i < n; ++i) {
      if (distances[i] <= static_cast<int>(r)) {
        expected.emplace_back(static_cast<uint32_t>(i + 10), static_cast<uint16_t>(distances[i]));
      }
    }
    EXPECT_EQ(Sorted(pos, dist, found), expected) << "radius " << r;
  }
}

TEST(HammingKernelsTest, EveryKernelScansLikeScalar) {
  std::mt19937_64 rng(2);
  for (HammingKernel k : SupportedKernels()) {
    const HammingKernelFns fns = HammingKernelFunctions(k);
    // Lengths around the vector widths exercise the tails.
    for (size_t n : {0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 1000}) {
      const Hash256 q = RandomHash(rng);
      std::vector<uint64_t> words;
      for (size_t i = 0; i < n; ++i) {
        const Hash256 h = FlipBits(q, static_cast<int>(rng() % 257), rng);
        words.insert(words.end(), h.words.begin(), h.words.end());
      }
      for (uint32_t r : {0u, 1u, 31u, 64u, 128u, 256u}) {
        std::vector<uint32_t> p1(n + 1), p2(n + 1);
        std::vector<uint16_t> d1(n + 1), d2(n + 1);
        const size_t a = ScanScalar(q.words.data(), words.data(), n, r, 7, p1.data(), d1.data());
        const size_t b = fns.scan(q.words.data(), words.data(), n, r, 7, p2.data(), d2.data());
        EXPECT_EQ(Sorted(p1, d1, a), Sorted(p2, d2, b))
            << HammingKernelName(k) << " n=" << n << " r=" << r;
      }
    }
  }
}

TEST(HammingKernelsTest, EveryKernelVerifiesLikeScalar) {
  std::mt19937_64 rng(3);
  const size_t stored = 500;
  for (HammingKernel k : SupportedKernels()) {
    const HammingKernelFns fns = HammingKernelFunctions(k);
    const Hash256 q = RandomHash(rng);
    std::vector<uint64_t> words;
    for (size_t i = 0; i < stored; ++i) {
      const Hash256 h = FlipBits(q, static_cast<int>(rng() % 80), rng);
      words.insert(words.end(), h.words.begin(), h.words.end());
    }
    for (size_t n : {0, 1, 7, 8, 9, 16, 23, 24, 25, 100, 999}) {
      // Positions in any order, with repeats.
      std::vector<uint32_t> positions(n);
      for (uint32_t& p : positions) p = static_cast<uint32_t>(rng() % stored);
      for (uint32_t r : {0u, 10u, 31u, 32u, 64u, 256u}) {
        std::vector<uint32_t> p1(n + 1), p2(n + 1);
        std::vector<uint16_t> d1(n + 1), d2(n + 1);
        const size_t a = VerifyScalar(q.words.data(), words.data(), positions.data(), n, r,
                                      p1.data(), d1.data());
        const size_t b =
            fns.verify(q.words.data(), words.data(), positions.data(), n, r, p2.data(), d2.data());
        EXPECT_EQ(Sorted(p1, d1, a), Sorted(p2, d2, b))
            << HammingKernelName(k) << " n=" << n << " r=" << r;
      }
    }
  }
}

TEST(HammingKernelsTest, BestKernelIsSupported) {
  EXPECT_TRUE(HammingKernelSupported(BestHammingKernel()));
  EXPECT_TRUE(HammingKernelSupported(HammingKernel::kScalar));
}

}  // namespace
}  // namespace safeguard::index_internal
