// FlatIndex: the exhaustive PDQ index, kept as the oracle for PdqIndex.
//
// Every search compares every query hash with every stored hash, with the
// plainest code possible, so that its answer is right by inspection.
// Property tests compare PdqIndex with it on random and clustered data; the
// benchmark checks every implementation against it. Same search contract as
// PdqIndex::Search (pdq_index.h). Not meant for production sizes.
//
// Example:
//   FlatIndex oracle;
//   Status s = oracle.Add(7, hash);
//   std::vector<PdqMatch> m = oracle.Search(variants, 31);
//
// Thread safety: const methods may run concurrently; Add and Remove need
// exclusive access.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "safeguard/core/hash256.h"
#include "safeguard/core/status.h"
#include "safeguard/index/pdq_match.h"

namespace safeguard {

class FlatIndex {
 public:
  FlatIndex() = default;
  explicit FlatIndex(std::span<const PdqEntry> entries);

  // Errors: kInvalidArgument when `id` is already stored.
  Status Add(uint64_t id, const Hash256& hash);
  // Errors: kNotFound.
  Status Remove(uint64_t id);

  size_t size() const { return entries_.size(); }

  // As PdqIndex::Search: every entry within `radius` (inclusive) of any
  // query, once, with its smallest distance and the first query reaching
  // it; nearest first, ties by id. REQUIRES: 0 <= radius <= 256.
  std::vector<PdqMatch> Search(std::span<const Hash256> queries,
                               int radius = kPdqDefaultRadius) const;

 private:
  std::vector<PdqEntry> entries_;
};

}  // namespace safeguard
