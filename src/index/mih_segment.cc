#include "mih_segment.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "large_buffer.h"

namespace safeguard::index_internal {
namespace {

// Widest table: 2^30 offsets are 4 GiB, already more than any budget allows.
constexpr uint32_t kMaxTableBits = 30;
constexpr int kMinTables = 4;
constexpr int kMaxTables = 32;
// Bucket-offset arrays may take this many bytes per entry (or a few MiB for
// small segments): 16 at 10^7 entries allows 12 tables of 21-22 bits (128
// MB), which keeps the whole index under 110 bytes per hash.
constexpr double kTableBytesPerEntry = 16.0;
constexpr double kMinTableBytes = 4.0 * (1 << 20);
// Scans run in chunks so that their hit buffers stay small.
constexpr size_t kScanChunk = 1 << 16;
// The radius the automatic table choice optimises for: PDQ's threshold.
constexpr int kPlanningRadius = 31;

// Bits [offset, offset + bits) of the hash, bit k being bit k % 64 of word
// k / 64. REQUIRES: bits <= 32, offset + bits <= 256.
inline uint32_t Substring(const uint64_t* words, uint32_t offset, uint32_t bits) {
  const uint32_t word = offset >> 6;
  const uint32_t shift = offset & 63;
  uint64_t v = words[word] >> shift;
  if (shift + bits > 64) v |= words[word + 1] << (64 - shift);
  return static_cast<uint32_t>(v & ((uint64_t{1} << bits) - 1));
}

// Every `bits`-bit mask with at most `radius` bits set, by increasing weight
// (Gosper's hack enumerates each weight in increasing order).
void EnumerateMasks(uint32_t bits, int radius, uint32_t key, std::vector<uint32_t>* out) {
  out->clear();
  out->push_back(key);
  const uint64_t limit = uint64_t{1} << bits;
  for (int weight = 1; weight <= radius && weight <= static_cast<int>(bits); ++weight) {
    uint64_t x = (uint64_t{1} << weight) - 1;
    while (x < limit) {
      out->push_back(key ^ static_cast<uint32_t>(x));
      const uint64_t c = x & (~x + 1);
      const uint64_t r = x + c;
      x = (((r ^ x) >> 2) / c) | r;
    }
  }
}

// Radius of table k (-1: not probed) for radius r over m tables.
inline int TableRadius(int k, int m, int radius) {
  const int s = radius / m;
  const int t = radius % m;
  return k <= t ? s : s - 1;
}

template <typename T>
Result<std::span<const T>> TypedSection(const MappedSnapshot& snap, uint32_t tag, uint64_t count) {
  if (count > std::numeric_limits<uint64_t>::max() / sizeof(T)) {
    return Status::Corrupt(snap.path() + ": section size overflows");
  }
  Result<std::span<const uint8_t>> bytes = snap.Section(tag, count * sizeof(T));
  if (!bytes.ok()) return bytes.status();
  return std::span<const T>(reinterpret_cast<const T*>(bytes->data()), count);
}

}  // namespace

double BallSize(uint32_t bits, int radius) {
  double total = 0;
  double binomial = 1;  // C(bits, i)
  for (int i = 0; i <= radius && i <= static_cast<int>(bits); ++i) {
    total += binomial;
    binomial = binomial * (bits - static_cast<uint32_t>(i)) / (i + 1);
  }
  return total;
}

double ExpectedProbeCost(std::span<const TableSpec> tables, size_t entries, int radius) {
  const int m = static_cast<int>(tables.size());
  double cost = 0;
  for (int k = 0; k < m; ++k) {
    const int s = TableRadius(k, m, radius);
    if (s < 0) continue;
    const double probes = BallSize(tables[k].bits, s);
    cost += probes * kProbeCost + probes * static_cast<double>(entries) /
                                      std::ldexp(1.0, static_cast<int>(tables[k].bits)) *
                                      kCandidateCost;
  }
  return cost;
}

double ExpectedCandidates(std::span<const TableSpec> tables, size_t entries, int radius) {
  const int m = static_cast<int>(tables.size());
  double candidates = 0;
  for (int k = 0; k < m; ++k) {
    const int s = TableRadius(k, m, radius);
    if (s < 0) continue;
    candidates += BallSize(tables[k].bits, s) * static_cast<double>(entries) /
                  std::ldexp(1.0, static_cast<int>(tables[k].bits));
  }
  return candidates;
}

std::vector<TableSpec> ChooseTables(size_t entries, int tables, size_t min_entries_for_tables) {
  if (entries == 0 || entries < min_entries_for_tables) return {};
  auto layout = [](int m) {
    // 256 = m * w + extra: `extra` tables of w + 1 bits first, then w bits.
    std::vector<TableSpec> specs;
    const uint32_t w = 256 / static_cast<uint32_t>(m);
    const uint32_t extra = 256 % static_cast<uint32_t>(m);
    uint32_t offset = 0;
    for (uint32_t k = 0; k < static_cast<uint32_t>(m); ++k) {
      const uint32_t bits = w + (k < extra ? 1 : 0);
      specs.push_back({offset, bits});
      offset += bits;
    }
    return specs;
  };
  if (tables != 0) return layout(tables);
  const double budget =
      std::max(kMinTableBytes, kTableBytesPerEntry * static_cast<double>(entries));
  std::vector<TableSpec> best;
  double best_cost = 0;
  for (int m = kMinTables; m <= kMaxTables; ++m) {
    std::vector<TableSpec> specs = layout(m);
    if (specs.front().bits > kMaxTableBits) continue;
    double bytes = 0;
    for (const TableSpec& t : specs) bytes += 4.0 * std::ldexp(1.0, static_cast<int>(t.bits));
    if (bytes > budget) continue;
    const double cost = ExpectedProbeCost(specs, entries, kPlanningRadius);
    if (best.empty() || cost < best_cost) {
      best = std::move(specs);
      best_cost = cost;
    }
  }
  return best;
}

Result<std::shared_ptr<const MihSegment>> MihSegment::Build(std::span<const PdqEntry> entries,
                                                            std::span<const TableSpec> tables) {
  if (entries.size() > kPdqIndexMaxEntries) {
    return Status::LimitExceeded("index of " + std::to_string(entries.size()) +
                                 " entries exceeds the limit of " +
                                 std::to_string(kPdqIndexMaxEntries));
  }
  if (tables.size() > static_cast<size_t>(kMaxTables)) {
    return Status::InvalidArgument("at most 32 tables");
  }
  const size_t n = entries.size();
  std::shared_ptr<MihSegment> seg(new MihSegment());
  seg->size_ = n;
  Result<std::shared_ptr<uint64_t>> hashes = AllocateLargeArray<uint64_t>(4 * n);
  if (!hashes.ok()) return hashes.status();
  Result<std::shared_ptr<uint64_t>> ids = AllocateLargeArray<uint64_t>(n);
  if (!ids.ok()) return ids.status();
  uint64_t* h = hashes->get();
  uint64_t* id = ids->get();
  for (size_t i = 0; i < n; ++i) {
    std::memcpy(h + 4 * i, entries[i].hash.words.data(), 32);
    id[i] = entries[i].id;
  }
  seg->hashes_ = h;
  seg->ids_ = id;
  seg->keep_alive_.push_back(*hashes);
  seg->keep_alive_.push_back(*ids);

  for (const TableSpec& spec : tables) {
    if (spec.bits == 0 || spec.bits > kMaxTableBits || spec.bit_offset + spec.bits > 256) {
      return Status::InvalidArgument("table of " + std::to_string(spec.bits) + " bits at bit " +
                                     std::to_string(spec.bit_offset));
    }
    const size_t buckets = size_t{1} << spec.bits;
    Result<std::shared_ptr<uint32_t>> offsets_buf = AllocateLargeArray<uint32_t>(buckets + 1);
    if (!offsets_buf.ok()) return offsets_buf.status();
    Result<std::shared_ptr<uint32_t>> positions_buf = AllocateLargeArray<uint32_t>(n);
    if (!positions_buf.ok()) return positions_buf.status();
    uint32_t* offsets = offsets_buf->get();
    uint32_t* positions = positions_buf->get();
    // Counting sort: sizes, then starts, then placement advancing each start
    // to its bucket's end, which is the next bucket's start.
    for (size_t i = 0; i < n; ++i) ++offsets[Substring(h + 4 * i, spec.bit_offset, spec.bits)];
    uint32_t sum = 0;
    for (size_t b = 0; b < buckets; ++b) {
      const uint32_t count = offsets[b];
      offsets[b] = sum;
      sum += count;
    }
    for (size_t i = 0; i < n; ++i) {
      positions[offsets[Substring(h + 4 * i, spec.bit_offset, spec.bits)]++] =
          static_cast<uint32_t>(i);
    }
    std::memmove(offsets + 1, offsets, buckets * sizeof(uint32_t));
    offsets[0] = 0;
    seg->specs_.push_back(spec);
    seg->tables_.push_back({offsets, positions});
    seg->keep_alive_.push_back(*offsets_buf);
    seg->keep_alive_.push_back(*positions_buf);
  }
  seg->meta_.entries = n;
  seg->meta_.table_count = static_cast<uint32_t>(tables.size());
  for (size_t k = 0; k < tables.size(); ++k) seg->meta_.tables[k] = tables[k];
  return std::shared_ptr<const MihSegment>(std::move(seg));
}

void MihSegment::AppendSections(std::vector<SnapshotSection>* sections) const {
  sections->push_back({section::kSegmentMeta, &meta_, sizeof(meta_)});
  sections->push_back({section::kSegmentHashes, hashes_, 32 * uint64_t{size_}});
  sections->push_back({section::kSegmentIds, ids_, 8 * uint64_t{size_}});
  for (size_t k = 0; k < tables_.size(); ++k) {
    const uint32_t tag = static_cast<uint32_t>(k);
    sections->push_back({section::kTableOffsets + tag, tables_[k].offsets,
                         4 * ((uint64_t{1} << specs_[k].bits) + 1)});
    sections->push_back(
        {section::kTablePositions + tag, tables_[k].positions, 4 * uint64_t{size_}});
  }
}

Result<std::shared_ptr<const MihSegment>> MihSegment::FromSnapshot(
    std::shared_ptr<const MappedSnapshot> snapshot) {
  const MappedSnapshot& snap = *snapshot;
  const std::string& path = snap.path();
  std::shared_ptr<MihSegment> seg(new MihSegment());
  Result<std::span<const uint8_t>> meta = snap.Section(section::kSegmentMeta, sizeof(Meta));
  if (!meta.ok()) return meta.status();
  std::memcpy(&seg->meta_, meta->data(), sizeof(Meta));
  const Meta& m = seg->meta_;
  if (m.entries > kPdqIndexMaxEntries || m.table_count > static_cast<uint32_t>(kMaxTables)) {
    return Status::Corrupt(path + ": segment header out of range");
  }
  const size_t n = static_cast<size_t>(m.entries);
  seg->size_ = n;
  Result<std::span<const uint64_t>> hashes =
      TypedSection<uint64_t>(snap, section::kSegmentHashes, 4 * uint64_t{n});
  if (!hashes.ok()) return hashes.status();
  Result<std::span<const uint64_t>> ids = TypedSection<uint64_t>(snap, section::kSegmentIds, n);
  if (!ids.ok()) return ids.status();
  seg->hashes_ = hashes->data();
  seg->ids_ = ids->data();
  // Structural checks: a file with a valid checksum may still have been
  // written by a buggy or hostile tool, and searches trust these arrays.
  for (size_t i = 1; i < n; ++i) {
    if (seg->ids_[i - 1] >= seg->ids_[i]) {
      return Status::Corrupt(path + ": ids not strictly increasing at entry " + std::to_string(i));
    }
  }
  // Exactness rests on the tables tiling all 256 bits.
  uint32_t covered = 0;
  for (uint32_t k = 0; k < m.table_count; ++k) {
    const TableSpec spec = m.tables[k];
    if (spec.bits == 0 || spec.bits > kMaxTableBits || spec.bit_offset != covered ||
        spec.bit_offset + spec.bits > 256) {
      return Status::Corrupt(path + ": table " + std::to_string(k) + " out of range");
    }
    covered += spec.bits;
    const uint64_t buckets = uint64_t{1} << spec.bits;
    Result<std::span<const uint32_t>> offsets =
        TypedSection<uint32_t>(snap, section::kTableOffsets + k, buckets + 1);
    if (!offsets.ok()) return offsets.status();
    Result<std::span<const uint32_t>> positions =
        TypedSection<uint32_t>(snap, section::kTablePositions + k, n);
    if (!positions.ok()) return positions.status();
    const uint32_t* off = offsets->data();
    bool ok = off[0] == 0 && off[buckets] == n;
    for (uint64_t b = 0; ok && b < buckets; ++b) ok = off[b] <= off[b + 1];
    uint32_t max_position = 0;
    for (uint32_t p : *positions) max_position = std::max(max_position, p);
    if (!ok || (n > 0 && max_position >= n)) {
      return Status::Corrupt(path + ": table " + std::to_string(k) + " inconsistent");
    }
    seg->specs_.push_back(spec);
    seg->tables_.push_back({off, positions->data()});
  }
  if (m.table_count > 0 && covered != 256) {
    return Status::Corrupt(path + ": tables cover " + std::to_string(covered) + " of 256 bits");
  }
  seg->keep_alive_.push_back(std::move(snapshot));
  return std::shared_ptr<const MihSegment>(std::move(seg));
}

size_t MihSegment::MemoryBytes() const {
  size_t bytes = size_ * 40;
  for (const TableSpec& s : specs_) bytes += 4 * ((size_t{1} << s.bits) + 1) + 4 * size_;
  return bytes;
}

int64_t MihSegment::Find(uint64_t id) const {
  const uint64_t* end = ids_ + size_;
  const uint64_t* it = std::lower_bound(ids_, end, id);
  return it != end && *it == id ? it - ids_ : -1;
}

void MihSegment::Scan(const uint64_t* query, int radius, const HammingKernelFns& kernel,
                      HitBuffer* hits, PdqSearchCounters* counters) const {
  for (size_t start = 0; start < size_; start += kScanChunk) {
    const size_t count = std::min(kScanChunk, size_ - start);
    hits->Reserve(count);
    hits->size += kernel.scan(query, hashes_ + 4 * start, count, static_cast<uint32_t>(radius),
                              static_cast<uint32_t>(start), hits->pos.data() + hits->size,
                              hits->dist.data() + hits->size);
  }
  if (counters != nullptr) {
    counters->candidates += size_;
    counters->scanned += size_;
  }
}

void MihSegment::Search(const uint64_t* query, int radius, const HammingKernelFns& kernel,
                        SegmentScratch* scratch, HitBuffer* hits,
                        PdqSearchCounters* counters) const {
  const double scan_cost = static_cast<double>(size_) * kScanCost;
  if (tables_.empty() || ExpectedProbeCost(specs_, size_, radius) > scan_cost) {
    Scan(query, radius, kernel, hits, counters);
    return;
  }
  const int m = static_cast<int>(tables_.size());
  std::vector<SegmentScratch::Range>& ranges = scratch->ranges;
  std::vector<uint32_t>& buckets = scratch->buckets;
  ranges.clear();
  uint64_t total = 0;
  uint64_t probes = 0;
  for (int k = 0; k < m; ++k) {
    const int s = TableRadius(k, m, radius);
    if (s < 0) continue;
    const TableSpec& spec = specs_[k];
    const Table& table = tables_[k];
    EnumerateMasks(spec.bits, s, Substring(query, spec.bit_offset, spec.bits), &buckets);
    probes += buckets.size();
    // All of this table's bucket lookups are independent: issue them first
    // so that their cache misses overlap.
    for (uint32_t b : buckets) __builtin_prefetch(table.offsets + b);
    for (uint32_t b : buckets) {
      const uint32_t begin = table.offsets[b];
      const uint32_t end = table.offsets[b + 1];
      if (end > begin) {
        // Start fetching the bucket now; it is read after all probes.
        __builtin_prefetch(table.positions + begin);
        ranges.push_back({table.positions + begin, end - begin});
        total += end - begin;
      }
    }
  }
  if (counters != nullptr) counters->probes += probes;
  // Gathering reads the candidates' positions in order, about as fast per
  // entry as a scan: more of them than entries, and a scan is cheaper.
  if (total > size_) {
    if (counters != nullptr) ++counters->fallback_scans;
    Scan(query, radius, kernel, hits, counters);
    return;
  }
  // Gather the candidates' positions (their buckets were prefetched above)
  // and prefetch each candidate's hash: by the time the kernel verifies
  // them, thousands of independent misses have overlapped.
  std::vector<uint32_t>& candidates = scratch->candidates;
  candidates.resize(total);
  uint32_t* out = candidates.data();
  // Uniform data repeats a candidate across tables rarely; skip the bitmap
  // then, it would cost more than it saves.
  const double expected = ExpectedCandidates(specs_, size_, radius);
  if (static_cast<double>(total) <= 2 * expected + 1024) {
    for (const SegmentScratch::Range& r : ranges) {
      for (uint32_t i = 0; i < r.count; ++i) {
        const uint32_t p = r.positions[i];
        __builtin_prefetch(hashes_ + 4 * static_cast<size_t>(p));
        *out++ = p;
      }
    }
  } else {
    std::vector<uint64_t>& visited = scratch->visited;
    if (visited.size() < (size_ + 63) / 64) visited.assign((size_ + 63) / 64, 0);
    for (const SegmentScratch::Range& r : ranges) {
      for (uint32_t i = 0; i < r.count; ++i) {
        const uint32_t p = r.positions[i];
        const uint64_t bit = uint64_t{1} << (p & 63);
        if ((visited[p >> 6] & bit) != 0) continue;
        visited[p >> 6] |= bit;
        __builtin_prefetch(hashes_ + 4 * static_cast<size_t>(p));
        *out++ = p;
      }
    }
    for (uint32_t* c = candidates.data(); c != out; ++c) visited[*c >> 6] = 0;
    total = static_cast<uint64_t>(out - candidates.data());
  }
  // Skewed data (many hashes sharing the query's substrings, far from it in
  // total) can make even the distinct candidates cost more than a scan.
  if (static_cast<double>(total) * kCandidateCost > scan_cost) {
    if (counters != nullptr) ++counters->fallback_scans;
    Scan(query, radius, kernel, hits, counters);
    return;
  }
  hits->Reserve(total);
  hits->size +=
      kernel.verify(query, hashes_, candidates.data(), total, static_cast<uint32_t>(radius),
                    hits->pos.data() + hits->size, hits->dist.data() + hits->size);
  if (counters != nullptr) counters->candidates += total;
}

}  // namespace safeguard::index_internal
