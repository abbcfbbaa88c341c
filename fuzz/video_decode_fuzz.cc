// libFuzzer target: arbitrary bytes -> VideoDecoder::OpenBuffer -> SampleEach.
//
// Finds memory errors and undefined behaviour (ASan/UBSan) in the demux and
// decode path (our I/O callbacks, probing, limits, the skipping pre-pass, the
// constant-rate resampler, several rules in one decode, conversion (the
// exact fast scaler included) and rotation, and the libavformat /
// libavcodec / libswscale code they reach), and checks the contracts:
// failures carry one of the documented codes and a message; opened videos
// report dimensions within the limits; every sampled frame has pixels of the
// size asked for, indices that increase, and at most max_frames frames are
// decoded.
//
// Limits are small so that each input runs in milliseconds and a long or
// large video shows up as kLimitExceeded, not as a slow unit.
// Build and run: fuzz/run.sh (see fuzz/README.md).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "safeguard/media/video.h"

namespace {

constexpr uint64_t kFuzzMaxFileBytes = 8u << 20;
constexpr int kFuzzMaxDimension = 2'048;
constexpr uint64_t kFuzzMaxPixels = 1'000'000;
constexpr int64_t kFuzzMaxFrames = 300;
constexpr double kFuzzMaxDurationSeconds = 600;

void Check(bool condition) {
  if (!condition) std::abort();  // libFuzzer reports it as a crash
}

bool Documented(safeguard::ErrorCode code) {
  using safeguard::ErrorCode;
  return code == ErrorCode::kUnsupported || code == ErrorCode::kCorrupt ||
         code == ErrorCode::kLimitExceeded;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  safeguard::VideoOpenOptions options;
  options.limits.max_file_bytes = kFuzzMaxFileBytes;
  options.limits.max_dimension = kFuzzMaxDimension;
  options.limits.max_pixels = kFuzzMaxPixels;
  options.limits.max_frames = kFuzzMaxFrames;
  options.limits.max_duration_seconds = kFuzzMaxDurationSeconds;

  safeguard::Result<std::unique_ptr<safeguard::VideoDecoder>> video =
      safeguard::VideoDecoder::OpenBuffer(data, size, options, "fuzz-input");
  if (!video.ok()) {
    Check(Documented(video.status().code()));
    Check(!video.status().message().empty());
    return 0;
  }
  const safeguard::VideoInfo& info = (*video)->info();
  Check(info.width > 0 && info.height > 0);
  Check(info.width <= kFuzzMaxDimension && info.height <= kFuzzMaxDimension);
  Check(uint64_t(info.width) * uint64_t(info.height) <= kFuzzMaxPixels);
  Check(info.frame_rate > 0);
  Check(info.rotation % 90 == 0 && info.rotation >= 0 && info.rotation < 360);
  Check(!info.codec.empty() && !info.container.empty());

  // Vary the sampling with the input length, not its bytes, so seeds stay
  // valid videos and every input is reproducible on its own: every frame at
  // the decoded size; vPDQ's rule (with skipping) at a reduced size; TMK's
  // constant-rate frames with and without skipping, rotation applied; and
  // vPDQ's and TMK's rules from one decode, as `safeguard hash` takes them.
  std::vector<safeguard::FrameSampling> rules;
  switch (size % 5) {
    case 0:
      rules.push_back(safeguard::FrameSampling::EveryFrame());
      break;
    case 1:
      rules.push_back(safeguard::FrameSampling::EverySeconds(0.5));
      rules.back().width = 24;
      rules.back().height = 16;
      break;
    case 2:
      rules.push_back(safeguard::FrameSampling::Resampled(15, 64, 64));
      break;
    case 3:
      rules.push_back(safeguard::FrameSampling::Resampled(25, 16, 16));
      rules.back().skip_unneeded = false;
      break;
    default:
      rules.push_back(safeguard::FrameSampling::EverySeconds(1.0));
      rules.push_back(safeguard::FrameSampling::Resampled(15, 64, 64));
      break;
  }
  std::vector<int64_t> last_index(rules.size(), -1);
  const safeguard::Status status =
      (*video)->SampleEach(rules, [&](size_t rule, const safeguard::VideoFrame& f) {
        Check(rule < rules.size());
        Check(f.rgb != nullptr && f.width > 0 && f.height > 0);
        Check(f.row_stride >= std::ptrdiff_t{3} * f.width);
        if (rules[rule].width > 0) {
          Check(f.width == rules[rule].width && f.height == rules[rule].height);
        }
        Check(f.index > last_index[rule]);
        last_index[rule] = f.index;
        // Touch the first and last byte of every row: ASan checks the buffer.
        unsigned sum = 0;
        for (int y = 0; y < f.height; ++y) {
          const uint8_t* row = f.rgb + y * f.row_stride;
          sum += row[0] + row[3 * f.width - 1];
        }
        return sum != ~0u;
      });
  if (!status.ok()) {
    Check(Documented(status.code()));
    Check(!status.message().empty());
  }
  // The frame past max_frames is the one that fails the limit.
  Check((*video)->decoded_frames() <= kFuzzMaxFrames + 1);
  return 0;
}
