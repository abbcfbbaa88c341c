// `safeguard-bench bank`: plain-list import into the SQLite store (lines per
// second, peak memory), then BankMatcher build time. One JSON line per
// measurement. The list is random PDQ hashes written to a temporary file.
// cpu_seconds (user + system) is reported beside wall time: on a shared
// machine, other processes' load stretches the wall time, not the CPU time.
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "machine.h"
#include "safeguard/bank/matcher.h"
#include "safeguard/bank/plain_list.h"

namespace safeguard::bench {
namespace {

struct BankOptions {
  int64_t lines = 1000000;
  size_t batch = kDefaultImportBatch;
  uint64_t seed = 1;
  std::string dir;  // default: a fresh folder under the temp directory
  bool match = true;
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

int64_t PeakRssKb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

int RunBank(const BankOptions& o) {
  namespace fs = std::filesystem;
  const fs::path dir = o.dir.empty() ? fs::temp_directory_path() /
                                           ("safeguard-bank-bench-" + std::to_string(::getpid()))
                                     : fs::path(o.dir);
  fs::create_directories(dir);
  const fs::path list = dir / "list.txt";
  {
    std::ofstream out(list, std::ios::binary);
    std::mt19937_64 rng(o.seed);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string line(65, '\n');
    for (int64_t i = 0; i < o.lines; ++i) {
      for (int k = 0; k < 64; k += 16) {
        uint64_t w = rng();
        for (int d = 0; d < 16; ++d, w >>= 4) line[static_cast<size_t>(k + d)] = kHex[w & 15];
      }
      out << line;
    }
  }
  Result<std::unique_ptr<Store>> store = OpenSqliteStore((dir / "bench.db").string());
  if (!store.ok()) {
    std::cerr << store.status().ToString() << "\n";
    return 2;
  }
  BankSpec spec;
  spec.name = "bench";
  if (Result<Bank> b = (*store)->CreateBank(spec, 0); !b.ok()) {
    std::cerr << b.status().ToString() << "\n";
    return 2;
  }
  const int64_t rss_before = PeakRssKb();
  const double cpu_before = CpuSeconds();
  auto start = std::chrono::steady_clock::now();
  std::ifstream in(list, std::ios::binary);
  ImportOptions io;
  io.signal = SignalType::kPdq;
  io.source = "bench";
  io.batch = o.batch;
  Result<ImportReport> r = ImportPlainList(**store, "bench", in, io);
  if (!r.ok()) {
    std::cerr << r.status().ToString() << "\n";
    return 2;
  }
  const double import_s = Seconds(start);
  const double import_cpu_s = CpuSeconds() - cpu_before;
  nlohmann::ordered_json j;
  j["workload"] = "bank-import-plain";
  j["store"] = "sqlite";
  j["machine"] = MachineDescription();
  j["lines"] = o.lines;
  j["batch"] = o.batch;
  j["seconds"] = import_s;
  j["cpu_seconds"] = import_cpu_s;
  j["lines_per_second"] = static_cast<double>(o.lines) / import_s;
  j["peak_rss_kb_before"] = rss_before;
  j["peak_rss_kb"] = PeakRssKb();
  j["db_bytes"] = fs::file_size(dir / "bench.db");
  std::cout << j.dump() << std::endl;
  if (o.match) {
    start = std::chrono::steady_clock::now();
    Result<BankMatcher> m = BankMatcher::Build(**store);
    if (!m.ok()) {
      std::cerr << m.status().ToString() << "\n";
      return 2;
    }
    nlohmann::ordered_json k;
    k["workload"] = "bank-matcher-build";
    k["entries"] = m->size();
    k["seconds"] = Seconds(start);
    k["peak_rss_kb"] = PeakRssKb();
    std::cout << k.dump() << std::endl;
  }
  if (o.dir.empty()) fs::remove_all(dir);
  return 0;
}

}  // namespace

void AddBankSubcommand(CLI::App* app) {
  auto o = std::make_shared<BankOptions>();
  CLI::App* cmd =
      app->add_subcommand("bank", "Bank import: plain-list lines per second and peak memory");
  cmd->add_option("--lines", o->lines, "Random PDQ lines to import")->capture_default_str();
  cmd->add_option("--batch", o->batch, "Values per store batch (ImportOptions::batch)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", o->seed, "Hash seed")->capture_default_str();
  cmd->add_option("--dir", o->dir, "Working folder (kept); default a temporary one (removed)");
  cmd->add_flag("!--no-match", o->match, "Skip the matcher build");
  cmd->callback([o] {
    if (const int rc = RunBank(*o); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace safeguard::bench
