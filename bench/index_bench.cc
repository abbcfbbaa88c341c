// safeguard-bench index: exact PDQ range search over 10^6 and 10^7 stored
// hashes, side by side with FAISS in the same process on the same data.
//
//   safeguard-bench index [--n N] [--queries Q] [--workload NAME]...
//                         [--peer-seconds S] [--oracle-seconds S] [--radius R]
//
// Workloads: random-1M, clustered-1M, random-10M, clustered-10M (all four by
// default; --n N runs random-N and clustered-N instead). Every query is one
// image's eight hashes searched at once at radius 31. Implementations:
//
//   safeguard             PdqIndex (multi-index hashing + SIMD verification)
//   faiss-flat            faiss::IndexBinaryFlat::range_search (exhaustive)
//   faiss-multihash       faiss::IndexBinaryMultiHash(256, 16 tables, 16 bits), nflip = 1:
//                         the configuration of Meta's HMA
//   oracle                safeguard::FlatIndex, the plain exhaustive scan
//
// FAISS's binary range_search returns distances < radius (strict), so it is
// given radius + 1. Every measurement runs on one thread (FAISS's OpenMP is
// set to one thread), so figures are per core. One JSON object per line; see
// docs/index.md for the fields. Workloads digests-1M and digests-10M time
// the exact-digest index (SHA-256 and MD5) alone.

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "machine.h"
#include "safeguard/index/digest_index.h"
#include "safeguard/index/flat_index.h"
#include "safeguard/index/pdq_index.h"

#ifdef SAFEGUARD_HAVE_FAISS
#include <faiss/IndexBinaryFlat.h>
#include <faiss/IndexBinaryHash.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <omp.h>
#endif

namespace safeguard::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Answer = std::vector<PdqMatch>;
using Query = std::array<Hash256, 8>;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

std::string Machine() { return MachineDescription(); }

size_t AvailableBytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  size_t kib = 0;
  while (in >> key >> kib) {
    if (key == "MemAvailable:") return kib * 1024;
    in.ignore(1 << 10, '\n');
  }
  return 0;
}

// Touches and releases `bytes` of memory before anything is timed. On a
// virtual machine whose memory the host backs lazily, the first touch of
// each page costs far more than later ones (about 2.4 s per GiB on the
// reference machine, against 0.07 s); without this, whichever phase first
// allocates (a build, a snapshot load) would be charged for it.
void Prefault(size_t bytes) {
  const size_t page = 4096;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  (void)madvise(p, bytes, MADV_HUGEPAGE);
  for (size_t i = 0; i < bytes; i += page) static_cast<volatile char*>(p)[i] = 1;
  munmap(p, bytes);
}

Hash256 RandomHash(std::mt19937_64& rng) {
  Hash256 h;
  for (uint64_t& w : h.words) w = rng();
  return h;
}

Hash256 FlipBits(Hash256 h, int k, std::mt19937_64& rng) {
  std::array<int, 256> bits;
  std::iota(bits.begin(), bits.end(), 0);
  for (int i = 0; i < k; ++i) {
    std::swap(bits[i], bits[std::uniform_int_distribution<int>(i, 255)(rng)]);
    h.words[bits[i] >> 6] ^= uint64_t{1} << (bits[i] & 63);
  }
  return h;
}

// Uniformly random hashes, or groups of 100 near-duplicates: a random centre
// and members at 0..20 bits from it (uniform), as many copies of one viral
// image would give. Ids 0..n-1.
std::vector<PdqEntry> MakeEntries(const std::string& kind, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<PdqEntry> entries(n);
  Hash256 centre;
  for (size_t i = 0; i < n; ++i) {
    entries[i].id = i;
    if (kind == "random") {
      entries[i].hash = RandomHash(rng);
    } else {
      if (i % 100 == 0) centre = RandomHash(rng);
      entries[i].hash = FlipBits(centre, static_cast<int>(rng() % 21), rng);
    }
  }
  return entries;
}

// Stand-ins for the seven other dihedral transforms: the hash of a rotated
// or flipped image is, bit for bit, a fixed permutation of the DCT
// coefficients with some signs flipped, so each variant here is a fixed
// random permutation of the 256 bits XOR a fixed random mask.
struct Transform {
  std::array<int, 256> to;
  Hash256 mask;
};

std::vector<Transform> MakeTransforms() {
  std::mt19937_64 rng(0x5afe);
  std::vector<Transform> t(7);
  for (Transform& x : t) {
    std::iota(x.to.begin(), x.to.end(), 0);
    std::shuffle(x.to.begin(), x.to.end(), rng);
    x.mask = RandomHash(rng);
  }
  return t;
}

Hash256 Apply(const Transform& t, const Hash256& h) {
  Hash256 out;
  for (int k = 0; k < 256; ++k) {
    if (h.bit(k)) out.set_bit(t.to[k]);
  }
  for (int w = 0; w < 4; ++w) out.words[w] ^= t.mask.words[w];
  return out;
}

// Half the queries are a stored hash with 0..8 bits flipped (an upload of
// known material, re-encoded), half a random hash (an unrelated upload);
// each with its seven transforms.
std::vector<Query> MakeQueries(const std::vector<PdqEntry>& entries, size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::vector<Transform> transforms = MakeTransforms();
  std::vector<Query> queries(count);
  for (size_t i = 0; i < count; ++i) {
    const Hash256 base = i % 2 == 0 ? FlipBits(entries[rng() % entries.size()].hash,
                                               static_cast<int>(rng() % 9), rng)
                                    : RandomHash(rng);
    queries[i][0] = base;
    for (int v = 0; v < 7; ++v) queries[i][v + 1] = Apply(transforms[v], base);
  }
  return queries;
}

struct Options {
  std::vector<std::string> workloads;
  size_t n = 0;
  size_t queries = 10000;
  double peer_seconds = 30;
  double oracle_seconds = 15;
  int radius = kPdqDefaultRadius;
  std::string snapshot_dir;
  uint64_t seed = 1;
  int tables = 0;     // PdqIndexOptions::tables
  bool peers = true;  // run the oracle and FAISS too
};

// One implementation's run over (a prefix of) the queries.
struct Run {
  std::string impl;
  std::vector<double> ms;  // per query
  double total_s = 0;
  std::vector<Answer> answers;
  double build_s = 0;
  double bytes_per_hash = 0;
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
};

// Runs `search` on queries in order until all are done or `budget_s` has
// passed (at least `min_queries`).
template <typename Search>
void TimeQueries(const std::vector<Query>& queries, double budget_s, size_t min_queries, Run* run,
                 Search search) {
  const auto start = Clock::now();
  for (size_t i = 0; i < queries.size(); ++i) {
    if (i >= min_queries && Seconds(start) > budget_s) break;
    const auto t0 = Clock::now();
    Answer a = search(queries[i]);
    run->ms.push_back(Seconds(t0) * 1e3);
    run->answers.push_back(std::move(a));
  }
  run->total_s = Seconds(start);
}

#ifdef SAFEGUARD_HAVE_FAISS
// Bytes the C++ heap holds (glibc's count, mmapped blocks included): what a
// library that allocates with new holds, unlike resident memory, which
// freed-and-reused heap pages leave unchanged.
size_t HeapBytes() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// The same order and tie rules as PdqIndex::Search, from per-hash results.
Answer Canonical(const std::vector<std::vector<std::pair<uint64_t, int>>>& per_variant) {
  std::vector<PdqMatch> all;
  for (size_t v = 0; v < per_variant.size(); ++v) {
    for (const auto& [id, d] : per_variant[v]) all.push_back({id, d, static_cast<int>(v)});
  }
  std::sort(all.begin(), all.end(), [](const PdqMatch& a, const PdqMatch& b) {
    return std::tie(a.id, a.distance, a.variant) < std::tie(b.id, b.distance, b.variant);
  });
  Answer out;
  for (size_t i = 0; i < all.size(); ++i) {
    if (i == 0 || all[i].id != all[i - 1].id) out.push_back(all[i]);
  }
  std::sort(out.begin(), out.end(), [](const PdqMatch& a, const PdqMatch& b) {
    return a.distance != b.distance ? a.distance < b.distance : a.id < b.id;
  });
  return out;
}

Answer FromFaiss(const faiss::RangeSearchResult& res) {
  std::vector<std::vector<std::pair<uint64_t, int>>> per_variant(res.nq);
  for (size_t q = 0; q < res.nq; ++q) {
    for (size_t j = res.lims[q]; j < res.lims[q + 1]; ++j) {
      per_variant[q].emplace_back(static_cast<uint64_t>(res.labels[j]),
                                  static_cast<int>(res.distances[j]));
    }
  }
  return Canonical(per_variant);
}

// FAISS reads codes as bytes; Hash256's words in memory are those bytes
// (little-endian), and the Hamming distance does not depend on bit order.
// Padded: IndexBinaryMultiHash reads 8 bytes at the last substring's byte
// offset, past the 32-byte code.
std::vector<uint8_t> Codes(const Query& q) {
  std::vector<uint8_t> codes(8 * 32 + 8, 0);
  for (size_t v = 0; v < 8; ++v) std::memcpy(codes.data() + 32 * v, q[v].words.data(), 32);
  return codes;
}
#endif

bool SameAnswers(const Run& a, const Run& b) {
  const size_t n = std::min(a.answers.size(), b.answers.size());
  for (size_t i = 0; i < n; ++i) {
    if (a.answers[i] != b.answers[i]) return false;
  }
  return true;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t k = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  return v[std::min(k, v.size() - 1)];
}

double Round(double x, int digits) {
  const double f = std::pow(10.0, digits);
  return std::round(x * f) / f;
}

void Emit(const nlohmann::ordered_json& j) { std::cout << j.dump() << std::endl; }

int RunWorkload(const std::string& kind, size_t n, const std::string& name, const Options& o) {
  const std::string machine = Machine();
  const std::string features = CpuFeatures();
  // What the run will hold at its peak, about 600 bytes per hash with FAISS's
  // multi-hash index, within what the machine has.
  const size_t prefault = std::min(n * 600, AvailableBytes() / 10 * 7);
  std::cerr << "[" << name << "] touching " << (prefault >> 20) << " MiB first\n";
  Prefault(prefault);
  std::cerr << "[" << name << "] generating " << n << " hashes\n";
  const std::vector<PdqEntry> entries = MakeEntries(kind, n, o.seed);
  const std::vector<Query> queries = MakeQueries(entries, o.queries, o.seed + 1);
  std::vector<Run> runs;

  // Safeguard.
  {
    std::cerr << "[" << name << "] safeguard: build\n";
    Run run;
    run.impl = "safeguard";
    auto t0 = Clock::now();
    PdqIndexOptions options;
    options.tables = o.tables;
    Result<PdqIndex> index = PdqIndex::Build(entries, options);
    run.build_s = Seconds(t0);
    if (!index.ok()) {
      std::cerr << index.status().ToString() << "\n";
      return 2;
    }
    const PdqIndexStats stats = index->Stats();
    run.bytes_per_hash = index->BytesPerEntry();
    std::cerr << "[" << name << "] safeguard: " << queries.size() << " queries\n";
    PdqSearchCounters counters;
    // A short warm-up, not timed.
    for (size_t i = 0; i < std::min<size_t>(50, queries.size()); ++i) {
      (void)index->Search(queries[i], o.radius);
    }
    TimeQueries(queries, 1e9, queries.size(), &run, [&](const Query& q) {
      Result<Answer> a = index->Search(q, o.radius, &counters);
      if (!a.ok()) std::abort();
      return std::move(*a);
    });
    run.extra["kernel"] = stats.kernel;
    run.extra["tables"] = stats.tables;
    run.extra["table_bits"] = stats.table_bits;
    run.extra["probes_per_query"] =
        Round(static_cast<double>(counters.probes) / static_cast<double>(queries.size()), 0);
    run.extra["candidates_per_query"] =
        Round(static_cast<double>(counters.candidates) / static_cast<double>(queries.size()), 0);
    run.extra["fallback_scans"] = counters.fallback_scans;

    // Snapshot: save, then load both ways; a loaded copy must answer alike.
    const std::string dir =
        o.snapshot_dir.empty() ? fs::temp_directory_path().string() : o.snapshot_dir;
    const std::string path = dir + "/safeguard-bench-" + name + ".sgidx";
    t0 = Clock::now();
    if (Status s = index->Save(path); !s.ok()) {
      std::cerr << s.ToString() << "\n";
      return 2;
    }
    run.extra["snapshot_save_s"] = Round(Seconds(t0), 3);
    run.extra["snapshot_bytes"] = fs::file_size(path);
    for (PdqLoadBacking backing : {PdqLoadBacking::kMap, PdqLoadBacking::kCopy}) {
      PdqIndexOptions lo;
      lo.load_backing = backing;
      t0 = Clock::now();
      Result<PdqIndex> loaded = PdqIndex::Load(path, lo);
      const double load_s = Seconds(t0);
      if (!loaded.ok()) {
        std::cerr << loaded.status().ToString() << "\n";
        return 2;
      }
      // kMap is the default; kCopy reads the file into private memory.
      const std::string prefix = backing == PdqLoadBacking::kMap ? "" : "copy_";
      run.extra["snapshot_" + prefix + "load_s"] = Round(load_s, 3);
      // Speed and answers of the loaded index on the first 2,000 queries.
      Run check;
      TimeQueries(queries, 1e9, std::min<size_t>(2000, queries.size()), &check,
                  [&](const Query& q) { return *loaded->Search(q, o.radius); });
      run.extra[prefix + "loaded_ms_per_query_p50"] = Round(Percentile(check.ms, 0.5), 3);
      run.extra[prefix + "loaded_results_equal"] = SameAnswers(check, run);
    }
    fs::remove(path);
    runs.push_back(std::move(run));
  }

  // The oracle, on as many queries as its time allows.
  if (o.peers) {
    std::cerr << "[" << name << "] oracle\n";
    Run run;
    run.impl = "oracle";
    auto t0 = Clock::now();
    const FlatIndex oracle(entries);
    run.build_s = Seconds(t0);
    run.bytes_per_hash = sizeof(PdqEntry);
    TimeQueries(queries, o.oracle_seconds, 3, &run,
                [&](const Query& q) { return oracle.Search(q, o.radius); });
    runs.push_back(std::move(run));
  }

#ifdef SAFEGUARD_HAVE_FAISS
  if (o.peers) {
    omp_set_num_threads(1);
    std::vector<uint8_t> codes(n * 32 + 8, 0);
    for (size_t i = 0; i < n; ++i)
      std::memcpy(codes.data() + 32 * i, entries[i].hash.words.data(), 32);
    const auto faiss_n = static_cast<faiss::Index::idx_t>(n);
    {
      std::cerr << "[" << name << "] faiss-flat\n";
      Run run;
      run.impl = "faiss-flat";
      const size_t heap0 = HeapBytes();
      auto t0 = Clock::now();
      faiss::IndexBinaryFlat index(256);
      index.add(faiss_n, codes.data());
      run.build_s = Seconds(t0);
      run.bytes_per_hash =
          static_cast<double>(HeapBytes() - std::min(HeapBytes(), heap0)) / static_cast<double>(n);
      TimeQueries(queries, o.peer_seconds, 3, &run, [&](const Query& q) {
        const std::vector<uint8_t> c = Codes(q);
        faiss::RangeSearchResult res(8);
        index.range_search(8, c.data(), o.radius + 1, &res);
        return FromFaiss(res);
      });
      runs.push_back(std::move(run));
    }
    {
      std::cerr << "[" << name << "] faiss-multihash: build\n";
      Run run;
      run.impl = "faiss-multihash";
      const size_t heap0 = HeapBytes();
      auto t0 = Clock::now();
      faiss::IndexBinaryMultiHash index(256, 16, 16);
      index.nflip = 1;
      index.add(faiss_n, codes.data());
      run.build_s = Seconds(t0);
      run.bytes_per_hash =
          static_cast<double>(HeapBytes() - std::min(HeapBytes(), heap0)) / static_cast<double>(n);
      run.extra["nhash"] = 16;
      run.extra["b"] = 16;
      run.extra["nflip"] = 1;
      std::cerr << "[" << name << "] faiss-multihash: queries\n";
      TimeQueries(queries, o.peer_seconds, 3, &run, [&](const Query& q) {
        const std::vector<uint8_t> c = Codes(q);
        faiss::RangeSearchResult res(8);
        index.range_search(8, c.data(), o.radius + 1, &res);
        return FromFaiss(res);
      });
      runs.push_back(std::move(run));
    }
  }
#else
  Emit({{"bench", "index"},
        {"workload", name},
        {"note", "built without FAISS (libfaiss-dev not found): no peer comparison"}});
#endif

  const Run& oracle = runs.size() > 1 ? runs[1] : runs[0];
  const Run& ours = runs[0];
  double multihash_qps = 0;
  for (const Run& r : runs) {
    nlohmann::ordered_json j;
    j["bench"] = "index";
    j["workload"] = name;
    j["impl"] = r.impl;
    j["n"] = n;
    j["r"] = o.radius;
    j["queries"] = r.answers.size();
    j["variants_per_query"] = 8;
    const double qps = static_cast<double>(r.answers.size()) / r.total_s;
    if (r.impl == "faiss-multihash") multihash_qps = qps;
    j["queries_per_s"] = Round(qps, 1);
    j["ms_per_query_p50"] = Round(Percentile(r.ms, 0.5), 3);
    j["ms_per_query_p99"] = Round(Percentile(r.ms, 0.99), 3);
    j["build_s"] = Round(r.build_s, 3);
    j["bytes_per_hash"] = Round(r.bytes_per_hash, 1);
    const size_t checked = std::min(r.answers.size(), oracle.answers.size());
    j["results_equal_to_oracle"] = SameAnswers(r, oracle);
    j["oracle_queries"] = checked;
    if (&r != &ours) j["results_equal_to_safeguard"] = SameAnswers(r, ours);
    if (r.answers.size() < queries.size()) {
      j["note"] = "ran the first " + std::to_string(r.answers.size()) + " of " +
                  std::to_string(queries.size()) + " queries (time budget)";
    }
    size_t matches = 0;
    for (const Answer& a : r.answers) matches += a.size();
    j["matches_per_query"] =
        Round(static_cast<double>(matches) / static_cast<double>(r.answers.size()), 2);
    for (auto it = r.extra.begin(); it != r.extra.end(); ++it) j[it.key()] = it.value();
    j["prefault_mib"] = prefault >> 20;
    j["threads"] = 1;
    j["machine"] = machine;
    j["cpu_features"] = features;
    Emit(j);
  }
  if (multihash_qps > 0) {
    nlohmann::ordered_json j;
    j["bench"] = "index";
    j["workload"] = name;
    j["ratio"] = "safeguard / faiss-multihash queries_per_s";
    j["value"] = Round(static_cast<double>(ours.answers.size()) / ours.total_s / multihash_qps, 1);
    j["meaning"] = "floor at 10M: >= 10";
    Emit(j);
  }
  return 0;
}

// Exact digests: n SHA-256 and n MD5 digests (random, ids 0..n-1), then
// lookups of stored and absent ones, one at a time.
int RunDigests(size_t n, const std::string& name, const Options& o) {
  const size_t prefault = std::min(n * 200, AvailableBytes() / 10 * 7);
  Prefault(prefault);
  std::mt19937_64 rng(o.seed + 7);
  std::vector<DigestEntry> entries;
  entries.reserve(2 * n);
  for (DigestType type : {DigestType::kSha256, DigestType::kMd5}) {
    for (size_t i = 0; i < n; ++i) {
      DigestEntry e;
      e.digest.type = type;
      for (size_t b = 0; b < DigestSize(type); b += 8) {
        const uint64_t w = rng();
        std::memcpy(e.digest.bytes.data() + b, &w, 8);
      }
      e.id = i;
      entries.push_back(e);
    }
  }
  auto t0 = Clock::now();
  Result<DigestIndex> index = DigestIndex::Build(entries);
  const double build_s = Seconds(t0);
  if (!index.ok()) {
    std::cerr << index.status().ToString() << "\n";
    return 2;
  }
  const DigestIndexStats stats = index->Stats();
  const std::string path =
      (o.snapshot_dir.empty() ? fs::temp_directory_path().string() : o.snapshot_dir) +
      "/safeguard-bench-" + name + ".sgidx";
  if (Status s = index->Save(path); !s.ok()) {
    std::cerr << s.ToString() << "\n";
    return 2;
  }
  t0 = Clock::now();
  Result<DigestIndex> loaded = DigestIndex::Load(path);
  const double load_s = Seconds(t0);
  fs::remove(path);
  if (!loaded.ok()) {
    std::cerr << loaded.status().ToString() << "\n";
    return 2;
  }
  for (DigestType type : {DigestType::kSha256, DigestType::kMd5}) {
    // Half stored digests, half fresh random ones.
    std::vector<Digest> lookups;
    const size_t offset = type == DigestType::kSha256 ? 0 : n;
    for (size_t i = 0; i < 1'000'000; ++i) {
      Digest d = entries[offset + rng() % n].digest;
      if (i % 2 == 1) {
        for (size_t b = 0; b < DigestSize(type); ++b) d.bytes[b] = static_cast<uint8_t>(rng());
      }
      lookups.push_back(d);
    }
    size_t found = 0;
    t0 = Clock::now();
    for (const Digest& d : lookups) found += loaded->Lookup(d).size();
    const double s = Seconds(t0);
    nlohmann::ordered_json j;
    j["bench"] = "index";
    j["workload"] = name;
    j["impl"] = std::string("safeguard-digest-") + std::string(DigestTypeName(type));
    j["n"] = n;
    j["lookups"] = lookups.size();
    j["found"] = found;
    j["lookups_per_s"] = Round(static_cast<double>(lookups.size()) / s, 0);
    j["ns_per_lookup"] = Round(s / static_cast<double>(lookups.size()) * 1e9, 1);
    j["build_s_all_types"] = Round(build_s, 3);
    j["snapshot_load_s_all_types"] = Round(load_s, 3);
    j["bytes_per_entry_all_types"] =
        Round(static_cast<double>(stats.memory_bytes) / static_cast<double>(2 * n), 1);
    j["threads"] = 1;
    j["machine"] = Machine();
    Emit(j);
  }
  return 0;
}

int RunIndex(const Options& o) {
  struct Named {
    std::string kind;
    size_t n;
    std::string name;
  };
  auto label = [](size_t n) {
    if (n % 1'000'000 == 0) return std::to_string(n / 1'000'000) + "M";
    if (n % 1000 == 0) return std::to_string(n / 1000) + "K";
    return std::to_string(n);
  };
  std::vector<Named> all;
  const std::vector<size_t> sizes =
      o.n != 0 ? std::vector<size_t>{o.n} : std::vector<size_t>{1'000'000, 10'000'000};
  for (size_t n : sizes) {
    for (const char* kind : {"random", "clustered"}) {
      all.push_back({kind, n, std::string(kind) + "-" + label(n)});
    }
  }
  for (const Named& w : all) {
    if (!o.workloads.empty() &&
        std::find(o.workloads.begin(), o.workloads.end(), w.name) == o.workloads.end()) {
      continue;
    }
    if (int rc = RunWorkload(w.kind, w.n, w.name, o); rc != 0) return rc;
  }
  for (size_t n : sizes) {
    const std::string name = "digests-" + label(n);
    if (!o.workloads.empty() &&
        std::find(o.workloads.begin(), o.workloads.end(), name) == o.workloads.end()) {
      continue;
    }
    if (int rc = RunDigests(n, name, o); rc != 0) return rc;
  }
  return 0;
}

}  // namespace

// Registers `safeguard-bench index` (called from safeguard_bench.cc).
void AddIndexSubcommand(CLI::App* app) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app->add_subcommand(
      "index", "Exact PDQ range search at 1M and 10M hashes vs FAISS, per core");
  cmd->add_option("--n", o->n, "Stored hashes (default: the 1M and 10M workloads)");
  cmd->add_option("--queries", o->queries, "Eight-hash queries for safeguard")
      ->capture_default_str();
  cmd->add_option("--workload", o->workloads,
                  "Only these (random-1M, clustered-1M, random-10M, clustered-10M, digests-1M, "
                  "digests-10M)");
  cmd->add_option("--peer-seconds", o->peer_seconds,
                  "Time budget per FAISS implementation; slow peers run a prefix of the queries")
      ->capture_default_str();
  cmd->add_option("--oracle-seconds", o->oracle_seconds, "Time budget of the exhaustive oracle")
      ->capture_default_str();
  cmd->add_option("--radius", o->radius, "Search radius (inclusive)")->capture_default_str();
  cmd->add_option("--snapshot-dir", o->snapshot_dir, "Where to write the snapshot (default: temp)");
  cmd->add_option("--seed", o->seed, "Data and query seed")->capture_default_str();
  cmd->add_option("--tables", o->tables, "Force the index's table count (0: automatic)")
      ->capture_default_str();
  cmd->add_flag("!--no-peers", o->peers, "Only safeguard: no oracle, no FAISS");
  cmd->callback([o] {
    if (const int rc = RunIndex(*o); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace safeguard::bench
