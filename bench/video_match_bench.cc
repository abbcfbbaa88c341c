// `safeguard-bench video-match`: matching one vPDQ query video against a bank
// of stored videos, BankMatcher (the frames in a PDQ index, tallied per
// video) side by side with the reference's algorithm (VpdqMatch, brute force
// over every stored video, as the reference matcher and HMA run it). One JSON
// line per implementation.
//
// The bank is synthetic: random frame hashes (quality 100), every query a
// stored video's frames with up to 12 bits flipped each, so every query has
// one true match. Both implementations must agree on every query's hits (the
// run fails otherwise).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "machine.h"
#include "safeguard/bank/matcher.h"
#include "safeguard/bank/signatures.h"

namespace safeguard::bench {
namespace {

struct VideoMatchBenchOptions {
  int videos = 10000;
  int frames = 60;  // per stored video: a minute at vPDQ's 1 frame/s
  int queries = 20;
  uint64_t seed = 1;
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

int RunVideoMatch(const VideoMatchBenchOptions& o) {
  std::mt19937_64 rng(o.seed);
  auto random_hash = [&] {
    Hash256 h;
    for (uint64_t& w : h.words) w = rng();
    return h;
  };
  Result<std::unique_ptr<Store>> store = OpenStore("sqlite::memory:");
  if (!store.ok()) return 1;
  BankSpec spec;
  spec.name = "videos";
  Result<Bank> bank = (*store)->CreateBank(spec, 1);
  if (!bank.ok()) return 1;
  std::vector<std::vector<VpdqFrame>> videos(static_cast<size_t>(o.videos));
  std::map<int64_t, size_t> entry_video;  // entry id -> index in videos
  {
    Result<std::unique_ptr<EntryWriter>> w = (*store)->BeginWrite(bank->id);
    if (!w.ok()) return 1;
    for (size_t v = 0; v < videos.size(); ++v) {
      for (int f = 0; f < o.frames; ++f) {
        videos[v].push_back(VpdqFrame{random_hash(), 100, f * 30, static_cast<double>(f)});
      }
      Result<Entry> e = SignatureEntry(SignalType::kVpdq, FormatVpdq(videos[v]));
      if (!e.ok() || !(*w)->Add(*e).ok()) return 1;
      entry_video[static_cast<int64_t>(v) + 1] = v;  // ids follow insertion
    }
    if (!(*w)->Commit().ok()) return 1;
  }
  const auto build_start = std::chrono::steady_clock::now();
  Result<BankMatcher> matcher = BankMatcher::Build(**store);
  const double build_s = Seconds(build_start);
  if (!matcher.ok()) {
    std::cerr << matcher.status().ToString() << "\n";
    return 1;
  }

  std::vector<std::vector<VpdqFrame>> queries;
  for (int q = 0; q < o.queries; ++q) {
    std::vector<VpdqFrame> query = videos[rng() % videos.size()];
    for (VpdqFrame& f : query) {
      const int flips = static_cast<int>(rng() % 13);
      for (int k = 0; k < flips; ++k) f.hash.words[rng() % 4] ^= uint64_t{1} << (rng() % 64);
    }
    queries.push_back(std::move(query));
  }
  // BankMatcher.
  std::vector<std::vector<int64_t>> fast_hits;
  const auto fast_start = std::chrono::steady_clock::now();
  for (const auto& query : queries) {
    Result<MatchResult> r = matcher->MatchVpdq(query);
    if (!r.ok()) return 1;
    std::vector<int64_t> ids;
    for (const BankHit& h : r->matches) ids.push_back(h.entry_id);
    std::sort(ids.begin(), ids.end());
    fast_hits.push_back(std::move(ids));
  }
  const double fast_s = Seconds(fast_start) / static_cast<double>(queries.size());
  // The reference algorithm: VpdqMatch against every stored video, a hit at
  // query share >= 80 (HMA's default), as BankMatcher's default.
  const auto brute_start = std::chrono::steady_clock::now();
  size_t disagreements = 0;
  for (size_t q = 0; q < queries.size(); ++q) {
    std::vector<int64_t> ids;
    for (const auto& [id, v] : entry_video) {
      const VpdqMatchResult m = VpdqMatch(queries[q], videos[v], {});
      if (m.query_frames > 0 && m.query_percent > 0 && m.query_percent >= 80.0) ids.push_back(id);
    }
    if (ids != fast_hits[q]) ++disagreements;
  }
  const double brute_s = Seconds(brute_start) / static_cast<double>(queries.size());
  if (disagreements > 0) {
    std::cerr << disagreements << " queries where BankMatcher and VpdqMatch disagree\n";
    return 1;
  }
  const std::string machine = MachineDescription();
  for (bool brute : {true, false}) {
    nlohmann::ordered_json j;
    j["bench"] = "video-match";
    j["impl"] = brute ? "reference-algorithm (VpdqMatch per stored video)"
                      : "safeguard (BankMatcher::MatchVpdq)";
    j["stored_videos"] = o.videos;
    j["frames_per_video"] = o.frames;
    j["query_frames"] = o.frames;
    j["queries"] = o.queries;
    const double s = brute ? brute_s : fast_s;
    j["ms_per_query"] = std::round(s * 1e5) / 100;
    j["speedup_vs_reference_algorithm"] = std::round(brute_s / s * 10) / 10;
    if (!brute) j["matcher_build_s"] = std::round(build_s * 100) / 100;
    j["all_queries_agree"] = true;
    j["threads"] = 1;
    j["machine"] = machine;
    std::cout << j.dump() << std::endl;
  }
  return 0;
}

}  // namespace

void AddVideoMatchSubcommand(CLI::App* app) {
  static VideoMatchBenchOptions o;
  CLI::App* c = app->add_subcommand(
      "video-match", "vPDQ matching against a bank of videos vs the reference's brute force");
  c->add_option("--videos", o.videos, "Stored videos")->capture_default_str();
  c->add_option("--frames", o.frames, "Frames per video (and per query)")->capture_default_str();
  c->add_option("--queries", o.queries, "Query videos timed")->capture_default_str();
  c->add_option("--seed", o.seed, "Random seed")->capture_default_str();
  c->callback([] { std::exit(RunVideoMatch(o)); });
}

}  // namespace safeguard::bench
