#include "safeguard/index/pdq_index.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "hamming_kernels.h"
#include "large_buffer.h"
#include "mih_segment.h"
#include "snapshot_file.h"

namespace safeguard {

using index_internal::AllocateLargeArray;
using index_internal::HammingKernel;
using index_internal::HammingKernelFns;
using index_internal::HitBuffer;
using index_internal::MappedSnapshot;
using index_internal::MihSegment;
using index_internal::SegmentScratch;
using index_internal::SnapshotSection;
namespace section = index_internal::section;

namespace {

// Removal marks: 0 while an entry is live, else the sequence number of the
// Remove that tombstoned it. A search that took its snapshot at sequence S
// sees an entry iff its mark is 0 or greater than S, which gives every
// search one consistent view without copying anything on Remove. Written by
// writers and read by searches concurrently, hence atomic_ref.
inline uint64_t LoadMark(const uint64_t* marks, size_t i) {
  return std::atomic_ref<const uint64_t>(marks[i]).load(std::memory_order_acquire);
}
inline void StoreMark(uint64_t* marks, size_t i, uint64_t seq) {
  std::atomic_ref<uint64_t>(marks[i]).store(seq, std::memory_order_release);
}
inline bool VisibleAt(uint64_t mark, uint64_t seq) { return mark == 0 || mark > seq; }

// Entries added since the main segment was built, in arrival order. Append
// only: slots [0, count) of a published state never change again (except
// their removal marks), so searches read them while the writer fills the
// slots after them. When full, the writer copies it into one twice the size;
// searches holding the old one keep it alive.
struct DeltaBuffer {
  explicit DeltaBuffer(size_t cap)
      : capacity(cap),
        hashes(new uint64_t[4 * cap]()),
        ids(new uint64_t[cap]()),
        marks(new uint64_t[cap]()) {}

  size_t capacity;
  std::unique_ptr<uint64_t[]> hashes;
  std::unique_ptr<uint64_t[]> ids;
  std::unique_ptr<uint64_t[]> marks;
};

constexpr size_t kInitialDeltaCapacity = 256;

// What a search reads: immutable once published.
struct State {
  std::shared_ptr<const MihSegment> main;
  std::shared_ptr<uint64_t> main_marks;  // one per main entry
  std::shared_ptr<DeltaBuffer> delta;
  size_t delta_count = 0;
  uint64_t seq = 0;  // every Remove with a sequence number <= seq is visible
  size_t removed_main = 0;
  size_t removed_delta = 0;
};

struct RawHit {
  uint32_t source;  // 0: main segment, 1: delta
  uint32_t pos;
  uint16_t dist;
  int variant;
};

Result<HammingKernel> KernelFor(PdqIndexKernel k) {
  HammingKernel kernel = HammingKernel::kScalar;
  switch (k) {
    case PdqIndexKernel::kAuto:
      return index_internal::BestHammingKernel();
    case PdqIndexKernel::kScalar:
      kernel = HammingKernel::kScalar;
      break;
    case PdqIndexKernel::kAvx2:
      kernel = HammingKernel::kAvx2;
      break;
    case PdqIndexKernel::kAvx512:
      kernel = HammingKernel::kAvx512;
      break;
  }
  if (!index_internal::HammingKernelSupported(kernel)) {
    return Status::Unsupported(std::string("this CPU lacks the ") +
                               index_internal::HammingKernelName(kernel) + " kernel");
  }
  return kernel;
}

Status CheckOptions(const PdqIndexOptions& options) {
  if (options.tables != 0 && (options.tables < 9 || options.tables > 32)) {
    return Status::InvalidArgument("tables must be 0 (automatic) or 9..32, not " +
                                   std::to_string(options.tables));
  }
  return Status::Ok();
}

}  // namespace

struct PdqIndex::Impl {
  PdqIndexOptions options;
  HammingKernel kernel_id = HammingKernel::kScalar;
  HammingKernelFns kernel;

  mutable std::mutex state_mu;
  std::shared_ptr<const State> state;  // guarded by state_mu; replaced by writers

  // Serialises writers. Everything below is guarded by it; `state` is only
  // ever replaced with it held, so writers may read `state` without state_mu.
  std::mutex write_mu;
  uint64_t seq = 0;
  std::unordered_map<uint64_t, uint32_t> delta_live;  // id -> delta slot, live entries only
  bool compacting = false;
  std::vector<std::pair<uint64_t, uint64_t>> remove_log;  // (seq, id) while compacting

  std::mutex compact_mu;  // one compaction at a time

  std::shared_ptr<const State> Snapshot() const {
    std::lock_guard<std::mutex> lock(state_mu);
    return state;
  }
  void Publish(std::shared_ptr<const State> next) {
    std::lock_guard<std::mutex> lock(state_mu);
    state = std::move(next);
  }

  // REQUIRES: write_mu held.
  bool LiveLocked(uint64_t id) const {
    if (delta_live.count(id) != 0) return true;
    const int64_t pos = state->main->Find(id);
    return pos >= 0 && LoadMark(state->main_marks.get(), static_cast<size_t>(pos)) == 0;
  }
};

namespace {

// A state with `main` as main segment, no delta, no tombstones.
Result<std::shared_ptr<State>> FreshState(std::shared_ptr<const MihSegment> main) {
  auto st = std::make_shared<State>();
  Result<std::shared_ptr<uint64_t>> marks = AllocateLargeArray<uint64_t>(main->size());
  if (!marks.ok()) return marks.status();
  st->main = std::move(main);
  st->main_marks = *marks;
  st->delta = std::make_shared<DeltaBuffer>(kInitialDeltaCapacity);
  return st;
}

}  // namespace

PdqIndex::PdqIndex() : PdqIndex(std::make_unique<Impl>()) {
  impl_->kernel_id = index_internal::BestHammingKernel();
  impl_->kernel = index_internal::HammingKernelFunctions(impl_->kernel_id);
  Result<std::shared_ptr<const MihSegment>> empty = MihSegment::Build({}, {});
  Result<std::shared_ptr<State>> st =
      empty.ok() ? FreshState(*empty) : Result<std::shared_ptr<State>>(empty.status());
  // An empty index allocates a few hundred bytes; failing that, nothing works.
  if (!st.ok()) std::abort();
  impl_->state = *st;
}

PdqIndex::PdqIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PdqIndex::PdqIndex(PdqIndex&&) noexcept = default;
PdqIndex& PdqIndex::operator=(PdqIndex&&) noexcept = default;
PdqIndex::~PdqIndex() = default;

Result<PdqIndex> PdqIndex::Create(const PdqIndexOptions& options) { return Build({}, options); }

Result<PdqIndex> PdqIndex::Build(std::span<const PdqEntry> entries,
                                 const PdqIndexOptions& options) {
  if (Status s = CheckOptions(options); !s.ok()) return s;
  Result<HammingKernel> kernel = KernelFor(options.kernel);
  if (!kernel.ok()) return kernel.status();
  if (entries.size() > kPdqIndexMaxEntries) {
    return Status::LimitExceeded(std::to_string(entries.size()) +
                                 " entries exceed the index limit of " +
                                 std::to_string(kPdqIndexMaxEntries));
  }
  // Segments store entries by increasing id; skip the sort when the caller's
  // entries already are (a common case: ids assigned in order).
  std::vector<PdqEntry> sorted;
  std::span<const PdqEntry> in_order = entries;
  bool increasing = true;
  for (size_t i = 1; i < entries.size() && increasing; ++i) {
    increasing = entries[i - 1].id < entries[i].id;
  }
  if (!increasing) {
    sorted.assign(entries.begin(), entries.end());
    std::sort(sorted.begin(), sorted.end(),
              [](const PdqEntry& a, const PdqEntry& b) { return a.id < b.id; });
    for (size_t i = 1; i < sorted.size(); ++i) {
      if (sorted[i - 1].id == sorted[i].id) {
        return Status::InvalidArgument("id " + std::to_string(sorted[i].id) + " appears twice");
      }
    }
    in_order = sorted;
  }
  const std::vector<index_internal::TableSpec> tables =
      index_internal::ChooseTables(in_order.size(), options.tables, options.min_entries_for_tables);
  Result<std::shared_ptr<const MihSegment>> main = MihSegment::Build(in_order, tables);
  if (!main.ok()) return main.status();
  Result<std::shared_ptr<State>> st = FreshState(*main);
  if (!st.ok()) return st.status();
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->kernel_id = *kernel;
  impl->kernel = index_internal::HammingKernelFunctions(*kernel);
  impl->state = *st;
  return PdqIndex(std::move(impl));
}

Status PdqIndex::Add(uint64_t id, const Hash256& hash) {
  const PdqEntry entry{id, hash};
  return Add(std::span<const PdqEntry>(&entry, 1));
}

Status PdqIndex::Add(std::span<const PdqEntry> entries) {
  Impl& im = *impl_;
  std::lock_guard<std::mutex> lock(im.write_mu);
  const State& cur = *im.state;
  if (cur.main->size() + cur.delta_count + entries.size() > kPdqIndexMaxEntries) {
    return Status::LimitExceeded("the index would exceed " + std::to_string(kPdqIndexMaxEntries) +
                                 " entries; compact it");
  }
  std::unordered_set<uint64_t> batch;
  for (const PdqEntry& e : entries) {
    if (im.LiveLocked(e.id) || !batch.insert(e.id).second) {
      return Status::InvalidArgument("id " + std::to_string(e.id) + " is already in the index");
    }
  }
  auto next = std::make_shared<State>(cur);
  if (cur.delta_count + entries.size() > cur.delta->capacity) {
    size_t capacity = cur.delta->capacity;
    while (capacity < cur.delta_count + entries.size()) capacity *= 2;
    auto grown = std::make_shared<DeltaBuffer>(capacity);
    std::memcpy(grown->hashes.get(), cur.delta->hashes.get(), 32 * cur.delta_count);
    std::memcpy(grown->ids.get(), cur.delta->ids.get(), 8 * cur.delta_count);
    for (size_t i = 0; i < cur.delta_count; ++i) {
      grown->marks[i] = LoadMark(cur.delta->marks.get(), i);
    }
    next->delta = std::move(grown);
  }
  DeltaBuffer& delta = *next->delta;
  for (const PdqEntry& e : entries) {
    const size_t slot = next->delta_count++;
    std::memcpy(delta.hashes.get() + 4 * slot, e.hash.words.data(), 32);
    delta.ids[slot] = e.id;
    im.delta_live[e.id] = static_cast<uint32_t>(slot);
  }
  im.Publish(std::move(next));
  return Status::Ok();
}

Status PdqIndex::Remove(uint64_t id) { return Remove(std::span<const uint64_t>(&id, 1)); }

Status PdqIndex::Remove(std::span<const uint64_t> ids) {
  Impl& im = *impl_;
  std::lock_guard<std::mutex> lock(im.write_mu);
  const State& cur = *im.state;
  std::unordered_set<uint64_t> batch;
  for (uint64_t id : ids) {
    if (!im.LiveLocked(id) || !batch.insert(id).second) {
      return Status::NotFound("id " + std::to_string(id) + " is not in the index");
    }
  }
  const uint64_t seq = ++im.seq;
  auto next = std::make_shared<State>(cur);
  next->seq = seq;
  for (uint64_t id : ids) {
    if (auto it = im.delta_live.find(id); it != im.delta_live.end()) {
      StoreMark(cur.delta->marks.get(), it->second, seq);
      im.delta_live.erase(it);
      ++next->removed_delta;
    } else {
      StoreMark(cur.main_marks.get(), static_cast<size_t>(cur.main->Find(id)), seq);
      ++next->removed_main;
    }
    if (im.compacting) im.remove_log.emplace_back(seq, id);
  }
  im.Publish(std::move(next));
  return Status::Ok();
}

bool PdqIndex::Contains(uint64_t id) const {
  std::lock_guard<std::mutex> lock(impl_->write_mu);
  return impl_->LiveLocked(id);
}

Result<std::vector<PdqMatch>> PdqIndex::Search(const Hash256& query, int radius) const {
  return Search(std::span<const Hash256>(&query, 1), radius);
}

Result<std::vector<PdqMatch>> PdqIndex::Search(std::span<const Hash256> queries, int radius,
                                               PdqSearchCounters* counters) const {
  if (radius < 0 || radius > kPdqMaxRadius) {
    return Status::InvalidArgument("radius " + std::to_string(radius) + " outside [0, " +
                                   std::to_string(kPdqMaxRadius) + "]");
  }
  const Impl& im = *impl_;
  const std::shared_ptr<const State> st = im.Snapshot();
  SegmentScratch scratch;
  HitBuffer hits;
  std::vector<RawHit> raw;
  for (size_t v = 0; v < queries.size(); ++v) {
    const uint64_t* q = queries[v].words.data();
    hits.size = 0;
    st->main->Search(q, radius, im.kernel, &scratch, &hits, counters);
    for (size_t i = 0; i < hits.size; ++i) {
      raw.push_back({0, hits.pos[i], hits.dist[i], static_cast<int>(v)});
    }
    if (st->delta_count > 0) {
      hits.size = 0;
      hits.Reserve(st->delta_count);
      hits.size =
          im.kernel.scan(q, st->delta->hashes.get(), st->delta_count, static_cast<uint32_t>(radius),
                         0, hits.pos.data(), hits.dist.data());
      for (size_t i = 0; i < hits.size; ++i) {
        raw.push_back({1, hits.pos[i], hits.dist[i], static_cast<int>(v)});
      }
      if (counters != nullptr) {
        counters->candidates += st->delta_count;
        counters->scanned += st->delta_count;
      }
    }
  }
  // One result per entry: its smallest distance, then its first variant.
  std::sort(raw.begin(), raw.end(), [](const RawHit& a, const RawHit& b) {
    return std::tie(a.source, a.pos, a.dist, a.variant) <
           std::tie(b.source, b.pos, b.dist, b.variant);
  });
  std::vector<PdqMatch> out;
  for (size_t i = 0; i < raw.size(); ++i) {
    const RawHit& h = raw[i];
    if (i > 0 && raw[i - 1].source == h.source && raw[i - 1].pos == h.pos) continue;
    if (h.source == 0) {
      if (!VisibleAt(LoadMark(st->main_marks.get(), h.pos), st->seq)) continue;
      out.push_back({st->main->ids()[h.pos], h.dist, h.variant});
    } else {
      if (!VisibleAt(LoadMark(st->delta->marks.get(), h.pos), st->seq)) continue;
      out.push_back({st->delta->ids[h.pos], h.dist, h.variant});
    }
  }
  std::sort(out.begin(), out.end(), [](const PdqMatch& a, const PdqMatch& b) {
    return a.distance != b.distance ? a.distance < b.distance : a.id < b.id;
  });
  return out;
}

Status PdqIndex::Compact() {
  Impl& im = *impl_;
  std::lock_guard<std::mutex> compact_lock(im.compact_mu);
  std::shared_ptr<const State> snap;
  {
    std::lock_guard<std::mutex> lock(im.write_mu);
    snap = im.state;
    im.compacting = true;
    im.remove_log.clear();
  }
  auto stop_compacting = [&] {
    std::lock_guard<std::mutex> lock(im.write_mu);
    im.compacting = false;
    im.remove_log.clear();
  };

  // The live entries as of the snapshot, by increasing id. Removes after it
  // have larger sequence numbers and count as live here; they are replayed
  // onto the new segment below.
  const uint64_t seq = snap->seq;
  const MihSegment& main = *snap->main;
  std::vector<PdqEntry> delta_live;
  for (size_t i = 0; i < snap->delta_count; ++i) {
    if (!VisibleAt(LoadMark(snap->delta->marks.get(), i), seq)) continue;
    PdqEntry e;
    e.id = snap->delta->ids[i];
    std::memcpy(e.hash.words.data(), snap->delta->hashes.get() + 4 * i, 32);
    delta_live.push_back(e);
  }
  std::sort(delta_live.begin(), delta_live.end(),
            [](const PdqEntry& a, const PdqEntry& b) { return a.id < b.id; });
  std::vector<PdqEntry> live;
  live.reserve(main.size() - snap->removed_main + delta_live.size());
  size_t d = 0;
  for (size_t i = 0; i < main.size(); ++i) {
    if (!VisibleAt(LoadMark(snap->main_marks.get(), i), seq)) continue;
    const uint64_t id = main.ids()[i];
    while (d < delta_live.size() && delta_live[d].id < id) live.push_back(delta_live[d++]);
    PdqEntry e;
    e.id = id;
    std::memcpy(e.hash.words.data(), main.hash_words() + 4 * i, 32);
    live.push_back(e);
  }
  while (d < delta_live.size()) live.push_back(delta_live[d++]);
  delta_live = {};

  const auto tables = index_internal::ChooseTables(live.size(), im.options.tables,
                                                   im.options.min_entries_for_tables);
  Result<std::shared_ptr<const MihSegment>> built = MihSegment::Build(live, tables);
  live = {};
  if (!built.ok()) {
    stop_compacting();
    return built.status();
  }
  Result<std::shared_ptr<State>> fresh = FreshState(*built);
  if (!fresh.ok()) {
    stop_compacting();
    return fresh.status();
  }

  std::lock_guard<std::mutex> lock(im.write_mu);
  const State& cur = *im.state;
  State& next = **fresh;
  next.seq = cur.seq;
  // Entries added during the rebuild stay in the delta, marks included.
  const size_t carried = cur.delta_count - snap->delta_count;
  size_t capacity = kInitialDeltaCapacity;
  while (capacity < carried) capacity *= 2;
  next.delta = std::make_shared<DeltaBuffer>(capacity);
  im.delta_live.clear();
  for (size_t i = 0; i < carried; ++i) {
    const size_t from = snap->delta_count + i;
    std::memcpy(next.delta->hashes.get() + 4 * i, cur.delta->hashes.get() + 4 * from, 32);
    next.delta->ids[i] = cur.delta->ids[from];
    next.delta->marks[i] = LoadMark(cur.delta->marks.get(), from);
    if (next.delta->marks[i] == 0) {
      im.delta_live[next.delta->ids[i]] = static_cast<uint32_t>(i);
    } else {
      ++next.removed_delta;
    }
  }
  next.delta_count = carried;
  // Removes during the rebuild of entries that were live at the snapshot:
  // those entries are in the new main segment. (A remove of an entry added
  // during the rebuild is already in the carried marks; such an id, if also
  // in the new segment, was removed there first, earlier in the log.)
  for (const auto& [remove_seq, id] : im.remove_log) {
    const int64_t pos = next.main->Find(id);
    if (pos < 0 || LoadMark(next.main_marks.get(), static_cast<size_t>(pos)) != 0) continue;
    StoreMark(next.main_marks.get(), static_cast<size_t>(pos), remove_seq);
    ++next.removed_main;
  }
  im.compacting = false;
  im.remove_log.clear();
  im.Publish(std::move(*fresh));
  return Status::Ok();
}

Status PdqIndex::Save(const std::string& path) const {
  const std::shared_ptr<const State> st = impl_->Snapshot();
  std::vector<SnapshotSection> sections;
  st->main->AppendSections(&sections);
  // The delta's live entries and the main segment's tombstones, as of the
  // snapshot: loading restores exactly what searches saw.
  std::vector<uint64_t> delta_hashes;
  std::vector<uint64_t> delta_ids;
  for (size_t i = 0; i < st->delta_count; ++i) {
    if (!VisibleAt(LoadMark(st->delta->marks.get(), i), st->seq)) continue;
    delta_hashes.insert(delta_hashes.end(), st->delta->hashes.get() + 4 * i,
                        st->delta->hashes.get() + 4 * i + 4);
    delta_ids.push_back(st->delta->ids[i]);
  }
  std::vector<uint64_t> removed;
  for (size_t i = 0; i < st->main->size(); ++i) {
    if (!VisibleAt(LoadMark(st->main_marks.get(), i), st->seq)) {
      removed.push_back(st->main->ids()[i]);
    }
  }
  sections.push_back({section::kDeltaHashes, delta_hashes.data(), 8 * delta_hashes.size()});
  sections.push_back({section::kDeltaIds, delta_ids.data(), 8 * delta_ids.size()});
  sections.push_back({section::kRemovedIds, removed.data(), 8 * removed.size()});
  return index_internal::WriteSnapshot(path, index_internal::SnapshotKind::kPdqIndex, sections);
}

Result<PdqIndex> PdqIndex::Load(const std::string& path, const PdqIndexOptions& options) {
  if (Status s = CheckOptions(options); !s.ok()) return s;
  Result<HammingKernel> kernel = KernelFor(options.kernel);
  if (!kernel.ok()) return kernel.status();
  Result<std::shared_ptr<const MappedSnapshot>> snap = MappedSnapshot::Open(
      path, index_internal::SnapshotKind::kPdqIndex,
      options.load_backing == PdqLoadBacking::kMap ? index_internal::SnapshotBacking::kMap
                                                   : index_internal::SnapshotBacking::kCopy);
  if (!snap.ok()) return snap.status();
  Result<std::span<const uint8_t>> delta_hashes = (*snap)->Section(section::kDeltaHashes);
  if (!delta_hashes.ok()) return delta_hashes.status();
  Result<std::span<const uint8_t>> delta_ids = (*snap)->Section(section::kDeltaIds);
  if (!delta_ids.ok()) return delta_ids.status();
  Result<std::span<const uint8_t>> removed = (*snap)->Section(section::kRemovedIds);
  if (!removed.ok()) return removed.status();
  const size_t delta_count = delta_ids->size() / 8;
  if (delta_ids->size() % 8 != 0 || delta_hashes->size() != 32 * delta_count ||
      removed->size() % 8 != 0) {
    return Status::Corrupt(path + ": delta or tombstone section of the wrong size");
  }
  Result<std::shared_ptr<const MihSegment>> main = MihSegment::FromSnapshot(*snap);
  if (!main.ok()) return main.status();
  Result<std::shared_ptr<State>> st = FreshState(*main);
  if (!st.ok()) return st.status();

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->kernel_id = *kernel;
  impl->kernel = index_internal::HammingKernelFunctions(*kernel);
  State& state = **st;
  // Tombstones carry sequence number 1; the loaded state is at 1.
  impl->seq = 1;
  state.seq = 1;
  for (size_t i = 0; i < removed->size() / 8; ++i) {
    uint64_t id;
    std::memcpy(&id, removed->data() + 8 * i, 8);
    const int64_t pos = state.main->Find(id);
    if (pos < 0 || state.main_marks.get()[pos] != 0) {
      return Status::Corrupt(path + ": tombstone for unknown id " + std::to_string(id));
    }
    state.main_marks.get()[pos] = 1;
    ++state.removed_main;
  }
  size_t capacity = kInitialDeltaCapacity;
  while (capacity < delta_count) capacity *= 2;
  state.delta = std::make_shared<DeltaBuffer>(capacity);
  std::memcpy(state.delta->hashes.get(), delta_hashes->data(), delta_hashes->size());
  std::memcpy(state.delta->ids.get(), delta_ids->data(), delta_ids->size());
  state.delta_count = delta_count;
  impl->state = *st;
  for (size_t i = 0; i < delta_count; ++i) {
    const uint64_t id = state.delta->ids[i];
    if (impl->LiveLocked(id)) {
      return Status::Corrupt(path + ": id " + std::to_string(id) + " stored twice");
    }
    impl->delta_live[id] = static_cast<uint32_t>(i);
  }
  return PdqIndex(std::move(impl));
}

PdqIndexStats PdqIndex::Stats() const {
  const std::shared_ptr<const State> st = impl_->Snapshot();
  PdqIndexStats s;
  s.main_entries = st->main->size();
  s.delta_entries = st->delta_count;
  s.removed_entries = st->removed_main + st->removed_delta;
  s.entries = s.main_entries + s.delta_entries - s.removed_entries;
  s.tables = static_cast<int>(st->main->tables().size());
  for (const auto& t : st->main->tables()) s.table_bits.push_back(static_cast<int>(t.bits));
  // Main segment, its removal marks, the delta's buffers, and the writer's
  // id map of the delta (about 32 bytes per entry in a node-based map).
  s.memory_bytes = st->main->MemoryBytes() + 8 * st->main->size() + 48 * st->delta->capacity +
                   32 * st->delta_count;
  s.kernel = index_internal::HammingKernelName(impl_->kernel_id);
  return s;
}

double PdqIndex::BytesPerEntry() const {
  const PdqIndexStats s = Stats();
  return s.entries == 0 ? 0.0
                        : static_cast<double>(s.memory_bytes) / static_cast<double>(s.entries);
}

}  // namespace safeguard
