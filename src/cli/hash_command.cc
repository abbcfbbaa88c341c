#include "hash_command.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>

#include "ordered_output.h"

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
  const bool show_progress = options.progress && ::isatty(STDERR_FILENO) == 1;
  const auto start = std::chrono::steady_clock::now();
  auto last_progress = start;
  auto progress = [&](size_t written) {
    const auto now = std::chrono::steady_clock::now();
    if (now - start > std::chrono::seconds(2) &&
        now - last_progress > std::chrono::milliseconds(250)) {
      last_progress = now;
      const double secs = std::chrono::duration<double>(now - start).count();
      std::fprintf(stderr, "\r%zu/%zu files, %.1f files/s ", written, n,
                   static_cast<double>(written) / secs);
    }
  };
  const int rc = PrintInOrder(
      n, options.jobs,
      [&](size_t i) {
        Result<FileSignals> s = ComputeFileSignals(files[i], options.signals);
        Result<SignatureFiles> written = SignatureFiles{};
        if (s.ok() && !options.signatures_dir.empty()) {
          written = WriteSignatureFiles(options.signatures_dir, *s);
          if (!written.ok()) s = written.status();
        }
        const SignatureFiles* named =
            options.signatures_dir.empty() || !written.ok() ? nullptr : &*written;
        return OrderedLine{SignalsJson(files[i], s, options.signals.dihedral, named),
                           !s.ok() || !s->complete()};
      },
      out, show_progress ? std::function<void(size_t)>(progress) : nullptr);
  if (show_progress && std::chrono::steady_clock::now() - start > std::chrono::seconds(2)) {
    std::fprintf(stderr, "\n");
  }
  return rc;
}

}  // namespace safeguard::cli
