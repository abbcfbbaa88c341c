#include "safeguard/hash/digest.h"

#include "test_support.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace safeguard {
namespace {

namespace fs = std::filesystem;

Digests DigestString(std::string_view s) {
  return DigestBytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::vector<uint8_t> RandomBytes(std::mt19937_64& rng, size_t size) {
  std::vector<uint8_t> out(size);
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& b : out) b = static_cast<uint8_t>(byte(rng));
  return out;
}

// Scratch directory whose Write returns a path (as fs::path, for the tests
// below).
class TempDir : public test_support::ScratchDir {
 public:
  fs::path Write(const std::string& name, const std::vector<uint8_t>& bytes) const {
    return fs::path(ScratchDir::Write(name, bytes));
  }
};

void ExpectSame(const Digests& a, const Digests& b) {
  EXPECT_EQ(a.md5, b.md5);
  EXPECT_EQ(a.sha1, b.sha1);
  EXPECT_EQ(a.sha256, b.sha256);
}

// Known answers: RFC 1321 (MD5), FIPS 180-2 / RFC 3174 (SHA-1) and
// FIPS 180-2 (SHA-256) test vectors.

TEST(Digest, EmptyInput) {
  Digests d = DigestBytes(nullptr, 0);
  EXPECT_EQ(d.md5, "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(d.sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(d.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Digest, Abc) {
  Digests d = DigestString("abc");
  EXPECT_EQ(d.md5, "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(d.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(d.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Digest, TwoBlockMessage) {
  Digests d = DigestString("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
  EXPECT_EQ(d.sha1, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(d.sha256, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(DigestString("message digest").md5, "f96b697d7cb7938d525a2f31aaf161d0");
}

TEST(Digest, OneMillionAs) {
  const std::string a(1'000'000, 'a');
  Digests d = DigestString(a);
  EXPECT_EQ(d.md5, "7707d6ae4e027c70eea2a935c2296f21");
  EXPECT_EQ(d.sha1, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  EXPECT_EQ(d.sha256, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

  // The same stream fed one byte at a time, as the FIPS text describes it.
  Digester digester;
  const uint8_t byte = 'a';
  for (int i = 0; i < 1'000'000; ++i) digester.Update(&byte, 1);
  ExpectSame(digester.Finish(), d);
}

TEST(Digest, OutputIsLowercaseHexOfTheRightLength) {
  Digests d = DigestString("Safeguard");
  EXPECT_EQ(d.md5.size(), 32u);
  EXPECT_EQ(d.sha1.size(), 40u);
  EXPECT_EQ(d.sha256.size(), 64u);
  for (const std::string* s : {&d.md5, &d.sha1, &d.sha256}) {
    EXPECT_TRUE(std::all_of(s->begin(), s->end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    })) << *s;
  }
}

TEST(Digest, IncrementalUpdatesInRandomChunksEqualOneShot) {
  std::mt19937_64 rng(20240601);
  std::uniform_int_distribution<size_t> total_size(0, 300'000);
  for (int trial = 0; trial < 25; ++trial) {
    // Include sizes around the 64-byte block boundary as well as large ones.
    const size_t size = trial < 5 ? static_cast<size_t>(trial) * 32 : total_size(rng);
    const std::vector<uint8_t> data = RandomBytes(rng, size);
    const Digests one_shot = DigestBytes(data.data(), data.size());

    Digester digester;
    size_t pos = 0;
    std::uniform_int_distribution<size_t> chunk(0, 1 + size / 4);
    while (pos < size) {
      const size_t n = std::min(chunk(rng), size - pos);
      digester.Update(data.data() + pos, n);  // n == 0 sometimes: a no-op
      pos += n;
    }
    SCOPED_TRACE("trial " + std::to_string(trial) + ", size " + std::to_string(size));
    ExpectSame(digester.Finish(), one_shot);
  }
}

TEST(DigestFile, EqualsDigestBytesOfTheContents) {
  TempDir dir;
  std::mt19937_64 rng(99);
  // 0 bytes, small, exactly the 1 MiB read buffer, one over it, and 3.5 MiB.
  const size_t kMiB = size_t{1} << 20;
  for (size_t size : {size_t{0}, size_t{1}, size_t{4097}, kMiB, kMiB + 1, 7 * kMiB / 2}) {
    SCOPED_TRACE("size " + std::to_string(size));
    const std::vector<uint8_t> data = RandomBytes(rng, size);
    const fs::path p = dir.Write("file-" + std::to_string(size) + ".bin", data);
    ASSERT_EQ(fs::file_size(p), size);
    Result<Digests> from_file = DigestFile(p.string());
    ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
    ExpectSame(*from_file, DigestBytes(data.data(), data.size()));
  }
}

TEST(DigestFile, KnownAnswerFromDisk) {
  TempDir dir;
  const std::vector<uint8_t> abc = {'a', 'b', 'c'};
  Result<Digests> d = DigestFile(dir.Write("abc.txt", abc).string());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(DigestFile, MissingFileIsNotFound) {
  TempDir dir;
  const std::string missing = (dir.path() / "does-not-exist.jpg").string();
  Result<Digests> d = DigestFile(missing);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(d.status().message().find(missing), std::string::npos) << d.status().message();
}

TEST(DigestFile, PathThroughAFileIsNotFound) {
  TempDir dir;
  const fs::path file = dir.Write("plain", {1, 2, 3});
  Result<Digests> d = DigestFile((file / "child").string());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), ErrorCode::kNotFound);
}

TEST(DigestFile, DirectoryIsAnError) {
  TempDir dir;
  Result<Digests> d = DigestFile(dir.path().string());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(d.status().message().find(dir.path().string()), std::string::npos)
      << d.status().message();
}

TEST(DigestFile, FifoIsRejectedWithoutBlocking) {
  TempDir dir;
  const fs::path fifo = dir.path() / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Result<Digests> d = DigestFile(fifo.string());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), ErrorCode::kInvalidArgument);
}

TEST(DigestFile, UnreadableFileIsAnIoError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files regardless of their mode";
  TempDir dir;
  const fs::path p = dir.Write("secret", {1, 2, 3});
  fs::permissions(p, fs::perms::none);
  Result<Digests> d = DigestFile(p.string());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), ErrorCode::kIoError);
  EXPECT_NE(d.status().message().find(p.string()), std::string::npos) << d.status().message();
  EXPECT_NE(d.status().message().find("denied"), std::string::npos) << d.status().message();
}

}  // namespace
}  // namespace safeguard
