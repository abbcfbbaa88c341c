#include "safeguard/index/flat_index.h"

#include <algorithm>
#include <string>

namespace safeguard {

FlatIndex::FlatIndex(std::span<const PdqEntry> entries)
    : entries_(entries.begin(), entries.end()) {}

Status FlatIndex::Add(uint64_t id, const Hash256& hash) {
  for (const PdqEntry& e : entries_) {
    if (e.id == id) return Status::InvalidArgument("id " + std::to_string(id) + " already stored");
  }
  entries_.push_back({id, hash});
  return Status::Ok();
}

Status FlatIndex::Remove(uint64_t id) {
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].id == id) {
      entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
      return Status::Ok();
    }
  }
  return Status::NotFound("id " + std::to_string(id) + " not stored");
}

std::vector<PdqMatch> FlatIndex::Search(std::span<const Hash256> queries, int radius) const {
  std::vector<PdqMatch> out;
  for (const PdqEntry& e : entries_) {
    int best = -1;
    int variant = 0;
    for (size_t v = 0; v < queries.size(); ++v) {
      const int d = HammingDistance(e.hash, queries[v]);
      if (d <= radius && (best < 0 || d < best)) {
        best = d;
        variant = static_cast<int>(v);
      }
    }
    if (best >= 0) out.push_back({e.id, best, variant});
  }
  std::sort(out.begin(), out.end(), [](const PdqMatch& a, const PdqMatch& b) {
    return a.distance != b.distance ? a.distance < b.distance : a.id < b.id;
  });
  return out;
}

}  // namespace safeguard
