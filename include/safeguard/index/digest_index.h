// DigestIndex: exact lookup of MD5, SHA-1 and SHA-256 digests, 10^7 and
// more, each digest mapped to the ids of the entries that hold it.
//
// Compact by construction: per digest type, one sorted array of fixed-size
// keys and one array of 64-bit ids (24, 28 and 40 bytes per entry), plus a
// directory of the keys' leading bits so that a lookup touches about three
// cache lines. Entries added since the last compaction sit in a hash map;
// removed ones are tombstones until Compact merges everything back into the
// arrays (linear time: no re-sort).
//
// Example:
//   DigestIndex index;
//   Result<Digest> md5 = Digest::FromHex(DigestType::kMd5, digests.md5);
//   Status s = index.Add(*md5, 42);
//   std::vector<uint64_t> ids = index.Lookup(*md5);   // {42}
//
// Thread safety: any number of threads may call Lookup, Stats and Save at
// once; Add, Remove and Compact take exclusive access internally (a
// reader-writer lock), so they wait for running lookups and lookups wait for
// them. Compact holds the lock for one linear merge of the arrays with the
// pending changes (no sort). Moving or destroying an index while another thread uses it is
// undefined.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "safeguard/core/status.h"

namespace safeguard {

// Part of the snapshot format (section tags): never renumber.
enum class DigestType : int {
  kMd5 = 0,
  kSha1 = 1,
  kSha256 = 2,
};
inline constexpr int kDigestTypeCount = 3;

// 16, 20 or 32.
size_t DigestSize(DigestType type);
// "md5", "sha1", "sha256".
std::string_view DigestTypeName(DigestType type);

struct Digest {
  DigestType type = DigestType::kMd5;
  // The first DigestSize(type) bytes are the digest; the rest are zero.
  std::array<uint8_t, 32> bytes{};

  // Exactly 2 * DigestSize(type) hex digits, either case. Errors:
  // kInvalidArgument.
  static Result<Digest> FromHex(DigestType type, std::string_view hex);
  // Exactly DigestSize(type) bytes. Errors: kInvalidArgument.
  static Result<Digest> FromBytes(DigestType type, std::span<const uint8_t> bytes);
  std::string ToHex() const;

  friend bool operator==(const Digest&, const Digest&) = default;
};

struct DigestEntry {
  Digest digest;
  uint64_t id = 0;
};

struct DigestIndexStats {
  std::array<size_t, kDigestTypeCount> entries{};  // live entries per type
  size_t pending = 0;                              // adds and removes not yet merged by Compact
  size_t memory_bytes = 0;                         // arrays, directories and pending changes
};

class DigestIndex {
 public:
  DigestIndex();
  // An index of `entries` in one pass (a sort per type). Errors:
  // kInvalidArgument when a (digest, id) pair repeats.
  static Result<DigestIndex> Build(std::span<const DigestEntry> entries);
  // Maps the file and uses it in place, as PdqLoadBacking::kMap (the same
  // requirement: nobody modifies the file in place while it is loaded).
  // Errors: as PdqIndex::Load (kNotFound, kIoError, kCorrupt, kUnsupported,
  // kInvalidArgument), every message naming the path.
  static Result<DigestIndex> Load(const std::string& path);

  DigestIndex(DigestIndex&&) noexcept;
  DigestIndex& operator=(DigestIndex&&) noexcept;
  ~DigestIndex();

  // Associates `id` with `digest` (one digest may have many ids, e.g. one
  // per bank). Errors: kInvalidArgument when that pair is already present.
  Status Add(const Digest& digest, uint64_t id);
  // Errors: kNotFound when the pair is not present.
  Status Remove(const Digest& digest, uint64_t id);

  // The ids associated with `digest`, ascending; empty when none.
  std::vector<uint64_t> Lookup(const Digest& digest) const;

  // Merges pending adds and removes into the sorted arrays.
  Status Compact();

  // Writes the live entries to `path` atomically. Errors: kIoError.
  Status Save(const std::string& path) const;

  DigestIndexStats Stats() const;

 private:
  struct Impl;
  explicit DigestIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace safeguard
