// PdqIndex: exact Hamming range search over up to 10^8 PDQ hashes, with
// adds and removes while searches run, and snapshot files.
//
// Exact: a search returns every live entry within the radius of a query
// hash (distance <= radius, inclusive), not an approximation. The main
// segment uses multi-index hashing (the 256 bits split into m substrings; by
// the pigeonhole principle a hash within distance r of the query has some
// substring within a small radius of the query's), verified with a SIMD
// popcount kernel; when the probes would cost more than a scan (large radii,
// small indexes, heavily skewed data) it scans instead. See docs/index.md for
// the parameters, the cost model and measured speed.
//
// Updates: Add appends to a small delta that searches scan; Remove marks a
// tombstone that searches honour at once. Compact folds the delta into a new
// main segment and drops the tombstones; searches keep running meanwhile.
//
// Example:
//   Result<PdqIndex> index = PdqIndex::Build(entries);   // bulk, fastest
//   if (!index.ok()) return index.status();
//   Status s = index->Add(42, hash);                        // one more
//   PdqHashes h = PdqHashRgb(view, /*dihedral=*/true);
//   Result<std::vector<PdqMatch>> m = index->Search(h.dihedral);   // r = 31
//   for (const PdqMatch& x : *m) Use(x.id, x.distance, x.variant);
//
// Thread safety: every method may be called from any number of threads at
// once. Search, Stats and Save never wait for writers or a compaction and
// never block them (Contains takes the writers' lock for a moment). Each Search sees one consistent
// snapshot of the index: every Add and Remove that returned before it began, none that began after
// it returned (ones that overlap it are either wholly in or wholly out). Writers (Add, Remove)
// serialise among themselves; Compact runs beside them and blocks them only for its final swap.
// Moving, assigning or destroying a PdqIndex while another thread uses it is undefined.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "safeguard/core/hash256.h"
#include "safeguard/core/status.h"
#include "safeguard/index/pdq_match.h"

namespace safeguard {

// The most entries one index holds (positions are 32-bit).
inline constexpr size_t kPdqIndexMaxEntries = (size_t{1} << 32) - 2;

// Which Hamming kernel verifies candidates and scans.
enum class PdqIndexKernel {
  kAuto,    // the widest this CPU runs (SAFEGUARD_INDEX_KERNEL=scalar|avx2|avx512 forces one)
  kScalar,  // portable C++
  kAvx2,    // AVX2 + POPCNT
  kAvx512,  // AVX-512F + VPOPCNTDQ
};

// How Load brings a snapshot into memory.
enum class PdqLoadBacking {
  // Map the file read-only and search it in place: loading costs the
  // checksum and structural checks only (0.2 s at 10^7 entries when the file
  // is in the page cache), and processes that load the same file share its
  // memory. REQUIRES: nobody modifies or truncates the file in place while
  // it is loaded (Save replaces files by renaming a new one over them, which
  // is safe); otherwise reads may fault.
  kMap,
  // Read the file into private memory: immune to changes to the file, but
  // every page is copied (and, on a virtual machine that backs memory
  // lazily, first-touched: 2.2-2.6 s at 10^7 entries on the reference
  // machine). Searches run at the same speed either way (docs/index.md).
  kCopy,
};

struct PdqIndexOptions {
  // Multi-index-hashing tables of the main segment: 0 chooses, at every build
  // and compaction, the count whose expected search cost is lowest for the
  // segment's size (12 tables of 21-22 bits at 10^7 entries); 9..32 forces
  // that many (each covering 256 / tables bits, rounded; at most 29).
  int tables = 0;
  // A main segment smaller than this has no tables and is always scanned:
  // below ~16K entries the hashes sit in L2 and a SIMD scan is as fast as
  // probing. Tests lower it to exercise the tables on small data.
  size_t min_entries_for_tables = 16384;
  PdqIndexKernel kernel = PdqIndexKernel::kAuto;
  PdqLoadBacking load_backing = PdqLoadBacking::kMap;
};

struct PdqIndexStats {
  size_t entries = 0;           // live entries a search can return
  size_t main_entries = 0;      // in the main segment, tombstoned ones included
  size_t delta_entries = 0;     // added since the last compaction, tombstoned ones included
  size_t removed_entries = 0;   // tombstones not yet reclaimed by Compact
  int tables = 0;               // multi-index tables of the main segment; 0: scanned
  std::vector<int> table_bits;  // width of each table, widest first
  size_t memory_bytes = 0;      // bytes held (arrays, tables, marks; mapped files included)
  std::string kernel;           // "scalar", "avx2" or "avx512"
};

// The work searches did, for benchmarks and tuning: Search adds to these.
struct PdqSearchCounters {
  uint64_t probes = 0;      // table buckets looked up
  uint64_t candidates = 0;  // stored hashes compared with a query hash
  uint64_t scanned = 0;     // of those, compared by a linear scan (the delta, or the main segment)
  // Query hashes whose probes found more candidates than a scan would read
  // (skewed data), answered by scanning the main segment instead.
  uint64_t fallback_scans = 0;
};

class PdqIndex {
 public:
  // An empty index with default options.
  PdqIndex();
  // An empty index. Errors: kInvalidArgument (options out of range),
  // kUnsupported (a kernel this CPU lacks).
  static Result<PdqIndex> Create(const PdqIndexOptions& options);
  // An index of `entries`, built in one pass: much faster than adding them
  // one by one. Errors: kInvalidArgument (a repeated id, or options), as
  // Create, kLimitExceeded (more than kPdqIndexMaxEntries, or out of memory).
  static Result<PdqIndex> Build(std::span<const PdqEntry> entries,
                                const PdqIndexOptions& options = {});
  // An index saved by Save. Errors: kNotFound, kIoError, and the refusals of
  // a damaged, truncated or foreign file: kCorrupt, kUnsupported (another
  // format version, or not a snapshot at all), kInvalidArgument (a snapshot
  // of something else). Every message names the path.
  static Result<PdqIndex> Load(const std::string& path, const PdqIndexOptions& options = {});

  PdqIndex(PdqIndex&&) noexcept;
  PdqIndex& operator=(PdqIndex&&) noexcept;
  ~PdqIndex();

  // Adds an entry, visible to searches that start after this returns.
  // Errors: kInvalidArgument when `id` is already live in the index (remove
  // it first to replace its hash), kLimitExceeded.
  Status Add(uint64_t id, const Hash256& hash);
  // All or nothing: on error nothing is added (a repeated id within
  // `entries` is kInvalidArgument too).
  Status Add(std::span<const PdqEntry> entries);

  // Removes a live entry: searches that start after this returns never see
  // it. Its memory is reclaimed by Compact. Errors: kNotFound.
  Status Remove(uint64_t id);
  // All or nothing: on error nothing is removed.
  Status Remove(std::span<const uint64_t> ids);

  bool Contains(uint64_t id) const;

  // Every live entry within `radius` (inclusive) of any of `queries` (for
  // PDQ, the eight dihedral hashes of one image), each entry once with its
  // smallest distance and the query that reached it; nearest first, ties by
  // ascending id. No queries: no matches. Errors: kInvalidArgument (radius
  // outside [0, kPdqMaxRadius]).
  Result<std::vector<PdqMatch>> Search(std::span<const Hash256> queries,
                                       int radius = kPdqDefaultRadius,
                                       PdqSearchCounters* counters = nullptr) const;
  Result<std::vector<PdqMatch>> Search(const Hash256& query, int radius = kPdqDefaultRadius) const;

  // Rebuilds the main segment from the live entries (main and delta), so
  // that the delta is empty and no tombstones remain. Takes about as long as
  // Build of the same entries (seconds at 10^7) and transiently as much
  // memory again; searches, adds and removes carry on meanwhile (changes made
  // during the rebuild are carried over). One compaction at a time; a second
  // caller waits. Errors: kLimitExceeded (out of memory).
  Status Compact();

  // Writes a snapshot of the index as it is when the call begins (main
  // segment, delta and tombstones: no compaction needed) to `path`,
  // atomically (a temporary file renamed over `path`). Errors: kIoError.
  Status Save(const std::string& path) const;

  PdqIndexStats Stats() const;

  // Bytes held per live entry, everything included (see Stats).
  double BytesPerEntry() const;

 private:
  struct Impl;
  explicit PdqIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace safeguard
