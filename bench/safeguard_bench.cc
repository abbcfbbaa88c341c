// safeguard-bench: one benchmark program for the project, a subcommand per
// area, one JSON object per measurement per line (see bench/README.md).
//
//   safeguard-bench image --corpus DIR [--min-seconds S] [--fast-min-side N]
//   safeguard-bench index [--n N] [--queries Q]        (index_bench.cc)
//   safeguard-bench text [--conversations N] [--messages M]  (text_bench.cc)
//   safeguard-bench video [--videos DIR]                (video_bench.cc)
//   safeguard-bench video-match [--videos N]            (video_match_bench.cc)
//   safeguard-bench serve [--seconds S] [--bank N]      (serve_bench.cc)
//
// Every measurement runs on one thread, so the figures are per core.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "../src/hash/pdq_internal.h"
#include "machine.h"
#include "safeguard/hash/file_signals.h"
#include "safeguard/hash/pdq.h"
#include "safeguard/media/image.h"

namespace {

using namespace safeguard;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

using bench::MachineDescription;

struct CorpusFile {
  std::string path;
  std::string group;  // first folder under the corpus root: large, medium, small, other
  std::vector<uint8_t> bytes;
  int width = 0, height = 0;
};

std::vector<CorpusFile> LoadCorpus(const std::string& root) {
  std::vector<CorpusFile> files;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    CorpusFile f;
    f.path = e.path().string();
    f.group = fs::relative(e.path(), root).begin()->string();
    std::ifstream in(f.path, std::ios::binary);
    f.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (SniffImageFormat(f.bytes.data(), f.bytes.size()).empty()) continue;
    files.push_back(std::move(f));
  }
  std::sort(files.begin(), files.end(),
            [](const CorpusFile& a, const CorpusFile& b) { return a.path < b.path; });
  return files;
}

// Runs `one(i)` over all items, round after round, until min_seconds have
// passed (at least three rounds); returns the seconds per item of the fastest
// round, which is the least disturbed by whatever else the machine does.
double TimePerItem(size_t items, double min_seconds, const std::function<void(size_t)>& one) {
  const auto start = Clock::now();
  double best = 0;
  for (int round = 0;; ++round) {
    const auto t0 = Clock::now();
    for (size_t i = 0; i < items; ++i) one(i);
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (round == 0 || seconds < best) best = seconds;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (round >= 2 && elapsed >= min_seconds) break;
  }
  return best / static_cast<double>(items);
}

void Emit(nlohmann::ordered_json j) { std::cout << j.dump() << std::endl; }

int RunImage(const std::string& corpus_dir, double min_seconds, int fast_min_side) {
  if (Status s = InitializeImageDecoding(); !s.ok()) {
    std::cerr << s.ToString() << "\n";
    return 2;
  }
  std::vector<CorpusFile> corpus = LoadCorpus(corpus_dir);
  if (corpus.empty()) {
    std::cerr << "no images under " << corpus_dir << " (run bench/make-image-corpus.sh)\n";
    return 2;
  }
  const std::string machine = MachineDescription();
  DecodeOptions full;
  DecodeOptions reduced;
  reduced.shrink_to_min_side = fast_min_side;

  // Decode everything once: dimensions for the workloads, pixels for the core.
  std::vector<RgbImage> pixels(corpus.size());
  for (size_t i = 0; i < corpus.size(); ++i) {
    Result<RgbImage> img =
        DecodeImage(corpus[i].bytes.data(), corpus[i].bytes.size(), full, corpus[i].path);
    if (!img.ok()) {
      std::cerr << img.status().ToString() << "\n";
      return 2;
    }
    corpus[i].width = img->width;
    corpus[i].height = img->height;
    pixels[i] = std::move(*img);
  }

  // Workloads: all images, and the 12 MP class alone (the core's floor).
  struct Workload {
    std::string name;
    std::vector<size_t> items;
  };
  std::vector<Workload> workloads = {{"all", {}}, {"large-12mp", {}}};
  for (size_t i = 0; i < corpus.size(); ++i) {
    workloads[0].items.push_back(i);
    const double mp = corpus[i].width * static_cast<double>(corpus[i].height) / 1e6;
    if (mp >= 10.0) workloads[1].items.push_back(i);
  }

  auto view = [&](size_t i) {
    return RgbView{pixels[i].pixels.data(), pixels[i].width, pixels[i].height, 3 * pixels[i].width};
  };
  auto decode = [&](size_t i, const DecodeOptions& o) {
    Result<RgbImage> img =
        DecodeImage(corpus[i].bytes.data(), corpus[i].bytes.size(), o, corpus[i].path);
    if (!img.ok()) std::abort();
    return std::move(*img);
  };
  // End to end includes reading the file (from the page cache).
  auto read_file = [&](size_t i) {
    std::ifstream in(corpus[i].path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in),
                                std::istreambuf_iterator<char>());
  };
  auto end_to_end = [&](size_t i, const DecodeOptions& o) {
    std::vector<uint8_t> bytes = read_file(i);
    Result<RgbImage> img = DecodeImage(bytes.data(), bytes.size(), o, corpus[i].path);
    if (!img.ok()) std::abort();
    const RgbView v{img->pixels.data(), img->width, img->height, 3 * img->width};
    // The fast mode's core compensates for the reduced scale (equal to
    // PdqHashRgb when nothing was shrunk).
    volatile int q = PdqHashRgbReduced(v, img->original_width, img->original_height, true).quality;
    (void)q;
  };

  for (const Workload& w : workloads) {
    if (w.items.empty()) continue;
    double megapixels = 0;
    for (size_t i : w.items)
      megapixels += corpus[i].width * static_cast<double>(corpus[i].height) / 1e6;
    megapixels /= static_cast<double>(w.items.size());
    auto at = [&](size_t k) { return w.items[k]; };
    struct Row {
      std::string impl;
      double seconds;
    };
    std::vector<Row> rows;
    const size_t n = w.items.size();
    rows.push_back(
        {"decode-full", TimePerItem(n, min_seconds, [&](size_t k) { decode(at(k), full); })});
    rows.push_back(
        {"decode-reduced", TimePerItem(n, min_seconds, [&](size_t k) { decode(at(k), reduced); })});
    rows.push_back({"pdq-canonical-end-to-end",
                    TimePerItem(n, min_seconds, [&](size_t k) { end_to_end(at(k), full); })});
    rows.push_back({"pdq-fast-end-to-end",
                    TimePerItem(n, min_seconds, [&](size_t k) { end_to_end(at(k), reduced); })});
    rows.push_back({"pdq-core-canonical", TimePerItem(n, min_seconds, [&](size_t k) {
                      volatile int q = PdqHashRgb(view(at(k)), true).quality;
                      (void)q;
                    })});
    // The peer: the reference algorithm as published, loops as written.
    rows.push_back({"pdq-core-reference-algorithm", TimePerItem(n, min_seconds / 4, [&](size_t k) {
                      volatile int q = pdq_internal::PdqHashOracle(view(at(k)), true).quality;
                      (void)q;
                    })});
    SignalOptions sig;
    rows.push_back({"file-signals-canonical", TimePerItem(n, min_seconds, [&](size_t k) {
                      if (!ComputeFileSignals(corpus[at(k)].path, sig).ok()) std::abort();
                    })});
    for (const Row& r : rows) {
      nlohmann::ordered_json j;
      j["bench"] = "image";
      j["workload"] = w.name;
      j["impl"] = r.impl;
      j["images"] = n;
      j["mean_megapixels"] = std::round(megapixels * 100) / 100;
      j["images_per_s"] = std::round(100 / r.seconds) / 100;
      j["ms_per_image"] = std::round(r.seconds * 1e5) / 100;
      j["kernel"] = std::string(PdqKernelName());
      j["threads"] = 1;
      j["machine"] = machine;
      Emit(j);
    }
    auto seconds_of = [&](const std::string& impl) {
      for (const Row& r : rows)
        if (r.impl == impl) return r.seconds;
      return 0.0;
    };
    auto ratio = [&](const std::string& a, const std::string& b, const std::string& meaning) {
      nlohmann::ordered_json j;
      j["bench"] = "image";
      j["workload"] = w.name;
      j["ratio"] = a + " / " + b;
      j["value"] = std::round(seconds_of(a) / seconds_of(b) * 1000) / 1000;
      j["meaning"] = meaning;
      Emit(j);
    };
    ratio("pdq-fast-end-to-end", "decode-reduced",
          "time of fast mode over its decode floor (floor: <= 1.3)");
    ratio("pdq-core-reference-algorithm", "pdq-core-canonical",
          "speed-up of the core over the reference algorithm");
    ratio("pdq-canonical-end-to-end", "pdq-fast-end-to-end",
          "speed-up of fast over canonical mode");
  }

  // Accuracy of the fast mode: distance to the canonical hash, per image, at
  // the chosen smallest side and at a few others for comparison.
  std::vector<PdqHashes> canonical(corpus.size());
  for (size_t i = 0; i < corpus.size(); ++i) canonical[i] = PdqHashRgb(view(i));
  std::vector<int> sides = {256, 384, 512};
  if (std::find(sides.begin(), sides.end(), fast_min_side) == sides.end())
    sides.push_back(fast_min_side);
  for (int side : sides) {
    DecodeOptions o;
    o.shrink_to_min_side = side;
    std::vector<int> all, shrunk;
    for (size_t i = 0; i < corpus.size(); ++i) {
      if (canonical[i].quality < kPdqMinQuality) continue;
      RgbImage small = decode(i, o);
      const PdqHashes fast = PdqHashRgbReduced(
          RgbView{small.pixels.data(), small.width, small.height, 3 * small.width},
          small.original_width, small.original_height);
      const int d = HammingDistance(canonical[i].hash, fast.hash);
      all.push_back(d);
      if (small.width != pixels[i].width) shrunk.push_back(d);
    }
    for (auto [name, d] : {std::pair{"all", all}, std::pair{"shrunk-only", shrunk}}) {
      if (d.empty()) continue;
      std::sort(d.begin(), d.end());
      double mean = 0;
      for (int x : d) mean += x;
      mean /= static_cast<double>(d.size());
      const size_t p95 = static_cast<size_t>(std::ceil(0.95 * static_cast<double>(d.size()))) - 1;
      nlohmann::ordered_json j;
      j["bench"] = "image";
      j["workload"] = name;
      j["metric"] = "fast-vs-canonical-hamming";
      j["images"] = d.size();
      j["fast_min_side"] = side;
      j["default"] = side == fast_min_side;
      j["mean"] = std::round(mean * 100) / 100;
      j["p95"] = d[p95];
      j["max"] = d.back();
      Emit(j);
    }
  }
  return 0;
}

// The PDQ core alone (pixels in, eight hashes out) for every kernel this CPU
// has, beside the reference algorithm, on a synthetic photo-sized image.
int RunPdqCore(double min_seconds) {
  const std::string machine = MachineDescription();
  struct Size {
    const char* name;
    int width, height;
  };
  for (const Size& size : {Size{"12mp-4032x3024", 4032, 3024}, Size{"3mp-2048x1536", 2048, 1536},
                           Size{"0.3mp-640x480", 640, 480}}) {
    std::vector<uint8_t> rgb(static_cast<size_t>(size.width) * size.height * 3);
    // Smooth structure plus noise, like a photo; the content does not change
    // the work done, only the hash.
    for (int y = 0; y < size.height; ++y) {
      for (int x = 0; x < size.width; ++x) {
        uint8_t* p = &rgb[(static_cast<size_t>(y) * size.width + x) * 3];
        const double v = 128 + 60 * std::sin(x / 97.0) * std::cos(y / 131.0);
        const uint32_t h = static_cast<uint32_t>(x * 2654435761u ^ y * 40503u);
        for (int c = 0; c < 3; ++c) p[c] = static_cast<uint8_t>(v + ((h >> (8 * c)) & 15) + 20 * c);
      }
    }
    const RgbView view{rgb.data(), size.width, size.height, 3 * size.width};
    double reference_s = 0;
    for (pdq_internal::Kernel k : {pdq_internal::Kernel::kOracle, pdq_internal::Kernel::kSse2,
                                   pdq_internal::Kernel::kAvx2, pdq_internal::Kernel::kAvx512}) {
      if (!pdq_internal::KernelSupported(k)) continue;
      const bool oracle = k == pdq_internal::Kernel::kOracle;
      const double s = TimePerItem(1, min_seconds, [&](size_t) {
        volatile int q = oracle ? pdq_internal::PdqHashOracle(view, true).quality
                                : pdq_internal::PdqHashRgbWithKernel(view, true, k).quality;
        (void)q;
      });
      if (oracle) reference_s = s;
      nlohmann::ordered_json j;
      j["bench"] = "pdq-core";
      j["workload"] = size.name;
      j["impl"] =
          oracle ? "reference-algorithm" : "safeguard-" + std::string(pdq_internal::KernelName(k));
      j["ms_per_image"] = std::round(s * 1e5) / 100;
      j["speedup_vs_reference_algorithm"] = std::round(reference_s / s * 100) / 100;
      j["dihedral"] = true;
      j["threads"] = 1;
      j["machine"] = machine;
      Emit(j);
    }
  }
  return 0;
}

}  // namespace

namespace safeguard::bench {
void AddIndexSubcommand(CLI::App* app);       // index_bench.cc
void AddTextSubcommand(CLI::App* app);        // text_bench.cc
void AddBankSubcommand(CLI::App* app);        // bank_bench.cc
void AddVideoSubcommand(CLI::App* app);       // video_bench.cc
void AddVideoMatchSubcommand(CLI::App* app);  // video_match_bench.cc
void AddServeSubcommand(CLI::App* app);       // serve_bench.cc
}  // namespace safeguard::bench

int main(int argc, char** argv) {
  CLI::App app{"safeguard-bench: Safeguard's benchmarks, one JSON object per line"};
  app.require_subcommand(1);
  std::string corpus = "bench-corpus";
  double min_seconds = 2.0;
  int fast_min_side = safeguard::kDefaultFastMinSide;
  CLI::App* image = app.add_subcommand("image", "Image decoding and PDQ hashing, per core");
  image->add_option("--corpus", corpus, "Folder of images (bench/make-image-corpus.sh)")
      ->capture_default_str();
  image->add_option("--min-seconds", min_seconds, "Minimum time per measurement")
      ->capture_default_str();
  image->add_option("--fast-min-side", fast_min_side, "Fast mode's smallest decoded side")
      ->capture_default_str();
  CLI::App* core =
      app.add_subcommand("pdq-core", "The PDQ core per kernel vs the reference algorithm");
  core->add_option("--min-seconds", min_seconds, "Minimum time per measurement")
      ->capture_default_str();
  safeguard::bench::AddIndexSubcommand(&app);
  safeguard::bench::AddTextSubcommand(&app);
  safeguard::bench::AddBankSubcommand(&app);
  safeguard::bench::AddVideoSubcommand(&app);
  safeguard::bench::AddVideoMatchSubcommand(&app);
  safeguard::bench::AddServeSubcommand(&app);
  CLI11_PARSE(app, argc, argv);
  if (image->parsed()) return RunImage(corpus, min_seconds, fast_min_side);
  if (core->parsed()) return RunPdqCore(min_seconds);
  return 0;
}
