// Video decoding on the reference sample clips (../shared/testdata/tmk) and on
// files made here with libavformat: sampling rules, skipping against the plain
// decode, limits and errors.

#include "safeguard/media/video.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "test_support.h"
#include "yuv_scale.h"

namespace safeguard {
namespace {

bool FastScalerAvailable() {
  return media_internal::BestScaleKernel() == media_internal::ScaleKernel::kAvx2;
}

std::string Clip(const std::string& name) {
  return test_support::TestDataDir() + "/tmk/sample-videos/" + name;
}

struct Sampled {
  std::vector<int64_t> index;
  std::vector<uint64_t> pixel_sums;  // a cheap fingerprint of each frame's pixels
  std::vector<std::pair<int, int>> sizes;
};

uint64_t PixelSum(const VideoFrame& f) {
  uint64_t sum = 0;
  for (int y = 0; y < f.height; ++y) {
    const uint8_t* row = f.rgb + y * f.row_stride;
    for (int x = 0; x < 3 * f.width; ++x) sum = sum * 1099511628211ull + row[x];
  }
  return sum;
}

void Record(const VideoFrame& f, Sampled* out) {
  out->index.push_back(f.index);
  out->pixel_sums.push_back(PixelSum(f));
  out->sizes.emplace_back(f.width, f.height);
}

// Samples a whole clip; `decoded` (when given) gets the frames decoded.
Result<Sampled> SampleAll(const std::string& path, const FrameSampling& s,
                          const VideoOpenOptions& o = {}, int64_t* decoded = nullptr) {
  Result<std::unique_ptr<VideoDecoder>> v = VideoDecoder::OpenFile(path, o);
  if (!v.ok()) return v.status();
  Sampled out;
  Status st = (*v)->Sample(s, [&](const VideoFrame& f) {
    Record(f, &out);
    return true;
  });
  if (!st.ok()) return st;
  if (decoded != nullptr) *decoded = (*v)->decoded_frames();
  return out;
}

TEST(VideoDecode, SampleClipInfoAndEveryFrame) {
  SAFEGUARD_REQUIRE_TESTDATA();
  Result<std::unique_ptr<VideoDecoder>> v =
      VideoDecoder::OpenFile(Clip("pattern-sd-grey-bar.mp4"), {});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  const VideoInfo& info = (*v)->info();
  EXPECT_EQ(info.width, 480);
  EXPECT_EQ(info.height, 720);
  EXPECT_DOUBLE_EQ(info.frame_rate, 30.0);
  EXPECT_EQ(info.frame_count, 206);
  EXPECT_EQ(info.codec, "h264");
  EXPECT_EQ(info.rotation, 0);
  int n = 0;
  ASSERT_TRUE((*v)->Sample(FrameSampling::EveryFrame(),
                           [&](const VideoFrame& f) {
                             EXPECT_EQ(f.index, n);
                             EXPECT_EQ(f.width, 480);
                             EXPECT_NEAR(f.timestamp_seconds, n / 30.0, 1e-9);
                             ++n;
                             return true;
                           })
                  .ok());
  EXPECT_EQ(n, 206);
}

TEST(VideoDecode, OddDimensionsDecodeEveryFrame) {
  SAFEGUARD_REQUIRE_TESTDATA();
  Result<Sampled> s = SampleAll(Clip("test-padded-dimensions.mp4"), FrameSampling::EveryFrame());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->index.size(), 150u);
  Result<std::unique_ptr<VideoDecoder>> v =
      VideoDecoder::OpenFile(Clip("test-padded-dimensions.mp4"), {});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(s->sizes[0], std::make_pair((*v)->info().width, (*v)->info().height));
}

// The fast path (frames no sample needs are not decoded) against the plain
// decode (the oracle): the same frames, the same pixels, on real clips. The
// two shortest clips with B-frames (SD and HD; two GOPs each, the second
// with runs of P-frames) keep the test to a few seconds: every rule is
// exercised through a GOP boundary and the end of the stream.
TEST(VideoDecode, SkippingUnneededFramesChangesNothing) {
  SAFEGUARD_REQUIRE_TESTDATA();
  for (const char* clip : {"pattern-sd-grey-bar.mp4", "doorknob-hd-no-bar.mp4"}) {
    for (FrameSampling s :
         {FrameSampling::EverySeconds(1.0), FrameSampling::EverySeconds(0.5),
          FrameSampling::Resampled(15, 64, 64), FrameSampling::Resampled(7, 32, 48),
          FrameSampling::Resampled(40, 64, 64)}) {
      SCOPED_TRACE(std::string(clip) + " mode " + std::to_string(static_cast<int>(s.mode)) +
                   " fps " + std::to_string(s.fps));
      s.skip_unneeded = true;
      Result<Sampled> fast = SampleAll(Clip(clip), s);
      s.skip_unneeded = false;
      Result<Sampled> plain = SampleAll(Clip(clip), s);
      ASSERT_TRUE(fast.ok() && plain.ok());
      EXPECT_EQ(fast->index, plain->index);
      EXPECT_EQ(fast->pixel_sums, plain->pixel_sums);
      EXPECT_FALSE(fast->index.empty());
    }
  }
}

// The exact fast scaler (yuv_scale.h) against swscale on real frames: TMK's
// sampling (SD, BT.709 HD, portrait, padded dimensions) and other small
// sizes give the same pixels either way, and the fast scaler did convert
// them.
TEST(VideoDecode, ExactFastScalerGivesSwscalesPixels) {
  SAFEGUARD_REQUIRE_TESTDATA();
  const std::vector<std::pair<std::string, FrameSampling>> cases = {
      {"pattern-sd-grey-bar.mp4", FrameSampling::Resampled(15, 64, 64)},
      {"pattern-sd-grey-bar.mp4", FrameSampling::Resampled(5, 32, 48)},
      {"pattern-sd-grey-bar.mp4", FrameSampling::Resampled(3, 160, 90)},
      {"doorknob-hd-no-bar.mp4", FrameSampling::Resampled(15, 64, 64)},
      {"pattern-hd-no-bar.mp4", FrameSampling::Resampled(15, 64, 64)},
      {"test-padded-dimensions.mp4", FrameSampling::Resampled(15, 64, 64)}};
  for (auto [clip, s] : cases) {
    SCOPED_TRACE(clip + " " + std::to_string(s.width) + "x" + std::to_string(s.height));
    s.exact_fast_scaler = false;
    Result<Sampled> plain = SampleAll(Clip(clip), s);
    s.exact_fast_scaler = true;
    Result<std::unique_ptr<VideoDecoder>> v = VideoDecoder::OpenFile(Clip(clip), {});
    ASSERT_TRUE(plain.ok() && v.ok());
    std::vector<uint64_t> sums;
    ASSERT_TRUE((*v)->Sample(s,
                             [&](const VideoFrame& f) {
                               sums.push_back(PixelSum(f));
                               return true;
                             })
                    .ok());
    EXPECT_EQ(sums, plain->pixel_sums);
    if (FastScalerAvailable()) {
      // Every converted frame but the first (checked against swscale).
      EXPECT_GT((*v)->fast_scaled_frames(), static_cast<int64_t>(sums.size()) / 2);
    }
  }
}

// Several rules in one decode (the fast path) against each rule sampled
// alone (the oracle): the same frames, indexes and pixels per rule, with
// fewer frames decoded than the separate passes together.
TEST(VideoDecode, SampleEachGivesWhatEachRuleGivesAlone) {
  SAFEGUARD_REQUIRE_TESTDATA();
  const std::vector<std::vector<FrameSampling>> rule_sets = {
      {FrameSampling::EverySeconds(1.0), FrameSampling::Resampled(15, 64, 64)},
      {FrameSampling::EverySeconds(0.5), FrameSampling::Resampled(7, 32, 48),
       FrameSampling::Resampled(40, 64, 64)},
      {FrameSampling::EveryFrame(), FrameSampling::Resampled(15, 64, 64)}};
  // Every rule set on the SD clip, vPDQ's and TMK's on the HD one too.
  const std::vector<std::pair<std::string, size_t>> cases = {{"pattern-sd-grey-bar.mp4", 0},
                                                             {"pattern-sd-grey-bar.mp4", 1},
                                                             {"pattern-sd-grey-bar.mp4", 2},
                                                             {"doorknob-hd-no-bar.mp4", 0}};
  for (const auto& [clip, set] : cases) {
    SCOPED_TRACE(clip + " rule set " + std::to_string(set));
    const std::vector<FrameSampling>& rules = rule_sets[set];
    int64_t decoded_apart = 0;
    std::vector<Sampled> apart;
    for (const FrameSampling& r : rules) {
      int64_t decoded = 0;
      Result<Sampled> one = SampleAll(Clip(clip), r, {}, &decoded);
      ASSERT_TRUE(one.ok());
      decoded_apart += decoded;
      apart.push_back(std::move(*one));
    }
    Result<std::unique_ptr<VideoDecoder>> v = VideoDecoder::OpenFile(Clip(clip), {});
    ASSERT_TRUE(v.ok());
    std::vector<Sampled> together(rules.size());
    ASSERT_TRUE((*v)->SampleEach(rules,
                                 [&](size_t rule, const VideoFrame& f) {
                                   Record(f, &together[rule]);
                                   return true;
                                 })
                    .ok());
    for (size_t r = 0; r < rules.size(); ++r) {
      EXPECT_EQ(together[r].index, apart[r].index) << "rule " << r;
      EXPECT_EQ(together[r].pixel_sums, apart[r].pixel_sums) << "rule " << r;
      EXPECT_EQ(together[r].sizes, apart[r].sizes) << "rule " << r;
      EXPECT_FALSE(together[r].index.empty());
    }
    EXPECT_LT((*v)->decoded_frames(), decoded_apart);
  }
}

TEST(VideoDecode, SampleEachStopsOneRuleAndGoesOnWithTheOthers) {
  SAFEGUARD_REQUIRE_TESTDATA();
  const std::vector<FrameSampling> rules = {FrameSampling::EverySeconds(1.0),
                                            FrameSampling::Resampled(15, 64, 64)};
  Result<std::unique_ptr<VideoDecoder>> v =
      VideoDecoder::OpenFile(Clip("pattern-sd-grey-bar.mp4"), {});
  ASSERT_TRUE(v.ok());
  size_t counts[2] = {0, 0};
  ASSERT_TRUE((*v)->SampleEach(rules,
                               [&](size_t rule, const VideoFrame&) {
                                 ++counts[rule];
                                 return !(rule == 1 && counts[1] == 3);  // TMK's rule stops after 3
                               })
                  .ok());
  EXPECT_EQ(counts[1], 3u);
  EXPECT_EQ(counts[0], 7u);  // 206 frames at 30 fps: frames 0, 30, ..., 180

  // Stopping every rule ends the decode early.
  Result<std::unique_ptr<VideoDecoder>> w =
      VideoDecoder::OpenFile(Clip("pattern-sd-grey-bar.mp4"), {});
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->SampleEach(rules, [&](size_t, const VideoFrame&) { return false; }).ok());
  EXPECT_LT((*w)->decoded_frames(), 40);
}

TEST(VideoDecode, SampleEachRefusesNoRulesAndTooMany) {
  SAFEGUARD_REQUIRE_TESTDATA();
  for (size_t n : {size_t{0}, kMaxSamplingRules + 1}) {
    Result<std::unique_ptr<VideoDecoder>> v =
        VideoDecoder::OpenFile(Clip("pattern-sd-grey-bar.mp4"), {});
    ASSERT_TRUE(v.ok());
    const std::vector<FrameSampling> rules(n, FrameSampling::EverySeconds(1.0));
    EXPECT_EQ((*v)->SampleEach(rules, [](size_t, const VideoFrame&) { return true; }).code(),
              ErrorCode::kInvalidArgument)
        << n;
  }
}

TEST(VideoDecode, ResamplingKeepsTheReferenceFrameCount) {
  SAFEGUARD_REQUIRE_TESTDATA();
  // The counts in the reference's .tmk headers (ffmpeg -r 15).
  const std::map<std::string, size_t> expected = {{"pattern-sd-grey-bar.mp4", 105},
                                                  {"doorknob-hd-no-bar.mp4", 62}};
  for (const auto& [clip, count] : expected) {
    Result<Sampled> s = SampleAll(Clip(clip), FrameSampling::Resampled(15, 64, 64));
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->index.size(), count) << clip;
    EXPECT_EQ(s->sizes[0], std::make_pair(64, 64));
  }
}

TEST(VideoResampler, ConstantRateRuleOnTimestamps) {
  // 30 fps to 15: frames 0-3, then every other one (the tool's 1.1-frame
  // tolerance): 564 frames -> 284.
  ConstantRateResampler r(false);
  int64_t out = 0;
  for (int k = 0; k < 564; ++k) {
    const auto d = r.Next(k * 0.5, 0.5);
    out += d.repeat_previous + d.emit_current;
  }
  out += r.Finish();
  EXPECT_EQ(out, 284);
  // 10 fps to 15: frames repeated, 1.5 output frames per input on average.
  ConstantRateResampler up(false);
  out = 0;
  for (int k = 0; k < 100; ++k) {
    const auto d = up.Next(k * 1.5, 2.0);
    out += d.repeat_previous + d.emit_current;
  }
  EXPECT_NEAR(static_cast<double>(out), 150.0, 2.0);
}

TEST(VideoLimits, RefusedFromTheHeaderOrWhileDecoding) {
  SAFEGUARD_REQUIRE_TESTDATA();
  const std::string path = Clip("chair-19-sd-bar.mp4");
  VideoOpenOptions o;
  o.limits.max_dimension = 640;
  EXPECT_EQ(VideoDecoder::OpenFile(path, o).status().code(), ErrorCode::kLimitExceeded);
  o = {};
  o.limits.max_pixels = 480 * 720 - 1;
  EXPECT_EQ(VideoDecoder::OpenFile(path, o).status().code(), ErrorCode::kLimitExceeded);
  o = {};
  o.limits.max_duration_seconds = 10;
  EXPECT_EQ(VideoDecoder::OpenFile(path, o).status().code(), ErrorCode::kLimitExceeded);
  o = {};
  o.limits.max_file_bytes = 1000;
  Status s = VideoDecoder::OpenFile(path, o).status();
  EXPECT_EQ(s.code(), ErrorCode::kLimitExceeded);
  EXPECT_NE(s.message().find("max_file_bytes"), std::string::npos);
  o = {};
  o.limits.max_frames = 100;  // the header declares 564
  EXPECT_EQ(VideoDecoder::OpenFile(path, o).status().code(), ErrorCode::kLimitExceeded);
}

// One VP9 keyframe, 32x24 (a gradient), as libvpx-vp9 encodes it for
// fuzz/make_video_seeds: the smallest real picture to build inputs around.
std::vector<uint8_t> Vp9Keyframe() {
  const char* hex =
      "824983420001f001761038241c18420000306000005f3ffffcafd54c7bf876e03cdbc004d1dd134c5f102ffffffd"
      "0aa7"
      "5e3135df687ffffd2e754515c70ba245cfffd763fd1658797fff5c80dffdf53c2bbffbc27c83a643ffbe006fff4d"
      "8043"
      "90adb8b3b43b8ffffeefd959ffdcc8df0114afe4e33f2b716f9fd78c09ef9af3feebb97fb820794e50102349c87b"
      "fffd"
      "a03570feb1ffff07fff07255f9aa61c89dbc2dfdbd9833b5400742ffff7a2a069e3fe2b333ea7b3dc227c6942ef6"
      "3800";
  std::vector<uint8_t> out;
  for (size_t i = 0; hex[i] != '\0'; i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex + i, 2), nullptr, 16)));
  }
  return out;
}

// An IVF file of VP9 packets with timestamps 0, 1, 2, ... in a time base of
// `tick_num / tick_den` seconds (the container has no frame durations: a
// packet lasts one tick).
std::vector<uint8_t> Ivf(uint32_t tick_num, uint32_t tick_den,
                         const std::vector<std::vector<uint8_t>>& packets) {
  std::vector<uint8_t> out;
  auto put = [&](uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  for (char c : std::string("DKIF")) out.push_back(static_cast<uint8_t>(c));
  put(0, 2);   // version
  put(32, 2);  // header size
  for (char c : std::string("VP90")) out.push_back(static_cast<uint8_t>(c));
  put(32, 2);  // width
  put(24, 2);  // height
  put(tick_den, 4);
  put(tick_num, 4);
  put(0, 4);  // duration: not declared
  put(0, 4);
  for (size_t k = 0; k < packets.size(); ++k) {
    put(packets[k].size(), 4);
    put(k, 8);
    out.insert(out.end(), packets[k].begin(), packets[k].end());
  }
  return out;
}

struct Outcome {
  Status status;
  int64_t frames = 0;   // sampled
  int64_t decoded = 0;  // decoder output
  std::vector<uint64_t> pixel_sums;
};

Outcome SampleBuffer(const std::vector<uint8_t>& bytes, const FrameSampling& s,
                     const VideoOpenOptions& o = {}) {
  Outcome out;
  Result<std::unique_ptr<VideoDecoder>> v =
      VideoDecoder::OpenBuffer(bytes.data(), bytes.size(), o, "synthetic.ivf");
  if (!v.ok()) {
    out.status = v.status();
    return out;
  }
  out.status = (*v)->Sample(s, [&](const VideoFrame& f) {
    ++out.frames;
    uint64_t sum = 0;
    for (int y = 0; y < f.height; ++y) {
      const uint8_t* row = f.rgb + y * f.row_stride;
      for (int x = 0; x < 3 * f.width; ++x) sum = sum * 1099511628211ull + row[x];
    }
    out.pixel_sums.push_back(sum);
    return true;
  });
  out.decoded = (*v)->decoded_frames();
  return out;
}

// The fuzz finding: a frame whose duration claims days (here one IVF tick of
// 100,000 s; in the fuzzer's input 40 million s) made `-r` resampling repeat
// it at 15 fps for all of them, millions of conversions from 200 bytes.
// Resampled output is bounded by max_duration_seconds, and a repeated frame
// is converted once.
TEST(VideoLimits, ResampledOutputIsBoundedByMaxDuration) {
  const std::vector<uint8_t> key = Vp9Keyframe();
  const auto start = std::chrono::steady_clock::now();
  Outcome days = SampleBuffer(Ivf(100'000, 1, {key}), FrameSampling::Resampled(15, 64, 64));
  EXPECT_EQ(days.status.code(), ErrorCode::kLimitExceeded) << days.status.ToString();
  EXPECT_NE(days.status.message().find("max_duration_seconds"), std::string::npos);
  EXPECT_EQ(days.frames, 0);  // refused before a frame of it is made
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // Every frame of it: one frame, no resampling, fine.
  Outcome plain =
      SampleBuffer(Ivf(100'000, 1, {key}), FrameSampling::EveryFrame(), VideoOpenOptions{});
  EXPECT_TRUE(plain.status.ok()) << plain.status.ToString();
  EXPECT_EQ(plain.frames, 1);

  // Within the limit: two frames of 60 s each are 120 s at 15 fps, every
  // output the same picture (converted once, the same pixels each time).
  Outcome minutes = SampleBuffer(Ivf(60, 1, {key, key}), FrameSampling::Resampled(15, 16, 16));
  ASSERT_TRUE(minutes.status.ok()) << minutes.status.ToString();
  EXPECT_EQ(minutes.decoded, 2);
  EXPECT_NEAR(static_cast<double>(minutes.frames), 1800.0, 30.0);
  for (uint64_t sum : minutes.pixel_sums) EXPECT_EQ(sum, minutes.pixel_sums[0]);
  // The same with max_duration_seconds 100: the output would pass 100 s.
  VideoOpenOptions o;
  o.limits.max_duration_seconds = 100;
  Outcome capped = SampleBuffer(Ivf(60, 1, {key, key}), FrameSampling::Resampled(15, 16, 16), o);
  EXPECT_EQ(capped.status.code(), ErrorCode::kLimitExceeded) << capped.status.ToString();
  EXPECT_LE(capped.frames, 100 * 15 + 1);
}

// Packets that never decode are work too: at most 2 * max_frames + 16 of
// them, and their bytes at most max_packet_bytes_per_file_byte times the file
// size (plus 1 MiB).
TEST(VideoLimits, PacketsAndTheirBytesAreBounded) {
  const std::vector<uint8_t> key = Vp9Keyframe();
  std::vector<std::vector<uint8_t>> packets = {key};
  for (int k = 0; k < 40; ++k) packets.emplace_back(16, uint8_t{0xff});
  Outcome damaged = SampleBuffer(Ivf(1, 10, packets), FrameSampling::EveryFrame());
  EXPECT_TRUE(damaged.status.ok()) << damaged.status.ToString();  // damage is skipped
  EXPECT_EQ(damaged.decoded, 1);
  VideoOpenOptions o;
  o.limits.max_frames = 5;
  Outcome many = SampleBuffer(Ivf(1, 10, packets), FrameSampling::EveryFrame(), o);
  EXPECT_EQ(many.status.code(), ErrorCode::kLimitExceeded) << many.status.ToString();
  EXPECT_NE(many.status.message().find("26 video packets"), std::string::npos);

  // 1.2 MB of packets from a 1.2 MB file: within the default, over a factor
  // of 0 (which leaves the 1 MiB allowance).
  std::vector<std::vector<uint8_t>> big = {key};
  for (int k = 0; k < 12; ++k) big.emplace_back(100'000, uint8_t{0xff});
  Outcome ok = SampleBuffer(Ivf(1, 10, big), FrameSampling::EveryFrame());
  EXPECT_TRUE(ok.status.ok()) << ok.status.ToString();
  o = {};
  o.limits.max_packet_bytes_per_file_byte = 0;
  Outcome over = SampleBuffer(Ivf(1, 10, big), FrameSampling::EveryFrame(), o);
  EXPECT_EQ(over.status.code(), ErrorCode::kLimitExceeded) << over.status.ToString();
  EXPECT_NE(over.status.message().find("max_packet_bytes_per_file_byte"), std::string::npos);
}

TEST(VideoErrors, ClearErrorsForBadInputs) {
  test_support::ScratchDir dir;
  auto code = [](const std::string& p) { return VideoDecoder::OpenFile(p, {}).status().code(); };
  EXPECT_EQ(code(dir.Write("empty.mp4", std::string())), ErrorCode::kUnsupported);
  EXPECT_EQ(code(dir.Write("garbage.mp4", std::string(5000, 'x'))), ErrorCode::kUnsupported);
  EXPECT_EQ(code(dir.File("missing.mp4")), ErrorCode::kNotFound);
  EXPECT_EQ(code(dir.path().string()), ErrorCode::kInvalidArgument);
}

TEST(VideoErrors, TruncatedFilesAreCorruptNeverPartial) {
  SAFEGUARD_REQUIRE_TESTDATA();
  test_support::ScratchDir dir;
  const std::vector<uint8_t> bytes = test_support::ReadBytes(Clip("chair-19-sd-bar.mp4"));
  for (double keep : {0.02, 0.3, 0.6, 0.95}) {
    SCOPED_TRACE(keep);
    const std::vector<uint8_t> cut(
        bytes.begin(),
        bytes.begin() + static_cast<std::ptrdiff_t>(keep * static_cast<double>(bytes.size())));
    const std::string path = dir.Write("cut.mp4", cut);
    Result<std::unique_ptr<VideoDecoder>> v = VideoDecoder::OpenFile(path, {});
    if (!v.ok()) {
      EXPECT_EQ(v.status().code(), ErrorCode::kCorrupt) << v.status().ToString();
      continue;
    }
    Status s = (*v)->Sample(FrameSampling::EverySeconds(1), [](const VideoFrame&) { return true; });
    EXPECT_EQ(s.code(), ErrorCode::kCorrupt) << s.ToString();
  }
  // From memory, the same rules.
  Result<std::unique_ptr<VideoDecoder>> m =
      VideoDecoder::OpenBuffer(bytes.data(), bytes.size() / 2, {}, "half");
  if (m.ok()) {
    EXPECT_EQ(
        (*m)->Sample(FrameSampling::EveryFrame(), [](const VideoFrame&) { return true; }).code(),
        ErrorCode::kCorrupt);
  } else {
    EXPECT_EQ(m.status().code(), ErrorCode::kCorrupt);
  }
}

}  // namespace
}  // namespace safeguard
