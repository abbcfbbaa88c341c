// The snapshot file container shared by the index's persistent structures:
// a header, a directory of typed sections, and the sections, each 64-byte
// aligned so that arrays can be used in place from a memory mapping.
//
// Layout (little-endian; part of the on-disk format: never change it
// without raising kSnapshotVersion):
//
//   [0, 64)        header
//     0   magic[8]        "SGIDX\r\n\x1a" (the line-ending bytes catch text-mode mangling)
//     8   u32 version     kSnapshotVersion
//     12  u32 kind        SnapshotKind
//     16  u64 file_size   the whole file, header included
//     24  u32 sections    number of directory entries
//     28  u32 payload_crc CRC-32C of bytes [64, file_size)
//     32  u32 header_crc  CRC-32C of bytes [0, 32)
//     36  zeros
//   [64, 64 + 32 * sections)   directory, per section:
//     u32 tag, u32 zero, u64 offset (multiple of 64), u64 size, u64 zero
//   sections, in directory order, zero-padded to 64-byte boundaries
//
// Opening checks, in order: magic (else kUnsupported, "not a Safeguard index
// snapshot"), version (kUnsupported), header checksum (kCorrupt), kind
// (kInvalidArgument), file size (kCorrupt, "truncated"), payload checksum
// (kCorrupt), directory bounds and alignment (kCorrupt). Every message names
// the path.
//
// Thread safety: a MappedSnapshot is immutable after Open; share it freely.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "safeguard/core/status.h"

namespace safeguard::index_internal {

inline constexpr uint8_t kSnapshotMagic[8] = {'S', 'G', 'I', 'D', 'X', '\r', '\n', 0x1a};
inline constexpr uint32_t kSnapshotVersion = 1;
inline constexpr size_t kSnapshotHeaderBytes = 64;
inline constexpr size_t kSnapshotDirectoryEntryBytes = 32;
inline constexpr size_t kSnapshotAlignment = 64;

// Part of the on-disk format: never renumber.
enum class SnapshotKind : uint32_t {
  kPdqIndex = 1,
  kDigestIndex = 2,
};

const char* SnapshotKindName(SnapshotKind kind);

// Section tags, all kinds in one list so that none collide. Part of the
// on-disk format: never renumber.
namespace section {
// PDQ index, main segment (mih_segment.cc).
inline constexpr uint32_t kSegmentMeta = 1;         // MihSegment::Meta
inline constexpr uint32_t kSegmentHashes = 2;       // entries x 4 u64
inline constexpr uint32_t kSegmentIds = 3;          // entries x u64, strictly increasing
inline constexpr uint32_t kTableOffsets = 0x100;    // + table: (2^bits + 1) x u32
inline constexpr uint32_t kTablePositions = 0x200;  // + table: entries x u32
// PDQ index, updates since the main segment was built (pdq_index.cc).
inline constexpr uint32_t kDeltaHashes = 0x10;  // live delta entries x 4 u64
inline constexpr uint32_t kDeltaIds = 0x11;     // their ids (u64)
inline constexpr uint32_t kRemovedIds = 0x12;   // ids of tombstoned main entries, increasing
// Digest index (digest_index.cc).
inline constexpr uint32_t kDigestKeys = 0x300;  // + digest type: entries x key bytes, sorted
inline constexpr uint32_t kDigestIds = 0x400;   // + digest type: entries x u64
}  // namespace section

struct SnapshotSection {
  uint32_t tag = 0;
  const void* data = nullptr;  // borrowed until WriteSnapshot returns
  uint64_t size = 0;
};

// Writes the sections to `path` + ".tmp", flushes it to disk, and renames it
// over `path`, so a crash leaves either the old file or the new one.
// Errors: kIoError (naming the path and the system's reason).
Status WriteSnapshot(const std::string& path, SnapshotKind kind,
                     std::span<const SnapshotSection> sections);

// How a snapshot's bytes are brought into memory (see PdqLoadBacking).
enum class SnapshotBacking {
  kCopy,  // read into private anonymous memory
  kMap,   // mapped from the page cache (MAP_PRIVATE, read-only)
};

class MappedSnapshot {
 public:
  static Result<std::shared_ptr<const MappedSnapshot>> Open(const std::string& path,
                                                            SnapshotKind kind,
                                                            SnapshotBacking backing);
  ~MappedSnapshot();
  MappedSnapshot(const MappedSnapshot&) = delete;
  MappedSnapshot& operator=(const MappedSnapshot&) = delete;

  const std::string& path() const { return path_; }
  uint64_t file_size() const { return size_; }

  bool Has(uint32_t tag) const;
  // The bytes of section `tag` (64-byte aligned), which must exist and hold
  // exactly `size` bytes (kCorrupt otherwise).
  Result<std::span<const uint8_t>> Section(uint32_t tag, uint64_t size) const;
  // The same when the size is not known in advance (kCorrupt when missing).
  Result<std::span<const uint8_t>> Section(uint32_t tag) const;

 private:
  struct Entry {
    uint32_t tag;
    uint64_t offset;
    uint64_t size;
  };
  MappedSnapshot() = default;

  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  bool mapped_ = false;            // munmap at destruction
  std::shared_ptr<uint8_t> copy_;  // or owned anonymous memory
  std::vector<Entry> entries_;
};

}  // namespace safeguard::index_internal
