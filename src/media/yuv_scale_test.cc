// The swscale-exact scaler (yuv_scale.h) against libswscale itself, bit for
// bit, on random frames of many sizes, colour matrices and ranges; and its
// AVX2 kernels against the scalar ones (the oracle) on random rows.

#include "yuv_scale.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include <libavutil/frame.h>
#include <libavutil/log.h>
#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>
}

namespace safeguard::media_internal {
namespace {

struct FrameDeleter {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;

// swscale warns about yuvj420p on every context; only errors are shown.
const bool kQuietLibav = [] {
  av_log_set_level(AV_LOG_ERROR);
  return true;
}();

// A 4:2:0 frame with `align`-byte row alignment (1: rows packed tight, the
// last row ends the buffer's pixels) and content that stresses the filters:
// noise, smooth ramps and hard black/white edges (bicubic overshoot).
FramePtr RandomFrame(std::mt19937& rng, int w, int h, AVPixelFormat fmt, int align) {
  FramePtr f(av_frame_alloc());
  f->width = w;
  f->height = h;
  f->format = fmt;
  if (av_frame_get_buffer(f.get(), align) < 0) return nullptr;
  const int kind = static_cast<int>(rng() % 3);
  for (int p = 0; p < 3; ++p) {
    const int pw = p == 0 ? w : (w + 1) / 2;
    const int ph = p == 0 ? h : (h + 1) / 2;
    for (int y = 0; y < ph; ++y) {
      uint8_t* row = f->data[p] + static_cast<std::ptrdiff_t>(y) * f->linesize[p];
      for (int x = 0; x < pw; ++x) {
        uint8_t v = 0;
        if (kind == 0) {
          v = static_cast<uint8_t>(rng());
        } else if (kind == 1) {
          v = static_cast<uint8_t>((x * 255 / std::max(1, pw - 1) + y * 3 + p * 40) & 0xff);
        } else {
          v = (((x / 3) ^ (y / 5)) & 1) ? 255 : 0;
        }
        row[x] = v;
      }
    }
  }
  return f;
}

struct Case {
  int src_w, src_h, dst_w, dst_h;
  AVPixelFormat fmt;
  int colorspace;  // SWS_CS_*
  int range;       // 1: full
  int align;
};

std::string Describe(const Case& c) {
  return std::to_string(c.src_w) + "x" + std::to_string(c.src_h) + " -> " +
         std::to_string(c.dst_w) + "x" + std::to_string(c.dst_h) +
         (c.fmt == AV_PIX_FMT_YUVJ420P ? " yuvj420p" : " yuv420p") + " cs " +
         std::to_string(c.colorspace) + " range " + std::to_string(c.range) + " align " +
         std::to_string(c.align);
}

// Converts with swscale as VideoDecoder does, and with ours through each
// kernel; returns false when ours does not apply to the geometry.
bool CompareWithSwscale(std::mt19937& rng, const Case& c) {
  SCOPED_TRACE(Describe(c));
  FramePtr frame = RandomFrame(rng, c.src_w, c.src_h, c.fmt, c.align);
  EXPECT_NE(frame, nullptr);
  if (!frame) return false;
  SwsContext* sws = sws_getContext(c.src_w, c.src_h, c.fmt, c.dst_w, c.dst_h, AV_PIX_FMT_RGB24,
                                   SWS_BICUBIC, nullptr, nullptr, nullptr);
  EXPECT_NE(sws, nullptr);
  if (sws == nullptr) return false;
  int *inv_table = nullptr, *table = nullptr;
  int src_range = 0, dst_range = 0, brightness = 0, contrast = 0, saturation = 0;
  EXPECT_GE(sws_getColorspaceDetails(sws, &inv_table, &src_range, &table, &dst_range, &brightness,
                                     &contrast, &saturation),
            0);
  sws_setColorspaceDetails(sws, sws_getCoefficients(c.colorspace), c.range, table, dst_range,
                           brightness, contrast, saturation);
  ColourDetails colour;
  EXPECT_TRUE(ReadColourDetails(sws, &colour));

  const std::ptrdiff_t stride = (3 * static_cast<std::ptrdiff_t>(c.dst_w) + 63) & ~63;
  std::vector<uint8_t> want(static_cast<size_t>(stride) * c.dst_h + 64, 0);
  uint8_t* dst[4] = {want.data(), nullptr, nullptr, nullptr};
  int dst_stride[4] = {static_cast<int>(stride), 0, 0, 0};
  EXPECT_EQ(sws_scale(sws, frame->data, frame->linesize, 0, c.src_h, dst, dst_stride), c.dst_h);
  sws_freeContext(sws);

  std::unique_ptr<Yuv420ToRgb24Scaler> ours =
      Yuv420ToRgb24Scaler::Create(c.src_w, c.src_h, c.dst_w, c.dst_h, colour);
  if (!ours) return false;
  for (ScaleKernel k : {ScaleKernel::kScalar, ScaleKernel::kAvx2}) {
    if (!ScaleKernelSupported(k)) continue;
    SCOPED_TRACE(std::string(ScaleKernelName(k)));
    std::vector<uint8_t> got(want.size(), 0);
    ours->Scale(frame->data, frame->linesize, got.data(), stride, k);
    int differing = 0;
    int first_x = -1, first_y = -1;
    for (int y = 0; y < c.dst_h; ++y) {
      for (int x = 0; x < 3 * c.dst_w; ++x) {
        const size_t at = static_cast<size_t>(y) * stride + x;
        if (got[at] != want[at]) {
          if (differing++ == 0) {
            first_x = x;
            first_y = y;
          }
        }
      }
    }
    EXPECT_EQ(differing, 0) << "first at byte " << first_x << " of row " << first_y;
  }
  return true;
}

TEST(YuvScale, MatchesSwscaleOnTmkFrames) {
  // The sizes video takes for TMK (64x64 from SD, HD, portrait, odd and
  // tiny sources), every colour matrix and both ranges.
  std::mt19937 rng(7);
  const int sizes[][2] = {{480, 720},   {720, 480}, {1280, 720}, {720, 1280}, {1080, 1080},
                          {1920, 1080}, {640, 360}, {427, 241},  {97, 65},    {66, 66}};
  int covered = 0;
  for (const auto& sz : sizes) {
    for (int cs : {SWS_CS_ITU601, SWS_CS_ITU709, SWS_CS_FCC, SWS_CS_SMPTE240M, SWS_CS_BT2020}) {
      for (int range : {0, 1}) {
        const Case c{sz[0], sz[1], 64, 64, AV_PIX_FMT_YUV420P, cs, range, 32};
        covered += CompareWithSwscale(rng, c) ? 1 : 0;
      }
    }
  }
  EXPECT_EQ(covered, 100);  // every one of them takes the fast path
}

TEST(YuvScale, MatchesSwscaleOnRandomGeometries) {
  std::mt19937 rng(11);
  int covered = 0;
  const int kCases = 120;
  for (int i = 0; i < kCases; ++i) {
    Case c{};
    c.src_w = 32 + static_cast<int>(rng() % 1500);
    c.src_h = 32 + static_cast<int>(rng() % 1500);
    c.dst_w = 2 * (1 + static_cast<int>(rng() % static_cast<unsigned>((c.src_w - 1) / 2)));
    c.dst_h = 1 + static_cast<int>(rng() % static_cast<unsigned>(c.src_h - 1));
    if (rng() % 2) {  // mostly small outputs, as TMK and thumbnails take
      c.dst_w = 2 * (1 + static_cast<int>(rng() % 64));
      c.dst_h = 1 + static_cast<int>(rng() % 128);
    }
    c.dst_w = std::min(c.dst_w, (c.src_w - 1) & ~1);
    c.dst_h = std::min(c.dst_h, c.src_h - 1);
    c.fmt = rng() % 4 == 0 ? AV_PIX_FMT_YUVJ420P : AV_PIX_FMT_YUV420P;
    const int spaces[] = {SWS_CS_ITU601, SWS_CS_ITU709, SWS_CS_BT2020};
    c.colorspace = spaces[rng() % 3];
    c.range = static_cast<int>(rng() % 2);
    c.align = rng() % 3 == 0 ? 1 : 32;
    covered += CompareWithSwscale(rng, c) ? 1 : 0;
  }
  std::printf("[yuv_scale] %d of %d random geometries take the exact fast scaler\n", covered,
              kCases);
  // Geometries left to swscale (a vertical filter under three taps, one
  // swscale would cascade) are rare; most cases must exercise ours.
  EXPECT_GE(covered, kCases * 3 / 4);
}

TEST(YuvScale, RefusesWhatItDoesNotReproduce) {
  const ColourDetails colour{{104597, 132201, 25675, 53279}, 0, 0, 1 << 16, 1 << 16};
  EXPECT_EQ(Yuv420ToRgb24Scaler::Create(480, 720, 63, 64, colour), nullptr);   // odd width
  EXPECT_EQ(Yuv420ToRgb24Scaler::Create(64, 64, 64, 32, colour), nullptr);     // no downscale
  EXPECT_EQ(Yuv420ToRgb24Scaler::Create(48, 64, 64, 32, colour), nullptr);     // an upscale
  EXPECT_EQ(Yuv420ToRgb24Scaler::Create(16, 720, 8, 64, colour), nullptr);     // too narrow
  EXPECT_EQ(Yuv420ToRgb24Scaler::Create(8000, 720, 16, 64, colour), nullptr);  // would cascade
#if defined(__x86_64__)
  EXPECT_NE(Yuv420ToRgb24Scaler::Create(480, 720, 64, 64, colour), nullptr);
#endif
}

TEST(YuvScale, FiltersAreNormalisedAndInsideTheSource) {
  for (const auto& [src, dst] : std::vector<std::pair<int, int>>{{480, 64}, {240, 32}, {97, 8}}) {
    for (const auto& [align, one] : std::vector<std::pair<int, int>>{{4, 1 << 14}, {2, 1 << 12}}) {
      const int64_t inc = ((static_cast<int64_t>(src) << 16) + dst / 2) / dst;
      std::optional<FilterAxis> f = BicubicFilter(src, dst, inc, align, one, 128, 128);
      ASSERT_TRUE(f.has_value());
      EXPECT_EQ(f->size % align, 0);
      for (int i = 0; i < dst; ++i) {
        int sum = 0;
        for (int t = 0; t < f->size; ++t) sum += f->coeff[static_cast<size_t>(i) * f->size + t];
        EXPECT_NEAR(sum, one, 1) << src << "->" << dst << " output " << i;
        EXPECT_GE(f->pos[i], 0);
        EXPECT_LE(f->pos[i] + f->size, src);
        if (i > 0) {
          EXPECT_GE(f->pos[i], f->pos[i - 1]);
        }
      }
    }
  }
}

// The fast kernels against the scalar ones on random rows, taps and widths.
TEST(YuvScale, Avx2KernelsMatchTheScalarOracle) {
  if (!ScaleKernelSupported(ScaleKernel::kAvx2)) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937 rng(3);
  for (int round = 0; round < 300; ++round) {
    const int taps = 16 * (1 + static_cast<int>(rng() % 8));
    const int outputs = 8 * (1 + static_cast<int>(rng() % 12));
    const int src_len = taps + static_cast<int>(rng() % 600);
    std::vector<uint8_t> src(static_cast<size_t>(src_len) + 16);
    for (auto& b : src) b = static_cast<uint8_t>(rng());
    std::vector<int32_t> pos(static_cast<size_t>(outputs));
    std::vector<int16_t> coeff(static_cast<size_t>(outputs) * taps);
    for (auto& p : pos) p = static_cast<int32_t>(rng() % static_cast<unsigned>(src_len - taps + 1));
    // Taps of swscale's range (about -0.2..1.2 of 1 << 14), some extreme.
    for (auto& c : coeff) c = static_cast<int16_t>(static_cast<int>(rng() % 23000) - 3500);
    std::vector<int16_t> a(static_cast<size_t>(outputs)), b(static_cast<size_t>(outputs));
    HorizontalScalar(src.data(), pos.data(), coeff.data(), taps, outputs, a.data());
    HorizontalAvx2(src.data(), pos.data(), coeff.data(), taps, outputs, b.data());
    ASSERT_EQ(a, b) << "horizontal, round " << round;

    const int vtaps = 1 + static_cast<int>(rng() % 60);
    const int width = 16 * (1 + static_cast<int>(rng() % 6));
    std::vector<std::vector<int16_t>> rows(static_cast<size_t>(vtaps));
    std::vector<const int16_t*> row_ptrs;
    for (auto& r : rows) {
      r.resize(static_cast<size_t>(width));
      for (auto& v : r) v = static_cast<int16_t>(static_cast<int>(rng() % 35768) - 3000);
      row_ptrs.push_back(r.data());
    }
    std::vector<int16_t> vcoeff(static_cast<size_t>(vtaps));
    for (auto& c : vcoeff) c = static_cast<int16_t>(static_cast<int>(rng() % 1000) - 200);
    std::vector<int32_t> va(static_cast<size_t>(width)), vb(static_cast<size_t>(width));
    VerticalScalar(row_ptrs.data(), vcoeff.data(), vtaps, width, va.data());
    VerticalAvx2(row_ptrs.data(), vcoeff.data(), vtaps, width, vb.data());
    ASSERT_EQ(va, vb) << "vertical, round " << round << ", " << vtaps << " taps";
  }
}

}  // namespace
}  // namespace safeguard::media_internal
