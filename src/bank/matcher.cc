#include "safeguard/bank/matcher.h"

#include <algorithm>
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
};

bool HitOrder(const BankHit& a, const BankHit& b) {
  if (a.distance != b.distance) return a.distance < b.distance;
  return a.entry_id < b.entry_id;
}

}  // namespace

struct BankMatcher::Impl {
  PdqIndex pdq;
  DigestIndex digests;
  std::unordered_map<int64_t, Bank> banks;  // every bank, enabled or not
  std::unordered_map<int64_t, IndexedEntry> entries;
  int64_t sequence = 0;

  bool Enabled(int64_t bank_id) const {
    auto it = banks.find(bank_id);
    return it != banks.end() && it->second.spec.enabled;
  }

  Status Index(const Entry& e) {
    if (e.removed || entries.contains(e.id) || !Enabled(e.bank_id)) return Status::Ok();
    const auto id = static_cast<uint64_t>(e.id);
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
    entries.emplace(e.id, IndexedEntry{e.bank_id, e.signal, e.value, e.labels});
    return Status::Ok();
  }

  Status Unindex(int64_t entry_id) {
    auto it = entries.find(entry_id);
    if (it == entries.end()) return Status::Ok();
    const auto id = static_cast<uint64_t>(entry_id);
    if (it->second.signal == SignalType::kPdq) {
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
    return store.ForEachEntry(bank_id, {}, [&](const Entry& e) { return Index(e); });
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
        banks[c.bank_id] = *bank;
        if (!was && bank->spec.enabled) return LoadBank(store, c.bank_id);
        if (was && !bank->spec.enabled) return UnloadBank(c.bank_id);
        return Status::Ok();
      }
      case ChangeKind::kEntryAdded: {
        if (!Enabled(c.bank_id) || entries.contains(c.entry_id)) return Status::Ok();
        // The entry as it is now: a later removal in the log then finds
        // nothing to do, which is the same end state.
        Result<Entry> e = store.GetEntry(c.entry_id);
        if (!e.ok()) return e.status();
        return Index(*e);
      }
      case ChangeKind::kEntriesAdded: {
        if (!Enabled(c.bank_id)) return Status::Ok();
        // The range's entries as they are now, as for kEntryAdded; ids in the
        // range that another bank holds, or none does, are skipped by the
        // filter.
        Store::EntryFilter range;
        range.first_id = c.entry_id;
        range.last_id = c.last_entry_id;
        return store.ForEachEntry(c.bank_id, range, [&](const Entry& e) { return Index(e); });
      }
      case ChangeKind::kEntryRemoved:
        return Unindex(c.entry_id);
    }
    return Status::Ok();
  }

  BankHit Hit(int64_t entry_id, int distance, int variant) const {
    const IndexedEntry& e = entries.at(entry_id);
    const Bank& bank = banks.at(e.bank_id);
    return BankHit{bank.spec.name, bank.spec.kind, entry_id,         e.signal,
                   distance,       variant,        bank.spec.labels, e.labels};
  }

  void Place(BankHit hit, MatchResult* out) const {
    (hit.kind == BankKind::kAllow ? out->allow : out->matches).push_back(std::move(hit));
  }
};

BankMatcher::BankMatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BankMatcher::BankMatcher(BankMatcher&&) noexcept = default;
BankMatcher& BankMatcher::operator=(BankMatcher&&) noexcept = default;
BankMatcher::~BankMatcher() = default;

Result<BankMatcher> BankMatcher::Build(Store& store) {
  auto impl = std::make_unique<Impl>();
  // Changes committed from here on are applied by Refresh; applying one the
  // scan already saw is harmless.
  Result<int64_t> seq = store.LastSequence();
  if (!seq.ok()) return seq.status();
  Result<std::vector<Bank>> banks = store.ListBanks();
  if (!banks.ok()) return banks.status();
  std::vector<PdqEntry> pdq;
  std::vector<DigestEntry> digests;
  for (const Bank& bank : *banks) {
    impl->banks[bank.id] = bank;
    if (!bank.spec.enabled) continue;
    Status s = store.ForEachEntry(bank.id, {}, [&](const Entry& e) {
      const auto id = static_cast<uint64_t>(e.id);
      if (e.signal == SignalType::kPdq) {
        Result<Hash256> h = Hash256::FromHex(e.value);
        if (!h.ok()) return Status::Corrupt("entry " + std::to_string(e.id) + ": bad PDQ");
        pdq.push_back(PdqEntry{id, *h});
      } else {
        Result<Digest> d = Digest::FromHex(*ToDigestType(e.signal), e.value);
        if (!d.ok()) return Status::Corrupt("entry " + std::to_string(e.id) + ": bad digest");
        digests.push_back(DigestEntry{*d, id});
      }
      impl->entries.emplace(e.id, IndexedEntry{e.bank_id, e.signal, e.value, e.labels});
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

}  // namespace safeguard
