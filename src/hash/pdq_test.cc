// PDQ core: bit-exact conformance on the reference's own decoded pixels, and
// property tests of every fast kernel against the oracle.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "pdq_internal.h"
#include "safeguard/hash/pdq.h"
#include "test_support.h"

namespace safeguard {
namespace {

using pdq_internal::Kernel;

struct Pixels {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  RgbView view() const { return RgbView{rgb.data(), width, height, 3 * width}; }
};

Pixels ReadPixels(const std::string& path) {
  test_support::Ppm ppm;
  EXPECT_TRUE(test_support::ReadPpm(path, &ppm)) << path;
  Pixels p;
  p.width = ppm.width;
  p.height = ppm.height;
  p.rgb = std::move(ppm.pixels);
  return p;
}

std::vector<Kernel> Kernels() {
  std::vector<Kernel> ks;
  for (Kernel k : {Kernel::kOracle, Kernel::kSse2, Kernel::kAvx2, Kernel::kAvx512}) {
    if (pdq_internal::KernelSupported(k)) ks.push_back(k);
  }
  return ks;
}

TEST(PdqConformance, ExpectedPixelsBitExactForEveryKernelAndTransform) {
  SAFEGUARD_REQUIRE_TESTDATA();
  const auto rows = test_support::ReadCsv(test_support::PdqTestFile("expected-pixels.csv"));
  ASSERT_EQ(rows.size(), 10u);
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 10u);
    const Pixels px = ReadPixels(test_support::PdqTestFile(row[0]));
    for (Kernel k : Kernels()) {
      SCOPED_TRACE(row[0] + " kernel " + std::string(pdq_internal::KernelName(k)));
      const PdqHashes h = pdq_internal::PdqHashRgbWithKernel(px.view(), true, k);
      EXPECT_EQ(h.quality, std::stoi(row[1]));
      for (int d = 0; d < 8; ++d) {
        EXPECT_EQ(h.dihedral[d].ToHex(), row[2 + d]) << DihedralName(static_cast<Dihedral>(d));
      }
      EXPECT_EQ(h.hash, h.dihedral[0]);
    }
  }
}

// Images with structure at several scales, so the blur's rounding is
// exercised on sums of varied magnitude (flat areas, edges, noise).
Pixels MakeImage(std::mt19937& rng, int width, int height) {
  Pixels p;
  p.width = width;
  p.height = height;
  p.rgb.resize(static_cast<size_t>(width) * height * 3);
  const int kind = static_cast<int>(rng() % 4);
  std::uniform_int_distribution<int> byte(0, 255);
  const int a = byte(rng), b = byte(rng), c = byte(rng);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* px = &p.rgb[(static_cast<size_t>(y) * width + x) * 3];
      switch (kind) {
        case 0:  // noise
          px[0] = static_cast<uint8_t>(byte(rng));
          px[1] = static_cast<uint8_t>(byte(rng));
          px[2] = static_cast<uint8_t>(byte(rng));
          break;
        case 1:  // gradients
          px[0] = static_cast<uint8_t>((x * 255) / width);
          px[1] = static_cast<uint8_t>((y * 255) / height);
          px[2] = static_cast<uint8_t>(((x + y) * a) & 255);
          break;
        case 2:  // blocks of colour
          px[0] = static_cast<uint8_t>(((x / 7) * a + (y / 5) * b) & 255);
          px[1] = static_cast<uint8_t>(((x / 3) ^ (y / 11)) * c & 255);
          px[2] = static_cast<uint8_t>((x * y) & 255);
          break;
        default:  // near-flat with sparse noise
          px[0] = px[1] = px[2] = static_cast<uint8_t>(a);
          if (rng() % 17 == 0) px[1] = static_cast<uint8_t>(byte(rng));
          break;
      }
    }
  }
  return p;
}

// A smooth, photo-like image: the sum of `waves` plane waves with random
// directions and phases, wavelengths around `scale` pixels, in colour.
Pixels MakeWaves(std::mt19937& rng, int width, int height, int waves, double scale) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> fx(waves), fy(waves), phase(waves);
  for (int k = 0; k < waves; ++k) {
    fx[k] = (1 + 8 * u(rng)) / scale;
    fy[k] = (1 + 8 * u(rng)) / scale;
    phase[k] = 6.28 * u(rng);
  }
  Pixels p;
  p.width = width;
  p.height = height;
  p.rgb.resize(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      double v = 0;
      for (int k = 0; k < waves; ++k) v += std::sin(fx[k] * x + fy[k] * y + phase[k]);
      for (int c = 0; c < 3; ++c) {
        p.rgb[(static_cast<size_t>(y) * width + x) * 3 + c] =
            static_cast<uint8_t>(std::clamp(128 + 25 * v + 8 * c, 0.0, 255.0));
      }
    }
  }
  return p;
}

TEST(PdqKernels, EveryKernelEqualsTheOracleOnRandomImages) {
  std::mt19937 rng(20261121);
  std::uniform_int_distribution<int> side(kPdqMinDimension, 300);
  std::vector<std::pair<int, int>> sizes = {{5, 5},     {5, 600},   {600, 5},   {64, 64},
                                            {65, 63},   {127, 129}, {128, 128}, {16, 17},
                                            {1001, 37}, {33, 1500}};
  for (int i = 0; i < 40; ++i) sizes.emplace_back(side(rng), side(rng));
  for (const auto& [w, h] : sizes) {
    const Pixels px = MakeImage(rng, w, h);
    const auto geometry = pdq_internal::BlurGeometry::Canonical(w, h);
    float expected[64][64];
    pdq_internal::BlurDecimate(px.view(), geometry, Kernel::kOracle, expected);
    const PdqHashes oracle = pdq_internal::PdqHashOracle(px.view(), true);
    for (Kernel k : Kernels()) {
      SCOPED_TRACE(std::to_string(w) + "x" + std::to_string(h) + " " +
                   std::string(pdq_internal::KernelName(k)));
      float got[64][64];
      pdq_internal::BlurDecimate(px.view(), geometry, k, got);
      ASSERT_EQ(std::memcmp(got, expected, sizeof(got)), 0) << "64x64 buffer differs";
      const PdqHashes fast = pdq_internal::PdqHashRgbWithKernel(px.view(), true, k);
      ASSERT_EQ(fast.quality, oracle.quality);
      for (int d = 0; d < 8; ++d) ASSERT_EQ(fast.dihedral[d], oracle.dihedral[d]) << d;
    }
  }
}

TEST(PdqKernels, EveryKernelEqualsTheOracleWithScaledGeometry) {
  // The fast mode's geometry (smaller windows, moved samples) goes through
  // the same kernels; they must still agree with the oracle bit for bit.
  std::mt19937 rng(99);
  for (auto [w, h, ow, oh] : {std::array{100, 75, 800, 600}, std::array{504, 378, 4032, 3024},
                              std::array{37, 300, 290, 2400}, std::array{64, 64, 255, 257}}) {
    const Pixels px = MakeImage(rng, w, h);
    const auto geometry = pdq_internal::BlurGeometry::Scaled(w, h, ow, oh);
    float expected[64][64];
    pdq_internal::BlurDecimate(px.view(), geometry, Kernel::kOracle, expected);
    for (Kernel k : Kernels()) {
      float got[64][64];
      pdq_internal::BlurDecimate(px.view(), geometry, k, got);
      ASSERT_EQ(std::memcmp(got, expected, sizeof(got)), 0)
          << w << "x" << h << " " << pdq_internal::KernelName(k);
    }
  }
}

TEST(PdqGeometry, ScaledEqualsCanonicalAtFullSizeAndStaysInsideTheImage) {
  const auto c = pdq_internal::BlurGeometry::Canonical(1600, 1004);
  const auto same = pdq_internal::BlurGeometry::Scaled(1600, 1004, 1600, 1004);
  EXPECT_EQ(c.row_window, 13);  // (1600 + 127) / 128
  EXPECT_EQ(c.col_window, 8);
  EXPECT_EQ(std::memcmp(&c, &same, sizeof(c)), 0);
  for (auto [w, h, ow, oh] :
       {std::array{5, 5, 40, 40}, std::array{500, 375, 4000, 3000},
        std::array{1008, 756, 4032, 3024}, std::array{64, 9000, 512, 72000}}) {
    const auto g = pdq_internal::BlurGeometry::Scaled(w, h, ow, oh);
    EXPECT_GE(g.row_window, 1);
    EXPECT_LE(g.row_window, w);
    EXPECT_LE(g.col_window, h);
    EXPECT_TRUE(g.interpolate);
    for (int i = 0; i < 64; ++i) {
      EXPECT_GE(g.col_frac[i], 0.0f);
      EXPECT_LT(g.col_frac[i], 1.0f);
      EXPECT_GE(g.row_frac[i], 0.0f);
      EXPECT_LT(g.row_frac[i], 1.0f);
      EXPECT_GE(g.sample_cols[i], 0);
      EXPECT_LT(g.sample_cols[i], w);
      EXPECT_LT(g.sample_rows[i], h);
      if (i > 0) {
        EXPECT_GE(g.sample_rows[i], g.sample_rows[i - 1]);
      }
    }
  }
  // 4000 -> 500 (JPEG 1/8): the window shrinks 8 times, 32 -> 4.
  EXPECT_EQ(pdq_internal::BlurGeometry::Scaled(500, 375, 4000, 3000).row_window, 4);
}

TEST(Pdq, ReducedHashOfABlockAveragedImageIsCloseToCanonical) {
  // Averaging 4x4 blocks is what JPEG's 1/4 DCT scaling approximates.
  std::mt19937 rng(8);
  const int W = 1600, H = 1200;
  const Pixels full = MakeWaves(rng, W, H, 8, 250.0);
  Pixels small;
  small.width = W / 4;
  small.height = H / 4;
  small.rgb.resize(static_cast<size_t>(small.width) * small.height * 3);
  for (int y = 0; y < small.height; ++y)
    for (int x = 0; x < small.width; ++x)
      for (int c = 0; c < 3; ++c) {
        int sum = 0;
        for (int dy = 0; dy < 4; ++dy)
          for (int dx = 0; dx < 4; ++dx)
            sum += full.rgb[(static_cast<size_t>(4 * y + dy) * W + 4 * x + dx) * 3 + c];
        small.rgb[(static_cast<size_t>(y) * small.width + x) * 3 + c] =
            static_cast<uint8_t>((sum + 8) / 16);
      }
  const PdqHashes canonical = PdqHashRgb(full.view());
  const PdqHashes reduced = PdqHashRgbReduced(small.view(), W, H);
  ASSERT_GE(canonical.quality, kPdqMinQuality);
  EXPECT_LE(HammingDistance(canonical.hash, reduced.hash), 8);
  // Same pixels, same size: exactly the canonical hash.
  EXPECT_EQ(PdqHashRgbReduced(full.view(), W, H).hash, canonical.hash);
}

TEST(PdqKernels, RowStrideLargerThanWidthIsHonoured) {
  std::mt19937 rng(3);
  const Pixels px = MakeImage(rng, 90, 70);
  std::vector<uint8_t> padded(static_cast<size_t>(70) * (90 * 3 + 13), 0xAB);
  for (int y = 0; y < 70; ++y) {
    std::memcpy(&padded[static_cast<size_t>(y) * (90 * 3 + 13)],
                &px.rgb[static_cast<size_t>(y) * 270], 270);
  }
  const PdqHashes a = PdqHashRgb(px.view(), true);
  const PdqHashes b = PdqHashRgb(RgbView{padded.data(), 90, 70, 90 * 3 + 13}, true);
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_EQ(a.dihedral, b.dihedral);
}

TEST(Pdq, ImagesUnderFivePixelsHashToZeroWithQualityZero) {
  std::vector<uint8_t> rgb(4 * 100 * 3, 200);
  for (auto [w, h] : {std::pair{4, 100}, std::pair{100, 4}, std::pair{1, 1}, std::pair{0, 0}}) {
    const PdqHashes r = PdqHashRgb(RgbView{rgb.data(), w, h, 3 * w}, true);
    EXPECT_TRUE(r.hash.is_zero());
    EXPECT_EQ(r.quality, 0);
    for (const Hash256& d : r.dihedral) EXPECT_TRUE(d.is_zero());
  }
}

TEST(Pdq, FlatImageHasQualityZero) {
  std::vector<uint8_t> rgb(200 * 150 * 3, 77);
  EXPECT_EQ(PdqHashRgb(RgbView{rgb.data(), 200, 150, 600}).quality, 0);
}

TEST(Pdq, DihedralHashesMatchHashesOfTransformedPixels) {
  // Transforming the pixels and hashing gives nearly the DCT-derived
  // variant (not exactly: the decimation grid is not symmetric under a flip).
  std::mt19937 rng(11);
  const Pixels px = MakeWaves(rng, 256, 256, 6, 40.0);
  auto transformed = [&](auto map) {
    Pixels t = px;
    for (int y = 0; y < 256; ++y)
      for (int x = 0; x < 256; ++x) {
        auto [sx, sy] = map(x, y);
        std::memcpy(&t.rgb[(y * 256 + x) * 3], &px.rgb[(sy * 256 + sx) * 3], 3);
      }
    return t;
  };
  const PdqHashes h = PdqHashRgb(px.view(), true);
  const Pixels flipx = transformed([](int x, int y) { return std::pair{x, 255 - y}; });
  const Pixels flipy = transformed([](int x, int y) { return std::pair{255 - x, y}; });
  const Pixels transpose = transformed([](int x, int y) { return std::pair{y, x}; });
  // This synthetic image has few strong DCT coefficients, so many bits sit
  // near the median; real photos land much closer (see the conformance test
  // on the reference's dihedral photos).
  EXPECT_LE(HammingDistance(PdqHashRgb(flipx.view()).hash, h.dihedral[4]), kPdqMatchThreshold);
  EXPECT_LE(HammingDistance(PdqHashRgb(flipy.view()).hash, h.dihedral[5]), kPdqMatchThreshold);
  EXPECT_LE(HammingDistance(PdqHashRgb(transpose.view()).hash, h.dihedral[6]), kPdqMatchThreshold);
  // And the variants are genuinely different hashes.
  EXPECT_GT(HammingDistance(h.dihedral[0], h.dihedral[4]), 64);
}

TEST(Pdq, Reference512ResizesLargeImagesByNearestNeighbour) {
  // A 1024x1024 image whose even rows/columns carry the picture: nearest
  // neighbour at exactly half scale reads only even indices, so the result
  // equals the hash of the 512x512 picture itself.
  std::mt19937 rng(5);
  const Pixels small = MakeImage(rng, 512, 512);
  Pixels big;
  big.width = big.height = 1024;
  big.rgb.assign(1024 * 1024 * 3, 0);
  for (int y = 0; y < 1024; ++y)
    for (int x = 0; x < 1024; ++x) {
      uint8_t* d = &big.rgb[(static_cast<size_t>(y) * 1024 + x) * 3];
      if (x % 2 == 0 && y % 2 == 0) {
        std::memcpy(d, &small.rgb[(static_cast<size_t>(y / 2) * 512 + x / 2) * 3], 3);
      } else {
        d[0] = d[1] = d[2] = 255;
      }
    }
  EXPECT_EQ(PdqHashReference512(big.view()).hash, PdqHashRgb(small.view()).hash);
  EXPECT_NE(PdqHashRgb(big.view()).hash, PdqHashRgb(small.view()).hash);
  // At or under 512 it is the canonical hash.
  EXPECT_EQ(PdqHashReference512(small.view()).hash, PdqHashRgb(small.view()).hash);
}

TEST(Pdq, DihedralNames) {
  EXPECT_EQ(DihedralName(Dihedral::kOriginal), "original");
  EXPECT_EQ(DihedralName(Dihedral::kFlipMinus1), "flipminus1");
}

}  // namespace
}  // namespace safeguard
