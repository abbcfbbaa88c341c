#include "safeguard/index/digest_index.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "test_support.h"

namespace safeguard {
namespace {

Digest RandomDigest(DigestType type, std::mt19937_64& rng) {
  Digest d;
  d.type = type;
  for (size_t i = 0; i < DigestSize(type); ++i) d.bytes[i] = static_cast<uint8_t>(rng());
  return d;
}

TEST(DigestTest, HexRoundTripAndRefusals) {
  Result<Digest> md5 = Digest::FromHex(DigestType::kMd5, "D41D8CD98F00B204E9800998ECF8427E");
  ASSERT_TRUE(md5.ok());
  EXPECT_EQ(md5->ToHex(), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Digest::FromHex(DigestType::kSha1, "d41d8cd98f00b204e9800998ecf8427e").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(Digest::FromHex(DigestType::kMd5, "g41d8cd98f00b204e9800998ecf8427e").status().code(),
            ErrorCode::kInvalidArgument);
  const std::vector<uint8_t> twenty(20, 7);
  EXPECT_TRUE(Digest::FromBytes(DigestType::kSha1, twenty).ok());
  EXPECT_FALSE(Digest::FromBytes(DigestType::kSha256, twenty).ok());
  EXPECT_EQ(DigestSize(DigestType::kSha256), 32u);
  EXPECT_EQ(DigestTypeName(DigestType::kSha1), "sha1");
}

// Random adds, removes and compactions against a std::map model; then a
// snapshot round trip.
TEST(DigestIndexTest, MatchesModelThroughUpdatesCompactionAndSnapshot) {
  std::mt19937_64 rng(40);
  std::vector<DigestEntry> entries;
  std::vector<Digest> known;
  for (int t = 0; t < kDigestTypeCount; ++t) {
    for (int i = 0; i < 20000; ++i) {
      const Digest d = RandomDigest(static_cast<DigestType>(t), rng);
      known.push_back(d);
      entries.push_back({d, rng() % 1000});
      // Some digests in several banks.
      if (i % 10 == 0) entries.push_back({d, 1000 + rng() % 1000});
    }
  }
  Result<DigestIndex> index = DigestIndex::Build(entries);
  ASSERT_TRUE(index.ok());
  std::map<std::pair<std::string, int>, std::set<uint64_t>> model;
  auto key = [](const Digest& d) { return std::make_pair(d.ToHex(), static_cast<int>(d.type)); };
  for (const DigestEntry& e : entries) model[key(e.digest)].insert(e.id);
  auto check = [&](const DigestIndex& idx) {
    for (int i = 0; i < 3000; ++i) {
      const Digest& d = known[rng() % known.size()];
      const std::set<uint64_t>& want = model[key(d)];
      EXPECT_EQ(idx.Lookup(d), std::vector<uint64_t>(want.begin(), want.end()));
    }
    for (int t = 0; t < kDigestTypeCount; ++t) {
      EXPECT_TRUE(idx.Lookup(RandomDigest(static_cast<DigestType>(t), rng)).empty());
    }
  };
  check(*index);
  for (int step = 0; step < 3000; ++step) {
    const Digest& d = known[rng() % known.size()];
    const uint64_t id = rng() % 1200;
    std::set<uint64_t>& ids = model[key(d)];
    if (rng() % 2 == 0) {
      const Status s = index->Add(d, id);
      EXPECT_EQ(s.ok(), ids.insert(id).second) << s.ToString();
    } else {
      const Status s = index->Remove(d, id);
      EXPECT_EQ(s.ok(), ids.erase(id) == 1) << s.ToString();
      if (!s.ok()) {
        EXPECT_EQ(s.code(), ErrorCode::kNotFound);
      }
    }
    if (step == 1500) {
      EXPECT_GT(index->Stats().pending, 0u);
      ASSERT_TRUE(index->Compact().ok());
      EXPECT_EQ(index->Stats().pending, 0u);
    }
  }
  check(*index);
  size_t total = 0;
  for (const auto& [k, ids] : model) total += ids.size();
  const DigestIndexStats stats = index->Stats();
  EXPECT_EQ(stats.entries[0] + stats.entries[1] + stats.entries[2], total);

  test_support::ScratchDir dir;
  const std::string path = dir.File("digests.sgidx");
  ASSERT_TRUE(index->Save(path).ok());
  Result<DigestIndex> loaded = DigestIndex::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  check(*loaded);
  EXPECT_EQ(loaded->Stats().entries, stats.entries);

  std::vector<uint8_t> bytes = test_support::ReadBytes(path);
  bytes[bytes.size() / 2] ^= 1;
  const std::string bad = dir.Write("bad.sgidx", bytes);
  EXPECT_EQ(DigestIndex::Load(bad).status().code(), ErrorCode::kCorrupt);
}

TEST(DigestIndexTest, RepeatedPairIsRefused) {
  std::mt19937_64 rng(41);
  const Digest d = RandomDigest(DigestType::kSha256, rng);
  const std::vector<DigestEntry> entries = {{d, 1}, {d, 2}, {d, 1}};
  EXPECT_EQ(DigestIndex::Build(entries).status().code(), ErrorCode::kInvalidArgument);
  DigestIndex index;
  ASSERT_TRUE(index.Add(d, 1).ok());
  EXPECT_EQ(index.Add(d, 1).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(index.Lookup(d), std::vector<uint64_t>{1});
  // The same bytes as another type are another digest.
  Digest other = d;
  other.type = DigestType::kMd5;
  other.bytes.fill(0);
  EXPECT_TRUE(index.Lookup(other).empty());
}

}  // namespace
}  // namespace safeguard
