// Video decoding: a file or buffer -> sampled frames as 8-bit RGB, through
// FFmpeg's libraries (libavformat, libavcodec, libswscale).
//
// Frames are sampled as the fingerprints need them, and only sampled frames
// are converted to RGB (every frame is still decoded: inter-coded video needs
// its reference frames):
//   - every frame (vPDQ's conformance mode);
//   - one frame every N seconds by decoded-frame index, the vPDQ reference's
//     rule (frame i is kept when i % int(N * fps) == 0);
//   - resampled to a constant rate (TMK's 15 fps), frames dropped or repeated
//     exactly as the ffmpeg command-line tool's `-r` does.
//
// Limits (file size, duration, dimensions, frame count; docs/limits.md) are
// checked from the container's header before a frame is decoded, and again
// while decoding, since a header can lie. Damaged, truncated, audio-only and
// empty files and unsupported codecs are errors with a clear message, never
// a crash or a partial result.
//
// Example:
//   Result<std::unique_ptr<VideoDecoder>> v = VideoDecoder::OpenFile(path, {});
//   if (!v.ok()) return v.status();
//   FrameSampling every_second = FrameSampling::EverySeconds(1.0);
//   Status s = (*v)->Sample(every_second, [&](const VideoFrame& f) {
//     Use(f.rgb, f.width, f.height, f.row_stride);
//     return true;  // false stops early
//   });
//
// Thread safety: a VideoDecoder is used by one thread at a time; separate
// decoders may run in parallel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "safeguard/core/status.h"

namespace safeguard {

// Named defaults for VideoLimits (documented in docs/limits.md).
inline constexpr uint64_t kDefaultMaxVideoFileBytes = uint64_t{4} << 30;  // 4 GiB
inline constexpr double kDefaultMaxVideoDurationSeconds = 4 * 3600.0;     // 4 hours
inline constexpr int kDefaultMaxVideoDimension = 8192;                    // px, either side
inline constexpr uint64_t kDefaultMaxVideoPixels = 8192ull * 4320;        // per frame (8K)
inline constexpr int64_t kDefaultMaxVideoFrames = 1'000'000;              // decoded frames
inline constexpr int64_t kDefaultMaxVideoPacketBytesPerFileByte = 16;     // demuxed / file bytes

struct VideoLimits {
  // Larger files are refused before a byte is demuxed. The file is streamed,
  // never held in memory whole.
  uint64_t max_file_bytes = kDefaultMaxVideoFileBytes;
  // The container's duration above this is refused at open; a frame stamped
  // later than this while decoding is an error too.
  double max_duration_seconds = kDefaultMaxVideoDurationSeconds;
  // A coded width or height above this is refused at open.
  int max_dimension = kDefaultMaxVideoDimension;
  // width * height above this is refused at open.
  uint64_t max_pixels = kDefaultMaxVideoPixels;
  // Decoding stops with kLimitExceeded after this many decoded frames, and
  // after 2 * max_frames + 16 packets of the video stream (a frame can come
  // in two field packets) whether or not they decode.
  int64_t max_frames = kDefaultMaxVideoFrames;
  // Work per input byte: the bytes of the video packets handed to the
  // decoder in one Sample (both passes when skipping) may be at most this
  // many times the file size, plus 1 MiB. A legitimate file hands each
  // byte over once per pass; a damaged index can point thousands of packets
  // at the same bytes.
  int64_t max_packet_bytes_per_file_byte = kDefaultMaxVideoPacketBytesPerFileByte;
};

struct VideoOpenOptions {
  VideoLimits limits;
  // libavcodec decoding threads for this video (frame and slice threads).
  // 1 by default: callers parallelise across files. 0 = one per core.
  int threads = 1;
};

// What the container says about the video stream, read at open.
struct VideoInfo {
  int width = 0;  // coded size of the decoded pictures (before rotation)
  int height = 0;
  // Clockwise rotation in degrees (0, 90, 180, 270) the display matrix asks
  // for, as the ffmpeg tool applies it. Mirroring is not reported.
  int rotation = 0;
  // The stream's average frame rate (r_frame_rate when that is unknown):
  // the vPDQ reference's frame rate. > 0.
  double frame_rate = 0;
  double duration_seconds = 0;  // 0 when the container does not say
  int64_t frame_count = 0;      // frames the container declares; 0 when unknown
  std::string codec;            // decoder name, e.g. "h264"
  std::string container;        // demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
};

// How frames are chosen and converted. Use the named constructors.
struct FrameSampling {
  enum class Mode {
    kEveryFrame,    // every decoded frame
    kEverySeconds,  // frame i when i % max(1, int(seconds * frame_rate)) == 0
    kResample,      // constant `fps`, as `ffmpeg -r fps` (drops and repeats)
  };
  Mode mode = Mode::kEveryFrame;
  double seconds = 1.0;  // kEverySeconds: interval
  double fps = 15.0;     // kResample: output rate

  // Output size; 0 = the decoded size (after rotation when applied).
  int width = 0;
  int height = 0;
  // kArea is the vPDQ reference's swscale filter, kBicubic the ffmpeg tool's
  // default (TMK). Only matters when the size changes.
  enum class Scaler { kArea, kBicubic };
  Scaler scaler = Scaler::kArea;
  // Apply the display matrix's rotation (the ffmpeg tool does; the vPDQ
  // reference does not).
  bool apply_rotation = false;
  // Convert YUV with the matrix and range the frames are tagged with (BT.709
  // for HD, full range, ...), as the ffmpeg tool does. Off: swscale's
  // defaults (BT.601, range from the pixel format), as the vPDQ reference.
  bool use_color_tags = false;
  // Do not decode frames that no sample needs and no other frame refers to
  // (libavcodec's AVDISCARD_NONREF), found by a demux-only pre-pass over the
  // timestamps. The frames delivered are the same as without it (tested);
  // only for MP4/MOV and Matroska/WebM, whose timestamps are exact.
  bool skip_unneeded = true;
  // kBicubic downscales of 8-bit 4:2:0 video through Safeguard's own
  // scaler, which gives libswscale's exact bits faster (src/media/
  // yuv_scale.h); the first frame of each clip is checked against swscale,
  // which takes over on any difference. Off: swscale for every frame.
  bool exact_fast_scaler = true;

  static FrameSampling EveryFrame() { return {}; }
  static FrameSampling EverySeconds(double seconds) {
    FrameSampling s;
    s.mode = Mode::kEverySeconds;
    s.seconds = seconds;
    return s;
  }
  // The TMK reference's frames: `ffmpeg -i IN -s 64:64 -pix_fmt rgb24 -r 15`.
  static FrameSampling Resampled(double fps, int width, int height) {
    FrameSampling s;
    s.mode = Mode::kResample;
    s.fps = fps;
    s.width = width;
    s.height = height;
    s.scaler = Scaler::kBicubic;
    s.apply_rotation = true;
    s.use_color_tags = true;
    return s;
  }
};

// One sampled frame, valid only during the callback.
struct VideoFrame {
  // kEveryFrame / kEverySeconds: the decoded-frame index (0-based, in
  // presentation order). kResample: the output frame index.
  int64_t index = 0;
  // index / frame_rate (the vPDQ reference's timestamp), or index / fps when
  // resampling.
  double timestamp_seconds = 0;
  // The frame's own presentation time from the container, from the start of
  // the stream.
  double pts_seconds = 0;
  int width = 0;
  int height = 0;
  const uint8_t* rgb = nullptr;  // interleaved 8-bit RGB
  std::ptrdiff_t row_stride = 0;
};

// Returns false to stop sampling early (Sample then returns OK).
using FrameCallback = std::function<bool(const VideoFrame&)>;
// SampleEach: `rule` is the index of the sampling rule the frame is for.
// Returns false to stop that rule (the others go on; SampleEach returns OK
// once every rule has stopped).
using EachFrameCallback = std::function<bool(size_t rule, const VideoFrame&)>;
// The most sampling rules one SampleEach takes.
inline constexpr size_t kMaxSamplingRules = 8;

class VideoDecoder {
 public:
  // Opens a file: kNotFound, kInvalidArgument (not a regular file), kIoError
  // as InputFile; kLimitExceeded over a limit; kUnsupported (empty, not a
  // container we read, no video stream, a codec this build cannot decode);
  // kCorrupt (a known container whose header is damaged or truncated).
  static Result<std::unique_ptr<VideoDecoder>> OpenFile(const std::string& path,
                                                        const VideoOpenOptions& options);
  // Same over bytes in memory, which must outlive the decoder. `name` is
  // used in error messages only.
  static Result<std::unique_ptr<VideoDecoder>> OpenBuffer(const uint8_t* data, size_t size,
                                                          const VideoOpenOptions& options,
                                                          std::string_view name);
  ~VideoDecoder();
  VideoDecoder(const VideoDecoder&) = delete;
  VideoDecoder& operator=(const VideoDecoder&) = delete;

  const VideoInfo& info() const;

  // Decodes the video from the start and calls `on_frame` for each sampled
  // frame in order. May be called once per decoder. Errors: kCorrupt (damaged
  // or truncated data: a file whose container declares more frames than it
  // holds is truncated; the message says how many were found),
  // kLimitExceeded (max_frames, the packet count and bytes that go with it,
  // max_duration_seconds: also a resampled output frame stamped later, e.g.
  // a frame whose duration says it lasts for days), kInvalidArgument (bad
  // sampling parameters), kInternal.
  Status Sample(const FrameSampling& sampling, const FrameCallback& on_frame);
  // Several rules from one decode (vPDQ's and TMK's frames together): each
  // frame is decoded once and handed to every rule that takes it; a frame
  // is skipped only when no rule needs it. Each rule receives exactly the
  // frames, in the same order, that Sample with that rule alone gives
  // (tested); frames of different rules interleave in decode order. The
  // errors of Sample; kInvalidArgument for no rules or more than
  // kMaxSamplingRules.
  Status SampleEach(std::span<const FrameSampling> samplings, const EachFrameCallback& on_frame);

  // Frames the decoder returned in the last Sample (sampled or not; frames
  // skipped as unneeded are not counted).
  int64_t decoded_frames() const;
  // Frames of the last Sample converted by the exact fast scaler
  // (FrameSampling::exact_fast_scaler) rather than by swscale.
  int64_t fast_scaled_frames() const;

  struct State;  // internal

 private:
  explicit VideoDecoder(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// The ffmpeg tool's `-r` rule for one output stream, separated from decoding
// so it can be tested on timestamps alone. Feed each decoded frame's
// presentation time and duration (in output frames, i.e. seconds * fps); it
// says how many times to emit the previous frame and then the current one.
class ConstantRateResampler {
 public:
  // `single_stream`: the input holds only this stream (the tool then does not
  // duplicate frames to fill a late start).
  explicit ConstantRateResampler(bool single_stream) : single_stream_(single_stream) {}
  struct Decision {
    int64_t repeat_previous = 0;  // emit the previous input frame this often first
    int64_t emit_current = 0;     // then the current frame this often
  };
  Decision Next(double pts_in_frames, double duration_in_frames);
  // At end of stream: how often to repeat the last frame.
  int64_t Finish();
  // The next output position (the tool's sync_opts).
  int64_t emitted() const { return next_out_; }

 private:
  bool single_stream_;
  bool emitted_any_ = false;
  int64_t next_out_ = 0;
  int64_t last_nb0_[3] = {0, 0, 0};
};

}  // namespace safeguard
