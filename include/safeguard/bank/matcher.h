// BankMatcher: in-memory indexes over the live entries of every enabled bank
// (a PdqIndex for PDQ, a DigestIndex for MD5/SHA-1/SHA-256, a PdqIndex of
// the frames of every vPDQ video, the TMK+PDQF signatures), kept current by
// following the store's change log.
//
// Video:
// - vPDQ: the stored videos' frames (quality-filtered and deduplicated as
//   VpdqPrepare does, with the bank's pdq_min_quality) go into one PDQ
//   index; each frame of the query is searched there and the frames found
//   are tallied per stored video. An entry is hit when the share of the
//   query's frames found in it and the share of its frames found in the
//   query reach VideoMatchOptions' percentages (frames within the bank's
//   pdq_max_distance, inclusive). The numbers equal VpdqMatch's, the brute
//   force oracle.
// - TMK: every stored signature is scored at level 1 (cosine of averages,
//   cheap), and only those reaching the level-1 threshold at level 2; both
//   must reach their thresholds. Equal to TmkCompare on every entry.
//   Memory: a TMK+PDQF signature is 257 KiB, held whole unless
//   MatcherOptions::tmk_loader is set: then only its level-1 vector (1 KiB)
//   is held, and the signatures that pass level 1 are read through it.
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
// Refresh needs exclusive access (no concurrent Match*); CompactGrownIndexes
// may run beside Match*, not beside Refresh.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "safeguard/core/hash256.h"
#include "safeguard/core/status.h"
#include "safeguard/hash/tmk.h"
#include "safeguard/hash/vpdq.h"
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
  // vPDQ: the share (percent) of the query's frames found in the entry's
  // video, and of the entry's frames found in the query.
  double query_percent = 0;
  double entry_percent = 0;
  // TMK: the level-1 and level-2 scores.
  double level1 = 0;
  double level2 = 0;
};

// The scores a hit carries beyond its distance, by name, for output: vPDQ
// ("query_percent", "entry_percent"), TMK ("level1", "level2"); none for
// the other signals.
std::vector<std::pair<std::string_view, double>> HitScores(const BankHit& hit);

// When a video entry is hit.
struct VideoMatchOptions {
  // vPDQ: percentages of the query's frames and of the entry's frames that
  // must be found (inclusive). HMA's defaults: 80 and 0 (a clip matches a
  // longer stored video).
  double vpdq_query_percent = 80.0;
  double vpdq_entry_percent = 0.0;
  // TMK: the reference's thresholds (inclusive).
  double tmk_level1 = 0.7;
  double tmk_level2 = 0.7;
};

struct MatchResult {
  std::vector<BankHit> matches;  // block banks; nearest first
  std::vector<BankHit> allow;    // allow banks; nearest first
};

// Reads an entry's payload, e.g. through a second connection to the store.
using PayloadLoader = std::function<Result<std::string>(int64_t entry_id)>;

struct MatcherOptions {
  // Set: TMK entries keep only their level-1 vector in memory, and the
  // signatures of those that pass level 1 are read through this at match
  // time. Called from any number of Match* threads at once (it must be
  // thread-safe) and never while Refresh runs.
  PayloadLoader tmk_loader;
};

// Frames of one vPDQ query searched at most (a four-hour video at one frame
// per second is 14,400).
inline constexpr size_t kMaxVpdqQueryFrames = 100'000;

class BankMatcher {
 public:
  // Indexes every live entry of every enabled bank, then follows the log.
  static Result<BankMatcher> Build(Store& store, MatcherOptions options = {});

  BankMatcher(BankMatcher&&) noexcept;
  BankMatcher& operator=(BankMatcher&&) noexcept;
  ~BankMatcher();

  // Applies the changes logged since sequence(): added and removed entries,
  // banks created, enabled, disabled or changed.
  Status Refresh(Store& store);

  // Entries that Refresh adds go to the PDQ indexes' delta segments, which
  // searches scan linearly: this folds a delta into its main segment once it
  // holds over 4096 entries and 1/16 of the main segment (or once removals
  // pile up), a rebuild taking seconds at 10^7 entries. Match* may run
  // meanwhile (call it under a shared lock, after Refresh); Refresh may not.
  Status CompactGrownIndexes();

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

  // Stored vPDQ videos that the query's frames match (see the top of this
  // file); best first (query share, then entry share, then entry id). At most
  // kMaxVpdqQueryFrames frames (kLimitExceeded beyond).
  Result<MatchResult> MatchVpdq(std::span<const VpdqFrame> frames,
                                const VideoMatchOptions& options = {}) const;

  // Stored TMK+PDQF signatures that match the query; best first (level 2,
  // then level 1, then entry id). Signatures with other parameters are not
  // compared. Errors: the tmk_loader's, or kCorrupt for a payload it reads
  // that does not parse.
  Result<MatchResult> MatchTmk(const TmkSignature& query,
                               const VideoMatchOptions& options = {}) const;

 private:
  struct Impl;
  explicit BankMatcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace safeguard
