// PDQ from image files against the reference's outputs in ../shared/testdata:
// decoding plus hashing, end to end through ComputeFileSignals.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "safeguard/hash/file_signals.h"
#include "test_support.h"

namespace safeguard {
namespace {

using test_support::ReadCsv;

// The colour-mode files are decoder stress cases: the reference decoded them
// with ImageMagick's own conversions (CMYK, 16-bit, palette, LAB...), so a few
// bits of difference are expected there, and only there.
bool IsColourModeFile(const std::string& path) { return path.rfind("misc-images/modes/", 0) == 0; }
constexpr int kColourModeTolerance = 6;

int Distance(const Hash256& a, const std::string& hex) {
  Result<Hash256> b = Hash256::FromHex(hex);
  EXPECT_TRUE(b.ok()) << hex;
  return b.ok() ? HammingDistance(a, *b) : 256;
}

class PdqFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    SAFEGUARD_REQUIRE_TESTDATA();
    dir_ = test_support::TestDataDir();
    ASSERT_TRUE(InitializeImageDecoding().ok());
  }
  std::string dir_;
};

TEST_F(PdqFiles, CanonicalModeMatchesExpectedFullres) {
  const auto rows = ReadCsv(dir_ + "/pdq/expected-fullres.csv");
  ASSERT_GE(rows.size(), 49u);
  SignalOptions opt;
  opt.dihedral = true;
  int exact_files = 0;
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 10u);
    SCOPED_TRACE(row[0]);
    Result<FileSignals> s = ComputeFileSignals(dir_ + "/pdq/" + row[0], opt);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ASSERT_TRUE(s->image_status.ok()) << s->image_status.ToString();
    ASSERT_TRUE(s->is_image);
    if (IsColourModeFile(row[0])) {
      for (int d = 0; d < 8; ++d)
        EXPECT_LE(Distance(s->pdq.dihedral[d], row[2 + d]), kColourModeTolerance);
      EXPECT_NEAR(s->pdq.quality, std::stoi(row[1]), 5);
      continue;
    }
    EXPECT_EQ(s->pdq.quality, std::stoi(row[1]));
    for (int d = 0; d < 8; ++d) {
      EXPECT_EQ(s->pdq.dihedral[d].ToHex(), row[2 + d]) << DihedralName(static_cast<Dihedral>(d));
    }
    ++exact_files;
  }
  EXPECT_EQ(exact_files, 35);
}

TEST_F(PdqFiles, Reference512ModeMatchesExpectedCli512) {
  const auto rows = ReadCsv(dir_ + "/pdq/expected-cli512.csv");
  ASSERT_GE(rows.size(), 49u);
  SignalOptions opt;
  opt.pdq_mode = PdqMode::kReference512;
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 3u);
    SCOPED_TRACE(row[0]);
    Result<FileSignals> s = ComputeFileSignals(dir_ + "/pdq/" + row[0], opt);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ASSERT_TRUE(s->image_status.ok()) << s->image_status.ToString();
    if (IsColourModeFile(row[0])) {
      EXPECT_LE(Distance(s->pdq.hash, row[2]), kColourModeTolerance);
      continue;
    }
    EXPECT_EQ(s->pdq.hash.ToHex(), row[2]);
    EXPECT_EQ(s->pdq.quality, std::stoi(row[1]));
  }
}

TEST_F(PdqFiles, TransformedPhotosMatchTheOriginalsDihedralVariants) {
  SignalOptions opt;
  opt.dihedral = true;
  const std::string base = dir_ + "/pdq/reg-test-input/dih/";
  Result<FileSignals> original = ComputeFileSignals(base + "bridge-1-original.jpg", opt);
  ASSERT_TRUE(original.ok());
  const char* files[8] = {"bridge-1-original.jpg",    "bridge-2-rotate-90.jpg",
                          "bridge-3-rotate-180.jpg",  "bridge-4-rotate-270.jpg",
                          "bridge-5-flipx.jpg",       "bridge-6-flipy.jpg",
                          "bridge-7-flip-plus-1.jpg", "bridge-8-flip-minus-1.jpg"};
  for (int d = 0; d < 8; ++d) {
    Result<FileSignals> t = ComputeFileSignals(base + files[d], opt);
    ASSERT_TRUE(t.ok());
    EXPECT_LE(HammingDistance(t->pdq.hash, original->pdq.dihedral[d]), 10) << files[d];
    // ... and not the plain hash, except for the identity.
    if (d != 0) {
      EXPECT_GT(HammingDistance(t->pdq.hash, original->pdq.hash), kPdqMatchThreshold);
    }
  }
}

TEST_F(PdqFiles, FastModeStaysCloseToCanonical) {
  const auto rows = ReadCsv(dir_ + "/pdq/expected-fullres.csv");
  SignalOptions fast;
  fast.pdq_mode = PdqMode::kFast;
  int shrunk = 0;
  for (const auto& row : rows) {
    SCOPED_TRACE(row[0]);
    Result<FileSignals> s = ComputeFileSignals(dir_ + "/pdq/" + row[0], fast);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ASSERT_TRUE(s->image_status.ok()) << s->image_status.ToString();
    if (s->pdq.quality < kPdqMinQuality) continue;  // not matchable either way
    EXPECT_LE(Distance(s->pdq.hash, row[2]), 16);
    if (s->width >= 2 * fast.fast_min_side && s->height >= 2 * fast.fast_min_side &&
        s->format == "jpeg") {
      ++shrunk;
    }
  }
  EXPECT_GT(shrunk, 10);  // the fast path was really taken
}

TEST_F(PdqFiles, ExifOrientationIgnoredByDefaultAndAppliedOnRequest) {
  const std::string base = dir_ + "/pdq/reg-test-input/exif-rotn/";
  SignalOptions plain;
  SignalOptions upright;
  upright.decode.apply_exif_orientation = true;
  Result<FileSignals> one = ComputeFileSignals(base + "exif-rotn-1.jpg", plain);
  Result<FileSignals> six = ComputeFileSignals(base + "exif-rotn-6.jpg", plain);
  Result<FileSignals> six_upright = ComputeFileSignals(base + "exif-rotn-6.jpg", upright);
  ASSERT_TRUE(one.ok() && six.ok() && six_upright.ok());
  EXPECT_EQ(six->width, 4032);
  EXPECT_EQ(six->height, 3024);
  // Applying orientation 6 turns the stored pixels by 90 degrees, so the
  // hash changes by far more than the match threshold.
  EXPECT_GT(HammingDistance(six->pdq.hash, six_upright->pdq.hash), kPdqMatchThreshold);
}

}  // namespace
}  // namespace safeguard
