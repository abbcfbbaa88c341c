// safeguard-bench video: vPDQ at 1 frame/s and TMK+PDQF on the sample clips,
// as a real-time factor per core (seconds of video per second of one core's
// CPU time), beside the bare decode of the same frames.
//
//   safeguard-bench video [--videos DIR] [--rounds N]
//
// Clips are grouped by size: "sd" (480x720) and "hd" (720p and up). Each
// workload runs on one thread with libavcodec threads = 1; the fastest of
// `rounds` rounds counts, the impls' rounds interleaved. Both clocks are
// reported: the thread's CPU time (the per-core figure, least disturbed by
// other processes) and wall time (which also counts time the thread waited
// for a core), with the load average when the workload started, since
// benchmark machines are shared.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "machine.h"
#include "safeguard/hash/tmk.h"
#include "safeguard/hash/video_hash.h"
#include "safeguard/hash/vpdq.h"
#include "safeguard/media/video.h"

namespace safeguard::bench {
namespace {

namespace fs = std::filesystem;

struct VideoOptions {
  std::string videos = "../shared/testdata/tmk/sample-videos";
  int rounds = 3;
  std::vector<std::string> only;  // workloads and impls to run (empty: all)
};

// The floor for vPDQ at 1 frame/s and TMK on the SD clips.
constexpr double kFloorRealtimePerCore = 40.0;

// The 1-minute load average (0 when unknown): how busy the machine was.
double LoadAverage() {
  double load[1] = {0};
  return getloadavg(load, 1) == 1 ? load[0] : 0.0;
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Clip {
  std::string path;
  double seconds = 0;
  int width = 0, height = 0;
};

// Decodes with a sampling rule and a per-frame action; aborts on error (the
// clips are known good).
void SampleClip(const Clip& c, const FrameSampling& s, const FrameCallback& on_frame) {
  Result<std::unique_ptr<VideoDecoder>> v = VideoDecoder::OpenFile(c.path, {});
  if (!v.ok() || !(*v)->Sample(s, on_frame).ok()) {
    std::cerr << c.path << ": decode failed\n";
    std::abort();
  }
}

int RunVideo(const VideoOptions& o) {
  std::map<std::string, std::vector<Clip>> groups;
  if (!fs::is_directory(o.videos)) {
    std::cerr << "no folder " << o.videos << " (the reference sample videos)\n";
    return 2;
  }
  for (const auto& e : fs::directory_iterator(o.videos)) {
    if (e.path().extension() != ".mp4") continue;
    Result<std::unique_ptr<VideoDecoder>> v = VideoDecoder::OpenFile(e.path().string(), {});
    if (!v.ok()) continue;
    const VideoInfo& info = (*v)->info();
    Clip c{e.path().string(), info.duration_seconds, info.width, info.height};
    const bool sd = std::min(info.width, info.height) < 720;
    groups[sd ? "sd" : "hd"].push_back(c);
  }
  const std::string machine = MachineDescription();
  const FrameSampling every_second = FrameSampling::EverySeconds(1.0);
  const FrameSampling tmk_frames =
      FrameSampling::Resampled(kTmkFramesPerSecond, kTmkFrameSize, kTmkFrameSize);
  FrameSampling every_frame_bare = FrameSampling::EverySeconds(1e5);  // frame 0 converted only
  every_frame_bare.skip_unneeded = false;
  FrameSampling every_second_no_skip = every_second;
  every_second_no_skip.skip_unneeded = false;
  FrameSampling tmk_no_skip = tmk_frames;
  tmk_no_skip.skip_unneeded = false;
  FrameSampling tmk_swscale = tmk_frames;
  tmk_swscale.exact_fast_scaler = false;
  TmkOptions tmk_swscale_options;
  tmk_swscale_options.exact_fast_scaler = false;

  using Work = std::function<void(const Clip&)>;
  struct Row {
    std::string impl;
    Work run;
  };
  const std::vector<Row> rows = {
      {"decode-all-frames",
       [&](const Clip& c) {
         SampleClip(c, every_frame_bare, [](const VideoFrame&) { return true; });
       }},
      {"decode-vpdq-1fps-frames",
       [&](const Clip& c) { SampleClip(c, every_second, [](const VideoFrame&) { return true; }); }},
      {"vpdq-1fps",
       [&](const Clip& c) {
         VpdqOptions vo;
         if (!VpdqHashFile(c.path, vo).ok()) std::abort();
       }},
      // The same frames with every frame decoded: what skipping saves.
      {"decode-vpdq-1fps-frames-no-skip",
       [&](const Clip& c) {
         SampleClip(c, every_second_no_skip, [](const VideoFrame&) { return true; });
       }},
      {"decode-tmk-frames-no-skip",
       [&](const Clip& c) { SampleClip(c, tmk_no_skip, [](const VideoFrame&) { return true; }); }},
      {"decode-tmk-frames",
       [&](const Clip& c) { SampleClip(c, tmk_frames, [](const VideoFrame&) { return true; }); }},
      {"tmk",
       [&](const Clip& c) {
         if (!TmkHashFile(c.path, {}).ok()) std::abort();
       }},
      // Both fingerprints, as `safeguard hash` computes them: one decode,
      // beside hashing one after the other (two decodes; the same output).
      {"vpdq-then-tmk",
       [&](const Clip& c) {
         if (!VpdqHashFile(c.path, {}).ok() || !TmkHashFile(c.path, {}).ok()) std::abort();
       }},
      {"vpdq-and-tmk-one-decode",
       [&](const Clip& c) {
         Result<std::unique_ptr<VideoDecoder>> v = VideoDecoder::OpenFile(c.path, {});
         const TmkOptions tmk;
         if (!v.ok() || !VideoSignaturesOf(**v, {}, &tmk).ok()) std::abort();
       }},
      // The same frames and signature with swscale converting every frame
      // (the peer the exact fast scaler replaces; the same bits).
      {"decode-tmk-frames-swscale",
       [&](const Clip& c) { SampleClip(c, tmk_swscale, [](const VideoFrame&) { return true; }); }},
      {"tmk-swscale", [&](const Clip& c) {
         if (!TmkHashFile(c.path, tmk_swscale_options).ok()) std::abort();
       }}};
  auto wanted = [&](const std::string& name) {
    return o.only.empty() || std::find(o.only.begin(), o.only.end(), name) != o.only.end();
  };
  // --only names workloads ("sd", "hd") and impls; a kind not named runs whole.
  const bool any_group =
      !o.only.empty() &&
      std::any_of(groups.begin(), groups.end(), [&](const auto& g) { return wanted(g.first); });
  const bool any_impl = !o.only.empty() && std::any_of(rows.begin(), rows.end(), [&](const Row& r) {
    return wanted(r.impl);
  });
  for (const auto& [group, clips] : groups) {
    if (any_group && !wanted(group)) continue;
    double video_seconds = 0;
    for (const Clip& c : clips) video_seconds += c.seconds;
    std::map<std::string, double> factor;
    // Rounds interleave the impls (round 1 of each, then round 2, ...), so
    // that a slow spell of a shared machine falls on all of them alike; the
    // fastest round of each counts.
    std::vector<const Row*> chosen;
    for (const Row& r : rows) {
      if (!any_impl || wanted(r.impl)) chosen.push_back(&r);
    }
    std::map<std::string, double> best_cpu, best_wall;
    const double load = LoadAverage();
    for (int round = 0; round < std::max(1, o.rounds); ++round) {
      for (const Row* r : chosen) {
        const double t0 = ThreadCpuSeconds();
        const auto w0 = std::chrono::steady_clock::now();
        for (const Clip& c : clips) r->run(c);
        const double cpu = ThreadCpuSeconds() - t0;
        const double wall =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
        if (round == 0 || cpu < best_cpu[r->impl]) best_cpu[r->impl] = cpu;
        if (round == 0 || wall < best_wall[r->impl]) best_wall[r->impl] = wall;
      }
    }
    for (const Row* r : chosen) {
      const double cpu = best_cpu[r->impl];
      const double wall = best_wall[r->impl];
      factor[r->impl] = video_seconds / cpu;
      nlohmann::ordered_json j;
      j["bench"] = "video";
      j["workload"] = group;
      j["impl"] = r->impl;
      j["clips"] = clips.size();
      j["video_seconds"] = std::round(video_seconds * 100) / 100;
      j["cpu_seconds"] = std::round(cpu * 1000) / 1000;
      j["wall_seconds"] = std::round(wall * 1000) / 1000;
      j["realtime_per_core"] = std::round(factor[r->impl] * 10) / 10;
      j["realtime_wall"] = std::round(video_seconds / wall * 10) / 10;
      j["load_average"] = std::round(load * 100) / 100;
      j["rounds"] = std::max(1, o.rounds);
      j["threads"] = 1;
      j["machine"] = machine;
      std::cout << j.dump() << std::endl;
    }
    if (any_impl) continue;  // the summary needs every impl
    // Each fingerprint beside the bare decode of the frames it uses, and
    // beside decoding every frame.
    auto ratio = [&](const std::string& a, const std::string& b) {
      return std::round(factor[a] / factor[b] * 100) / 100;
    };
    nlohmann::ordered_json s;
    s["bench"] = "video";
    s["workload"] = group;
    s["summary"] = "realtime_per_core";
    s["vpdq_1fps"] = std::round(factor["vpdq-1fps"] * 10) / 10;
    s["tmk"] = std::round(factor["tmk"] * 10) / 10;
    s["decode_all_frames"] = std::round(factor["decode-all-frames"] * 10) / 10;
    s["vpdq_vs_decode_same_frames"] = ratio("vpdq-1fps", "decode-vpdq-1fps-frames");
    s["tmk_vs_decode_same_frames"] = ratio("tmk", "decode-tmk-frames");
    s["vpdq_vs_decode_all"] = ratio("vpdq-1fps", "decode-all-frames");
    s["tmk_vs_decode_all"] = ratio("tmk", "decode-all-frames");
    s["tmk_vs_tmk_swscale"] = ratio("tmk", "tmk-swscale");
    s["one_decode_vs_two"] = ratio("vpdq-and-tmk-one-decode", "vpdq-then-tmk");
    if (group == "sd") {
      s["floor"] = kFloorRealtimePerCore;
      s["vpdq_floor_met"] = factor["vpdq-1fps"] >= kFloorRealtimePerCore;
      s["tmk_floor_met"] = factor["tmk"] >= kFloorRealtimePerCore;
    }
    s["machine"] = machine;
    std::cout << s.dump() << std::endl;
  }
  return 0;
}

}  // namespace

void AddVideoSubcommand(CLI::App* app) {
  auto o = std::make_shared<VideoOptions>();
  CLI::App* cmd = app->add_subcommand(
      "video", "vPDQ at 1 frame/s and TMK+PDQF: real-time factor per core beside bare decoding");
  cmd->add_option("--videos", o->videos, "Folder of .mp4 clips (the reference sample videos)")
      ->capture_default_str();
  cmd->add_option("--rounds", o->rounds, "Rounds per measurement (the fastest counts)")
      ->capture_default_str();
  cmd->add_option("--only", o->only,
                  "Run only these workloads (sd, hd) and impls (e.g. tmk decode-all-frames)");
  cmd->callback([o] {
    if (const int rc = RunVideo(*o); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace safeguard::bench
