// MihSegment: an immutable set of PDQ entries with multi-index-hashing
// tables (internal to src/index; PdqIndex puts updates around it).
//
// Entries are stored sorted by id (so an id is found by binary search and
// no separate id map is needed): hashes[] (32 bytes each) and ids[]. Table k
// indexes substring k of every hash, bits [bit_offset, bit_offset + bits):
// offsets[2^bits + 1] and positions[n] in CSR form, the positions of the
// entries whose substring equals b being positions[offsets[b],
// offsets[b + 1]). Tables are ordered widest first.
//
// Search (exact): with m tables and radius r = s*m + t (0 <= t < m), a hash
// within distance r of the query has a substring within s of the query's in
// one of the first t + 1 tables, or within s - 1 in one of the others (if
// every table missed, the distance would be at least (t+1)(s+1) + (m-t-1)s =
// r + 1). So the first t + 1 tables are probed to radius s, the rest to
// s - 1, and every entry in a probed bucket is verified. When the expected
// or the actual number of candidates costs more than a linear scan, the
// segment is scanned instead, which bounds the cost of skewed data. When the
// buckets hold many more candidates than uniform data would put there (a
// cluster of near-duplicates fills the query's bucket in every table), each
// candidate is verified once however many tables return it, so that a
// viral cluster costs its size, not its size times the table count.
//
// Thread safety: immutable after Build/FromSnapshot; searches may run
// concurrently, each with its own SegmentScratch.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "hamming_kernels.h"
#include "safeguard/core/status.h"
#include "safeguard/index/pdq_index.h"
#include "snapshot_file.h"

namespace safeguard::index_internal {

struct TableSpec {
  uint32_t bit_offset = 0;
  uint32_t bits = 0;
};

// Matches found by searches: parallel arrays of positions and distances.
struct HitBuffer {
  std::vector<uint32_t> pos;
  std::vector<uint16_t> dist;
  size_t size = 0;

  // Room for `n` more hits; returns where they go.
  void Reserve(size_t n) {
    if (pos.size() < size + n) {
      const size_t want = std::max(size + n, 2 * pos.size());
      pos.resize(want);
      dist.resize(want);
    }
  }
};

// Per-search working memory, reused across the query hashes of one search.
struct SegmentScratch {
  struct Range {
    const uint32_t* positions;
    uint32_t count;
  };
  std::vector<uint32_t> buckets;
  std::vector<Range> ranges;
  std::vector<uint32_t> candidates;
  // One bit per entry, set while a candidate is gathered, for skipping
  // repeats across tables. Allocated on first need (skewed data only) and
  // left all-zero after every use.
  std::vector<uint64_t> visited;
};

// The relative costs the planner weighs (units: one random memory access).
// Measured on the reference machine (docs/index.md); only their ratios
// matter.
// The SIMD kernels verify a random candidate in ~5-7 ns, scan at ~1 ns per
// hash (memory bandwidth), and a probe (offsets, then the bucket: two
// misses) costs ~20 ns.
inline constexpr double kProbeCost = 2.0;      // looking up one bucket
inline constexpr double kCandidateCost = 1.0;  // verifying one candidate at random
inline constexpr double kScanCost = 0.1;       // one hash of a linear scan

// The tables for a segment of `entries` entries: none below
// `min_entries_for_tables`; `tables` of them when nonzero; otherwise the
// count with the lowest expected cost at radius 31 within the memory budget.
std::vector<TableSpec> ChooseTables(size_t entries, int tables, size_t min_entries_for_tables);

// Expected cost of one query hash at `radius` on uniformly random data, in
// the units above (for the planner, the benchmark and the docs).
double ExpectedProbeCost(std::span<const TableSpec> tables, size_t entries, int radius);

// Expected candidates per query hash on uniformly random data.
double ExpectedCandidates(std::span<const TableSpec> tables, size_t entries, int radius);

// Number of bit patterns of `bits` bits within Hamming distance `radius` of
// a given one.
double BallSize(uint32_t bits, int radius);

class MihSegment {
 public:
  // REQUIRES: entries sorted by strictly increasing id; tables as from
  // ChooseTables. Errors: kLimitExceeded (out of memory, too many entries).
  static Result<std::shared_ptr<const MihSegment>> Build(std::span<const PdqEntry> entries,
                                                         std::span<const TableSpec> tables);

  // A segment over the sections of a loaded snapshot, which it keeps alive.
  // Checks the arrays (sizes, sorted ids, table bounds): kCorrupt.
  static Result<std::shared_ptr<const MihSegment>> FromSnapshot(
      std::shared_ptr<const MappedSnapshot> snapshot);

  // Appends the sections describing this segment.
  void AppendSections(std::vector<SnapshotSection>* sections) const;

  size_t size() const { return size_; }
  const uint64_t* hash_words() const { return hashes_; }
  const uint64_t* ids() const { return ids_; }
  std::span<const TableSpec> tables() const { return specs_; }
  size_t MemoryBytes() const;

  // The position of `id`, or -1.
  int64_t Find(uint64_t id) const;

  // Appends (position, distance) for every entry within `radius` of the
  // query (four words); an entry may be appended more than once.
  void Search(const uint64_t* query, int radius, const HammingKernelFns& kernel,
              SegmentScratch* scratch, HitBuffer* hits, PdqSearchCounters* counters) const;

  // The same by linear scan, no tables.
  void Scan(const uint64_t* query, int radius, const HammingKernelFns& kernel, HitBuffer* hits,
            PdqSearchCounters* counters) const;

 private:
  struct Table {
    const uint32_t* offsets = nullptr;
    const uint32_t* positions = nullptr;
  };
  // Fixed-size description stored in the snapshot (section kSectionMeta).
  struct Meta {
    uint64_t entries;
    uint32_t table_count;
    uint32_t reserved;
    TableSpec tables[32];
  };

  MihSegment() = default;

  size_t size_ = 0;
  const uint64_t* hashes_ = nullptr;
  const uint64_t* ids_ = nullptr;
  std::vector<TableSpec> specs_;
  std::vector<Table> tables_;
  Meta meta_{};
  // Owners of the arrays above: anonymous buffers or a snapshot.
  std::vector<std::shared_ptr<const void>> keep_alive_;
};

}  // namespace safeguard::index_internal
