#include "safeguard/bank/matcher.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "safeguard/index/digest_index.h"
#include "safeguard/index/pdq_index.h"

namespace safeguard {
namespace {

// How many log records Refresh reads at a time.
constexpr size_t kChangeBatch = 10000;

std::optional<DigestType> ToDigestType(SignalType signal) {
  switch (signal) {
    case SignalType::kMd5:
      return DigestType::kMd5;
    case SignalType::kSha1:
      return DigestType::kSha1;
    case SignalType::kSha256:
      return DigestType::kSha256;
    case SignalType::kPdq:
    case SignalType::kVpdq:
    case SignalType::kTmk:
      break;
  }
  return std::nullopt;
}

// What the matcher keeps of an indexed entry.
struct IndexedEntry {
  int64_t bank_id = 0;
  SignalType signal = SignalType::kPdq;
  std::string value;
  Labels labels;
  // vPDQ: the ids of its frames in the frame index, [first_frame,
  // first_frame + frame_count).
  uint64_t first_frame = 0;
  uint32_t frame_count = 0;
  // TMK: the signature.
  std::shared_ptr<const TmkSignature> tmk;
};

IndexedEntry Indexed(const Entry& e) {
  IndexedEntry x;
  x.bank_id = e.bank_id;
  x.signal = e.signal;
  x.value = e.value;
  x.labels = e.labels;
  return x;
}

bool HitOrder(const BankHit& a, const BankHit& b) {
  if (a.distance != b.distance) return a.distance < b.distance;
  return a.entry_id < b.entry_id;
}

bool VpdqHitOrder(const BankHit& a, const BankHit& b) {
  if (a.query_percent != b.query_percent) return a.query_percent > b.query_percent;
  if (a.entry_percent != b.entry_percent) return a.entry_percent > b.entry_percent;
  return a.entry_id < b.entry_id;
}

bool TmkHitOrder(const BankHit& a, const BankHit& b) {
  if (a.level2 != b.level2) return a.level2 > b.level2;
  if (a.level1 != b.level1) return a.level1 > b.level1;
  return a.entry_id < b.entry_id;
}

// Folds an index's delta (which searches scan linearly) into its main
// segment once it holds over 4096 entries and over 1/16 of the main
// segment, or once tombstones pile up (over 65536 and a quarter of it).
Status MaybeCompact(PdqIndex& index) {
  const PdqIndexStats s = index.Stats();
  const bool big_delta = s.delta_entries > 4096 && s.delta_entries * 16 > s.main_entries;
  const bool many_removed = s.removed_entries > 65536 && s.removed_entries * 4 > s.main_entries;
  if (!big_delta && !many_removed) return Status::Ok();
  return index.Compact();
}

Status BadEntry(int64_t id, const Status& why) {
  return Status::Corrupt("entry " + std::to_string(id) + ": " + why.message());
}

}  // namespace

struct BankMatcher::Impl {
  MatcherOptions options;
  PdqIndex pdq;
  DigestIndex digests;
  // vPDQ frames: ids handed out in ascending runs, one run per video; the
  // map takes a run's first id to its entry.
  PdqIndex frames;
  std::map<uint64_t, int64_t> frame_runs;
  uint64_t next_frame = 1;
  std::unordered_map<int64_t, Bank> banks;  // every bank, enabled or not
  std::unordered_map<int64_t, IndexedEntry> entries;
  int64_t sequence = 0;

  bool Enabled(int64_t bank_id) const {
    auto it = banks.find(bank_id);
    return it != banks.end() && it->second.spec.enabled;
  }

  // A video entry; `e` has its payload.
  Status IndexVideo(const Entry& e) {
    IndexedEntry indexed = Indexed(e);
    if (e.signal == SignalType::kTmk) {
      Result<TmkSignature> sig =
          ParseTmk(reinterpret_cast<const uint8_t*>(e.payload.data()), e.payload.size());
      if (!sig.ok()) return BadEntry(e.id, sig.status());
      if (options.tmk_loader) {
        // Level 1 only; level 2 reads the signature when it is needed.
        sig->cos_features = {};
        sig->sin_features = {};
      }
      indexed.tmk = std::make_shared<const TmkSignature>(std::move(*sig));
    } else {
      Result<std::vector<VpdqFrame>> parsed = ParseVpdq(e.payload);
      if (!parsed.ok()) return BadEntry(e.id, parsed.status());
      VpdqMatchOptions prepare;
      prepare.min_quality = banks.at(e.bank_id).spec.pdq_min_quality;
      const std::vector<VpdqFrame> kept = VpdqPrepare(*parsed, prepare);
      std::vector<PdqEntry> run;
      run.reserve(kept.size());
      for (const VpdqFrame& f : kept) run.push_back(PdqEntry{next_frame + run.size(), f.hash});
      if (Status s = frames.Add(run); !s.ok()) return s;
      indexed.first_frame = next_frame;
      indexed.frame_count = static_cast<uint32_t>(run.size());
      if (!run.empty()) frame_runs.emplace(next_frame, e.id);
      next_frame += run.size();
    }
    entries.emplace(e.id, std::move(indexed));
    return Status::Ok();
  }

  Status Index(Store& store, const Entry& e) {
    if (e.removed || entries.contains(e.id) || !Enabled(e.bank_id)) return Status::Ok();
    const auto id = static_cast<uint64_t>(e.id);
    if (SignalHasPayload(e.signal)) {
      if (!e.payload.empty()) return IndexVideo(e);
      // Scans leave payloads out: read this one.
      Result<Entry> whole = store.GetEntry(e.id);
      if (!whole.ok()) return whole.status();
      return IndexVideo(*whole);
    }
    if (e.signal == SignalType::kPdq) {
      Result<Hash256> h = Hash256::FromHex(e.value);
      if (!h.ok())
        return Status::Corrupt("entry " + std::to_string(e.id) + ": " + h.status().message());
      if (Status s = pdq.Add(id, *h); !s.ok()) return s;
    } else {
      Result<Digest> d = Digest::FromHex(*ToDigestType(e.signal), e.value);
      if (!d.ok())
        return Status::Corrupt("entry " + std::to_string(e.id) + ": " + d.status().message());
      if (Status s = digests.Add(*d, id); !s.ok()) return s;
    }
    entries.emplace(e.id, Indexed(e));
    return Status::Ok();
  }

  Status Unindex(int64_t entry_id) {
    auto it = entries.find(entry_id);
    if (it == entries.end()) return Status::Ok();
    const auto id = static_cast<uint64_t>(entry_id);
    if (it->second.signal == SignalType::kVpdq) {
      std::vector<uint64_t> run(it->second.frame_count);
      for (size_t i = 0; i < run.size(); ++i) run[i] = it->second.first_frame + i;
      if (Status s = frames.Remove(run); !s.ok()) return s;
      frame_runs.erase(it->second.first_frame);
    } else if (it->second.signal == SignalType::kTmk) {
      // Nothing indexed beside the entry.
    } else if (it->second.signal == SignalType::kPdq) {
      if (Status s = pdq.Remove(id); !s.ok()) return s;
    } else {
      Result<Digest> d = Digest::FromHex(*ToDigestType(it->second.signal), it->second.value);
      if (d.ok()) {
        if (Status s = digests.Remove(*d, id); !s.ok()) return s;
      }
    }
    entries.erase(it);
    return Status::Ok();
  }

  Status LoadBank(Store& store, int64_t bank_id) {
    return store.ForEachEntry(bank_id, {}, [&](const Entry& e) { return Index(store, e); });
  }

  Status UnloadBank(int64_t bank_id) {
    std::vector<int64_t> ids;
    for (const auto& [id, e] : entries) {
      if (e.bank_id == bank_id) ids.push_back(id);
    }
    for (int64_t id : ids) {
      if (Status s = Unindex(id); !s.ok()) return s;
    }
    return Status::Ok();
  }

  Status Apply(Store& store, const Change& c) {
    switch (c.kind) {
      case ChangeKind::kBankCreated:
      case ChangeKind::kBankUpdated: {
        Result<Bank> bank = store.GetBankById(c.bank_id);
        if (!bank.ok()) return bank.status();
        const bool was = Enabled(c.bank_id);
        const int old_quality = was ? banks.at(c.bank_id).spec.pdq_min_quality : 0;
        banks[c.bank_id] = *bank;
        if (!was && bank->spec.enabled) return LoadBank(store, c.bank_id);
        if (was && !bank->spec.enabled) return UnloadBank(c.bank_id);
        // vPDQ frames were filtered with the old minimum quality.
        if (was && old_quality != bank->spec.pdq_min_quality) {
          if (Status s = UnloadBank(c.bank_id); !s.ok()) return s;
          return LoadBank(store, c.bank_id);
        }
        return Status::Ok();
      }
      case ChangeKind::kEntryAdded: {
        if (!Enabled(c.bank_id) || entries.contains(c.entry_id)) return Status::Ok();
        // The entry as it is now: a later removal in the log then finds
        // nothing to do, which is the same end state.
        Result<Entry> e = store.GetEntry(c.entry_id);
        if (!e.ok()) return e.status();
        return Index(store, *e);
      }
      case ChangeKind::kEntriesAdded: {
        if (!Enabled(c.bank_id)) return Status::Ok();
        // The range's entries as they are now, as for kEntryAdded; ids in the
        // range that another bank holds, or none does, are skipped by the
        // filter.
        Store::EntryFilter range;
        range.first_id = c.entry_id;
        range.last_id = c.last_entry_id;
        return store.ForEachEntry(c.bank_id, range,
                                  [&](const Entry& e) { return Index(store, e); });
      }
      case ChangeKind::kEntryRemoved:
        return Unindex(c.entry_id);
    }
    return Status::Ok();
  }

  BankHit Hit(int64_t entry_id, int distance, int variant) const {
    const IndexedEntry& e = entries.at(entry_id);
    const Bank& bank = banks.at(e.bank_id);
    BankHit hit;
    hit.bank = bank.spec.name;
    hit.kind = bank.spec.kind;
    hit.entry_id = entry_id;
    hit.signal = e.signal;
    hit.distance = distance;
    hit.variant = variant;
    hit.bank_labels = bank.spec.labels;
    hit.entry_labels = e.labels;
    return hit;
  }

  void Place(BankHit hit, MatchResult* out) const {
    (hit.kind == BankKind::kAllow ? out->allow : out->matches).push_back(std::move(hit));
  }
};

BankMatcher::BankMatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BankMatcher::BankMatcher(BankMatcher&&) noexcept = default;
BankMatcher& BankMatcher::operator=(BankMatcher&&) noexcept = default;
BankMatcher::~BankMatcher() = default;

Result<BankMatcher> BankMatcher::Build(Store& store, MatcherOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  // Changes committed from here on are applied by Refresh; applying one the
  // scan already saw is harmless.
  Result<int64_t> seq = store.LastSequence();
  if (!seq.ok()) return seq.status();
  Result<std::vector<Bank>> banks = store.ListBanks();
  if (!banks.ok()) return banks.status();
  std::vector<PdqEntry> pdq;
  std::vector<DigestEntry> digests;
  std::vector<int64_t> videos;  // indexed one by one below, with their payloads
  for (const Bank& bank : *banks) {
    impl->banks[bank.id] = bank;
    if (!bank.spec.enabled) continue;
    Status s = store.ForEachEntry(bank.id, {}, [&](const Entry& e) {
      const auto id = static_cast<uint64_t>(e.id);
      if (SignalHasPayload(e.signal)) {
        videos.push_back(e.id);
        return Status::Ok();
      }
      if (e.signal == SignalType::kPdq) {
        Result<Hash256> h = Hash256::FromHex(e.value);
        if (!h.ok()) return Status::Corrupt("entry " + std::to_string(e.id) + ": bad PDQ");
        pdq.push_back(PdqEntry{id, *h});
      } else {
        Result<Digest> d = Digest::FromHex(*ToDigestType(e.signal), e.value);
        if (!d.ok()) return Status::Corrupt("entry " + std::to_string(e.id) + ": bad digest");
        digests.push_back(DigestEntry{*d, id});
      }
      impl->entries.emplace(e.id, Indexed(e));
      return Status::Ok();
    });
    if (!s.ok()) return s;
  }
  Result<PdqIndex> pdq_index = PdqIndex::Build(pdq);
  if (!pdq_index.ok()) return pdq_index.status();
  impl->pdq = std::move(*pdq_index);
  Result<DigestIndex> digest_index = DigestIndex::Build(digests);
  if (!digest_index.ok()) return digest_index.status();
  impl->digests = std::move(*digest_index);
  for (int64_t id : videos) {
    Result<Entry> e = store.GetEntry(id);
    if (!e.ok()) return e.status();
    if (Status s = impl->IndexVideo(*e); !s.ok()) return s;
  }
  // The frames went in video by video: fold them into the main segment.
  if (!videos.empty()) {
    if (Status s = impl->frames.Compact(); !s.ok()) return s;
  }
  impl->sequence = *seq;
  BankMatcher matcher(std::move(impl));
  if (Status s = matcher.Refresh(store); !s.ok()) return s;
  return matcher;
}

Status BankMatcher::Refresh(Store& store) {
  for (;;) {
    Result<std::vector<Change>> changes = store.ChangesSince(impl_->sequence, kChangeBatch);
    if (!changes.ok()) return changes.status();
    for (const Change& c : *changes) {
      if (Status s = impl_->Apply(store, c); !s.ok()) return s;
      impl_->sequence = c.seq;
    }
    if (changes->size() < kChangeBatch) return Status::Ok();
  }
}

Status BankMatcher::CompactGrownIndexes() {
  if (Status s = MaybeCompact(impl_->pdq); !s.ok()) return s;
  return MaybeCompact(impl_->frames);
}

int64_t BankMatcher::sequence() const { return impl_->sequence; }

size_t BankMatcher::size() const { return impl_->entries.size(); }

Result<MatchResult> BankMatcher::MatchPdq(std::span<const Hash256> hashes,
                                          std::optional<int> quality) const {
  MatchResult out;
  int radius = -1;
  for (const auto& [id, bank] : impl_->banks) {
    if (bank.spec.enabled) radius = std::max(radius, bank.spec.pdq_max_distance);
  }
  if (radius < 0 || hashes.empty()) return out;
  radius = std::min(radius, kPdqMaxRadius);
  Result<std::vector<PdqMatch>> found = impl_->pdq.Search(hashes, radius);
  if (!found.ok()) return found.status();
  for (const PdqMatch& m : *found) {
    auto it = impl_->entries.find(static_cast<int64_t>(m.id));
    if (it == impl_->entries.end()) continue;
    const Bank& bank = impl_->banks.at(it->second.bank_id);
    if (m.distance > bank.spec.pdq_max_distance) continue;
    if (quality && *quality < bank.spec.pdq_min_quality) continue;
    impl_->Place(impl_->Hit(it->first, m.distance, m.variant), &out);
  }
  std::sort(out.matches.begin(), out.matches.end(), HitOrder);
  std::sort(out.allow.begin(), out.allow.end(), HitOrder);
  return out;
}

MatchResult BankMatcher::MatchDigest(SignalType signal, std::string_view hex) const {
  MatchResult out;
  std::optional<DigestType> type = ToDigestType(signal);
  if (!type) return out;
  Result<Digest> d = Digest::FromHex(*type, hex);
  if (!d.ok()) return out;
  std::vector<uint64_t> ids = impl_->digests.Lookup(*d);
  std::sort(ids.begin(), ids.end());
  for (uint64_t id : ids) {
    if (impl_->entries.contains(static_cast<int64_t>(id))) {
      impl_->Place(impl_->Hit(static_cast<int64_t>(id), 0, 0), &out);
    }
  }
  return out;
}

std::vector<std::pair<std::string_view, double>> HitScores(const BankHit& hit) {
  switch (hit.signal) {
    case SignalType::kVpdq:
      return {{"query_percent", hit.query_percent}, {"entry_percent", hit.entry_percent}};
    case SignalType::kTmk:
      return {{"level1", hit.level1}, {"level2", hit.level2}};
    default:
      return {};
  }
}

Result<MatchResult> BankMatcher::MatchVpdq(std::span<const VpdqFrame> frames,
                                           const VideoMatchOptions& options) const {
  MatchResult out;
  if (frames.size() > kMaxVpdqQueryFrames) {
    return Status::LimitExceeded("a vPDQ query of " + std::to_string(frames.size()) +
                                 " frames is over the limit of " +
                                 std::to_string(kMaxVpdqQueryFrames));
  }
  // Banks that filter frames alike are searched together: the query is
  // prepared once per minimum quality, at the widest distance among them.
  std::map<int, int> radius_by_quality;
  for (const auto& [id, bank] : impl_->banks) {
    if (!bank.spec.enabled) continue;
    int& r = radius_by_quality.try_emplace(bank.spec.pdq_min_quality, -1).first->second;
    r = std::max(r, std::min(bank.spec.pdq_max_distance, kPdqMaxRadius));
  }
  const std::vector<VpdqFrame> all(frames.begin(), frames.end());
  for (const auto& [quality, radius] : radius_by_quality) {
    VpdqMatchOptions prepare;
    prepare.min_quality = quality;
    const std::vector<VpdqFrame> query = VpdqPrepare(all, prepare);
    if (query.empty()) continue;
    // Per stored video: which of the query's frames and of its own were found.
    struct Tally {
      std::vector<bool> query_found, entry_found;
      size_t query_count = 0, entry_count = 0;
    };
    std::unordered_map<int64_t, Tally> tallies;
    for (size_t i = 0; i < query.size(); ++i) {
      Result<std::vector<PdqMatch>> found = impl_->frames.Search(query[i].hash, radius);
      if (!found.ok()) return found.status();
      for (const PdqMatch& m : *found) {
        auto run = impl_->frame_runs.upper_bound(m.id);
        if (run == impl_->frame_runs.begin()) continue;
        --run;
        const IndexedEntry& e = impl_->entries.at(run->second);
        const Bank& bank = impl_->banks.at(e.bank_id);
        if (bank.spec.pdq_min_quality != quality || m.distance > bank.spec.pdq_max_distance) {
          continue;
        }
        Tally& t = tallies[run->second];
        if (t.query_found.empty()) {
          t.query_found.assign(query.size(), false);
          t.entry_found.assign(e.frame_count, false);
        }
        if (!t.query_found[i]) {
          t.query_found[i] = true;
          ++t.query_count;
        }
        const size_t j = m.id - e.first_frame;
        if (!t.entry_found[j]) {
          t.entry_found[j] = true;
          ++t.entry_count;
        }
      }
    }
    for (const auto& [entry_id, t] : tallies) {
      const IndexedEntry& e = impl_->entries.at(entry_id);
      const double query_percent =
          static_cast<double>(t.query_count) * 100.0 / static_cast<double>(query.size());
      const double entry_percent =
          static_cast<double>(t.entry_count) * 100.0 / static_cast<double>(e.frame_count);
      if (query_percent < options.vpdq_query_percent ||
          entry_percent < options.vpdq_entry_percent) {
        continue;
      }
      BankHit hit = impl_->Hit(entry_id, 0, 0);
      hit.query_percent = query_percent;
      hit.entry_percent = entry_percent;
      impl_->Place(std::move(hit), &out);
    }
  }
  std::sort(out.matches.begin(), out.matches.end(), VpdqHitOrder);
  std::sort(out.allow.begin(), out.allow.end(), VpdqHitOrder);
  return out;
}

Result<MatchResult> BankMatcher::MatchTmk(const TmkSignature& query,
                                          const VideoMatchOptions& options) const {
  MatchResult out;
  for (const auto& [entry_id, e] : impl_->entries) {
    if (e.tmk == nullptr) continue;
    // A signature held for level 1 only is checked whole once it is read.
    const bool held_whole = !e.tmk->cos_features.empty();
    if (held_whole ? !TmkCompatible(query, *e.tmk)
                   : query.dimension() != e.tmk->dimension() ||
                         query.frames_per_second != e.tmk->frames_per_second ||
                         query.periods != e.tmk->periods) {
      continue;
    }
    const double level1 = TmkLevel1(query, *e.tmk);
    if (level1 < options.tmk_level1) continue;
    const TmkSignature* full = e.tmk.get();
    TmkSignature loaded;
    if (!held_whole) {
      if (!impl_->options.tmk_loader) continue;  // not reachable: Build keeps them whole
      Result<std::string> payload = impl_->options.tmk_loader(entry_id);
      if (!payload.ok()) return payload.status();
      Result<TmkSignature> sig =
          ParseTmk(reinterpret_cast<const uint8_t*>(payload->data()), payload->size());
      if (!sig.ok()) return BadEntry(entry_id, sig.status());
      if (!TmkCompatible(query, *sig)) continue;
      loaded = std::move(*sig);
      full = &loaded;
    }
    const double level2 = TmkLevel2(query, *full);
    if (level2 < options.tmk_level2) continue;
    BankHit hit = impl_->Hit(entry_id, 0, 0);
    hit.level1 = level1;
    hit.level2 = level2;
    impl_->Place(std::move(hit), &out);
  }
  std::sort(out.matches.begin(), out.matches.end(), TmkHitOrder);
  std::sort(out.allow.begin(), out.allow.end(), TmkHitOrder);
  return out;
}

}  // namespace safeguard
