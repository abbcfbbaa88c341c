#include "hash_command.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <thread>

namespace safeguard::cli {
namespace fs = std::filesystem;

std::vector<std::string> ExpandPaths(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  for (const std::string& arg : args) {
    std::error_code ec;
    if (!fs::is_directory(arg, ec)) {
      files.push_back(arg);
      continue;
    }
    std::vector<std::string> found;
    // Directory symlinks are not followed (no cycles); file symlinks are.
    fs::recursive_directory_iterator it(arg, fs::directory_options::skip_permission_denied, ec);
    if (ec) {
      files.push_back(arg);  // reported as an error when hashed
      continue;
    }
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      std::error_code fec;
      if (it->is_regular_file(fec)) found.push_back(it->path().string());
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

std::string SignalsJson(const std::string& path, const Result<FileSignals>& signals,
                        bool dihedral) {
  nlohmann::ordered_json j;
  j["path"] = path;
  if (!signals.ok()) {
    j["error"] = signals.status().message();
    j["error_code"] = std::string(ErrorCodeName(signals.status().code()));
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  const FileSignals& s = *signals;
  j["type"] = s.is_image ? "image" : "file";
  if (s.is_image && !s.image_status.ok()) {
    // The digests still count (exact matching needs no decoding).
    j["format"] = s.format;
    j["error"] = s.image_status.message();
    j["error_code"] = std::string(ErrorCodeName(s.image_status.code()));
  } else if (s.is_image) {
    j["format"] = s.format;
    j["width"] = s.width;
    j["height"] = s.height;
    j["pdq"] = s.pdq.hash.ToHex();
    j["pdq_quality"] = s.pdq.quality;
    if (dihedral) {
      nlohmann::ordered_json d = nlohmann::ordered_json::array();
      for (const Hash256& h : s.pdq.dihedral) d.push_back(h.ToHex());
      j["pdq_dihedral"] = std::move(d);
    }
  }
  j["md5"] = s.digests.md5;
  j["sha1"] = s.digests.sha1;
  j["sha256"] = s.digests.sha256;
  // Paths are bytes on Linux; invalid UTF-8 is replaced rather than fatal.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int RunHashCommand(const HashCommandOptions& options, std::ostream& out) {
  const std::vector<std::string> files = ExpandPaths(options.paths);
  const size_t n = files.size();
  int jobs =
      options.jobs > 0 ? options.jobs : static_cast<int>(std::thread::hardware_concurrency());
  jobs = std::clamp(jobs, 1, 256);
  if (static_cast<size_t>(jobs) > n) jobs = static_cast<int>(std::max<size_t>(n, 1));

  // Workers take files in order and park their line in `lines`; the calling
  // thread prints lines in input order as soon as each is ready. Workers stay
  // at most `window` files ahead of the printer, so memory stays bounded.
  const size_t window = static_cast<size_t>(jobs) * 64;
  std::vector<std::optional<std::string>> lines(n);
  std::vector<char> failed(n, 0);
  std::mutex mu;
  std::condition_variable ready, room;
  std::atomic<size_t> next{0};
  size_t printed = 0;

  auto worker = [&]() {
    while (true) {
      const size_t i = next.fetch_add(1);
      if (i >= n) return;
      {
        std::unique_lock lock(mu);
        room.wait(lock, [&] { return i < printed + window; });
      }
      Result<FileSignals> s = ComputeFileSignals(files[i], options.signals);
      std::string line = SignalsJson(files[i], s, options.signals.dihedral);
      {
        std::lock_guard lock(mu);
        lines[i] = std::move(line);
        failed[i] = s.ok() && s->complete() ? 0 : 1;
      }
      ready.notify_all();
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < jobs; ++t) threads.emplace_back(worker);

  const bool show_progress = options.progress && ::isatty(STDERR_FILENO) == 1;
  const auto start = std::chrono::steady_clock::now();
  auto last_progress = start;
  bool any_failed = false;
  for (size_t i = 0; i < n; ++i) {
    std::string line;
    {
      std::unique_lock lock(mu);
      ready.wait(lock, [&] { return lines[i].has_value(); });
      line = std::move(*lines[i]);
      lines[i].reset();
      any_failed = any_failed || failed[i];
      printed = i + 1;
    }
    room.notify_all();
    out << line << '\n';
    if (show_progress) {
      const auto now = std::chrono::steady_clock::now();
      if (now - start > std::chrono::seconds(2) &&
          now - last_progress > std::chrono::milliseconds(250)) {
        last_progress = now;
        const double secs = std::chrono::duration<double>(now - start).count();
        std::fprintf(stderr, "\r%zu/%zu files, %.1f files/s ", i + 1, n,
                     static_cast<double>(i + 1) / secs);
      }
    }
  }
  out.flush();
  for (std::thread& t : threads) t.join();
  if (show_progress && std::chrono::steady_clock::now() - start > std::chrono::seconds(2)) {
    std::fprintf(stderr, "\n");
  }
  return any_failed ? 1 : 0;
}

}  // namespace safeguard::cli
