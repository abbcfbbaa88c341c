// make_video_seeds OUT_DIR: writes tiny video files (a moving gradient, 12
// frames at 10 fps, 32x24; one H.264 clip at 80x72) in the containers and
// codecs VideoDecoder reads,
// encoded here with FFmpeg's libraries, as the seed corpus of
// video_decode_fuzz. fuzz/run.sh runs it at fuzzing time, so no media file is
// checked in. An encoder this FFmpeg lacks is skipped with a note; the exit
// status is 0 when at least one file was written.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace {

struct Seed {
  const char* file;    // name in OUT_DIR
  const char* format;  // libavformat muxer
  const char* codec;   // libavcodec encoder
  AVPixelFormat pixels;
  int width;
  int height;
  int max_b_frames;
  int rotation;         // display-matrix rotation in degrees, 0 for none
  const char* options;  // encoder options, "key=value:key=value"
};

// Fills plane p of frame i with a gradient that moves from frame to frame,
// so that inter coding has motion to find.
void FillFrame(AVFrame* f, int i) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(f->format));
  for (int p = 0; p < d->nb_components; ++p) {
    const int w = p == 0 ? f->width : AV_CEIL_RSHIFT(f->width, d->log2_chroma_w);
    const int h = p == 0 ? f->height : AV_CEIL_RSHIFT(f->height, d->log2_chroma_h);
    for (int y = 0; y < h; ++y) {
      uint8_t* row = f->data[p] + static_cast<std::ptrdiff_t>(y) * f->linesize[p];
      for (int x = 0; x < w; ++x) row[x] = static_cast<uint8_t>(x * 7 + y * 3 + i * 11 + p * 60);
    }
  }
}

// Sends `frame` (nullptr: flush) and writes every packet the encoder returns.
bool Encode(AVCodecContext* c, AVFormatContext* oc, AVStream* st, AVFrame* frame, AVPacket* pkt) {
  if (avcodec_send_frame(c, frame) < 0) return false;
  while (true) {
    const int err = avcodec_receive_packet(c, pkt);
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return true;
    if (err < 0) return false;
    // Some encoders leave the duration unset; MP4 then cuts the last frame.
    if (pkt->duration == 0) pkt->duration = 1;
    av_packet_rescale_ts(pkt, c->time_base, st->time_base);
    pkt->stream_index = st->index;
    if (av_interleaved_write_frame(oc, pkt) < 0) return false;
  }
}

bool Write(const std::string& path, const Seed& s) {
  const AVCodec* codec = avcodec_find_encoder_by_name(s.codec);
  if (codec == nullptr) return false;
  AVFormatContext* oc = nullptr;
  if (avformat_alloc_output_context2(&oc, nullptr, s.format, path.c_str()) < 0) return false;
  AVCodecContext* c = avcodec_alloc_context3(codec);
  AVFrame* frame = av_frame_alloc();
  AVPacket* pkt = av_packet_alloc();
  bool ok = false;
  AVStream* st = avformat_new_stream(oc, nullptr);
  do {
    if (st == nullptr || c == nullptr || frame == nullptr || pkt == nullptr) break;
    c->width = s.width;
    c->height = s.height;
    c->pix_fmt = s.pixels;
    c->time_base = AVRational{1, 10};
    c->framerate = AVRational{10, 1};
    c->gop_size = 6;
    c->max_b_frames = s.max_b_frames;
    c->bit_rate = 200'000;
    c->strict_std_compliance = FF_COMPLIANCE_EXPERIMENTAL;
    if (oc->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary* opts = nullptr;
    if (s.options[0] != '\0') av_dict_parse_string(&opts, s.options, "=", ":", 0);
    const int opened = avcodec_open2(c, codec, &opts);
    av_dict_free(&opts);
    if (opened < 0) break;
    if (avcodec_parameters_from_context(st->codecpar, c) < 0) break;
    st->time_base = c->time_base;
    if (s.rotation != 0) {
      uint8_t* m = av_stream_new_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, 9 * sizeof(int32_t));
      if (m == nullptr) break;
      av_display_rotation_set(reinterpret_cast<int32_t*>(m), -s.rotation);
    }
    if (avio_open(&oc->pb, path.c_str(), AVIO_FLAG_WRITE) < 0) break;
    if (avformat_write_header(oc, nullptr) < 0) break;
    frame->format = s.pixels;
    frame->width = s.width;
    frame->height = s.height;
    if (av_frame_get_buffer(frame, 0) < 0) break;
    bool encoded = true;
    for (int i = 0; i < 12 && encoded; ++i) {
      encoded = av_frame_make_writable(frame) >= 0;
      if (!encoded) break;
      FillFrame(frame, i);
      frame->pts = i;
      encoded = Encode(c, oc, st, frame, pkt);
    }
    if (!encoded || !Encode(c, oc, st, nullptr, pkt)) break;
    ok = av_write_trailer(oc) >= 0;
  } while (false);
  if (oc->pb != nullptr) avio_closep(&oc->pb);
  av_packet_free(&pkt);
  av_frame_free(&frame);
  avcodec_free_context(&c);
  avformat_free_context(oc);
  if (!ok) std::remove(path.c_str());
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_video_seeds OUT_DIR\n");
    return 2;
  }
  av_log_set_level(AV_LOG_QUIET);
  const std::vector<Seed> seeds = {
      {"h264-bframes.mp4", "mp4", "libx264", AV_PIX_FMT_YUV420P, 32, 24, 2, 0,
       "preset=veryfast:bframes=2"},
      {"h264-rotated.mp4", "mp4", "libx264", AV_PIX_FMT_YUV420P, 32, 24, 0, 90, "preset=ultrafast"},
      // Larger than TMK's 64x64 both ways: its frames take the exact fast
      // scaler rather than swscale.
      {"h264-80x72.mp4", "mp4", "libx264", AV_PIX_FMT_YUV420P, 80, 72, 2, 0,
       "preset=veryfast:bframes=2"},
      {"h264.mkv", "matroska", "libx264", AV_PIX_FMT_YUV420P, 32, 24, 2, 0, "preset=veryfast"},
      {"hevc.mp4", "mp4", "libx265", AV_PIX_FMT_YUV420P, 32, 24, 0, 0,
       "preset=ultrafast:x265-params=log-level=none"},
      {"mpeg4.mov", "mov", "mpeg4", AV_PIX_FMT_YUV420P, 32, 24, 2, 270, ""},
      {"vp8.webm", "webm", "libvpx", AV_PIX_FMT_YUV420P, 32, 24, 0, 0, "deadline=realtime"},
      {"vp9.ivf", "ivf", "libvpx-vp9", AV_PIX_FMT_YUV420P, 32, 24, 0, 0, "deadline=realtime"},
      {"av1.mkv", "matroska", "libaom-av1", AV_PIX_FMT_YUV420P, 32, 24, 0, 0, "cpu-used=8"},
      {"mjpeg-odd.avi", "avi", "mjpeg", AV_PIX_FMT_YUVJ444P, 33, 25, 0, 0, ""},
      {"flv1.flv", "flv", "flv", AV_PIX_FMT_YUV420P, 32, 24, 0, 0, ""},
      {"mpeg2.ts", "mpegts", "mpeg2video", AV_PIX_FMT_YUV420P, 32, 24, 2, 0, ""},
      {"mpeg1.mpg", "mpeg", "mpeg1video", AV_PIX_FMT_YUV420P, 32, 24, 2, 0, ""},
      {"theora.ogv", "ogg", "libtheora", AV_PIX_FMT_YUV420P, 32, 24, 0, 0, ""},
      {"wmv2.asf", "asf", "wmv2", AV_PIX_FMT_YUV420P, 32, 24, 0, 0, ""},
  };
  int written = 0;
  for (const Seed& s : seeds) {
    std::string path(argv[1]);
    path.push_back('/');
    path.append(s.file);
    if (Write(path, s)) {
      ++written;
    } else {
      std::fprintf(stderr, "make_video_seeds: skipped %s (%s not available)\n", s.file, s.codec);
    }
  }
  std::fprintf(stderr, "make_video_seeds: %d files in %s\n", written, argv[1]);
  return written > 0 ? 0 : 1;
}
