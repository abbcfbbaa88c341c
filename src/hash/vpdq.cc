#include "safeguard/hash/vpdq.h"

#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <unordered_set>

#include "safeguard/hash/pdq.h"

namespace safeguard {
namespace {

struct HashKey {
  size_t operator()(const Hash256& h) const {
    return static_cast<size_t>(h.words[0] ^ (h.words[1] * 31) ^ (h.words[2] * 131) ^
                               (h.words[3] * 1031));
  }
};

// Splits on ',' as the reference's reader does (std::getline per field).
std::vector<std::string_view> SplitFields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t begin = 0;
  while (true) {
    const size_t comma = line.find(',', begin);
    out.push_back(line.substr(begin, comma == std::string_view::npos ? comma : comma - begin));
    if (comma == std::string_view::npos) break;
    begin = comma + 1;
  }
  return out;
}

template <typename T>
bool ParseNumber(std::string_view s, T* value) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *value);
  return ec == std::errc() && end == s.data() + s.size();
}

int CountMatches(const std::vector<VpdqFrame>& a, const std::vector<VpdqFrame>& b,
                 int max_distance) {
  int count = 0;
  for (const VpdqFrame& x : a) {
    for (const VpdqFrame& y : b) {
      if (HammingDistance(x.hash, y.hash) <= max_distance) {
        ++count;
        break;
      }
    }
  }
  return count;
}

}  // namespace

Result<FrameSampling> VpdqSampling(const VpdqOptions& options) {
  if ((options.downsample_width > 0) != (options.downsample_height > 0)) {
    return Status::InvalidArgument("vPDQ downsample size needs both width and height");
  }
  FrameSampling sampling = FrameSampling::EverySeconds(options.seconds_per_hash);
  sampling.width = options.downsample_width;
  sampling.height = options.downsample_height;
  return sampling;
}

VpdqFrame VpdqHashFrame(const VideoFrame& f) {
  const RgbView view{f.rgb, f.width, f.height, f.row_stride};
  const PdqHashes h = PdqHashRgb(view);
  return VpdqFrame{h.hash, h.quality, f.index, f.timestamp_seconds};
}

Result<VpdqSignature> VpdqHashVideo(VideoDecoder& video, const VpdqOptions& options) {
  Result<FrameSampling> sampling = VpdqSampling(options);
  if (!sampling.ok()) return sampling.status();
  VpdqSignature sig;
  sig.info = video.info();
  Status s = video.Sample(*sampling, [&](const VideoFrame& f) {
    sig.frames.push_back(VpdqHashFrame(f));
    return true;
  });
  if (!s.ok()) return s;
  return sig;
}

Result<VpdqSignature> VpdqHashFile(const std::string& path, const VpdqOptions& options) {
  Result<std::unique_ptr<VideoDecoder>> video = VideoDecoder::OpenFile(path, options.open);
  if (!video.ok()) return video.status();
  return VpdqHashVideo(**video, options);
}

std::string FormatVpdq(const std::vector<VpdqFrame>& frames) {
  std::string out;
  out.reserve(frames.size() * 80);
  char buf[128];
  for (const VpdqFrame& f : frames) {
    const int n = std::snprintf(buf, sizeof(buf), "%" PRId64 ",%d,%s,%.3f\n", f.frame, f.quality,
                                f.hash.ToHex().c_str(), f.timestamp);
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<std::vector<VpdqFrame>> ParseVpdq(std::string_view text) {
  std::vector<VpdqFrame> frames;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line_no > kMaxVpdqLines) {
      return Status::LimitExceeded("vPDQ text: more than " + std::to_string(kMaxVpdqLines) +
                                   " lines");
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    const std::vector<std::string_view> fields = SplitFields(line);
    auto bad = [&](const std::string& why) {
      return Status::InvalidArgument("vPDQ text line " + std::to_string(line_no) + ": " + why);
    };
    if (fields.size() < 4) return bad("expected frame,quality,hash,timestamp");
    VpdqFrame f;
    if (!ParseNumber(fields[0], &f.frame) || f.frame < 0) return bad("bad frame number");
    if (!ParseNumber(fields[1], &f.quality) || f.quality < 0 || f.quality > 100) {
      return bad("quality must be 0..100");
    }
    Result<Hash256> h = Hash256::FromHex(fields[2]);
    if (!h.ok()) return bad("bad PDQ hash");
    f.hash = *h;
    if (!ParseNumber(fields[3], &f.timestamp) || !(f.timestamp >= 0)) return bad("bad timestamp");
    frames.push_back(f);
  }
  return frames;
}

std::vector<VpdqFrame> VpdqPrepare(const std::vector<VpdqFrame>& frames,
                                   const VpdqMatchOptions& options) {
  std::vector<VpdqFrame> out;
  std::unordered_set<Hash256, HashKey> seen;
  const VpdqFrame* run_start = nullptr;
  for (const VpdqFrame& f : frames) {
    if (f.quality < options.min_quality) continue;
    if (!seen.insert(f.hash).second) continue;
    if (options.collapse_distance >= 0 && run_start != nullptr &&
        HammingDistance(run_start->hash, f.hash) <= options.collapse_distance) {
      continue;
    }
    out.push_back(f);
    run_start = &f;
  }
  return out;
}

VpdqMatchResult VpdqMatch(const std::vector<VpdqFrame>& query, const std::vector<VpdqFrame>& stored,
                          const VpdqMatchOptions& options) {
  const std::vector<VpdqFrame> q = VpdqPrepare(query, options);
  const std::vector<VpdqFrame> s = VpdqPrepare(stored, options);
  VpdqMatchResult r;
  r.query_frames = static_cast<int>(q.size());
  r.stored_frames = static_cast<int>(s.size());
  if (q.empty() || s.empty()) return r;
  r.query_percent =
      CountMatches(q, s, options.max_distance) * 100.0 / static_cast<double>(q.size());
  r.stored_percent =
      CountMatches(s, q, options.max_distance) * 100.0 / static_cast<double>(s.size());
  return r;
}

}  // namespace safeguard
