// Searches running while other threads add, remove and compact: every
// search must see one consistent snapshot, and a removal must be visible to
// every search that starts after Remove returns.

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "safeguard/index/pdq_index.h"
#include "test_hashes.h"

namespace safeguard {
namespace {

using index_test::FlipBits;
using index_test::RandomEntries;
using index_test::RandomHash;

// Entries come in pairs with the same hash, and are only ever added and
// removed a pair at a time (one batch each): a search that sees one member
// of a pair without the other saw a torn update. A fixed set of "anchor"
// entries is never touched and must always be found.
TEST(PdqIndexConcurrencyTest, SearchesSeeConsistentSnapshots) {
  std::mt19937_64 rng(20);
  const Hash256 centre = RandomHash(rng);
  std::vector<PdqEntry> entries = RandomEntries(6000, rng, 1'000'000);
  std::vector<PdqEntry> anchors;
  for (uint64_t i = 0; i < 20; ++i) anchors.push_back({500'000 + i, FlipBits(centre, 3, rng)});
  entries.insert(entries.end(), anchors.begin(), anchors.end());
  constexpr uint64_t kPairs = 64;
  std::vector<Hash256> pair_hash(kPairs);
  for (uint64_t p = 0; p < kPairs; ++p) {
    pair_hash[p] = FlipBits(centre, static_cast<int>(p % 25), rng);
    entries.push_back({2 * p, pair_hash[p]});
    entries.push_back({2 * p + 1, pair_hash[p]});
  }
  PdqIndexOptions options;
  options.min_entries_for_tables = 0;
  Result<PdqIndex> built = PdqIndex::Build(entries, options);
  ASSERT_TRUE(built.ok());
  PdqIndex& index = *built;

  std::atomic<bool> stop{false};
  std::atomic<int> torn{0};
  std::atomic<int> anchors_missing{0};
  std::atomic<int> searches{0};
  auto reader = [&] {
    std::mt19937_64 local(searches.fetch_add(1) + 99);
    std::vector<Hash256> q = {centre};
    for (int v = 1; v < 8; ++v) q.push_back(RandomHash(local));
    while (!stop.load()) {
      Result<std::vector<PdqMatch>> m = index.Search(q, 31);
      if (!m.ok()) {
        ++torn;
        continue;
      }
      std::vector<int> members(kPairs, 0);
      int anchors_seen = 0;
      for (const PdqMatch& x : *m) {
        if (x.id < 2 * kPairs) ++members[x.id / 2];
        if (x.id >= 500'000 && x.id < 500'020) ++anchors_seen;
      }
      for (int c : members) {
        if (c == 1) ++torn;
      }
      if (anchors_seen != 20) ++anchors_missing;
      ++searches;
    }
  };
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) readers.emplace_back(reader);

  // The writer: remove pairs, add them back (to the delta), compact now and
  // then; and churn unrelated entries so that the delta grows and is copied.
  std::vector<bool> present(kPairs, true);
  uint64_t churn_id = 10'000'000;
  for (int step = 0; step < 600; ++step) {
    const uint64_t p = rng() % kPairs;
    const std::vector<uint64_t> ids = {2 * p, 2 * p + 1};
    if (present[p]) {
      ASSERT_TRUE(index.Remove(ids).ok());
      // Visible at once: a search starting now must not see them.
      Result<std::vector<PdqMatch>> m = index.Search(centre, 31);
      ASSERT_TRUE(m.ok());
      for (const PdqMatch& x : *m) {
        ASSERT_TRUE(x.id != ids[0] && x.id != ids[1]);
      }
    } else {
      const std::vector<PdqEntry> pair = {{2 * p, pair_hash[p]}, {2 * p + 1, pair_hash[p]}};
      ASSERT_TRUE(index.Add(pair).ok());
    }
    present[p] = !present[p];
    ASSERT_TRUE(index.Add(churn_id++, RandomHash(rng)).ok());
    if (step % 150 == 75) {
      ASSERT_TRUE(index.Compact().ok());
    }
  }
  // A compaction racing with writes: both must survive.
  std::thread compactor([&] { ASSERT_TRUE(index.Compact().ok()); });
  for (int step = 0; step < 200; ++step) {
    const uint64_t p = rng() % kPairs;
    const std::vector<uint64_t> ids = {2 * p, 2 * p + 1};
    if (present[p]) {
      ASSERT_TRUE(index.Remove(ids).ok());
    } else {
      const std::vector<PdqEntry> pair = {{2 * p, pair_hash[p]}, {2 * p + 1, pair_hash[p]}};
      ASSERT_TRUE(index.Add(pair).ok());
    }
    present[p] = !present[p];
  }
  compactor.join();
  stop = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(anchors_missing.load(), 0);
  EXPECT_GT(searches.load(), 10);

  // The final state is exactly the writer's model.
  Result<std::vector<PdqMatch>> m = index.Search(centre, 31);
  ASSERT_TRUE(m.ok());
  std::vector<int> members(kPairs, 0);
  for (const PdqMatch& x : *m) {
    if (x.id < 2 * kPairs) ++members[x.id / 2];
  }
  for (uint64_t p = 0; p < kPairs; ++p) EXPECT_EQ(members[p], present[p] ? 2 : 0) << p;
  for (uint64_t p = 0; p < kPairs; ++p) {
    EXPECT_EQ(index.Contains(2 * p), present[p]);
  }
}

}  // namespace
}  // namespace safeguard
