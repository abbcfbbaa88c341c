// PdqIndex against its oracle (FlatIndex): random data, clustered data with
// planted near-duplicates at every distance 0..r+2, skew, several radii,
// every kernel, updates, tombstones, compaction, and the reference haystack.

#include "safeguard/index/pdq_index.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "mih_segment.h"
#include "safeguard/index/flat_index.h"
#include "test_hashes.h"
#include "test_support.h"

namespace safeguard {
namespace {

using index_test::FlipBits;
using index_test::RandomEntries;
using index_test::RandomHash;
using index_test::VariantBatch;

// Small data, but with tables: the multi-index path is what is under test.
PdqIndexOptions WithTables(int tables = 0, PdqIndexKernel kernel = PdqIndexKernel::kAuto) {
  PdqIndexOptions o;
  o.min_entries_for_tables = 0;
  o.tables = tables;
  o.kernel = kernel;
  return o;
}

std::vector<PdqMatch> MustSearch(const PdqIndex& index, std::span<const Hash256> q, int r) {
  Result<std::vector<PdqMatch>> m = index.Search(q, r);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? *m : std::vector<PdqMatch>{};
}

std::vector<PdqIndexKernel> Kernels() {
  std::vector<PdqIndexKernel> out = {PdqIndexKernel::kScalar};
  for (PdqIndexKernel k : {PdqIndexKernel::kAvx2, PdqIndexKernel::kAvx512}) {
    if (PdqIndex::Create(WithTables(0, k)).ok()) out.push_back(k);
  }
  return out;
}

// Random data; batches of eight hashes, some near stored ones.
void ExpectSameAsOracleOnRandomData(size_t n, int tables, PdqIndexKernel kernel,
                                    std::initializer_list<int> radii, int batches) {
  std::mt19937_64 rng(n * 31 + static_cast<uint64_t>(tables));
  const std::vector<PdqEntry> entries = RandomEntries(n, rng, 1000);
  Result<PdqIndex> index = PdqIndex::Build(entries, WithTables(tables, kernel));
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  const FlatIndex oracle(entries);
  for (int r : radii) {
    for (int b = 0; b < batches; ++b) {
      const Hash256 base = entries[rng() % n].hash;
      const std::vector<Hash256> q = VariantBatch(base, 1 + b % 8, r + 4, rng);
      ASSERT_EQ(MustSearch(*index, q, r), oracle.Search(q, r))
          << "tables " << tables << " radius " << r << " batch " << b;
    }
  }
}

TEST(PdqIndexTest, MatchesOracleOnRandomDataForManyRadii) {
  ExpectSameAsOracleOnRandomData(40000, 0, PdqIndexKernel::kAuto,
                                 {0, 1, 2, 7, 15, 16, 31, 32, 33, 47, 64}, 24);
}

// Groups of near-duplicates (20 per group, 0..20 bits from a centre), and
// batches whose variants land near several groups at once.
TEST(PdqIndexTest, MatchesOracleOnClusteredData) {
  std::mt19937_64 rng(14);
  std::vector<PdqEntry> entries;
  std::vector<Hash256> centres;
  for (uint64_t g = 0; g < 1500; ++g) {
    centres.push_back(RandomHash(rng));
    for (uint64_t i = 0; i < 20; ++i) {
      entries.push_back({g * 100 + i, FlipBits(centres.back(), rng() % 21, rng)});
    }
  }
  Result<PdqIndex> index = PdqIndex::Build(entries, WithTables());
  ASSERT_TRUE(index.ok());
  const FlatIndex oracle(entries);
  for (int r : {0, 1, 2, 16, 31, 32, 40, 64}) {
    for (int b = 0; b < 25; ++b) {
      std::vector<Hash256> q;
      for (int v = 0; v < 8; ++v) {
        q.push_back(v % 3 == 2 ? RandomHash(rng)
                               : FlipBits(centres[rng() % centres.size()], rng() % 30, rng));
      }
      ASSERT_EQ(MustSearch(*index, q, r), oracle.Search(q, r)) << "radius " << r << " batch " << b;
    }
  }
}

TEST(PdqIndexTest, MatchesOracleForManyTableCounts) {
  // Down to 13 tables (20-bit substrings): fewer would allocate bucket
  // arrays of hundreds of MB for this small set; 12 tables are exercised by
  // the benchmark at 10^7.
  for (int tables : {13, 15, 16, 17, 21, 25, 32}) {
    ExpectSameAsOracleOnRandomData(5000, tables, PdqIndexKernel::kAuto, {0, 1, 31, 32, 64}, 4);
  }
}

TEST(PdqIndexTest, MatchesOracleWithEveryKernel) {
  for (PdqIndexKernel k : Kernels()) {
    ExpectSameAsOracleOnRandomData(8000, 0, k, {0, 1, 31, 32, 64}, 16);
  }
}

TEST(PdqIndexTest, ScannedIndexMatchesOracle) {
  // Default options: a small index has no tables and is scanned.
  std::mt19937_64 rng(5);
  const std::vector<PdqEntry> entries = RandomEntries(3000, rng);
  Result<PdqIndex> index = PdqIndex::Build(entries);
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(index->Stats().tables, 0);
  const FlatIndex oracle(entries);
  for (int r : {0, 31, 64}) {
    for (int b = 0; b < 5; ++b) {
      const std::vector<Hash256> q = VariantBatch(entries[rng() % 3000].hash, 3, 40, rng);
      EXPECT_EQ(MustSearch(*index, q, r), oracle.Search(q, r));
    }
  }
}

// Clusters of near-duplicates around centres, and for each radius, entries
// planted at every distance 0..r+2 from a query: those within r must come
// back, with their exact distance, and none beyond.
TEST(PdqIndexTest, PlantedNearDuplicatesAtEveryDistance) {
  std::mt19937_64 rng(6);
  for (int r : {0, 1, 2, 16, 31, 32, 64}) {
    std::vector<PdqEntry> entries = RandomEntries(4000, rng);
    uint64_t id = 100000;
    // Clusters: 40 centres with 50 members each within distance 0..20.
    for (int c = 0; c < 40; ++c) {
      const Hash256 centre = RandomHash(rng);
      for (int i = 0; i < 50; ++i) entries.push_back({id++, FlipBits(centre, rng() % 21, rng)});
    }
    const Hash256 query = RandomHash(rng);
    std::map<uint64_t, int> planted;
    for (int d = 0; d <= r + 2; ++d) {
      for (int copies = 0; copies < 3; ++copies) {
        planted[id] = d;
        entries.push_back({id++, FlipBits(query, d, rng)});
      }
    }
    Result<PdqIndex> index = PdqIndex::Build(entries, WithTables());
    ASSERT_TRUE(index.ok());
    const FlatIndex oracle(entries);
    const std::vector<Hash256> q = {query};
    const std::vector<PdqMatch> got = MustSearch(*index, q, r);
    EXPECT_EQ(got, oracle.Search(q, r)) << "radius " << r;
    size_t planted_found = 0;
    for (const PdqMatch& m : got) {
      if (auto it = planted.find(m.id); it != planted.end()) {
        EXPECT_EQ(m.distance, it->second);
        EXPECT_LE(m.distance, r);
        ++planted_found;
      }
    }
    EXPECT_EQ(planted_found, 3u * static_cast<size_t>(r + 1)) << "radius " << r;
    // Eight-variant batches centred on cluster members.
    for (int b = 0; b < 6; ++b) {
      const std::vector<Hash256> vq = VariantBatch(entries[4000 + rng() % 2000].hash, 4, 12, rng);
      EXPECT_EQ(MustSearch(*index, vq, r), oracle.Search(vq, r)) << "radius " << r;
    }
  }
}

TEST(PdqIndexTest, BatchKeepsSmallestDistanceAndFirstVariant) {
  std::mt19937_64 rng(7);
  const Hash256 stored = RandomHash(rng);
  Result<PdqIndex> index = PdqIndex::Build(std::vector<PdqEntry>{{5, stored}}, WithTables());
  ASSERT_TRUE(index.ok());
  // Variants 1 and 3 both at distance 4, variant 6 at 10, others far.
  std::vector<Hash256> q(8);
  for (Hash256& h : q) h = RandomHash(rng);
  q[6] = FlipBits(stored, 10, rng);
  q[3] = FlipBits(stored, 4, rng);
  q[1] = FlipBits(stored, 4, rng);
  const std::vector<PdqMatch> m = MustSearch(*index, q, 31);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0], (PdqMatch{5, 4, 1}));
}

TEST(PdqIndexTest, ResultsNearestFirstThenById) {
  std::mt19937_64 rng(8);
  const Hash256 q = RandomHash(rng);
  std::vector<PdqEntry> entries = {{30, FlipBits(q, 5, rng)},
                                   {10, FlipBits(q, 5, rng)},
                                   {20, FlipBits(q, 2, rng)},
                                   {40, FlipBits(q, 31, rng)},
                                   {50, FlipBits(q, 32, rng)}};
  Result<PdqIndex> index = PdqIndex::Build(entries, WithTables());
  ASSERT_TRUE(index.ok());
  const std::vector<PdqMatch> m = MustSearch(*index, std::vector<Hash256>{q}, 31);
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].id, 20u);
  EXPECT_EQ(m[1].id, 10u);
  EXPECT_EQ(m[2].id, 30u);
  EXPECT_EQ(m[3], (PdqMatch{40, 31, 0}));  // inclusive bound
}

TEST(PdqIndexTest, RefusesBadArguments) {
  PdqIndex index;
  const Hash256 h;
  EXPECT_EQ(index.Search(h, -1).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(index.Search(h, kPdqMaxRadius + 1).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(index.Search(h, kPdqMaxRadius).ok());
  EXPECT_TRUE(index.Search(std::span<const Hash256>(), 31)->empty());
  PdqIndexOptions bad;
  bad.tables = 8;
  EXPECT_EQ(PdqIndex::Create(bad).status().code(), ErrorCode::kInvalidArgument);
  const std::vector<PdqEntry> twice = {{1, h}, {2, h}, {1, h}};
  EXPECT_EQ(PdqIndex::Build(twice).status().code(), ErrorCode::kInvalidArgument);
}

TEST(PdqIndexTest, AddRemoveContainsSemantics) {
  std::mt19937_64 rng(9);
  Result<PdqIndex> index = PdqIndex::Build(RandomEntries(100, rng), WithTables());
  ASSERT_TRUE(index.ok());
  const Hash256 h = RandomHash(rng);
  EXPECT_EQ(index->Add(5, h).code(), ErrorCode::kInvalidArgument);  // in the main segment
  ASSERT_TRUE(index->Add(500, h).ok());
  EXPECT_EQ(index->Add(500, h).code(), ErrorCode::kInvalidArgument);  // in the delta
  EXPECT_TRUE(index->Contains(500));
  EXPECT_EQ(index->Remove(501).code(), ErrorCode::kNotFound);
  // All or nothing.
  const std::vector<PdqEntry> batch = {{600, h}, {601, h}, {5, h}};
  EXPECT_FALSE(index->Add(batch).ok());
  EXPECT_FALSE(index->Contains(600));
  const std::vector<uint64_t> ids = {500, 7, 9999};
  EXPECT_EQ(index->Remove(ids).code(), ErrorCode::kNotFound);
  EXPECT_TRUE(index->Contains(500));
  EXPECT_TRUE(index->Contains(7));
  // Replace a main entry's hash: remove, then add again.
  ASSERT_TRUE(index->Remove(7).ok());
  EXPECT_FALSE(index->Contains(7));
  EXPECT_EQ(index->Remove(7).code(), ErrorCode::kNotFound);
  ASSERT_TRUE(index->Add(7, h).ok());
  const std::vector<PdqMatch> m = MustSearch(*index, std::vector<Hash256>{h}, 0);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].id, 7u);
  EXPECT_EQ(m[1].id, 500u);
  const PdqIndexStats s = index->Stats();
  EXPECT_EQ(s.entries, 101u);
  EXPECT_EQ(s.removed_entries, 1u);
  EXPECT_EQ(s.delta_entries, 2u);
}

// A random sequence of adds, removes and compactions, checked against the
// oracle after every step.
TEST(PdqIndexTest, UpdatesAndCompactionMatchOracle) {
  std::mt19937_64 rng(10);
  std::vector<PdqEntry> initial = RandomEntries(3000, rng);
  // Some near-duplicates so that removes matter to results.
  for (size_t i = 0; i < 300; ++i) {
    initial.push_back({10000 + i, FlipBits(initial[i].hash, static_cast<int>(rng() % 20), rng)});
  }
  Result<PdqIndex> index = PdqIndex::Build(initial, WithTables());
  ASSERT_TRUE(index.ok());
  FlatIndex oracle(initial);
  std::vector<uint64_t> live;
  for (const PdqEntry& e : initial) live.push_back(e.id);
  uint64_t next_id = 50000;
  for (int step = 0; step < 400; ++step) {
    const int op = static_cast<int>(rng() % 10);
    if (op < 4) {
      const Hash256 h = FlipBits(initial[rng() % initial.size()].hash, rng() % 40, rng);
      ASSERT_TRUE(index->Add(next_id, h).ok());
      ASSERT_TRUE(oracle.Add(next_id, h).ok());
      live.push_back(next_id++);
    } else if (op < 8 && !live.empty()) {
      const size_t k = rng() % live.size();
      ASSERT_TRUE(index->Remove(live[k]).ok());
      ASSERT_TRUE(oracle.Remove(live[k]).ok());
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(k));
    } else if (op == 8 && step % 5 == 0) {
      ASSERT_TRUE(index->Compact().ok());
      EXPECT_EQ(index->Stats().removed_entries, 0u);
      EXPECT_EQ(index->Stats().delta_entries, 0u);
    }
    const std::vector<Hash256> q = VariantBatch(initial[rng() % initial.size()].hash, 3, 10, rng);
    ASSERT_EQ(MustSearch(*index, q, 31), oracle.Search(q, 31)) << "step " << step;
    ASSERT_EQ(index->Stats().entries, oracle.size());
  }
  ASSERT_TRUE(index->Compact().ok());
  for (int b = 0; b < 20; ++b) {
    const std::vector<Hash256> q = VariantBatch(initial[rng() % initial.size()].hash, 3, 10, rng);
    ASSERT_EQ(MustSearch(*index, q, 31), oracle.Search(q, 31));
  }
}

TEST(PdqIndexTest, CompactionCanGrowIntoTables) {
  // Starts empty (scanned), grows by adds, and gets tables when compacted.
  PdqIndexOptions o;
  o.min_entries_for_tables = 1000;
  Result<PdqIndex> index = PdqIndex::Create(o);
  ASSERT_TRUE(index.ok());
  std::mt19937_64 rng(11);
  const std::vector<PdqEntry> entries = RandomEntries(5000, rng);
  ASSERT_TRUE(index->Add(entries).ok());
  EXPECT_EQ(index->Stats().tables, 0);
  ASSERT_TRUE(index->Compact().ok());
  EXPECT_GT(index->Stats().tables, 0);
  const FlatIndex oracle(entries);
  for (int b = 0; b < 10; ++b) {
    const std::vector<Hash256> q = VariantBatch(entries[rng() % 5000].hash, 2, 30, rng);
    EXPECT_EQ(MustSearch(*index, q, 31), oracle.Search(q, 31));
  }
}

// Many stored hashes share the query's substrings but are far from it in
// total: the candidates would outnumber a scan, so the segment scans, and
// the answer stays exact.
TEST(PdqIndexTest, SkewedDataFallsBackToScanAndStaysExact) {
  std::mt19937_64 rng(12);
  const Hash256 query = RandomHash(rng);
  std::vector<PdqEntry> entries = RandomEntries(20000, rng);
  for (uint64_t i = 0; i < 20000; ++i) {
    // The first 128 bits equal the query's; the other 128 random: distance
    // about 64, far outside r = 31, yet they fill the query's buckets.
    Hash256 h = RandomHash(rng);
    h.words[0] = query.words[0];
    h.words[1] = query.words[1];
    entries.push_back({100000 + i, h});
  }
  entries.push_back({999999, FlipBits(query, 31, rng)});
  Result<PdqIndex> index = PdqIndex::Build(entries, WithTables());
  ASSERT_TRUE(index.ok());
  const FlatIndex oracle(entries);
  const std::vector<Hash256> q = {query};
  PdqSearchCounters counters;
  Result<std::vector<PdqMatch>> got = index->Search(q, 31, &counters);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, oracle.Search(q, 31));
  EXPECT_EQ(counters.fallback_scans, 1u);
  // A random query elsewhere still uses the tables.
  PdqSearchCounters other;
  const std::vector<Hash256> q2 = {RandomHash(rng)};
  ASSERT_TRUE(index->Search(q2, 31, &other).ok());
  EXPECT_EQ(other.fallback_scans, 0u);
  EXPECT_LT(other.candidates, entries.size() / 4);
}

// A viral cluster: thousands of near-duplicates of one image. A query near
// it finds every member in nearly every table; each is verified once, and
// the search does not degrade into a scan.
TEST(PdqIndexTest, ViralClusterIsVerifiedOncePerMember) {
  std::mt19937_64 rng(13);
  std::vector<PdqEntry> entries = RandomEntries(200000, rng);
  const Hash256 centre = RandomHash(rng);
  for (uint64_t i = 0; i < 5000; ++i) {
    entries.push_back({1'000'000 + i, FlipBits(centre, rng() % 7, rng)});
  }
  Result<PdqIndex> index = PdqIndex::Build(entries, WithTables());
  ASSERT_TRUE(index.ok());
  const FlatIndex oracle(entries);
  for (int b = 0; b < 3; ++b) {
    const std::vector<Hash256> q = {FlipBits(centre, 3, rng)};
    PdqSearchCounters counters;
    Result<std::vector<PdqMatch>> got = index->Search(q, 31, &counters);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, oracle.Search(q, 31));
    EXPECT_GE(got->size(), 5000u);
    EXPECT_EQ(counters.fallback_scans, 0u);
    EXPECT_LT(counters.candidates, 8000u);  // the cluster once, plus random neighbours
  }
}

TEST(PdqIndexTest, TableChoiceForTenMillion) {
  // The automatic choice documented in docs/index.md.
  const auto tables = index_internal::ChooseTables(10'000'000, 0, 16384);
  ASSERT_EQ(tables.size(), 12u);
  EXPECT_EQ(tables.front().bits, 22u);
  EXPECT_EQ(tables.back().bits, 21u);
  uint32_t covered = 0;
  for (const auto& t : tables) {
    EXPECT_EQ(t.bit_offset, covered);
    covered += t.bits;
  }
  EXPECT_EQ(covered, 256u);
  EXPECT_TRUE(index_internal::ChooseTables(1000, 0, 16384).empty());
}

// The reference haystack and needles (ThreatExchange's index test data):
// the index must return exactly what the exhaustive scan returns.
std::vector<Hash256> ReadHashes(const std::string& path) {
  std::ifstream in(path);
  std::vector<Hash256> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    Result<Hash256> h = Hash256::FromHex(line.substr(0, 64));
    EXPECT_TRUE(h.ok()) << line;
    if (h.ok()) out.push_back(*h);
  }
  return out;
}

TEST(PdqIndexConformanceTest, ReferenceHaystackAndNeedles) {
  SAFEGUARD_REQUIRE_TESTDATA();
  const std::vector<Hash256> haystack =
      ReadHashes(test_support::PdqTestFile("reg-test-input/haystack.txt"));
  const std::vector<Hash256> needles =
      ReadHashes(test_support::PdqTestFile("reg-test-input/needles.txt"));
  ASSERT_EQ(haystack.size(), 1350u);
  ASSERT_EQ(needles.size(), 100u);
  std::vector<PdqEntry> entries;
  for (size_t i = 0; i < haystack.size(); ++i) entries.push_back({i, haystack[i]});
  const FlatIndex oracle(entries);
  for (const PdqIndexOptions& o : {PdqIndexOptions{}, WithTables(), WithTables(16)}) {
    Result<PdqIndex> index = PdqIndex::Build(entries, o);
    ASSERT_TRUE(index.ok());
    size_t matched = 0;
    for (int r : {0, 10, 31, 32, 64}) {
      for (const Hash256& n : needles) {
        const std::vector<Hash256> q = {n};
        const std::vector<PdqMatch> got = MustSearch(*index, q, r);
        ASSERT_EQ(got, oracle.Search(q, r));
        if (r == 31) matched += got.empty() ? 0 : 1;
      }
      // All eight of ten needles at once, as one batch.
      for (size_t i = 0; i + 8 <= needles.size(); i += 8) {
        const std::span<const Hash256> q(needles.data() + i, 8);
        ASSERT_EQ(MustSearch(*index, q, r), oracle.Search(q, r));
      }
    }
    // The needles are edits of haystack images: most of them match.
    EXPECT_GT(matched, 50u);
  }
}

}  // namespace
}  // namespace safeguard
