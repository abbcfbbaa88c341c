// BankMatcher: in-memory indexes over the live entries of every enabled bank
// (a PdqIndex for PDQ, a DigestIndex for MD5/SHA-1/SHA-256), kept current by
// following the store's change log.
//
// Block banks give matches; allow banks (known false positives) give hits
// reported alongside, so that policy can suppress a match.
//
// Example:
//   Result<BankMatcher> m = BankMatcher::Build(store);
//   MatchResult r = *m->MatchPdq(hashes.dihedral, hashes.quality);
//   ... later: Status s = m->Refresh(store);   // applies what changed since
//
// Thread safety: Match* may be called from any number of threads at once;
// Refresh needs exclusive access (no concurrent Match*).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "safeguard/core/hash256.h"
#include "safeguard/core/status.h"
#include "safeguard/store/store.h"

namespace safeguard {

// One entry that matched.
struct BankHit {
  std::string bank;
  BankKind kind = BankKind::kBlock;
  int64_t entry_id = 0;
  SignalType signal = SignalType::kPdq;
  int distance = 0;  // Hamming distance for PDQ (<= the bank's threshold); 0 for digests
  int variant = 0;   // PDQ: which query hash (dihedral transform) matched
  Labels bank_labels;
  Labels entry_labels;
};

struct MatchResult {
  std::vector<BankHit> matches;  // block banks; nearest first
  std::vector<BankHit> allow;    // allow banks; nearest first
};

class BankMatcher {
 public:
  // Indexes every live entry of every enabled bank, then follows the log.
  static Result<BankMatcher> Build(Store& store);

  BankMatcher(BankMatcher&&) noexcept;
  BankMatcher& operator=(BankMatcher&&) noexcept;
  ~BankMatcher();

  // Applies the changes logged since sequence(): added and removed entries,
  // banks created, enabled, disabled or changed.
  Status Refresh(Store& store);

  // The last change applied.
  int64_t sequence() const;
  // Live entries indexed.
  size_t size() const;

  // Entries within each bank's PDQ threshold (inclusive) of any of `hashes`
  // (one hash, or the eight dihedral ones). When `quality` is given, banks
  // whose minimum quality it is below are not consulted (their matches would
  // be unreliable); hashes sent without a quality are matched as given.
  Result<MatchResult> MatchPdq(std::span<const Hash256> hashes,
                               std::optional<int> quality = std::nullopt) const;

  // Entries with exactly this digest. REQUIRES: signal is a digest type and
  // hex is canonical (NormalizeSignalValue); anything else matches nothing.
  MatchResult MatchDigest(SignalType signal, std::string_view hex) const;

 private:
  struct Impl;
  explicit BankMatcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace safeguard
