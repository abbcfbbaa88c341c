// Vocabulary shared by the PDQ indexes (PdqIndex and its oracle, FlatIndex):
// what is stored, what a search returns, and the radius conventions.
//
// Radius: a stored hash matches a query hash when their Hamming distance is
// <= radius (inclusive, as PDQ's "<= 31"). Any radius in [0, kPdqMaxRadius]
// is accepted; the default is PDQ's match threshold.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>

#include "safeguard/core/hash256.h"

namespace safeguard {

// The same value as kPdqMatchThreshold (safeguard/hash/pdq.h), restated so
// that the index depends on core only: match iff distance <= 31.
inline constexpr int kPdqDefaultRadius = 31;
// The largest radius a search accepts. Beyond it PDQ matches nothing
// meaningful (unrelated images are ~128 bits apart) and a search would only
// serve as an oracle for inverting hashes.
inline constexpr int kPdqMaxRadius = 64;

// One stored hash and the caller's id for it (e.g. a bank entry's id).
struct PdqEntry {
  uint64_t id = 0;
  Hash256 hash;
};

// One stored entry within the radius of at least one query hash.
struct PdqMatch {
  uint64_t id = 0;
  // The smallest Hamming distance from the entry to any query hash; <= radius.
  int distance = 0;
  // Index into the query span of the hash at that distance; the smallest such
  // index on ties. With the eight dihedral hashes as queries, in the order of
  // PdqHashes::dihedral, this is the transform that matched.
  int variant = 0;

  friend bool operator==(const PdqMatch&, const PdqMatch&) = default;
};

}  // namespace safeguard
