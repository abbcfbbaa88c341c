#include "hash_command.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
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

namespace {

// The video fields of a hash line (see hash_command.h).
void VideoJson(const FileSignals& s, const SignatureFiles* files, nlohmann::ordered_json& j) {
  j["format"] = s.format;
  if (!s.video_status.ok()) {
    j["error"] = s.video_status.message();
    j["error_code"] = std::string(ErrorCodeName(s.video_status.code()));
    return;
  }
  j["codec"] = s.video.codec;
  j["width"] = s.video.width;
  j["height"] = s.video.height;
  j["rotation"] = s.video.rotation;
  j["frame_rate"] = s.video.frame_rate;
  j["duration"] = s.video.duration_seconds;
  nlohmann::ordered_json frames = nlohmann::ordered_json::array();
  const std::string text = FormatVpdq(s.vpdq);
  for (size_t at = 0; at < text.size();) {
    const size_t end = text.find('\n', at);
    frames.push_back(text.substr(at, end - at));
    at = end == std::string::npos ? text.size() : end + 1;
  }
  j["vpdq"] = std::move(frames);
  if (s.tmk) {
    const std::vector<uint8_t> bytes = TmkToBytes(*s.tmk);
    j["tmk_frames"] = s.tmk->frame_count;
    // The key a bank gives this signature (the SHA-256 of its .tmk bytes).
    j["tmk_sha256"] = DigestBytes(bytes.data(), bytes.size()).sha256;
  }
  if (files != nullptr) {
    j["vpdq_file"] = files->vpdq;
    if (!files->tmk.empty()) j["tmk_file"] = files->tmk;
  }
}

}  // namespace

Result<SignatureFiles> WriteSignatureFiles(const std::string& dir, const FileSignals& s) {
  SignatureFiles files;
  if (!s.is_video || !s.video_status.ok()) return files;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IoError(dir + ": " + ec.message());
  auto write = [](const std::string& path, std::string_view bytes) -> Status {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.close();
    if (!f) return Status::IoError(path + ": cannot write");
    return Status::Ok();
  };
  files.vpdq = dir + "/" + s.digests.sha256 + ".vpdq.txt";
  if (Status w = write(files.vpdq, FormatVpdq(s.vpdq)); !w.ok()) return w;
  if (s.tmk) {
    const std::vector<uint8_t> bytes = TmkToBytes(*s.tmk);
    files.tmk = dir + "/" + s.digests.sha256 + ".tmk";
    if (Status w = write(
            files.tmk, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
        !w.ok())
      return w;
  }
  return files;
}

std::string SignalsJson(const std::string& path, const Result<FileSignals>& signals, bool dihedral,
                        const SignatureFiles* files) {
  nlohmann::ordered_json j;
  j["path"] = path;
  if (!signals.ok()) {
    j["error"] = signals.status().message();
    j["error_code"] = std::string(ErrorCodeName(signals.status().code()));
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  const FileSignals& s = *signals;
  j["type"] = s.is_image ? "image" : s.is_video ? "video" : "file";
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
  } else if (s.is_video) {
    VideoJson(s, files, j);
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
      Result<SignatureFiles> written = SignatureFiles{};
      if (s.ok() && !options.signatures_dir.empty()) {
        written = WriteSignatureFiles(options.signatures_dir, *s);
        if (!written.ok()) s = written.status();
      }
      std::string line =
          SignalsJson(files[i], s, options.signals.dihedral,
                      options.signatures_dir.empty() || !written.ok() ? nullptr : &*written);
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
