// Video decoding on libavformat/libavcodec/libswscale: demuxing through our
// own I/O callbacks (InputFile or memory), limits from the header, the three
// sampling rules, and RGB conversion of sampled frames only.

#include "safeguard/media/video.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "safeguard/core/file.h"
#include "yuv_scale.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/avutil.h>
#include <libavutil/cpu.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>
}

namespace safeguard {
namespace {

constexpr int kIoBufferBytes = 64 * 1024;

// Demuxers reachable from input bytes: the containers uploads come in. Every
// other demuxer (image sequences, playlists that open other files, raw
// streams, ...) is off, which also keeps the attack surface small.
constexpr const char* kDemuxerWhitelist = "mov,matroska,webm,avi,flv,mpegts,mpeg,ogg,asf,ivf";
// Decoders reachable from input bytes.
constexpr const char* kDecoderWhitelist =
    "h264,hevc,vp8,vp9,av1,libdav1d,libaom-av1,mpeg4,msmpeg4v1,msmpeg4v2,msmpeg4v3,"
    "mpeg1video,mpeg2video,h263,h263p,flv,theora,wmv1,wmv2,wmv3,vc1,mjpeg,prores,"
    "libvpx,libvpx-vp9";
constexpr size_t kMaxLibavErrorChars = 200;
// AV_TIME_BASE_Q, which is a C compound literal (clang's -Wpedantic refuses
// it in C++).
constexpr AVRational kMicroseconds{1, AV_TIME_BASE};

std::string AvErrorText(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof(buf));
  std::string s(buf);
  if (s.size() > kMaxLibavErrorChars) s.resize(kMaxLibavErrorChars);
  return s;
}

void SetUpLibav() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Damaged input makes the codecs print; failures come back as Status.
    av_log_set_level(AV_LOG_QUIET);
#if defined(__x86_64__) && defined(AV_CPU_FLAG_SLOW_GATHER)
    // swscale's AVX2 horizontal scaler is built on vpgatherdd, which FFmpeg
    // 5.1 only avoids on the Intel CPUs it knows to be slow at it. On AMD
    // EPYC (Zen 5) its SSSE3 scaler is 22% (SD) to 35% (HD) faster at TMK's
    // 64x64 with the same output bits. The flag only steers that choice;
    // every other detected CPU feature is kept.
    if (__builtin_cpu_is("amd")) av_force_cpu_flags(av_get_cpu_flags() | AV_CPU_FLAG_SLOW_GATHER);
#endif
  });
}

// Where the bytes come from: a regular file read with pread, or memory.
struct ByteSource {
  std::optional<InputFile> file;
  const uint8_t* data = nullptr;
  uint64_t size = 0;
  uint64_t pos = 0;
  Status io_error;  // a read the OS refused (reported instead of "corrupt")
};

int ReadPacket(void* opaque, uint8_t* buf, int buf_size) {
  auto* src = static_cast<ByteSource*>(opaque);
  if (src->pos >= src->size || buf_size <= 0) return AVERROR_EOF;
  const size_t want = static_cast<size_t>(
      std::min<uint64_t>(static_cast<uint64_t>(buf_size), src->size - src->pos));
  size_t got = 0;
  if (src->file) {
    Result<size_t> n = src->file->ReadAt(src->pos, buf, want);
    if (!n.ok()) {
      src->io_error = n.status();
      return AVERROR(EIO);
    }
    got = *n;
  } else {
    std::memcpy(buf, src->data + src->pos, want);
    got = want;
  }
  if (got == 0) return AVERROR_EOF;
  src->pos += got;
  return static_cast<int>(got);
}

int64_t SeekBytes(void* opaque, int64_t offset, int whence) {
  auto* src = static_cast<ByteSource*>(opaque);
  whence &= ~AVSEEK_FORCE;
  if (whence == AVSEEK_SIZE) return static_cast<int64_t>(src->size);
  int64_t base = 0;
  if (whence == SEEK_CUR) base = static_cast<int64_t>(src->pos);
  if (whence == SEEK_END) base = static_cast<int64_t>(src->size);
  if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return AVERROR(EINVAL);
  const int64_t target = base + offset;
  if (target < 0) return AVERROR(EINVAL);
  src->pos = static_cast<uint64_t>(target);
  return target;
}

struct FormatCloser {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct IoCloser {
  void operator()(AVIOContext* c) const {
    if (c) av_freep(&c->buffer);
    avio_context_free(&c);
  }
};
struct CodecCloser {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameCloser {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketCloser {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsCloser {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};
using FramePtr = std::unique_ptr<AVFrame, FrameCloser>;

// Clockwise degrees from the display matrix, as the ffmpeg tool computes
// them (fftools' get_rotation), rounded to a multiple of 90.
int RotationOf(const AVStream* st) {
  const uint8_t* side = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, nullptr);
  if (side == nullptr) return 0;
  double theta = -std::round(av_display_rotation_get(reinterpret_cast<const int32_t*>(side)));
  if (std::isnan(theta)) return 0;
  theta -= 360 * std::floor(theta / 360 + 0.9 / 360);
  for (int r : {90, 180, 270}) {
    if (std::fabs(theta - r) < 1.0) return r;
  }
  return 0;
}

// Copies `src` (w x h RGB) rotated clockwise by `rotation` into `dst`.
void RotateRgb(const uint8_t* src, std::ptrdiff_t src_stride, int w, int h, int rotation,
               uint8_t* dst, std::ptrdiff_t dst_stride) {
  const int ow = (rotation == 180) ? w : h;
  const int oh = (rotation == 180) ? h : w;
  for (int y = 0; y < oh; ++y) {
    uint8_t* out = dst + y * dst_stride;
    for (int x = 0; x < ow; ++x) {
      int sx = 0, sy = 0;
      if (rotation == 90) {
        sx = y;
        sy = h - 1 - x;
      } else if (rotation == 270) {
        sx = w - 1 - y;
        sy = x;
      } else {
        sx = w - 1 - x;
        sy = h - 1 - y;
      }
      std::memcpy(out + 3 * x, src + sy * src_stride + 3 * sx, 3);
    }
  }
}

}  // namespace

struct VideoDecoder::State {
  std::string name;
  VideoOpenOptions options;
  ByteSource source;
  std::unique_ptr<AVIOContext, IoCloser> io;
  std::unique_ptr<AVFormatContext, FormatCloser> format;
  std::unique_ptr<AVCodecContext, CodecCloser> codec;
  int stream_index = -1;
  VideoInfo info;
  bool sampled = false;
  int64_t decoded = 0;

  int64_t fast_scaled = 0;

  // Conversion of one sampling rule's frames (recreated when the frame
  // format changes).
  struct Converter {
    std::unique_ptr<SwsContext, SwsCloser> sws;
    int sws_src_w = 0, sws_src_h = 0, sws_src_fmt = -1;
    int sws_dst_w = 0, sws_dst_h = 0;
    // swscale's bicubic 4:2:0 to RGB24, reproduced (yuv_scale.h); null
    // where it does not apply. `fast_checked`: its first frame matched
    // swscale.
    std::unique_ptr<media_internal::Yuv420ToRgb24Scaler> fast;
    bool fast_checked = false;
    std::vector<uint8_t> fast_check;
    std::vector<uint8_t> rgb;      // converted, before rotation
    std::vector<uint8_t> rotated;  // after rotation
    // The decoded frame (its serial number in this Sample) whose conversion
    // the buffers hold: a frame the resampler repeats is converted once.
    int64_t converted_serial = -1;
    VideoFrame converted;
  };

  std::vector<Converter> converters;  // one per rule of the current Sample

  Status Open();
  // `serial` numbers the decoded frames of one Sample (-1: do not reuse).
  Status Convert(Converter& c, const AVFrame* frame, int64_t serial, const FrameSampling& s,
                 VideoFrame* out);
};

Status VideoDecoder::State::Open() {
  SetUpLibav();
  if (source.size == 0) return Status::Unsupported(name + ": empty file");
  const VideoLimits& lim = options.limits;
  if (source.size > lim.max_file_bytes) {
    return Status::LimitExceeded(name + ": " + std::to_string(source.size) +
                                 " bytes exceeds max_file_bytes " +
                                 std::to_string(lim.max_file_bytes));
  }
  auto* buffer = static_cast<uint8_t*>(av_malloc(kIoBufferBytes));
  if (buffer == nullptr) return Status::Internal(name + ": out of memory");
  io.reset(avio_alloc_context(buffer, kIoBufferBytes, 0, &source, ReadPacket, nullptr, SeekBytes));
  if (!io) {
    av_free(buffer);
    return Status::Internal(name + ": out of memory");
  }
  AVFormatContext* fc = avformat_alloc_context();
  if (fc == nullptr) return Status::Internal(name + ": out of memory");
  fc->pb = io.get();
  fc->flags |= AVFMT_FLAG_CUSTOM_IO;
  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "format_whitelist", kDemuxerWhitelist, 0);
  av_dict_set(&opts, "codec_whitelist", kDecoderWhitelist, 0);
  av_dict_set(&opts, "protocol_whitelist", "", 0);
  // Probe first, so that "not a container we read" (kUnsupported) and "a
  // damaged one" (kCorrupt) are told apart.
  const AVInputFormat* probed = nullptr;
  int err = av_probe_input_buffer2(io.get(), &probed, name.c_str(), nullptr, 0, 0);
  // A weak guess (score under 25 of 100) on bytes that merely do not
  // contradict a format is not a container.
  if (err < AVPROBE_SCORE_MAX / 4 || probed == nullptr ||
      !av_match_list(probed->name, kDemuxerWhitelist, ',')) {
    av_dict_free(&opts);
    avformat_free_context(fc);
    if (!source.io_error.ok()) return source.io_error;
    return Status::Unsupported(name + ": not a video container this build reads" +
                               (probed ? std::string(" (") + probed->name + ")" : std::string()));
  }
  err = avformat_open_input(&fc, name.c_str(), probed, &opts);
  av_dict_free(&opts);
  if (err < 0) {
    // avformat_open_input frees the context on failure.
    if (!source.io_error.ok()) return source.io_error;
    return Status::Corrupt(name + ": damaged or truncated " + probed->name + " container (" +
                           AvErrorText(err) + ")");
  }
  format.reset(fc);
  err = avformat_find_stream_info(fc, nullptr);
  if (!source.io_error.ok()) return source.io_error;
  if (err < 0) {
    // Probing fails when the only video codec is one the whitelist refuses:
    // that is an unsupported codec, not damage.
    for (unsigned i = 0; i < fc->nb_streams; ++i) {
      const AVCodecParameters* p = fc->streams[i]->codecpar;
      const AVCodec* d = avcodec_find_decoder(p->codec_id);
      if (p->codec_type == AVMEDIA_TYPE_VIDEO &&
          (d == nullptr || !av_match_list(d->name, kDecoderWhitelist, ','))) {
        return Status::Unsupported(name + ": video codec '" + avcodec_get_name(p->codec_id) +
                                   "' is not decoded by this build");
      }
    }
    return Status::Corrupt(name + ": damaged or truncated container (" + AvErrorText(err) + ")");
  }
  info.container = fc->iformat->name;

  // The first video stream that is not a cover picture.
  for (unsigned i = 0; i < fc->nb_streams; ++i) {
    const AVStream* st = fc->streams[i];
    if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
        (st->disposition & AV_DISPOSITION_ATTACHED_PIC) == 0) {
      stream_index = static_cast<int>(i);
      break;
    }
  }
  if (stream_index < 0) {
    return Status::Unsupported(name + ": no video stream (" + std::to_string(fc->nb_streams) +
                               " other streams, e.g. audio only)");
  }
  AVStream* st = fc->streams[stream_index];
  const AVCodecParameters* par = st->codecpar;
  info.width = par->width;
  info.height = par->height;
  if (info.width <= 0 || info.height <= 0) {
    return Status::Corrupt(name + ": video stream without dimensions");
  }
  if (info.width > lim.max_dimension || info.height > lim.max_dimension) {
    return Status::LimitExceeded(name + ": " + std::to_string(info.width) + "x" +
                                 std::to_string(info.height) + " exceeds max_dimension " +
                                 std::to_string(lim.max_dimension));
  }
  const uint64_t pixels = static_cast<uint64_t>(info.width) * static_cast<uint64_t>(info.height);
  if (pixels > lim.max_pixels) {
    return Status::LimitExceeded(name + ": " + std::to_string(info.width) + "x" +
                                 std::to_string(info.height) + " = " + std::to_string(pixels) +
                                 " pixels exceeds max_pixels " + std::to_string(lim.max_pixels));
  }
  if (st->duration != AV_NOPTS_VALUE && st->duration > 0) {
    info.duration_seconds = static_cast<double>(st->duration) * av_q2d(st->time_base);
  } else if (fc->duration != AV_NOPTS_VALUE && fc->duration > 0) {
    info.duration_seconds = static_cast<double>(fc->duration) / AV_TIME_BASE;
  }
  if (info.duration_seconds > lim.max_duration_seconds) {
    return Status::LimitExceeded(name + ": duration " + std::to_string(info.duration_seconds) +
                                 " s exceeds max_duration_seconds " +
                                 std::to_string(lim.max_duration_seconds));
  }
  info.frame_count = st->nb_frames > 0 ? st->nb_frames : 0;
  if (info.frame_count > lim.max_frames) {
    return Status::LimitExceeded(name + ": " + std::to_string(info.frame_count) +
                                 " frames exceeds max_frames " + std::to_string(lim.max_frames));
  }
  AVRational rate = st->avg_frame_rate;
  if (rate.num <= 0 || rate.den <= 0) rate = st->r_frame_rate;
  if (rate.num <= 0 || rate.den <= 0) return Status::Corrupt(name + ": no frame rate");
  info.frame_rate = av_q2d(rate);
  info.rotation = RotationOf(st);

  const AVCodec* decoder = avcodec_find_decoder(par->codec_id);
  if (decoder == nullptr || !av_match_list(decoder->name, kDecoderWhitelist, ',')) {
    return Status::Unsupported(name + ": video codec '" + avcodec_get_name(par->codec_id) +
                               "' is not decoded by this build");
  }
  info.codec = decoder->name;
  codec.reset(avcodec_alloc_context3(decoder));
  if (!codec) return Status::Internal(name + ": out of memory");
  if (avcodec_parameters_to_context(codec.get(), par) < 0) {
    return Status::Corrupt(name + ": bad codec parameters");
  }
  codec->pkt_timebase = st->time_base;
  codec->thread_count = std::max(0, options.threads);
  codec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
  AVDictionary* copts = nullptr;
  av_dict_set(&copts, "codec_whitelist", kDecoderWhitelist, 0);
  err = avcodec_open2(codec.get(), decoder, &copts);
  av_dict_free(&copts);
  if (err < 0) {
    return Status::Unsupported(name + ": cannot open the " + info.codec + " decoder (" +
                               AvErrorText(err) + ")");
  }
  // Only the video stream's packets are read at all.
  for (unsigned i = 0; i < fc->nb_streams; ++i) {
    if (static_cast<int>(i) != stream_index) fc->streams[i]->discard = AVDISCARD_ALL;
  }
  return Status::Ok();
}

Status VideoDecoder::State::Convert(Converter& c, const AVFrame* frame, int64_t serial,
                                    const FrameSampling& s, VideoFrame* out) {
  if (serial >= 0 && serial == c.converted_serial) {
    out->width = c.converted.width;
    out->height = c.converted.height;
    out->rgb = c.converted.rgb;
    out->row_stride = c.converted.row_stride;
    return Status::Ok();
  }
  c.converted_serial = -1;
  if (frame->width <= 0 || frame->height <= 0 || frame->format < 0) {
    return Status::Corrupt(name + ": decoder returned a frame without pixels");
  }
  if (frame->width > options.limits.max_dimension || frame->height > options.limits.max_dimension) {
    return Status::LimitExceeded(name + ": a frame of " + std::to_string(frame->width) + "x" +
                                 std::to_string(frame->height) + " exceeds max_dimension " +
                                 std::to_string(options.limits.max_dimension));
  }
  const int rotation = s.apply_rotation ? info.rotation : 0;
  const bool swap = rotation == 90 || rotation == 270;
  // Output size after rotation, and the size to scale to before rotating.
  int out_w = s.width > 0 ? s.width : (swap ? frame->height : frame->width);
  int out_h = s.height > 0 ? s.height : (swap ? frame->width : frame->height);
  const int dst_w = swap ? out_h : out_w;
  const int dst_h = swap ? out_w : out_h;
  if (!c.sws || c.sws_src_w != frame->width || c.sws_src_h != frame->height ||
      c.sws_src_fmt != frame->format || c.sws_dst_w != dst_w || c.sws_dst_h != dst_h) {
    const int flags = s.scaler == FrameSampling::Scaler::kBicubic ? SWS_BICUBIC : SWS_AREA;
    c.sws.reset(sws_getContext(frame->width, frame->height,
                               static_cast<AVPixelFormat>(frame->format), dst_w, dst_h,
                               AV_PIX_FMT_RGB24, flags, nullptr, nullptr, nullptr));
    if (!c.sws) {
      return Status::Unsupported(
          name + ": cannot convert pixel format " +
          std::string(av_get_pix_fmt_name(static_cast<AVPixelFormat>(frame->format))
                          ? av_get_pix_fmt_name(static_cast<AVPixelFormat>(frame->format))
                          : "?") +
          " to RGB");
    }
    c.sws_src_w = frame->width;
    c.sws_src_h = frame->height;
    c.sws_src_fmt = frame->format;
    c.sws_dst_w = dst_w;
    c.sws_dst_h = dst_h;
    if (s.use_color_tags) {
      // As the ffmpeg tool's scale filter: the frame's YCbCr matrix and range.
      int *inv_table = nullptr, *table = nullptr;
      int src_range = 0, dst_range = 0, brightness = 0, contrast = 0, saturation = 0;
      if (sws_getColorspaceDetails(c.sws.get(), &inv_table, &src_range, &table, &dst_range,
                                   &brightness, &contrast, &saturation) >= 0) {
        const int cs = frame->colorspace == AVCOL_SPC_UNSPECIFIED
                           ? SWS_CS_DEFAULT
                           : static_cast<int>(frame->colorspace);
        if (frame->color_range != AVCOL_RANGE_UNSPECIFIED) {
          src_range = frame->color_range == AVCOL_RANGE_JPEG ? 1 : 0;
        }
        sws_setColorspaceDetails(c.sws.get(), sws_getCoefficients(cs), src_range, table, dst_range,
                                 brightness, contrast, saturation);
      }
    }
    c.fast.reset();
    c.fast_checked = false;
    if (s.exact_fast_scaler && s.scaler == FrameSampling::Scaler::kBicubic &&
        (frame->format == AV_PIX_FMT_YUV420P || frame->format == AV_PIX_FMT_YUVJ420P) &&
        media_internal::BestScaleKernel() == media_internal::ScaleKernel::kAvx2) {
      // The colour settings swscale ended up with, whatever set them.
      media_internal::ColourDetails colour;
      if (media_internal::ReadColourDetails(c.sws.get(), &colour)) {
        c.fast = media_internal::Yuv420ToRgb24Scaler::Create(frame->width, frame->height, dst_w,
                                                             dst_h, colour);
      }
    }
  }
  // Rows padded by a few bytes: swscale's SIMD writers may store past a
  // row's last pixel.
  const std::ptrdiff_t stride = (3 * static_cast<std::ptrdiff_t>(dst_w) + 63) & ~std::ptrdiff_t{63};
  c.rgb.resize(static_cast<size_t>(stride) * static_cast<size_t>(dst_h) + 64);
  uint8_t* dst[4] = {c.rgb.data(), nullptr, nullptr, nullptr};
  int dst_stride[4] = {static_cast<int>(stride), 0, 0, 0};
  if (c.fast && c.fast_checked) {
    c.fast->Scale(frame->data, frame->linesize, c.rgb.data(), stride,
                  media_internal::ScaleKernel::kAvx2);
    ++fast_scaled;
  } else {
    const int rows =
        sws_scale(c.sws.get(), frame->data, frame->linesize, 0, frame->height, dst, dst_stride);
    if (rows != dst_h) return Status::Corrupt(name + ": pixel conversion failed");
    if (c.fast) {
      // Trust, then verify: the first frame both ways, swscale's bits kept
      // for the clip if they differ anywhere.
      c.fast_check.resize(c.rgb.size());
      c.fast->Scale(frame->data, frame->linesize, c.fast_check.data(), stride,
                    media_internal::ScaleKernel::kAvx2);
      for (int y = 0; y < dst_h && c.fast; ++y) {
        const size_t at = static_cast<size_t>(y) * static_cast<size_t>(stride);
        if (std::memcmp(c.rgb.data() + at, c.fast_check.data() + at,
                        3 * static_cast<size_t>(dst_w)) != 0) {
          c.fast.reset();
        }
      }
      c.fast_checked = c.fast != nullptr;
    }
  }
  out->width = out_w;
  out->height = out_h;
  if (rotation == 0) {
    out->rgb = c.rgb.data();
    out->row_stride = stride;
  } else {
    const std::ptrdiff_t rstride = 3 * static_cast<std::ptrdiff_t>(out_w);
    c.rotated.resize(static_cast<size_t>(rstride) * static_cast<size_t>(out_h));
    RotateRgb(c.rgb.data(), stride, dst_w, dst_h, rotation, c.rotated.data(), rstride);
    out->rgb = c.rotated.data();
    out->row_stride = rstride;
  }
  c.converted = *out;
  c.converted_serial = serial;
  return Status::Ok();
}

ConstantRateResampler::Decision ConstantRateResampler::Next(double pts, double duration) {
  // fftools/ffmpeg.c (5.1) do_video_out, vsync "cfr" (and "vscfr" for a
  // single-stream input): the same arithmetic, so the same frames.
  double delta0 = pts - static_cast<double>(next_out_);
  double delta = delta0 + duration;
  int64_t nb0 = 0;
  int64_t nb = 1;
  if (delta0 < 0 && delta > 0) {
    pts = static_cast<double>(next_out_);
    duration += delta0;
    delta0 = 0;
  }
  if (single_stream_ && emitted_any_ == false && delta0 >= 0.5) {
    delta = duration;
    delta0 = 0;
    next_out_ = std::llrint(pts);
  }
  if (delta < -1.1) {
    nb = 0;
  } else if (delta > 1.1) {
    nb = std::llrint(delta);
    if (delta0 > 1.1) nb0 = std::llrint(delta0 - 0.6);
  }
  nb0 = std::min(nb0, nb);
  last_nb0_[2] = last_nb0_[1];
  last_nb0_[1] = last_nb0_[0];
  last_nb0_[0] = nb0;
  next_out_ += nb;
  if (nb > 0) emitted_any_ = true;
  return Decision{nb0, nb - nb0};
}

int64_t ConstantRateResampler::Finish() {
  // The tool repeats the last frame by the median of the last three repeat
  // counts when the stream ends.
  const int64_t a = last_nb0_[0], b = last_nb0_[1], c = last_nb0_[2];
  return std::max(std::min(a, b), std::min(std::max(a, b), c));
}

namespace {

// What a pre-pass over the packets' timestamps says about each frame, so
// that frames no sample needs can be skipped in the decoder (AVDISCARD_NONREF:
// a frame nothing refers to is not decoded at all). Keyed by presentation
// timestamp; a frame's index is its rank in presentation order, which is what
// the decoder's frame counter would say.
struct FramePlan {
  struct Entry {
    int64_t index = 0;
    bool needed = false;  // by some rule
  };
  std::vector<std::pair<int64_t, Entry>> by_pts;  // sorted by pts
  // kResample rules: the decision for frame `index` of rule r is
  // decisions[index * rules + r].
  std::vector<ConstantRateResampler::Decision> decisions;
  size_t rules = 1;

  const Entry* Find(int64_t pts) const {
    auto it = std::lower_bound(by_pts.begin(), by_pts.end(), pts,
                               [](const auto& e, int64_t p) { return e.first < p; });
    if (it == by_pts.end() || it->first != pts) return nullptr;
    return &it->second;
  }
  const ConstantRateResampler::Decision& DecisionOf(const Entry& e, size_t rule) const {
    return decisions[static_cast<size_t>(e.index) * rules + rule];
  }
};

// One sampling rule's state through a decode.
struct Rule {
  Rule(const FrameSampling& sampling, bool single_stream)
      : s(&sampling), resampler(single_stream) {}

  const FrameSampling* s;
  bool resample = false;
  int64_t frame_mod = 1;  // kEverySeconds
  // kResample: the last output frame allowed (stamped at most
  // max_duration_seconds), the clamp for timestamps and durations past it,
  // and the tool's time base and arithmetic (see SyncOf, DurationOf).
  double max_out_index = 0;
  double out_clamp = 16;
  AVRational out_tb{1, 15};
  AVRational out_tb_ext{1, 15};
  int extra_bits = 0;
  double default_duration = 0;
  ConstantRateResampler resampler;
  int64_t tail_repeats = 0;  // from the plan
  FramePtr previous;
  bool have_previous = false;
  int64_t previous_serial = -1;
  int64_t out_index = 0;
  bool stopped = false;

  // Timestamp in output frames, computed as the tool does (rescaled with
  // extra bits, nudged off exact midpoints).
  double SyncOf(int64_t pts, int64_t start, AVRational tb) const {
    int64_t from_start = 0;
    if (__builtin_sub_overflow(pts, start, &from_start))
      from_start = pts < 0 ? INT64_MIN : INT64_MAX;
    double sync = static_cast<double>(av_rescale_q(from_start, tb, out_tb_ext)) /
                  static_cast<double>(int64_t{1} << extra_bits);
    sync += (sync > 0 ? 1.0 : sync < 0 ? -1.0 : 0.0) / (1 << 17);
    return std::clamp(sync, -out_clamp, out_clamp);
  }
  // A frame's duration in output frames.
  double DurationOf(int64_t frame_duration, AVRational tb) const {
    const double frames = static_cast<double>(frame_duration) * av_q2d(tb) / av_q2d(out_tb);
    if (!(frames < out_clamp)) return out_clamp;  // also NaN
    const long rounded = std::lrint(frames);
    return rounded > 0 ? static_cast<double>(rounded) : std::min(default_duration, out_clamp);
  }
};

}  // namespace

VideoDecoder::VideoDecoder(std::unique_ptr<State> state) : state_(std::move(state)) {}
VideoDecoder::~VideoDecoder() = default;

const VideoInfo& VideoDecoder::info() const { return state_->info; }
int64_t VideoDecoder::decoded_frames() const { return state_->decoded; }
int64_t VideoDecoder::fast_scaled_frames() const { return state_->fast_scaled; }

Result<std::unique_ptr<VideoDecoder>> VideoDecoder::OpenFile(const std::string& path,
                                                             const VideoOpenOptions& options) {
  Result<InputFile> file = InputFile::Open(path);
  if (!file.ok()) return file.status();
  auto state = std::make_unique<State>();
  state->name = path;
  state->options = options;
  state->source.size = file->size();
  state->source.file.emplace(std::move(*file));
  if (Status s = state->Open(); !s.ok()) return s;
  return std::unique_ptr<VideoDecoder>(new VideoDecoder(std::move(state)));
}

Result<std::unique_ptr<VideoDecoder>> VideoDecoder::OpenBuffer(const uint8_t* data, size_t size,
                                                               const VideoOpenOptions& options,
                                                               std::string_view name) {
  auto state = std::make_unique<State>();
  state->name = std::string(name);
  state->options = options;
  state->source.data = data;
  state->source.size = size;
  if (Status s = state->Open(); !s.ok()) return s;
  return std::unique_ptr<VideoDecoder>(new VideoDecoder(std::move(state)));
}

Status VideoDecoder::Sample(const FrameSampling& sampling, const FrameCallback& on_frame) {
  return SampleEach(std::span<const FrameSampling>(&sampling, 1),
                    [&](size_t, const VideoFrame& f) { return on_frame(f); });
}

Status VideoDecoder::SampleEach(std::span<const FrameSampling> samplings,
                                const EachFrameCallback& on_frame) {
  State& st = *state_;
  if (st.sampled) return Status::InvalidArgument(st.name + ": a video can be sampled once");
  st.sampled = true;
  if (samplings.empty() || samplings.size() > kMaxSamplingRules) {
    return Status::InvalidArgument("1 to " + std::to_string(kMaxSamplingRules) +
                                   " sampling rules per decode");
  }
  for (const FrameSampling& s : samplings) {
    if (s.width < 0 || s.height < 0 || s.width > st.options.limits.max_dimension ||
        s.height > st.options.limits.max_dimension || (s.width == 0) != (s.height == 0)) {
      return Status::InvalidArgument("sampling size must be both 0 or both in 1.." +
                                     std::to_string(st.options.limits.max_dimension));
    }
    if (s.mode == FrameSampling::Mode::kEverySeconds && !(s.seconds >= 0 && s.seconds < 1e6)) {
      return Status::InvalidArgument("sampling interval must be in [0, 1e6) seconds");
    }
    if (s.mode == FrameSampling::Mode::kResample && !(s.fps >= 0.01 && s.fps <= 1000)) {
      return Status::InvalidArgument("resampling rate must be in [0.01, 1000] fps");
    }
  }
  const VideoLimits& lim = st.options.limits;
  // Work bounds that do not depend on what the container says: packets read
  // (whether or not they decode) and their bytes, per byte of input.
  const int64_t max_packets = 2 * std::max<int64_t>(lim.max_frames, 0) + 16;
  const uint64_t packet_bytes_budget =
      (uint64_t{1} << 20) +
      static_cast<uint64_t>(std::clamp<int64_t>(lim.max_packet_bytes_per_file_byte, 0, 1 << 20)) *
          std::min<uint64_t>(st.source.size, uint64_t{1} << 40);
  uint64_t packet_bytes = 0;
  auto count_packet_bytes = [&](const AVPacket* p) -> Status {
    packet_bytes += static_cast<uint64_t>(std::max(p->size, 0));
    if (packet_bytes > packet_bytes_budget) {
      return Status::LimitExceeded(
          st.name + ": the container hands the decoder more than " +
          std::to_string(packet_bytes_budget) + " bytes of packets from a file of " +
          std::to_string(st.source.size) + " bytes (max_packet_bytes_per_file_byte " +
          std::to_string(lim.max_packet_bytes_per_file_byte) + "): a damaged index");
    }
    return Status::Ok();
  };
  AVFormatContext* fc = st.format.get();
  AVStream* stream = fc->streams[st.stream_index];
  const AVRational tb = stream->time_base;
  // The ffmpeg tool shifts every timestamp by the file's start time.
  const int64_t start =
      fc->start_time != AV_NOPTS_VALUE ? av_rescale_q(fc->start_time, kMicroseconds, tb) : 0;
  const AVRational guessed = av_guess_frame_rate(fc, stream, nullptr);

  std::vector<Rule> rules;
  rules.reserve(samplings.size());
  st.converters.clear();
  st.converters.resize(samplings.size());
  for (const FrameSampling& s : samplings) {
    Rule& r = rules.emplace_back(s, fc->nb_streams == 1);
    r.resample = s.mode == FrameSampling::Mode::kResample;
    if (s.mode == FrameSampling::Mode::kEverySeconds) {
      r.frame_mod = std::max<int64_t>(1, static_cast<int64_t>(s.seconds * st.info.frame_rate));
    }
    if (!r.resample) continue;
    // A frame's duration can claim days in a file of a few bytes, and -r
    // repeats it for all of them: output is bounded by max_duration_seconds,
    // and timestamps past that (which fail anyway) are clamped so that the
    // resampler's arithmetic cannot overflow.
    r.max_out_index = std::floor(std::clamp(lim.max_duration_seconds, 0.0, 1e12) * s.fps);
    r.out_clamp = r.max_out_index + 16;
    // The encoder time base 1/fps with the tool's extra precision bits, and
    // the input frame duration it assumes.
    r.out_tb = av_inv_q(av_d2q(s.fps, 1000000));
    r.extra_bits = std::clamp(29 - av_log2(static_cast<unsigned>(r.out_tb.den)), 0, 16);
    r.out_tb_ext = r.out_tb;
    r.out_tb_ext.den <<= r.extra_bits;
    if (guessed.num > 0 && guessed.den > 0) {
      r.default_duration = 1 / (av_q2d(guessed) * av_q2d(r.out_tb));
    }
    if (stream->start_time != AV_NOPTS_VALUE) {
      r.default_duration = std::min(r.default_duration, 1.0);
    }
    r.previous.reset(av_frame_alloc());
    if (!r.previous) return Status::Internal(st.name + ": out of memory");
  }
  size_t active = rules.size();

  FramePtr frame(av_frame_alloc());
  std::unique_ptr<AVPacket, PacketCloser> packet(av_packet_alloc());
  if (!frame || !packet) return Status::Internal(st.name + ": out of memory");

  // Skipping: a pre-pass over the packets (demuxing only) finds which frames
  // the rules need; the others are not decoded when nothing refers to them.
  // Only where timestamps are exact and the start can be sought back to
  // (MP4/MOV, Matroska/WebM); otherwise every frame is decoded.
  std::optional<FramePlan> plan;
  const std::string container = st.info.container;
  const bool skip = std::all_of(samplings.begin(), samplings.end(), [](const FrameSampling& s) {
    return s.skip_unneeded && s.mode != FrameSampling::Mode::kEveryFrame;
  });
  if (skip && (container.rfind("mov", 0) == 0 || container.rfind("matroska", 0) == 0)) {
    FramePlan p;
    p.rules = rules.size();
    std::vector<std::pair<int64_t, int64_t>> times;  // pts, duration
    bool usable = true;
    while (true) {
      const int err = av_read_frame(fc, packet.get());
      if (err < 0) {
        usable = err == AVERROR_EOF;
        break;
      }
      if (packet->stream_index == st.stream_index) {
        if (packet->pts == AV_NOPTS_VALUE) usable = false;
        times.emplace_back(packet->pts, packet->duration);
        if (Status b = count_packet_bytes(packet.get()); !b.ok()) return b;
      }
      av_packet_unref(packet.get());
      if (static_cast<int64_t>(times.size()) > st.options.limits.max_frames) {
        return Status::LimitExceeded(st.name + ": more than max_frames " +
                                     std::to_string(st.options.limits.max_frames) + " frames");
      }
    }
    if (!st.source.io_error.ok()) return st.source.io_error;
    std::sort(times.begin(), times.end());
    for (size_t k = 1; k < times.size(); ++k) {
      if (times[k].first == times[k - 1].first) usable = false;
    }
    if (usable && !times.empty() &&
        av_seek_frame(fc, st.stream_index, times.front().first, AVSEEK_FLAG_BACKWARD) >= 0) {
      std::vector<ConstantRateResampler> sims;
      for (size_t r = 0; r < rules.size(); ++r) sims.emplace_back(fc->nb_streams == 1);
      p.decisions.resize(times.size() * rules.size());
      for (size_t k = 0; k < times.size(); ++k) {
        FramePlan::Entry e;
        e.index = static_cast<int64_t>(k);
        for (size_t r = 0; r < rules.size(); ++r) {
          if (!rules[r].resample) {
            e.needed = e.needed || e.index % rules[r].frame_mod == 0;
            continue;
          }
          const ConstantRateResampler::Decision d = sims[r].Next(
              rules[r].SyncOf(times[k].first, start, tb), rules[r].DurationOf(times[k].second, tb));
          p.decisions[k * rules.size() + r] = d;
          e.needed = e.needed || d.emit_current > 0;
          if (d.repeat_previous > 0 && k > 0) p.by_pts.back().second.needed = true;
        }
        p.by_pts.emplace_back(times[k].first, e);
      }
      for (size_t r = 0; r < rules.size(); ++r) {
        if (!rules[r].resample) continue;
        rules[r].tail_repeats = sims[r].Finish();
        if (rules[r].tail_repeats > 0 && !p.by_pts.empty()) p.by_pts.back().second.needed = true;
      }
      avcodec_flush_buffers(st.codec.get());
      plan = std::move(p);
    } else {
      // Back to the start for a plain pass; a container that cannot seek
      // there is read again from a fresh demuxer state.
      if (times.empty() ||
          av_seek_frame(fc, st.stream_index, times.front().first, AVSEEK_FLAG_BACKWARD) < 0) {
        return Status::Corrupt(st.name + ": cannot return to the start of the video");
      }
      avcodec_flush_buffers(st.codec.get());
    }
  }

  int64_t packets = 0;
  auto emit = [&](size_t r, const AVFrame* f, int64_t serial, int64_t index,
                  double timestamp) -> Status {
    VideoFrame vf;
    vf.index = index;
    vf.timestamp_seconds = timestamp;
    const int64_t pts = f->best_effort_timestamp;
    vf.pts_seconds = pts == AV_NOPTS_VALUE
                         ? timestamp
                         : (static_cast<double>(pts) - static_cast<double>(start)) * av_q2d(tb);
    if (Status c = st.Convert(st.converters[r], f, serial, *rules[r].s, &vf); !c.ok()) return c;
    if (!on_frame(r, vf)) {
      rules[r].stopped = true;
      --active;
    }
    return Status::Ok();
  };
  // Refuses output past max_duration_seconds before a frame of it is made.
  auto check_output = [&](const Rule& rule, int64_t frames) -> Status {
    if (static_cast<double>(rule.out_index) + static_cast<double>(frames) - 1 >
        rule.max_out_index) {
      return Status::LimitExceeded(st.name + ": resampled output past max_duration_seconds " +
                                   std::to_string(lim.max_duration_seconds) + " (output frame " +
                                   std::to_string(std::llround(static_cast<double>(rule.out_index) +
                                                               static_cast<double>(frames) - 1)) +
                                   " at " + std::to_string(rule.s->fps) +
                                   " fps; a frame's duration or timestamp is too large)");
    }
    return Status::Ok();
  };
  // Emits `count` frames of rule r, `f` (serial) each time.
  auto emit_run = [&](size_t r, const AVFrame* f, int64_t serial, int64_t count) -> Status {
    Rule& rule = rules[r];
    for (int64_t i = 0; i < count && !rule.stopped; ++i) {
      if (Status e =
              emit(r, f, serial, rule.out_index, static_cast<double>(rule.out_index) / rule.s->fps);
          !e.ok()) {
        return e;
      }
      ++rule.out_index;
    }
    return Status::Ok();
  };

  auto handle = [&](AVFrame* f) -> Status {
    const int64_t count = st.decoded++;
    if (st.decoded > st.options.limits.max_frames) {
      return Status::LimitExceeded(st.name + ": more than max_frames " +
                                   std::to_string(st.options.limits.max_frames) +
                                   " decoded frames");
    }
    const int64_t pts = f->best_effort_timestamp;
    if (pts != AV_NOPTS_VALUE &&
        (static_cast<double>(pts) - static_cast<double>(start)) * av_q2d(tb) >
            st.options.limits.max_duration_seconds) {
      return Status::LimitExceeded(st.name + ": a frame past max_duration_seconds " +
                                   std::to_string(st.options.limits.max_duration_seconds));
    }
    const FramePlan::Entry* entry = nullptr;
    if (plan) {
      entry = plan->Find(pts);
      if (entry == nullptr) {
        return Status::Corrupt(st.name + ": a decoded frame's timestamp is not in the container");
      }
    }
    for (size_t r = 0; r < rules.size(); ++r) {
      Rule& rule = rules[r];
      if (rule.stopped) continue;
      if (!rule.resample) {
        const int64_t index = entry ? entry->index : count;
        if (index % rule.frame_mod == 0) {
          if (Status e = emit(r, f, -1, index, static_cast<double>(index) / st.info.frame_rate);
              !e.ok()) {
            return e;
          }
        }
        continue;
      }
      ConstantRateResampler::Decision d;
      if (entry) {
        d = plan->DecisionOf(*entry, r);
      } else {
        const double sync = pts != AV_NOPTS_VALUE ? rule.SyncOf(pts, start, tb)
                                                  : static_cast<double>(rule.resampler.emitted());
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(57, 30, 100)
        d = rule.resampler.Next(sync, rule.DurationOf(f->duration, tb));
#else
        d = rule.resampler.Next(sync, rule.DurationOf(f->pkt_duration, tb));
#endif
      }
      const int64_t repeats = rule.have_previous ? std::max<int64_t>(d.repeat_previous, 0) : 0;
      if (Status c = check_output(rule, repeats + std::max<int64_t>(d.emit_current, 0)); !c.ok()) {
        return c;
      }
      if (Status e = emit_run(r, rule.previous.get(), rule.previous_serial, repeats); !e.ok()) {
        return e;
      }
      if (Status e = emit_run(r, f, count, d.emit_current); !e.ok()) return e;
      av_frame_unref(rule.previous.get());
      if (av_frame_ref(rule.previous.get(), f) < 0) {
        return Status::Internal(st.name + ": out of memory");
      }
      rule.have_previous = true;
      rule.previous_serial = count;
    }
    return Status::Ok();
  };

  auto drain = [&]() -> Status {
    while (active > 0) {
      const int err = avcodec_receive_frame(st.codec.get(), frame.get());
      if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return Status::Ok();
      if (err < 0) {
        return Status::Corrupt(st.name + ": damaged video data (" + AvErrorText(err) + ")");
      }
      Status h = handle(frame.get());
      av_frame_unref(frame.get());
      if (!h.ok()) return h;
    }
    return Status::Ok();
  };

  bool corrupt_packets = false;
  while (active > 0) {
    const int err = av_read_frame(fc, packet.get());
    if (err == AVERROR_EOF) break;
    if (err < 0) {
      if (!st.source.io_error.ok()) return st.source.io_error;
      return Status::Corrupt(st.name + ": damaged or truncated container (" + AvErrorText(err) +
                             ")");
    }
    if (packet->stream_index != st.stream_index) {
      av_packet_unref(packet.get());
      continue;
    }
    ++packets;
    if (packets > max_packets) {
      return Status::LimitExceeded(st.name + ": more than " + std::to_string(max_packets) +
                                   " video packets (2 per frame of max_frames " +
                                   std::to_string(lim.max_frames) + ")");
    }
    if (Status b = count_packet_bytes(packet.get()); !b.ok()) return b;
    if (packet->flags & AV_PKT_FLAG_CORRUPT) corrupt_packets = true;
    if (plan) {
      const FramePlan::Entry* e = plan->Find(packet->pts);
      st.codec->skip_frame = (e != nullptr && !e->needed) ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
    }
    const int sent = avcodec_send_packet(st.codec.get(), packet.get());
    av_packet_unref(packet.get());
    // A damaged packet is skipped, as players do; a file with nothing but
    // damage fails below with no frames.
    if (sent < 0 && sent != AVERROR_INVALIDDATA && sent != AVERROR(EAGAIN)) {
      return Status::Corrupt(st.name + ": damaged video data (" + AvErrorText(sent) + ")");
    }
    if (Status d = drain(); !d.ok()) return d;
  }
  if (active == 0) return Status::Ok();
  if (!st.source.io_error.ok()) return st.source.io_error;
  st.codec->skip_frame = AVDISCARD_DEFAULT;
  if (avcodec_send_packet(st.codec.get(), nullptr) >= 0) {
    if (Status d = drain(); !d.ok()) return d;
  }
  if (active == 0) return Status::Ok();
  for (size_t r = 0; r < rules.size(); ++r) {
    Rule& rule = rules[r];
    if (!rule.resample || !rule.have_previous || rule.stopped) continue;
    const int64_t tail = std::max<int64_t>(plan ? rule.tail_repeats : rule.resampler.Finish(), 0);
    if (Status c = check_output(rule, tail); !c.ok()) return c;
    if (Status e = emit_run(r, rule.previous.get(), rule.previous_serial, tail); !e.ok()) return e;
  }
  if (corrupt_packets || (st.info.frame_count > 0 && packets < st.info.frame_count)) {
    return Status::Corrupt(st.name + ": truncated or damaged: " + std::to_string(packets) + " of " +
                           std::to_string(st.info.frame_count) + " frames present");
  }
  if (st.decoded == 0) return Status::Corrupt(st.name + ": no decodable video frame");
  return Status::Ok();
}

}  // namespace safeguard
