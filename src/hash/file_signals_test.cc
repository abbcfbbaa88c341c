#include "safeguard/hash/file_signals.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "test_support.h"

namespace safeguard {
namespace {

namespace fs = std::filesystem;

class FileSignalsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitializeImageDecoding().ok()); }
  std::string Write(const std::string& name, const std::string& bytes) {
    return scratch_.Write(name, bytes);
  }
  test_support::ScratchDir scratch_;
  const fs::path& tmp_ = scratch_.path();
};

TEST_F(FileSignalsTest, NonImageFileGetsDigestsOnly) {
  const std::string p = Write("notes.txt", "abc");
  Result<FileSignals> s = ComputeFileSignals(p, SignalOptions{});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_FALSE(s->is_image);
  EXPECT_EQ(s->digests.md5, "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(s->digests.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(s->digests.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(s->pdq.hash.is_zero());
}

TEST_F(FileSignalsTest, LargeNonImageFileIsStreamedWithTheSameDigests) {
  std::string big(3 * 1024 * 1024 + 123, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 31) ^ (i >> 9));
  const std::string p = Write("blob.bin", big);
  Result<FileSignals> s = ComputeFileSignals(p, SignalOptions{});
  ASSERT_TRUE(s.ok());
  const Digests d = DigestBytes(reinterpret_cast<const uint8_t*>(big.data()), big.size());
  EXPECT_EQ(s->digests.sha256, d.sha256);
  EXPECT_EQ(s->digests.md5, d.md5);
}

TEST_F(FileSignalsTest, MissingFileAndDirectoryAreErrorsNamingThePath) {
  Result<FileSignals> missing = ComputeFileSignals((tmp_ / "nope.jpg").string(), SignalOptions{});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope.jpg"), std::string::npos);
  Result<FileSignals> dir = ComputeFileSignals(tmp_.string(), SignalOptions{});
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(FileSignalsTest, TruncatedJpegIsAnErrorNamingTheFile) {
  SAFEGUARD_REQUIRE_TESTDATA();
  const std::string dir = test_support::TestDataDir();
  std::ifstream in(dir + "/pdq/bridge-mods/aaa-orig.jpg", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 1000u);
  const std::string p = Write("half.jpg", bytes.substr(0, bytes.size() / 2));
  Result<FileSignals> s = ComputeFileSignals(p, SignalOptions{});
  ASSERT_TRUE(s.ok()) << s.status().ToString();  // the file itself was read
  EXPECT_TRUE(s->is_image);
  EXPECT_FALSE(s->complete());
  EXPECT_EQ(s->image_status.code(), ErrorCode::kCorrupt);
  EXPECT_NE(s->image_status.message().find("half.jpg"), std::string::npos);
  EXPECT_TRUE(s->pdq.hash.is_zero());
  // Its digests are still there, for exact matching.
  const std::string half = bytes.substr(0, bytes.size() / 2);
  EXPECT_EQ(s->digests.sha256,
            DigestBytes(reinterpret_cast<const uint8_t*>(half.data()), half.size()).sha256);

  // The whole file from memory equals the file on disk.
  Result<FileSignals> whole = ComputeSignals(reinterpret_cast<const uint8_t*>(bytes.data()),
                                             bytes.size(), SignalOptions{}, "aaa-orig.jpg");
  Result<FileSignals> disk =
      ComputeFileSignals(dir + "/pdq/bridge-mods/aaa-orig.jpg", SignalOptions{});
  ASSERT_TRUE(whole.ok() && disk.ok());
  EXPECT_TRUE(whole->is_image);
  EXPECT_TRUE(whole->complete());
  EXPECT_EQ(whole->pdq.hash, disk->pdq.hash);
  EXPECT_EQ(whole->digests.sha1, disk->digests.sha1);
}

TEST_F(FileSignalsTest, ImageOverTheFileSizeLimitIsRefused) {
  SAFEGUARD_REQUIRE_TESTDATA();
  const std::string dir = test_support::TestDataDir();
  SignalOptions opt;
  opt.decode.limits.max_file_bytes = 1000;
  Result<FileSignals> s = ComputeFileSignals(dir + "/pdq/bridge-mods/aaa-orig.jpg", opt);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(s->is_image);
  EXPECT_EQ(s->image_status.code(), ErrorCode::kLimitExceeded);
  EXPECT_NE(s->image_status.message().find("max_file_bytes"), std::string::npos);
  // Streamed, not decoded: the digests equal those of the whole file.
  Result<Digests> d = DigestFile(dir + "/pdq/bridge-mods/aaa-orig.jpg");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(s->digests.md5, d->md5);
}

TEST(PdqModes, ParseAndName) {
  for (PdqMode m : {PdqMode::kCanonical, PdqMode::kFast, PdqMode::kReference512}) {
    Result<PdqMode> back = ParsePdqMode(PdqModeName(m));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, m);
  }
  EXPECT_EQ(ParsePdqMode("turbo").status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace safeguard
