#include "safeguard/bank/matcher.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <random>

#include "test_support.h"

namespace safeguard {
namespace {

Hash256 RandomHash(std::mt19937_64& rng) {
  Hash256 h;
  for (uint64_t& w : h.words) w = rng();
  return h;
}

// `h` with its first `bits` bits flipped.
Hash256 Flip(Hash256 h, int bits) {
  for (int k = 0; k < bits; ++k) h.words[k >> 6] ^= uint64_t{1} << (k & 63);
  return h;
}

class MatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(*OpenStore("sqlite::memory:"));
    BankSpec block;
    block.name = "block";
    block.labels = {{"category", "A1"}};
    block_id_ = store_->CreateBank(block, 1)->id;
    BankSpec strict;
    strict.name = "strict";
    strict.pdq_max_distance = 10;
    strict.pdq_min_quality = 90;
    strict_id_ = store_->CreateBank(strict, 1)->id;
    BankSpec allow;
    allow.name = "allow";
    allow.kind = BankKind::kAllow;
    allow_id_ = store_->CreateBank(allow, 1)->id;
  }

  int64_t Add(int64_t bank_id, SignalType signal, const std::string& value) {
    auto w = store_->BeginWrite(bank_id);
    EXPECT_TRUE(w.ok());
    Entry e;
    e.signal = signal;
    e.value = value;
    e.labels = {{"note", "synthetic"}};
    EXPECT_TRUE((*w)->Add(e).ok());
    EXPECT_TRUE((*w)->Commit().ok());
    int64_t id = 0;
    EXPECT_TRUE(store_
                    ->ForEachEntry(bank_id, {signal, false},
                                   [&](const Entry& x) {
                                     if (x.value == value) id = x.id;
                                     return Status::Ok();
                                   })
                    .ok());
    return id;
  }

  void Remove(int64_t bank_id, SignalType signal, const std::string& value) {
    auto w = store_->BeginWrite(bank_id);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(*(*w)->Remove(signal, value, 5, "withdrawn"));
    ASSERT_TRUE((*w)->Commit().ok());
  }

  std::unique_ptr<Store> store_;
  int64_t block_id_ = 0, strict_id_ = 0, allow_id_ = 0;
};

TEST_F(MatcherTest, BlockAndAllowHitsWithPerBankThresholds) {
  std::mt19937_64 rng(3);
  const Hash256 base = RandomHash(rng);
  const int64_t block_entry = Add(block_id_, SignalType::kPdq, base.ToHex());
  const int64_t strict_entry = Add(strict_id_, SignalType::kPdq, base.ToHex());
  const int64_t allow_entry = Add(allow_id_, SignalType::kPdq, Flip(base, 5).ToHex());
  Result<BankMatcher> m = BankMatcher::Build(*store_);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->size(), 3u);

  // Distance 20: the default bank (<= 31) matches, the strict one (<= 10) not.
  const Hash256 q20 = Flip(base, 20);
  Result<MatchResult> r = m->MatchPdq(std::span(&q20, 1));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->matches.size(), 1u);
  EXPECT_EQ(r->matches[0].bank, "block");
  EXPECT_EQ(r->matches[0].entry_id, block_entry);
  EXPECT_EQ(r->matches[0].distance, 20);
  EXPECT_EQ(r->matches[0].bank_labels.at("category"), "A1");
  EXPECT_EQ(r->matches[0].entry_labels.at("note"), "synthetic");
  ASSERT_EQ(r->allow.size(), 1u);
  EXPECT_EQ(r->allow[0].entry_id, allow_entry);
  EXPECT_EQ(r->allow[0].distance, 15);

  // Inclusive bounds: 31 matches, 32 does not.
  const Hash256 q31 = Flip(base, 31), q32 = Flip(base, 32);
  EXPECT_EQ(m->MatchPdq(std::span(&q31, 1))->matches.size(), 1u);
  EXPECT_EQ(m->MatchPdq(std::span(&q32, 1))->matches.size(), 0u);

  // Exact: both block banks when the quality is high enough for the strict one.
  Result<MatchResult> exact = m->MatchPdq(std::span(&base, 1), 95);
  ASSERT_EQ(exact->matches.size(), 2u);
  EXPECT_EQ(exact->matches[0].entry_id, block_entry);
  EXPECT_EQ(exact->matches[1].entry_id, strict_entry);
  // Quality 60 is below the strict bank's 90; quality 40 below everyone's 50.
  EXPECT_EQ(m->MatchPdq(std::span(&base, 1), 60)->matches.size(), 1u);
  EXPECT_EQ(m->MatchPdq(std::span(&base, 1), 40)->matches.size(), 0u);
  EXPECT_EQ(m->MatchPdq(std::span(&base, 1), 40)->allow.size(), 0u);

  // A far-away hash matches nothing.
  const Hash256 far = RandomHash(rng);
  EXPECT_TRUE(m->MatchPdq(std::span(&far, 1))->matches.empty());
}

TEST_F(MatcherTest, DihedralQueriesReportTheVariant) {
  std::mt19937_64 rng(4);
  const Hash256 stored = RandomHash(rng);
  Add(block_id_, SignalType::kPdq, stored.ToHex());
  Result<BankMatcher> m = BankMatcher::Build(*store_);
  ASSERT_TRUE(m.ok());
  std::vector<Hash256> queries;
  for (int i = 0; i < 8; ++i) queries.push_back(RandomHash(rng));
  queries[5] = Flip(stored, 3);
  Result<MatchResult> r = m->MatchPdq(queries);
  ASSERT_EQ(r->matches.size(), 1u);
  EXPECT_EQ(r->matches[0].variant, 5);
  EXPECT_EQ(r->matches[0].distance, 3);
}

TEST_F(MatcherTest, DigestsMatchExactly) {
  const std::string md5(32, 'a'), sha1(40, 'b'), sha256(64, 'c');
  const int64_t e1 = Add(block_id_, SignalType::kMd5, md5);
  Add(block_id_, SignalType::kSha1, sha1);
  const int64_t e3 = Add(allow_id_, SignalType::kSha256, sha256);
  Result<BankMatcher> m = BankMatcher::Build(*store_);
  ASSERT_TRUE(m.ok());
  MatchResult r = m->MatchDigest(SignalType::kMd5, md5);
  ASSERT_EQ(r.matches.size(), 1u);
  EXPECT_EQ(r.matches[0].entry_id, e1);
  EXPECT_EQ(r.matches[0].signal, SignalType::kMd5);
  EXPECT_EQ(m->MatchDigest(SignalType::kSha1, sha1).matches.size(), 1u);
  MatchResult a = m->MatchDigest(SignalType::kSha256, sha256);
  EXPECT_TRUE(a.matches.empty());
  ASSERT_EQ(a.allow.size(), 1u);
  EXPECT_EQ(a.allow[0].entry_id, e3);
  EXPECT_TRUE(m->MatchDigest(SignalType::kMd5, std::string(32, 'f')).matches.empty());
  EXPECT_TRUE(m->MatchDigest(SignalType::kPdq, std::string(64, 'f')).matches.empty());
}

TEST_F(MatcherTest, RefreshFollowsTheChangeLog) {
  std::mt19937_64 rng(5);
  const Hash256 a = RandomHash(rng), b = RandomHash(rng);
  Add(block_id_, SignalType::kPdq, a.ToHex());
  Result<BankMatcher> m = BankMatcher::Build(*store_);
  ASSERT_TRUE(m.ok());
  const int64_t seq = m->sequence();
  EXPECT_EQ(seq, *store_->LastSequence());

  // Added after the build: invisible until Refresh.
  Add(block_id_, SignalType::kPdq, b.ToHex());
  Add(block_id_, SignalType::kMd5, std::string(32, '1'));
  EXPECT_TRUE(m->MatchPdq(std::span(&b, 1))->matches.empty());
  ASSERT_TRUE(m->Refresh(*store_).ok());
  EXPECT_GT(m->sequence(), seq);
  EXPECT_EQ(m->MatchPdq(std::span(&b, 1))->matches.size(), 1u);
  EXPECT_EQ(m->MatchDigest(SignalType::kMd5, std::string(32, '1')).matches.size(), 1u);

  // Removed: gone after Refresh.
  Remove(block_id_, SignalType::kPdq, a.ToHex());
  Remove(block_id_, SignalType::kMd5, std::string(32, '1'));
  ASSERT_TRUE(m->Refresh(*store_).ok());
  EXPECT_TRUE(m->MatchPdq(std::span(&a, 1))->matches.empty());
  EXPECT_TRUE(m->MatchDigest(SignalType::kMd5, std::string(32, '1')).matches.empty());
  EXPECT_EQ(m->size(), 1u);

  // Disabled bank: not consulted; enabled again: back.
  ASSERT_TRUE(store_->SetBankEnabled("block", false, 9).ok());
  ASSERT_TRUE(m->Refresh(*store_).ok());
  EXPECT_TRUE(m->MatchPdq(std::span(&b, 1))->matches.empty());
  EXPECT_EQ(m->size(), 0u);
  ASSERT_TRUE(store_->SetBankEnabled("block", true, 10).ok());
  ASSERT_TRUE(m->Refresh(*store_).ok());
  EXPECT_EQ(m->MatchPdq(std::span(&b, 1))->matches.size(), 1u);

  // A bank created later, with entries, is followed too.
  BankSpec later;
  later.name = "later";
  const int64_t later_id = store_->CreateBank(later, 11)->id;
  const Hash256 c = RandomHash(rng);
  Add(later_id, SignalType::kPdq, c.ToHex());
  ASSERT_TRUE(m->Refresh(*store_).ok());
  ASSERT_EQ(m->MatchPdq(std::span(&c, 1))->matches.size(), 1u);
  EXPECT_EQ(m->MatchPdq(std::span(&c, 1))->matches[0].bank, "later");
}

// Batches are logged as id ranges (kEntriesAdded); a follower reaches the
// same state as a fresh build, whatever happened to the range's entries since.
TEST_F(MatcherTest, RefreshFollowsBatchRanges) {
  std::mt19937_64 rng(8);
  std::vector<Hash256> h(6);
  std::vector<std::string> hex(6);
  for (size_t i = 0; i < h.size(); ++i) {
    h[i] = RandomHash(rng);
    hex[i] = h[i].ToHex();
  }
  BankSpec off;
  off.name = "off";
  off.enabled = false;
  const int64_t off_id = store_->CreateBank(off, 1)->id;
  Result<BankMatcher> m = BankMatcher::Build(*store_);
  ASSERT_TRUE(m.ok());
  auto batch = [&](int64_t bank_id, std::vector<std::string_view> values, const char* remove) {
    auto w = store_->BeginWrite(bank_id);
    ASSERT_TRUE(w.ok());
    Entry common;
    common.signal = SignalType::kPdq;
    std::vector<AddOutcome> outcomes(values.size());
    ASSERT_TRUE((*w)->AddBatch(common, values, outcomes).ok());
    if (remove != nullptr) {
      ASSERT_TRUE(*(*w)->Remove(SignalType::kPdq, remove, 5, "withdrawn"));
    }
    ASSERT_TRUE((*w)->Commit().ok());
  };
  auto matched = [&](size_t i) { return m->MatchPdq(std::span(&h[i], 1))->matches.size(); };

  // A batch, one of whose entries is removed in the same transaction; and a
  // batch in a disabled bank, whose range must not index anything.
  batch(block_id_, {hex[0], hex[1], hex[2]}, hex[1].c_str());
  batch(off_id, {hex[3]}, nullptr);
  ASSERT_TRUE(m->Refresh(*store_).ok());
  EXPECT_EQ(matched(0), 1u);
  EXPECT_EQ(matched(1), 0u);
  EXPECT_EQ(matched(2), 1u);
  EXPECT_EQ(matched(3), 0u);
  EXPECT_EQ(m->size(), 2u);

  // A revival inside a batch, and a new entry.
  batch(block_id_, {hex[1], hex[4]}, nullptr);
  // The disabled bank enabled: loaded whole.
  ASSERT_TRUE(store_->SetBankEnabled("off", true, 6).ok());
  ASSERT_TRUE(m->Refresh(*store_).ok());
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(matched(i), 1u) << i;

  // An entry added and removed between two refreshes is never indexed.
  batch(block_id_, {hex[5]}, hex[5].c_str());
  ASSERT_TRUE(m->Refresh(*store_).ok());
  EXPECT_EQ(matched(5), 0u);

  Result<BankMatcher> fresh = BankMatcher::Build(*store_);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(m->size(), fresh->size());
  EXPECT_EQ(m->sequence(), fresh->sequence());
}

// The matcher against a brute-force scan of the store, on random data.
TEST_F(MatcherTest, AgreesWithBruteForce) {
  std::mt19937_64 rng(6);
  std::vector<Hash256> stored;
  {
    auto w = store_->BeginWrite(block_id_);
    ASSERT_TRUE(w.ok());
    const Hash256 center = RandomHash(rng);
    for (int i = 0; i < 2000; ++i) {
      Hash256 h = center;
      for (int k = 0; k < 40; ++k) {
        if (rng() % 4 == 0) h.words[k >> 6] ^= uint64_t{1} << (rng() & 63);
      }
      if (i % 2 == 0) h = RandomHash(rng);
      Entry e;
      e.signal = SignalType::kPdq;
      e.value = h.ToHex();
      if ((*w)->Add(e).value() == AddOutcome::kAdded) stored.push_back(h);
    }
    ASSERT_TRUE((*w)->Commit().ok());
  }
  Result<BankMatcher> m = BankMatcher::Build(*store_);
  ASSERT_TRUE(m.ok());
  for (int q = 0; q < 50; ++q) {
    const Hash256 query = Flip(stored[rng() % stored.size()], static_cast<int>(rng() % 20));
    size_t expected = 0;
    for (const Hash256& h : stored) expected += HammingDistance(h, query) <= 31;
    Result<MatchResult> r = m->MatchPdq(std::span(&query, 1));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->matches.size(), expected);
    for (const BankHit& hit : r->matches) EXPECT_LE(hit.distance, 31);
  }
}

// Many entries added after Build reach the index through Refresh, and
// CompactGrownIndexes folds them into the main segment past a threshold
// (4096): they are found the same before and after, and so are removals.
TEST_F(MatcherTest, RefreshAfterManyAdditionsStillFindsEverything) {
  Result<BankMatcher> m = BankMatcher::Build(*store_);
  ASSERT_TRUE(m.ok());
  std::mt19937_64 rng(21);
  std::vector<std::string> hex;
  for (int i = 0; i < 6000; ++i) hex.push_back(RandomHash(rng).ToHex());
  std::vector<std::string_view> values(hex.begin(), hex.end());
  std::vector<AddOutcome> outcomes(values.size());
  {
    auto w = store_->BeginWrite(block_id_);
    Entry common;
    common.signal = SignalType::kPdq;
    ASSERT_TRUE((*w)->AddBatch(common, values, outcomes).ok());
    ASSERT_TRUE((*w)->Commit().ok());
  }
  ASSERT_TRUE(m->Refresh(*store_).ok());
  EXPECT_EQ(m->size(), 6000u);
  Remove(block_id_, SignalType::kPdq, hex[7]);
  ASSERT_TRUE(m->Refresh(*store_).ok());
  // Searches before and after the delta is folded in agree.
  auto found = [&](const std::string& h) {
    const Hash256 query = Flip(*Hash256::FromHex(h), 9);
    return m->MatchPdq(std::span(&query, 1))->matches.size();
  };
  EXPECT_EQ(found(hex[100]), 1u);
  ASSERT_TRUE(m->CompactGrownIndexes().ok());
  for (int i = 0; i < 6000; i += 97) {
    const Hash256 query = Flip(*Hash256::FromHex(hex[static_cast<size_t>(i)]), 9);
    Result<MatchResult> r = m->MatchPdq(std::span(&query, 1));
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->matches.size(), 1u) << i;
    EXPECT_EQ(r->matches[0].distance, 9);
  }
  const Hash256 removed = *Hash256::FromHex(hex[7]);
  EXPECT_TRUE(m->MatchPdq(std::span(&removed, 1))->matches.empty());
}

// ---- Video ----

// A synthetic video of `n` frames: random hashes, qualities mostly high.
std::vector<VpdqFrame> RandomVideo(std::mt19937_64& rng, int n) {
  std::vector<VpdqFrame> v;
  for (int i = 0; i < n; ++i) {
    VpdqFrame f;
    f.hash = RandomHash(rng);
    f.quality = rng() % 5 == 0 ? static_cast<int>(rng() % 60) : 100;
    f.frame = i;
    f.timestamp = i;
    v.push_back(f);
  }
  return v;
}

Entry VideoEntry(SignalType signal, std::string payload) {
  Entry e;
  e.signal = signal;
  e.value = PayloadKey(payload);
  e.payload = std::move(payload);
  return e;
}

// Property: for every stored video, MatchVpdq's shares equal VpdqMatch's (the
// brute-force oracle) with that bank's distance and quality, and an entry is
// hit exactly when those shares reach the options' percentages; through
// Build, added entries, removals and a bank's quality change.
TEST_F(MatcherTest, VpdqAgreesWithBruteForce) {
  std::mt19937_64 rng(11);
  // Queries take frames of stored videos (some flipped a little, some a lot),
  // repeats and random frames; stored videos share frames with each other.
  std::vector<std::vector<VpdqFrame>> videos;
  for (int i = 0; i < 24; ++i) videos.push_back(RandomVideo(rng, 5 + static_cast<int>(rng() % 40)));
  for (int i = 1; i < 24; i += 3) {
    for (size_t k = 0; k < videos[i].size(); k += 2) {
      videos[i][k].hash =
          Flip(videos[i - 1][k % videos[i - 1].size()].hash, static_cast<int>(rng() % 40));
    }
  }
  const int64_t banks[] = {block_id_, strict_id_, allow_id_};
  std::map<int64_t, std::pair<int64_t, std::vector<VpdqFrame>>> stored;  // entry -> bank, frames
  auto add = [&](size_t v) {
    const int64_t bank = banks[v % 3];
    auto w = store_->BeginWrite(bank);
    ASSERT_TRUE(w.ok());
    const Entry e = VideoEntry(SignalType::kVpdq, FormatVpdq(videos[v]));
    ASSERT_TRUE((*w)->Add(e).ok());
    ASSERT_TRUE((*w)->Commit().ok());
    ASSERT_TRUE(store_
                    ->ForEachEntry(bank, {SignalType::kVpdq, false},
                                   [&](const Entry& x) {
                                     // As stored: the text round trip rounds timestamps.
                                     if (x.value == e.value) {
                                       stored[x.id] = {bank, *ParseVpdq(e.payload)};
                                     }
                                     return Status::Ok();
                                   })
                    .ok());
  };
  for (size_t v = 0; v < 16; ++v) add(v);
  Result<BankMatcher> m = BankMatcher::Build(*store_);
  ASSERT_TRUE(m.ok()) << m.status().ToString();

  size_t hits = 0, misses = 0;  // the property is tested both ways
  auto check = [&](const BankMatcher& matcher, const VideoMatchOptions& options) {
    std::vector<VpdqFrame> query;
    const auto& source = videos[rng() % videos.size()];
    for (const VpdqFrame& f : source) {
      if (rng() % 3 == 0) continue;
      VpdqFrame g = f;
      g.hash = Flip(f.hash, static_cast<int>(rng() % 36));
      query.push_back(g);
      if (rng() % 5 == 0) query.push_back(g);  // an exact repeat
    }
    for (const VpdqFrame& f : RandomVideo(rng, static_cast<int>(rng() % 6))) query.push_back(f);
    Result<MatchResult> r = matcher.MatchVpdq(query, options);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::map<int64_t, BankHit> got;
    for (const auto* list : {&r->matches, &r->allow}) {
      for (const BankHit& h : *list) got[h.entry_id] = h;
    }
    for (const auto& [id, what] : stored) {
      Result<Bank> bank = store_->GetBankById(what.first);
      VpdqMatchOptions o;
      o.max_distance = bank->spec.pdq_max_distance;
      o.min_quality = bank->spec.pdq_min_quality;
      const VpdqMatchResult want = VpdqMatch(query, what.second, o);
      const bool hit = want.query_frames > 0 && want.stored_frames > 0 && want.query_percent > 0 &&
                       want.query_percent >= options.vpdq_query_percent &&
                       want.stored_percent >= options.vpdq_entry_percent;
      ASSERT_EQ(got.contains(id), hit)
          << "entry " << id << " " << want.query_percent << " " << want.stored_percent;
      ++(hit ? hits : misses);
      if (hit) {
        EXPECT_DOUBLE_EQ(got[id].query_percent, want.query_percent);
        EXPECT_DOUBLE_EQ(got[id].entry_percent, want.stored_percent);
        EXPECT_EQ(got[id].signal, SignalType::kVpdq);
        EXPECT_EQ(got[id].kind, bank->spec.kind);
      }
    }
  };
  VideoMatchOptions loose;
  loose.vpdq_query_percent = 1;
  for (int q = 0; q < 40; ++q) check(*m, q % 2 ? loose : VideoMatchOptions{});

  // Changes followed by Refresh: more videos, one removed, a quality change.
  for (size_t v = 16; v < videos.size(); ++v) add(v);
  {
    const auto victim = stored.begin();
    auto w = store_->BeginWrite(victim->second.first);
    Result<Entry> e = store_->GetEntry(victim->first);
    ASSERT_TRUE(*(*w)->Remove(SignalType::kVpdq, e->value, 9, "withdrawn"));
    ASSERT_TRUE((*w)->Commit().ok());
    stored.erase(victim);
  }
  ASSERT_TRUE(m->Refresh(*store_).ok());
  for (int q = 0; q < 40; ++q) check(*m, q % 2 ? loose : VideoMatchOptions{});
  Result<BankMatcher> fresh = BankMatcher::Build(*store_);
  ASSERT_TRUE(fresh.ok());
  for (int q = 0; q < 20; ++q) check(*fresh, loose);
  EXPECT_GT(hits, 50u);
  EXPECT_GT(misses, 100u);
}

// The reference's own vPDQ hash files: each clip finds itself at 100% both
// ways, and a query bigger than the limit is refused.
TEST_F(MatcherTest, VpdqFindsReferenceClips) {
  SAFEGUARD_REQUIRE_TESTDATA();
  const std::string dir = test_support::TestDataDir() + "/vpdq/sample-hashes";
  std::map<std::string, std::vector<VpdqFrame>> clips;
  {
    auto w = store_->BeginWrite(block_id_);
    for (const auto& f : std::filesystem::directory_iterator(dir)) {
      const std::string name = f.path().filename().string();
      if (!name.ends_with(".txt") || name.find("128x128") != std::string::npos) continue;
      const std::vector<uint8_t> bytes = test_support::ReadBytes(f.path().string());
      Result<std::vector<VpdqFrame>> frames =
          ParseVpdq(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
      ASSERT_TRUE(frames.ok()) << name;
      Entry e = VideoEntry(SignalType::kVpdq, FormatVpdq(*frames));
      e.provenance.source_id = name;
      ASSERT_TRUE((*w)->Add(e).ok());
      clips[name] = std::move(*frames);
    }
    ASSERT_TRUE((*w)->Commit().ok());
  }
  ASSERT_GE(clips.size(), 10u);
  Result<BankMatcher> m = BankMatcher::Build(*store_);
  ASSERT_TRUE(m.ok());
  for (const auto& [name, frames] : clips) {
    Result<MatchResult> r = m->MatchVpdq(frames);
    ASSERT_TRUE(r.ok());
    bool self = false;
    for (const BankHit& h : r->matches) {
      if (store_->GetEntry(h.entry_id)->provenance.source_id != name) continue;
      self = true;
      EXPECT_DOUBLE_EQ(h.query_percent, 100.0) << name;
      EXPECT_DOUBLE_EQ(h.entry_percent, 100.0) << name;
    }
    EXPECT_TRUE(self) << name;
  }
  std::vector<VpdqFrame> huge(kMaxVpdqQueryFrames + 1);
  EXPECT_EQ(m->MatchVpdq(huge).status().code(), ErrorCode::kLimitExceeded);
}

// Property: MatchTmk hits exactly the entries TmkCompare matches, with its
// scores; on the reference's .tmk files the chair variants match each other
// and not the doorknob or the pattern clips.
TEST_F(MatcherTest, TmkAgreesWithTmkCompare) {
  SAFEGUARD_REQUIRE_TESTDATA();
  const std::string dir = test_support::TestDataDir() + "/tmk/sample-hashes";
  std::map<int64_t, std::pair<std::string, TmkSignature>> stored;
  {
    auto w = store_->BeginWrite(block_id_);
    for (const auto& f : std::filesystem::directory_iterator(dir)) {
      const std::vector<uint8_t> bytes = test_support::ReadBytes(f.path().string());
      Result<TmkSignature> sig = ParseTmk(bytes.data(), bytes.size());
      ASSERT_TRUE(sig.ok()) << f.path();
      Entry e = VideoEntry(SignalType::kTmk, std::string(bytes.begin(), bytes.end()));
      e.provenance.source_id = f.path().filename().string();
      ASSERT_TRUE((*w)->Add(e).ok());
    }
    ASSERT_TRUE((*w)->Commit().ok());
  }
  ASSERT_TRUE(
      store_
          ->ForEachEntry(block_id_, {SignalType::kTmk, false, 0, INT64_MAX, true},
                         [&](const Entry& e) {
                           const auto* p = reinterpret_cast<const uint8_t*>(e.payload.data());
                           stored[e.id] = {e.provenance.source_id, *ParseTmk(p, e.payload.size())};
                           return Status::Ok();
                         })
          .ok());
  ASSERT_EQ(stored.size(), 15u);
  // Signatures held whole, and only level 1 held with the rest read on
  // demand (counted): the same hits and scores.
  int loads = 0;
  MatcherOptions lazy;
  lazy.tmk_loader = [&](int64_t id) -> Result<std::string> {
    ++loads;
    Result<Entry> e = store_->GetEntry(id);
    if (!e.ok()) return e.status();
    return e->payload;
  };
  Result<BankMatcher> whole = BankMatcher::Build(*store_);
  ASSERT_TRUE(whole.ok());
  Result<BankMatcher> m = BankMatcher::Build(*store_, lazy);
  ASSERT_TRUE(m.ok());
  for (const BankMatcher* matcher : {&*whole, &*m}) {
    for (const auto& [qid, query] : stored) {
      Result<MatchResult> r = matcher->MatchTmk(query.second);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      std::map<int64_t, BankHit> got;
      for (const BankHit& h : r->matches) got[h.entry_id] = h;
      for (const auto& [id, entry] : stored) {
        const TmkScores want = TmkCompare(query.second, entry.second);
        ASSERT_EQ(got.contains(id), want.match) << query.first << " vs " << entry.first;
        if (want.match) {
          EXPECT_EQ(got[id].level1, want.level1);
          EXPECT_EQ(got[id].level2, want.level2);
        }
      }
      EXPECT_TRUE(got.contains(qid)) << query.first;
      const bool chair =
          query.first.starts_with("chair") && query.first.find("large-logo") == std::string::npos;
      for (const auto& [id, hit] : got) {
        const std::string& name = stored[id].first;
        if (chair) {
          EXPECT_TRUE(name.starts_with("chair")) << query.first << " hit " << name;
        }
        if (query.first.starts_with("doorknob")) {
          EXPECT_EQ(id, qid) << name;
        }
      }
    }
  }
  // Only the candidates past level 1 were read: fewer than all pairs.
  EXPECT_GT(loads, 15);
  EXPECT_LT(loads, 15 * 15);
  // A loader that fails makes the match fail, rather than miss silently.
  MatcherOptions failing;
  failing.tmk_loader = [](int64_t) -> Result<std::string> {
    return Status::IoError("store unreachable");
  };
  Result<BankMatcher> broken = BankMatcher::Build(*store_, failing);
  ASSERT_TRUE(broken.ok());
  EXPECT_EQ(broken->MatchTmk(stored.begin()->second.second).status().code(), ErrorCode::kIoError);
  // Removing an entry takes it out at the next Refresh.
  const int64_t first = stored.begin()->first;
  {
    auto w = store_->BeginWrite(block_id_);
    ASSERT_TRUE(*(*w)->Remove(SignalType::kTmk, store_->GetEntry(first)->value, 9, "gone"));
    ASSERT_TRUE((*w)->Commit().ok());
  }
  ASSERT_TRUE(m->Refresh(*store_).ok());
  Result<MatchResult> after = m->MatchTmk(stored[first].second);
  ASSERT_TRUE(after.ok());
  for (const BankHit& h : after->matches) EXPECT_NE(h.entry_id, first);
}

}  // namespace
}  // namespace safeguard
