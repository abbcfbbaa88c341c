// Snapshot files: round trips, and refusal of damaged, truncated, foreign
// and future files with a clear status.

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "crc32c.h"
#include "safeguard/index/digest_index.h"
#include "safeguard/index/flat_index.h"
#include "safeguard/index/pdq_index.h"
#include "snapshot_file.h"
#include "test_hashes.h"
#include "test_support.h"

namespace safeguard {
namespace {

using index_test::FlipBits;
using index_test::RandomEntries;
using index_test::RandomHash;
using index_test::VariantBatch;
using test_support::ReadBytes;
using test_support::ScratchDir;
using test_support::WriteBytes;

template <typename T>
void Put(std::vector<uint8_t>* bytes, size_t offset, T v) {
  std::memcpy(bytes->data() + offset, &v, sizeof(T));
}

// Recomputes both checksums, so that a test can make a change the checksum
// would otherwise catch and reach the checks behind it.
void Reseal(std::vector<uint8_t>* bytes) {
  Put<uint32_t>(bytes, 28, index_internal::Crc32c(0, bytes->data() + 64, bytes->size() - 64));
  Put<uint32_t>(bytes, 32, index_internal::Crc32c(0, bytes->data(), 32));
}

class PdqSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937_64 rng(30);
    entries_ = RandomEntries(6000, rng, 10);
    for (size_t i = 0; i < 500; ++i) {
      entries_.push_back({100000 + i, FlipBits(entries_[i].hash, rng() % 30, rng)});
    }
    PdqIndexOptions o;
    o.min_entries_for_tables = 0;
    Result<PdqIndex> index = PdqIndex::Build(entries_, o);
    ASSERT_TRUE(index.ok());
    index_ = std::make_unique<PdqIndex>(std::move(*index));
    oracle_ = FlatIndex(entries_);
    // Some updates, so the snapshot carries a delta and tombstones.
    for (uint64_t i = 0; i < 40; ++i) {
      const Hash256 h = FlipBits(entries_[i].hash, 5, rng);
      ASSERT_TRUE(index_->Add(200000 + i, h).ok());
      ASSERT_TRUE(oracle_.Add(200000 + i, h).ok());
    }
    for (uint64_t id : {10, 11, 12, 100003, 200001}) {
      ASSERT_TRUE(index_->Remove(id).ok());
      ASSERT_TRUE(oracle_.Remove(id).ok());
    }
    for (int b = 0; b < 30; ++b) {
      queries_.push_back(VariantBatch(entries_[rng() % entries_.size()].hash, 3, 12, rng));
    }
    path_ = dir_.File("index.sgidx");
    ASSERT_TRUE(index_->Save(path_).ok());
  }

  void ExpectSameAsOracle(const PdqIndex& loaded) {
    for (const std::vector<Hash256>& q : queries_) {
      Result<std::vector<PdqMatch>> m = loaded.Search(q, 31);
      ASSERT_TRUE(m.ok());
      EXPECT_EQ(*m, oracle_.Search(q, 31));
    }
  }

  Status LoadBytes(const std::vector<uint8_t>& bytes) {
    const std::string p = dir_.Write("damaged.sgidx", bytes);
    return PdqIndex::Load(p).status();
  }

  ScratchDir dir_;
  std::vector<PdqEntry> entries_;
  std::unique_ptr<PdqIndex> index_;
  FlatIndex oracle_;
  std::vector<std::vector<Hash256>> queries_;
  std::string path_;
};

TEST_F(PdqSnapshotTest, RoundTripWithDeltaAndTombstones) {
  for (PdqLoadBacking backing : {PdqLoadBacking::kCopy, PdqLoadBacking::kMap}) {
    PdqIndexOptions o;
    o.load_backing = backing;
    Result<PdqIndex> loaded = PdqIndex::Load(path_, o);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    ExpectSameAsOracle(*loaded);
    const PdqIndexStats a = index_->Stats();
    const PdqIndexStats b = loaded->Stats();
    EXPECT_EQ(a.entries, b.entries);
    EXPECT_EQ(a.tables, b.tables);
    EXPECT_EQ(a.table_bits, b.table_bits);
    EXPECT_EQ(b.removed_entries, 4u);  // the delta's removed entry is not saved
    // A loaded index takes updates and compacts like any other.
    ASSERT_TRUE(loaded->Remove(13).ok());
    EXPECT_EQ(loaded->Remove(10).code(), ErrorCode::kNotFound);
    ASSERT_TRUE(loaded->Add(10, entries_[0].hash).ok());
    ASSERT_TRUE(loaded->Compact().ok());
    EXPECT_EQ(loaded->Stats().entries, a.entries);
  }
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
}

TEST_F(PdqSnapshotTest, SaveOverwritesAtomicallyEvenWhileMapped) {
  PdqIndexOptions o;
  o.load_backing = PdqLoadBacking::kMap;
  Result<PdqIndex> loaded = PdqIndex::Load(path_, o);
  ASSERT_TRUE(loaded.ok());
  ASSERT_TRUE(loaded->Compact().ok());
  ASSERT_TRUE(loaded->Save(path_).ok());  // replaces the file it was mapped from
  ExpectSameAsOracle(*loaded);
  Result<PdqIndex> again = PdqIndex::Load(path_);
  ASSERT_TRUE(again.ok());
  ExpectSameAsOracle(*again);
  EXPECT_EQ(again->Stats().removed_entries, 0u);
}

TEST_F(PdqSnapshotTest, CorruptionAnywhereIsRefused) {
  const std::vector<uint8_t> good = ReadBytes(path_);
  ASSERT_GT(good.size(), 4096u);
  // Header fields, the directory, the first section, the middle, the end.
  for (size_t offset :
       {size_t{16}, size_t{20}, size_t{24}, size_t{28}, size_t{33}, size_t{40}, size_t{64},
        size_t{72}, size_t{200}, good.size() / 3, good.size() / 2, good.size() - 1}) {
    std::vector<uint8_t> bad = good;
    bad[offset] ^= 0x10;
    const Status s = LoadBytes(bad);
    EXPECT_EQ(s.code(), ErrorCode::kCorrupt) << "offset " << offset << ": " << s.ToString();
  }
}

TEST_F(PdqSnapshotTest, TruncatedIsRefused) {
  const std::vector<uint8_t> good = ReadBytes(path_);
  for (size_t size : {size_t{8}, size_t{40}, size_t{63}, size_t{64}, size_t{100}, good.size() / 2,
                      good.size() - 64, good.size() - 1}) {
    const std::vector<uint8_t> bad(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(size));
    const Status s = LoadBytes(bad);
    EXPECT_EQ(s.code(), ErrorCode::kCorrupt) << size << ": " << s.ToString();
    EXPECT_NE(s.message().find("truncated"), std::string::npos) << s.ToString();
  }
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  EXPECT_EQ(LoadBytes(longer).code(), ErrorCode::kCorrupt);
}

TEST_F(PdqSnapshotTest, ForeignFilesAreRefused) {
  EXPECT_EQ(LoadBytes({}).code(), ErrorCode::kUnsupported);
  EXPECT_EQ(LoadBytes({'S', 'G'}).code(), ErrorCode::kUnsupported);
  const std::string text = "f162eb9daab170c0567fe3632d9a5548c5612982dd5e374a7424ebbc8a835c95\n";
  const Status s = LoadBytes(std::vector<uint8_t>(text.begin(), text.end()));
  EXPECT_EQ(s.code(), ErrorCode::kUnsupported);
  EXPECT_NE(s.message().find("not a Safeguard index snapshot"), std::string::npos);
  std::vector<uint8_t> bad = ReadBytes(path_);
  bad[0] = 'X';
  EXPECT_EQ(LoadBytes(bad).code(), ErrorCode::kUnsupported);
  EXPECT_EQ(PdqIndex::Load(dir_.File("missing")).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(PdqIndex::Load(dir_.path().string()).status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(PdqSnapshotTest, OtherVersionIsRefused) {
  std::vector<uint8_t> bad = ReadBytes(path_);
  Put<uint32_t>(&bad, 8, 2);
  Reseal(&bad);
  const Status s = LoadBytes(bad);
  EXPECT_EQ(s.code(), ErrorCode::kUnsupported);
  EXPECT_NE(s.message().find("version 2"), std::string::npos) << s.ToString();
  Put<uint32_t>(&bad, 8, 0);
  EXPECT_EQ(LoadBytes(bad).code(), ErrorCode::kUnsupported);  // even with a stale checksum
}

TEST_F(PdqSnapshotTest, OtherKindIsRefused) {
  DigestIndex digests;
  const std::string p = dir_.File("digests.sgidx");
  ASSERT_TRUE(digests.Save(p).ok());
  const Status s = PdqIndex::Load(p).status();
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("digest index"), std::string::npos) << s.ToString();
  EXPECT_EQ(DigestIndex::Load(path_).status().code(), ErrorCode::kInvalidArgument);
}

// Checksums valid, contents inconsistent (as a buggy writer could produce):
// the structural checks refuse them.
TEST_F(PdqSnapshotTest, InconsistentContentsAreRefused) {
  const std::vector<uint8_t> good = ReadBytes(path_);
  // The directory's first entries: meta (tag 1), hashes (2), ids (3).
  auto section_offset = [&](uint32_t tag) -> size_t {
    const uint32_t count = *reinterpret_cast<const uint32_t*>(good.data() + 24);
    for (uint32_t i = 0; i < count; ++i) {
      const uint8_t* e = good.data() + 64 + 32 * i;
      uint32_t t;
      uint64_t off;
      std::memcpy(&t, e, 4);
      std::memcpy(&off, e + 8, 8);
      if (t == tag) return off;
    }
    return 0;
  };
  {
    std::vector<uint8_t> bad = good;  // two ids swapped: no longer increasing
    const size_t ids = section_offset(index_internal::section::kSegmentIds);
    ASSERT_GT(ids, 0u);
    std::swap_ranges(bad.begin() + static_cast<std::ptrdiff_t>(ids),
                     bad.begin() + static_cast<std::ptrdiff_t>(ids + 8),
                     bad.begin() + static_cast<std::ptrdiff_t>(ids + 8));
    Reseal(&bad);
    EXPECT_EQ(LoadBytes(bad).code(), ErrorCode::kCorrupt);
  }
  {
    std::vector<uint8_t> bad = good;  // a table position out of range
    const size_t pos = section_offset(index_internal::section::kTablePositions + 0);
    ASSERT_GT(pos, 0u);
    Put<uint32_t>(&bad, pos, 0xffffff00u);
    Reseal(&bad);
    EXPECT_EQ(LoadBytes(bad).code(), ErrorCode::kCorrupt);
  }
  {
    std::vector<uint8_t> bad = good;  // a section pointing past the end
    Put<uint64_t>(&bad, 64 + 8, good.size() + 64);
    Reseal(&bad);
    EXPECT_EQ(LoadBytes(bad).code(), ErrorCode::kCorrupt);
  }
}

}  // namespace
}  // namespace safeguard
