#include "safeguard/index/digest_index.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <unordered_map>

#include "large_buffer.h"
#include "snapshot_file.h"

namespace safeguard {

using index_internal::MappedSnapshot;
using index_internal::SnapshotSection;
namespace section = index_internal::section;

size_t DigestSize(DigestType type) {
  switch (type) {
    case DigestType::kMd5:
      return 16;
    case DigestType::kSha1:
      return 20;
    case DigestType::kSha256:
      return 32;
  }
  return 0;
}

std::string_view DigestTypeName(DigestType type) {
  switch (type) {
    case DigestType::kMd5:
      return "md5";
    case DigestType::kSha1:
      return "sha1";
    case DigestType::kSha256:
      return "sha256";
  }
  return "unknown";
}

Result<Digest> Digest::FromBytes(DigestType type, std::span<const uint8_t> bytes) {
  if (bytes.size() != DigestSize(type)) {
    return Status::InvalidArgument(std::string(DigestTypeName(type)) + " digest of " +
                                   std::to_string(bytes.size()) + " bytes, expected " +
                                   std::to_string(DigestSize(type)));
  }
  Digest d;
  d.type = type;
  std::copy(bytes.begin(), bytes.end(), d.bytes.begin());
  return d;
}

Result<Digest> Digest::FromHex(DigestType type, std::string_view hex) {
  const size_t size = DigestSize(type);
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() != 2 * size) {
    return Status::InvalidArgument(std::string(DigestTypeName(type)) + " hex of " +
                                   std::to_string(hex.size()) + " characters, expected " +
                                   std::to_string(2 * size));
  }
  Digest d;
  d.type = type;
  for (size_t i = 0; i < size; ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return Status::InvalidArgument(std::string(DigestTypeName(type)) + ": not hex");
    }
    d.bytes[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return d;
}

std::string Digest::ToHex() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < DigestSize(type); ++i) {
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 15]);
  }
  return out;
}

namespace {

// Buckets of the directory hold about this many entries.
constexpr size_t kEntriesPerBucket = 4;
constexpr int kMaxDirectoryBits = 24;

// The sorted arrays of one digest type, ordered by (key bytes, id).
struct SortedTable {
  size_t key_size = 0;
  size_t n = 0;
  const uint8_t* keys = nullptr;
  const uint64_t* ids = nullptr;
  std::shared_ptr<const void> keys_owner;
  std::shared_ptr<const void> ids_owner;
  // directory[p] = first entry whose key's leading `bits` bits are >= p.
  int bits = 0;
  std::vector<uint32_t> directory;

  const uint8_t* key(size_t i) const { return keys + i * key_size; }

  uint32_t Prefix(const uint8_t* k) const {
    if (bits == 0) return 0;
    const uint32_t lead =
        (uint32_t{k[0]} << 24) | (uint32_t{k[1]} << 16) | (uint32_t{k[2]} << 8) | uint32_t{k[3]};
    return lead >> (32 - bits);
  }

  void BuildDirectory() {
    bits = 0;
    while (bits < kMaxDirectoryBits && (size_t{1} << bits) * kEntriesPerBucket < n) ++bits;
    directory.assign((size_t{1} << bits) + 1, 0);
    size_t i = 0;
    for (size_t p = 0; p < (size_t{1} << bits); ++p) {
      directory[p] = static_cast<uint32_t>(i);
      while (i < n && Prefix(key(i)) == p) ++i;
    }
    directory.back() = static_cast<uint32_t>(n);
  }

  // Entries with key `k`: [first, last).
  std::pair<size_t, size_t> Range(const uint8_t* k) const {
    const uint32_t p = Prefix(k);
    size_t lo = directory[p];
    size_t hi = directory[p + 1];
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (std::memcmp(key(mid), k, key_size) < 0) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    size_t end = lo;
    while (end < n && std::memcmp(key(end), k, key_size) == 0) ++end;
    return {lo, end};
  }

  size_t MemoryBytes() const { return n * (key_size + 8) + directory.size() * 4; }
};

// Sorted (key, id) pairs of one type in flat arrays, before they become a
// SortedTable (Build, Compact, Save).
struct FlatPairs {
  size_t key_size = 0;
  std::vector<uint8_t> keys;
  std::vector<uint64_t> ids;

  size_t size() const { return ids.size(); }
  void Append(const uint8_t* key, uint64_t id) {
    keys.insert(keys.end(), key, key + key_size);
    ids.push_back(id);
  }
};

// Orders (key, id) pairs: keys bytewise, then ids.
int Compare(const uint8_t* a, uint64_t a_id, const uint8_t* b, uint64_t b_id, size_t key_size) {
  const int c = std::memcmp(a, b, key_size);
  if (c != 0) return c;
  return a_id < b_id ? -1 : (a_id > b_id ? 1 : 0);
}

Result<SortedTable> MakeTable(const FlatPairs& sorted) {
  SortedTable t;
  t.key_size = sorted.key_size;
  t.n = sorted.size();
  if (t.n > UINT32_MAX - 1) return Status::LimitExceeded("too many digests of one type");
  Result<std::shared_ptr<uint8_t>> keys = index_internal::AllocateLarge(sorted.keys.size());
  if (!keys.ok()) return keys.status();
  Result<std::shared_ptr<uint64_t>> ids = index_internal::AllocateLargeArray<uint64_t>(t.n);
  if (!ids.ok()) return ids.status();
  if (t.n > 0) {
    std::memcpy(keys->get(), sorted.keys.data(), sorted.keys.size());
    std::memcpy(ids->get(), sorted.ids.data(), 8 * t.n);
  }
  t.keys = keys->get();
  t.ids = ids->get();
  t.keys_owner = *keys;
  t.ids_owner = *ids;
  t.BuildDirectory();
  return t;
}

std::string KeyOf(const Digest& d) {
  return std::string(reinterpret_cast<const char*>(d.bytes.data()), DigestSize(d.type));
}

const uint8_t* Bytes(const std::string& key) {
  return reinterpret_cast<const uint8_t*>(key.data());
}

}  // namespace

struct DigestIndex::Impl {
  mutable std::shared_mutex mu;
  std::array<SortedTable, kDigestTypeCount> tables;
  // Changes since the arrays were built. Guarded by mu.
  std::array<std::unordered_map<std::string, std::vector<uint64_t>>, kDigestTypeCount> added;
  // Tombstones of entries in the arrays, ordered like them.
  std::array<std::set<std::pair<std::string, uint64_t>>, kDigestTypeCount> removed;
  size_t pending = 0;

  Impl() {
    for (int t = 0; t < kDigestTypeCount; ++t) {
      tables[t].key_size = DigestSize(static_cast<DigestType>(t));
      tables[t].BuildDirectory();
    }
  }

  // REQUIRES: mu held (either way).
  bool InBase(int type, const std::string& key, uint64_t id) const {
    const SortedTable& t = tables[type];
    const auto [first, last] = t.Range(Bytes(key));
    return std::binary_search(t.ids + first, t.ids + last, id);
  }

  // The live pairs of one type, sorted: one linear merge of the arrays
  // (minus the tombstones, which are in the same order) with the sorted
  // adds. REQUIRES: mu held.
  FlatPairs Live(int type) const {
    const SortedTable& t = tables[type];
    const size_t ks = t.key_size;
    std::vector<std::pair<std::string, uint64_t>> adds;
    for (const auto& [key, ids] : added[type]) {
      for (uint64_t id : ids) adds.emplace_back(key, id);
    }
    std::sort(adds.begin(), adds.end());
    FlatPairs out;
    out.key_size = ks;
    out.keys.reserve((t.n + adds.size()) * ks);
    out.ids.reserve(t.n + adds.size());
    auto tomb = removed[type].begin();
    const auto tomb_end = removed[type].end();
    size_t a = 0;
    for (size_t i = 0; i < t.n; ++i) {
      // Tombstones are a subset of the arrays: advance to this entry's.
      while (tomb != tomb_end &&
             Compare(Bytes(tomb->first), tomb->second, t.key(i), t.ids[i], ks) < 0) {
        ++tomb;
      }
      if (tomb != tomb_end &&
          Compare(Bytes(tomb->first), tomb->second, t.key(i), t.ids[i], ks) == 0) {
        continue;
      }
      while (a < adds.size() &&
             Compare(Bytes(adds[a].first), adds[a].second, t.key(i), t.ids[i], ks) < 0) {
        out.Append(Bytes(adds[a].first), adds[a].second);
        ++a;
      }
      out.Append(t.key(i), t.ids[i]);
    }
    for (; a < adds.size(); ++a) out.Append(Bytes(adds[a].first), adds[a].second);
    return out;
  }
};

DigestIndex::DigestIndex() : impl_(std::make_unique<Impl>()) {}
DigestIndex::DigestIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DigestIndex::DigestIndex(DigestIndex&&) noexcept = default;
DigestIndex& DigestIndex::operator=(DigestIndex&&) noexcept = default;
DigestIndex::~DigestIndex() = default;

Result<DigestIndex> DigestIndex::Build(std::span<const DigestEntry> entries) {
  if (entries.size() > UINT32_MAX - 1) {
    return Status::LimitExceeded(std::to_string(entries.size()) + " digests in one build");
  }
  auto impl = std::make_unique<Impl>();
  for (int type = 0; type < kDigestTypeCount; ++type) {
    const size_t ks = DigestSize(static_cast<DigestType>(type));
    // Sort by the keys' leading eight bytes (big-endian: the byte order),
    // then fully; random digests almost never tie on the prefix.
    struct Item {
      uint64_t prefix;
      uint32_t index;
    };
    std::vector<Item> items;
    std::vector<uint32_t> source;
    for (size_t i = 0; i < entries.size(); ++i) {
      if (static_cast<int>(entries[i].digest.type) != type) continue;
      const uint8_t* k = entries[i].digest.bytes.data();
      uint64_t prefix = 0;
      for (int b = 0; b < 8; ++b) prefix = (prefix << 8) | k[b];
      items.push_back({prefix, static_cast<uint32_t>(i)});
    }
    std::sort(items.begin(), items.end(), [&](const Item& x, const Item& y) {
      if (x.prefix != y.prefix) return x.prefix < y.prefix;
      return Compare(entries[x.index].digest.bytes.data(), entries[x.index].id,
                     entries[y.index].digest.bytes.data(), entries[y.index].id, ks) < 0;
    });
    FlatPairs pairs;
    pairs.key_size = ks;
    pairs.keys.reserve(items.size() * ks);
    pairs.ids.reserve(items.size());
    for (size_t j = 0; j < items.size(); ++j) {
      const DigestEntry& e = entries[items[j].index];
      if (j > 0) {
        const DigestEntry& prev = entries[items[j - 1].index];
        if (prev.id == e.id &&
            std::memcmp(prev.digest.bytes.data(), e.digest.bytes.data(), ks) == 0) {
          return Status::InvalidArgument("id " + std::to_string(e.id) + " appears twice for " +
                                         std::string(DigestTypeName(e.digest.type)) + " " +
                                         e.digest.ToHex());
        }
      }
      pairs.Append(e.digest.bytes.data(), e.id);
    }
    Result<SortedTable> table = MakeTable(pairs);
    if (!table.ok()) return table.status();
    impl->tables[type] = std::move(*table);
  }
  return DigestIndex(std::move(impl));
}

Status DigestIndex::Add(const Digest& digest, uint64_t id) {
  std::unique_lock<std::shared_mutex> lock(impl_->mu);
  const int type = static_cast<int>(digest.type);
  const std::string key = KeyOf(digest);
  auto& removed = impl_->removed[type];
  // Re-adding a removed pair just lifts its tombstone.
  if (auto it = removed.find({key, id}); it != removed.end()) {
    removed.erase(it);
    --impl_->pending;
    return Status::Ok();
  }
  auto& added = impl_->added[type];
  const auto it = added.find(key);
  if (impl_->InBase(type, key, id) ||
      (it != added.end() &&
       std::find(it->second.begin(), it->second.end(), id) != it->second.end())) {
    return Status::InvalidArgument("id " + std::to_string(id) + " is already stored for " +
                                   std::string(DigestTypeName(digest.type)) + " " + digest.ToHex());
  }
  added[key].push_back(id);
  ++impl_->pending;
  return Status::Ok();
}

Status DigestIndex::Remove(const Digest& digest, uint64_t id) {
  std::unique_lock<std::shared_mutex> lock(impl_->mu);
  const int type = static_cast<int>(digest.type);
  const std::string key = KeyOf(digest);
  auto& added = impl_->added[type];
  if (auto it = added.find(key); it != added.end()) {
    std::vector<uint64_t>& ids = it->second;
    if (auto at = std::find(ids.begin(), ids.end(), id); at != ids.end()) {
      ids.erase(at);
      if (ids.empty()) added.erase(it);
      --impl_->pending;
      return Status::Ok();
    }
  }
  if (!impl_->InBase(type, key, id) || !impl_->removed[type].insert({key, id}).second) {
    return Status::NotFound("id " + std::to_string(id) + " is not stored for " +
                            std::string(DigestTypeName(digest.type)) + " " + digest.ToHex());
  }
  ++impl_->pending;
  return Status::Ok();
}

std::vector<uint64_t> DigestIndex::Lookup(const Digest& digest) const {
  std::shared_lock<std::shared_mutex> lock(impl_->mu);
  const int type = static_cast<int>(digest.type);
  const SortedTable& t = impl_->tables[type];
  const auto [first, last] = t.Range(digest.bytes.data());
  std::vector<uint64_t> ids(t.ids + first, t.ids + last);
  const auto& removed = impl_->removed[type];
  const auto& added = impl_->added[type];
  if (removed.empty() && added.empty()) return ids;
  const std::string key = KeyOf(digest);
  if (!removed.empty()) {
    std::erase_if(ids, [&](uint64_t id) { return removed.count({key, id}) != 0; });
  }
  if (auto it = added.find(key); it != added.end()) {
    ids.insert(ids.end(), it->second.begin(), it->second.end());
    std::sort(ids.begin(), ids.end());
  }
  return ids;
}

Status DigestIndex::Compact() {
  std::unique_lock<std::shared_mutex> lock(impl_->mu);
  std::array<SortedTable, kDigestTypeCount> next;
  for (int type = 0; type < kDigestTypeCount; ++type) {
    Result<SortedTable> table = MakeTable(impl_->Live(type));
    if (!table.ok()) return table.status();
    next[type] = std::move(*table);
  }
  impl_->tables = std::move(next);
  for (int type = 0; type < kDigestTypeCount; ++type) {
    impl_->added[type].clear();
    impl_->removed[type].clear();
  }
  impl_->pending = 0;
  return Status::Ok();
}

Status DigestIndex::Save(const std::string& path) const {
  std::shared_lock<std::shared_mutex> lock(impl_->mu);
  std::array<FlatPairs, kDigestTypeCount> live;
  std::vector<SnapshotSection> sections;
  for (int type = 0; type < kDigestTypeCount; ++type) {
    live[type] = impl_->Live(type);
    const uint32_t t = static_cast<uint32_t>(type);
    sections.push_back({section::kDigestKeys + t, live[type].keys.data(), live[type].keys.size()});
    sections.push_back({section::kDigestIds + t, live[type].ids.data(), 8 * live[type].ids.size()});
  }
  return index_internal::WriteSnapshot(path, index_internal::SnapshotKind::kDigestIndex, sections);
}

Result<DigestIndex> DigestIndex::Load(const std::string& path) {
  Result<std::shared_ptr<const MappedSnapshot>> snap = MappedSnapshot::Open(
      path, index_internal::SnapshotKind::kDigestIndex, index_internal::SnapshotBacking::kMap);
  if (!snap.ok()) return snap.status();
  auto impl = std::make_unique<Impl>();
  for (int type = 0; type < kDigestTypeCount; ++type) {
    const uint32_t t = static_cast<uint32_t>(type);
    Result<std::span<const uint8_t>> keys = (*snap)->Section(section::kDigestKeys + t);
    if (!keys.ok()) return keys.status();
    Result<std::span<const uint8_t>> ids = (*snap)->Section(section::kDigestIds + t);
    if (!ids.ok()) return ids.status();
    SortedTable& table = impl->tables[type];
    const size_t key_size = table.key_size;
    const size_t n = ids->size() / 8;
    if (ids->size() % 8 != 0 || keys->size() != n * key_size || n > UINT32_MAX - 1) {
      return Status::Corrupt(path + ": " +
                             std::string(DigestTypeName(static_cast<DigestType>(type))) +
                             " sections of inconsistent sizes");
    }
    table.n = n;
    table.keys = keys->data();
    table.ids = reinterpret_cast<const uint64_t*>(ids->data());
    table.keys_owner = *snap;
    table.ids_owner = *snap;
    for (size_t i = 1; i < n; ++i) {
      const int c = std::memcmp(table.key(i - 1), table.key(i), key_size);
      if (c > 0 || (c == 0 && table.ids[i - 1] >= table.ids[i])) {
        return Status::Corrupt(path + ": digests not sorted at entry " + std::to_string(i));
      }
    }
    table.BuildDirectory();
  }
  return DigestIndex(std::move(impl));
}

DigestIndexStats DigestIndex::Stats() const {
  std::shared_lock<std::shared_mutex> lock(impl_->mu);
  DigestIndexStats s;
  for (int type = 0; type < kDigestTypeCount; ++type) {
    size_t added = 0;
    for (const auto& [key, ids] : impl_->added[type]) added += ids.size();
    s.entries[type] = impl_->tables[type].n + added - impl_->removed[type].size();
    // Pending changes: node-based containers, roughly 96 bytes each.
    s.memory_bytes +=
        impl_->tables[type].MemoryBytes() + 96 * (added + impl_->removed[type].size());
  }
  s.pending = impl_->pending;
  return s;
}

}  // namespace safeguard
