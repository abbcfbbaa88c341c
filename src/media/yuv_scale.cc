// swscale's bicubic YCbCr 4:2:0 to RGB24 downscale, reproduced (see
// yuv_scale.h). The integer arithmetic below follows libswscale 5.1 step
// for step; where C's rules decide a result (truncating division, the
// arithmetic right shift of negatives, a double comparison) the same types
// are used here.

#include "yuv_scale.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

extern "C" {
#include <libswscale/swscale.h>
}

namespace safeguard::media_internal {
namespace {

constexpr int kMaxFilterSize = 256;      // swscale's SWS_MAX_FILTER_SIZE
constexpr double kReduceCutoff = 0.002;  // SWS_MAX_REDUCE_CUTOFF
constexpr int kTableHeadroom = 512;      // YUVRGB_TABLE_HEADROOM
constexpr int kLumaHeadroom = 512;       // YUVRGB_TABLE_LUMA_HEADROOM
constexpr int kYTableSize = 1024 + 2 * kLumaHeadroom;
constexpr int kChromaIndexes = 256 + 2 * kTableHeadroom;
// The centre position swscale's default chroma siting gives every axis of
// 4:2:0 to RGB (get_local_pos with -513, in 1/256 of a sample).
constexpr int kCentre = 128;

int Log2Floor(int v) { return 31 - __builtin_clz(static_cast<unsigned>(v) | 1u); }

int64_t RoundedDiv(int64_t a, int64_t b) { return (a >= 0 ? a + (b >> 1) : a - (b >> 1)) / b; }

int ClipU8(int64_t v) { return static_cast<int>(std::clamp<int64_t>(v, 0, 255)); }

int RoundUp(int v, int m) { return (v + m - 1) / m * m; }

// swscale's step between output samples (16.16 fixed point).
int64_t Step(int src_len, int dst_len) {
  return ((static_cast<int64_t>(src_len) << 16) + (dst_len >> 1)) / dst_len;
}

}  // namespace

std::optional<FilterAxis> BicubicFilter(int src_len, int dst_len, int64_t inc, int align, int one,
                                        int src_pos, int dst_pos) {
  if (src_len < 4 || dst_len < 1) return std::nullopt;
  const int64_t fone = int64_t{1} << (54 - std::min(Log2Floor(src_len / dst_len), 8));
  int size = 0;
  std::vector<int64_t> f;
  std::vector<int32_t> pos(static_cast<size_t>(dst_len));
  if (std::abs(inc - 0x10000) < 10 && src_pos == dst_pos) {
    size = 1;  // unscaled
    f.assign(static_cast<size_t>(dst_len), fone);
    for (int i = 0; i < dst_len; ++i) pos[i] = i;
  } else {
    constexpr int kSizeFactor = 4;  // bicubic
    size = inc <= (1 << 16) ? 1 + kSizeFactor : 1 + (kSizeFactor * src_len + dst_len - 1) / dst_len;
    size = std::max(std::min(size, src_len - 2), 1);
    f.assign(static_cast<size_t>(dst_len) * size, 0);
    // B = 0 and C = 0.6 in 8.24 fixed point, truncated as C converts.
    const int64_t b = 0;
    const auto c = static_cast<int64_t>(0.6 * (1 << 24));
    int64_t x_in_src = ((dst_pos * inc) >> 7) - ((src_pos * int64_t{0x10000}) >> 7);
    for (int i = 0; i < dst_len; ++i) {
      int xx = static_cast<int>((x_in_src - (size - 2) * (int64_t{1} << 16)) / (1 << 17));
      pos[i] = xx;
      for (int j = 0; j < size; ++j, ++xx) {
        int64_t d = std::abs(static_cast<int64_t>(xx) * (1 << 17) - x_in_src) << 13;
        if (inc > 1 << 16) d = d * dst_len / src_len;
        int64_t coeff = 0;
        if (d < int64_t{1} << 31) {
          const int64_t dd = (d * d) >> 30;
          const int64_t ddd = (dd * d) >> 30;
          if (d < int64_t{1} << 30) {
            coeff = (12 * (1 << 24) - 9 * b - 6 * c) * ddd +
                    (-18 * (1 << 24) + 12 * b + 6 * c) * dd +
                    (6 * (1 << 24) - 2 * b) * (int64_t{1} << 30);
          } else {
            coeff = (-b - 6 * c) * ddd + (6 * b + 30 * c) * dd + (-12 * b - 48 * c) * d +
                    (8 * b + 24 * c) * (int64_t{1} << 30);
          }
        }
        coeff /= (int64_t{1} << 54) / fone;
        f[static_cast<size_t>(i) * size + j] = coeff;
      }
      x_in_src += 2 * inc;
    }
  }

  // Trim near-zero taps: shift each output's taps left past the small ones
  // (keeping positions increasing), then find the widest remaining filter.
  const double cutoff = kReduceCutoff * static_cast<double>(fone);
  int min_size = 0;
  for (int i = dst_len - 1; i >= 0; --i) {
    int64_t* row = f.data() + static_cast<size_t>(i) * size;
    int width = size;
    int64_t cut = 0;
    for (int j = 0; j < size; ++j) {
      cut += std::abs(row[0]);
      if (static_cast<double>(cut) > cutoff) break;
      if (i < dst_len - 1 && pos[i] >= pos[i + 1]) break;
      std::memmove(row, row + 1, sizeof(int64_t) * static_cast<size_t>(size - 1));
      row[size - 1] = 0;
      ++pos[i];
    }
    cut = 0;
    for (int j = size - 1; j > 0; --j) {
      cut += std::abs(row[j]);
      if (static_cast<double>(cut) > cutoff) break;
      --width;
    }
    min_size = std::max(min_size, width);
  }
  if (min_size == 1 && align == 2) align = 1;  // swscale's unscaled vertical case on x86
  const int out_size = (min_size + (align - 1)) & ~(align - 1);
  if (out_size >= kMaxFilterSize) return std::nullopt;
  std::vector<int64_t> g(static_cast<size_t>(dst_len) * out_size, 0);
  for (int i = 0; i < dst_len; ++i) {
    for (int j = 0; j < out_size && j < size; ++j) {
      g[static_cast<size_t>(i) * out_size + j] = f[static_cast<size_t>(i) * size + j];
    }
  }

  // Fold taps that fall outside the source onto its edge samples.
  for (int i = 0; i < dst_len; ++i) {
    int64_t* row = g.data() + static_cast<size_t>(i) * out_size;
    if (pos[i] < 0) {
      for (int j = 1; j < out_size; ++j) {
        const int left = std::max(j + pos[i], 0);
        row[left] += row[j];
        row[j] = 0;
      }
      pos[i] = 0;
    }
    if (pos[i] + out_size > src_len) {
      const int shift = pos[i] + std::min(out_size - src_len, 0);
      int64_t acc = 0;
      for (int j = out_size - 1; j >= 0; --j) {
        if (pos[i] + j >= src_len) {
          acc += row[j];
          row[j] = 0;
        }
      }
      for (int j = out_size - 1; j >= 0; --j) row[j] = j < shift ? 0 : row[j - shift];
      pos[i] -= shift;
      row[src_len - 1 - pos[i]] += acc;
    }
    // Inside the source and in order (Scale relies on both).
    if (pos[i] < 0 || pos[i] >= src_len || (i > 0 && pos[i] < pos[i - 1])) return std::nullopt;
  }

  // Normalise to `one`, carrying each tap's rounding error to the next.
  FilterAxis out;
  out.src_len = src_len;
  out.dst_len = dst_len;
  out.size = out_size;
  out.pos = std::move(pos);
  out.coeff.resize(static_cast<size_t>(dst_len) * out_size);
  for (int i = 0; i < dst_len; ++i) {
    const int64_t* row = g.data() + static_cast<size_t>(i) * out_size;
    int64_t sum = 0;
    for (int j = 0; j < out_size; ++j) sum += row[j];
    sum = (sum + one / 2) / one;
    if (sum == 0) sum = 1;
    int64_t error = 0;
    for (int j = 0; j < out_size; ++j) {
      const int64_t v = row[j] + error;
      const auto q = static_cast<int>(RoundedDiv(v, sum));
      out.coeff[static_cast<size_t>(i) * out_size + j] = static_cast<int16_t>(q);
      error = v - q * sum;
    }
  }
  return out;
}

bool ReadColourDetails(SwsContext* sws, ColourDetails* out) {
  int *inv_table = nullptr, *table = nullptr;
  int dst_range = 0;
  if (sws_getColorspaceDetails(sws, &inv_table, &out->src_range, &table, &dst_range,
                               &out->brightness, &out->contrast, &out->saturation) < 0 ||
      inv_table == nullptr) {
    return false;
  }
  std::copy_n(inv_table, 4, out->inv_table);
  return true;
}

std::string_view ScaleKernelName(ScaleKernel k) {
  return k == ScaleKernel::kAvx2 ? "avx2" : "scalar";
}

bool ScaleKernelSupported(ScaleKernel k) {
  switch (k) {
    case ScaleKernel::kScalar:
      return true;
    case ScaleKernel::kAvx2:
#if defined(__x86_64__) || defined(__i386__)
      return __builtin_cpu_supports("avx2");
#else
      return false;
#endif
  }
  return false;
}

ScaleKernel BestScaleKernel() {
  static const ScaleKernel best = [] {
    if (const char* forced = std::getenv("SAFEGUARD_SCALE_KERNEL")) {
      for (ScaleKernel k : {ScaleKernel::kScalar, ScaleKernel::kAvx2}) {
        if (ScaleKernelName(k) == forced && ScaleKernelSupported(k)) return k;
      }
    }
    return ScaleKernelSupported(ScaleKernel::kAvx2) ? ScaleKernel::kAvx2 : ScaleKernel::kScalar;
  }();
  return best;
}

void HorizontalScalar(const uint8_t* src, const int32_t* pos, const int16_t* coeff, int taps,
                      int outputs, int16_t* out) {
  for (int i = 0; i < outputs; ++i) {
    const uint8_t* s = src + pos[i];
    const int16_t* c = coeff + static_cast<ptrdiff_t>(i) * taps;
    int sum = 0;
    for (int t = 0; t < taps; ++t) sum += static_cast<int>(s[t]) * c[t];
    out[i] = static_cast<int16_t>(std::min(sum >> 7, (1 << 15) - 1));
  }
}

void VerticalScalar(const int16_t* const* rows, const int16_t* coeff, int taps, int width,
                    int32_t* out) {
  for (int x = 0; x < width; ++x) {
    int sum = 1 << 18;
    for (int j = 0; j < taps; ++j) sum += rows[j][x] * coeff[j];
    out[x] = sum >> 19;
  }
}

std::unique_ptr<Yuv420ToRgb24Scaler> Yuv420ToRgb24Scaler::Create(int src_w, int src_h, int dst_w,
                                                                 int dst_h,
                                                                 const ColourDetails& colour) {
#if !defined(__x86_64__)
  // The tap alignment reproduced is x86's; other CPUs align differently.
  return nullptr;
#endif
  if (src_w < 32 || src_h < 32 || dst_w < 2 || dst_h < 1 || (dst_w & 1) != 0) return nullptr;
  if (src_w <= dst_w || src_h <= dst_h) return nullptr;  // downscales only
  // RGB output without full chroma interpolation: each pair of output
  // pixels shares a chroma sample, so chroma is dst_w / 2 wide.
  const int chroma_src_w = (src_w + 1) >> 1;
  const int chroma_src_h = (src_h + 1) >> 1;
  const int chroma_dst_w = dst_w >> 1;
  const int chroma_dst_h = dst_h;
  auto lh = BicubicFilter(src_w, dst_w, Step(src_w, dst_w), 4, 1 << 14, kCentre, kCentre);
  auto ch = BicubicFilter(chroma_src_w, chroma_dst_w, Step(chroma_src_w, chroma_dst_w), 4, 1 << 14,
                          kCentre, kCentre);
  auto lv = BicubicFilter(src_h, dst_h, Step(src_h, dst_h), 2, 1 << 12, kCentre, kCentre);
  auto cv = BicubicFilter(chroma_src_h, chroma_dst_h, Step(chroma_src_h, chroma_dst_h), 2, 1 << 12,
                          kCentre, kCentre);
  if (!lh || !ch || !lv || !cv) return nullptr;
  // swscale's one- and two-tap vertical paths round differently; the
  // general path is the one reproduced.
  if (lv->size < 3) return nullptr;

  std::unique_ptr<Yuv420ToRgb24Scaler> s(new Yuv420ToRgb24Scaler());
  s->src_w_ = src_w;
  s->src_h_ = src_h;
  s->dst_w_ = dst_w;
  s->dst_h_ = dst_h;
  s->luma_h_ = std::move(*lh);
  s->chroma_h_ = std::move(*ch);
  s->luma_v_ = std::move(*lv);
  s->chroma_v_ = std::move(*cv);

  auto pad = [](const FilterAxis& a, int* taps16, std::vector<int16_t>* coeff,
                std::vector<int32_t>* pos) {
    *taps16 = RoundUp(a.size, 16);
    const int outputs = RoundUp(a.dst_len, 8);
    coeff->assign(static_cast<size_t>(outputs) * *taps16, 0);
    pos->assign(static_cast<size_t>(outputs), 0);
    for (int i = 0; i < a.dst_len; ++i) {
      (*pos)[i] = a.pos[i];
      std::copy_n(a.coeff.data() + static_cast<size_t>(i) * a.size, a.size,
                  coeff->data() + static_cast<size_t>(i) * *taps16);
    }
  };
  pad(s->luma_h_, &s->luma_taps16_, &s->luma_h16_, &s->luma_pos8_);
  pad(s->chroma_h_, &s->chroma_taps16_, &s->chroma_h16_, &s->chroma_pos8_);

  // ff_yuv2rgb_c_init_tables, 24 bits per pixel.
  const bool full = colour.src_range != 0;
  int64_t crv = colour.inv_table[0];
  int64_t cbu = colour.inv_table[1];
  int64_t cgu = -colour.inv_table[2];
  int64_t cgv = -colour.inv_table[3];
  int64_t cy = 1 << 16;
  int64_t oy = 0;
  if (!full) {
    cy = (cy * 255) / 219;
    oy = int64_t{16} << 16;
  } else {
    crv = (crv * 224) / 255;
    cbu = (cbu * 224) / 255;
    cgu = (cgu * 224) / 255;
    cgv = (cgv * 224) / 255;
  }
  cy = (cy * colour.contrast) >> 16;
  crv = (crv * colour.contrast * colour.saturation) >> 32;
  cbu = (cbu * colour.contrast * colour.saturation) >> 32;
  cgu = (cgu * colour.contrast * colour.saturation) >> 32;
  cgv = (cgv * colour.contrast * colour.saturation) >> 32;
  oy -= int64_t{256} * colour.brightness;
  const int64_t cy1 = std::max<int64_t>(cy, 1);
  crv = ((crv * (1 << 16)) + 0x8000) / cy1;
  cbu = ((cbu * (1 << 16)) + 0x8000) / cy1;
  cgu = ((cgu * (1 << 16)) + 0x8000) / cy1;
  cgv = ((cgv * (1 << 16)) + 0x8000) / cy1;
  s->y_table_.resize(kYTableSize);
  int64_t yb = -(int64_t{384} << 16) - kLumaHeadroom * cy - oy;
  for (int i = 0; i < kYTableSize; ++i) {
    s->y_table_[i] = static_cast<uint8_t>(ClipU8((yb + 0x8000) >> 16));
    yb += cy;
  }
  const int yoffs = (full ? 384 : 326) + kLumaHeadroom;
  s->r_v_.resize(kChromaIndexes);
  s->g_u_.resize(kChromaIndexes);
  s->g_v_.resize(kChromaIndexes);
  s->b_u_.resize(kChromaIndexes);
  for (int i = 0; i < kChromaIndexes; ++i) {
    const int64_t v = ClipU8(i - kTableHeadroom);
    s->r_v_[i] = static_cast<int32_t>(yoffs - (crv >> 9) + ((v * crv) >> 16));
    s->g_u_[i] = static_cast<int32_t>(yoffs - (cgu >> 9) + ((v * cgu) >> 16));
    s->g_v_[i] = static_cast<int32_t>(-(cgv >> 9) + ((v * cgv) >> 16));
    s->b_u_[i] = static_cast<int32_t>(yoffs - (cbu >> 9) + ((v * cbu) >> 16));
  }

  s->luma_row_ = RoundUp(RoundUp(dst_w, 8), 16);
  s->chroma_row_ = RoundUp(RoundUp(chroma_dst_w, 8), 16);
  s->luma_rows_.assign(static_cast<size_t>(src_h) * s->luma_row_, 0);
  s->u_rows_.assign(static_cast<size_t>(chroma_src_h) * s->chroma_row_, 0);
  s->v_rows_.assign(static_cast<size_t>(chroma_src_h) * s->chroma_row_, 0);
  s->row_copy_.assign(static_cast<size_t>(src_w) + 64, 0);
  s->y_out_.assign(static_cast<size_t>(s->luma_row_), 0);
  s->u_out_.assign(static_cast<size_t>(s->chroma_row_), 0);
  s->v_out_.assign(static_cast<size_t>(s->chroma_row_), 0);
  s->taps_.resize(static_cast<size_t>(std::max(s->luma_v_.size, s->chroma_v_.size)));
  return s;
}

void Yuv420ToRgb24Scaler::Scale(const uint8_t* const planes[3], const int linesizes[3],
                                uint8_t* dst, std::ptrdiff_t dst_stride, ScaleKernel kernel) {
  const bool simd = kernel == ScaleKernel::kAvx2;
  const auto vertical = simd ? VerticalAvx2 : VerticalScalar;

  // Horizontal pass over the source rows some output row uses. The SIMD
  // kernel reads up to 15 bytes past a row's last tap: in place while the
  // next row follows in memory, from a padded copy for the last row.
  auto scale_rows = [&](int plane, const FilterAxis& h, const FilterAxis& v, int width,
                        const std::vector<int16_t>& coeff16, const std::vector<int32_t>& pos8,
                        int taps16, int row_len, std::vector<int16_t>* rows) {
    for (int y = v.pos.front(); y < v.pos.back() + v.size; ++y) {
      const uint8_t* src = planes[plane] + static_cast<std::ptrdiff_t>(y) * linesizes[plane];
      int16_t* out = rows->data() + static_cast<size_t>(y) * row_len;
      if (!simd) {
        HorizontalScalar(src, h.pos.data(), h.coeff.data(), h.size, h.dst_len, out);
        continue;
      }
      if (y == v.src_len - 1 || linesizes[plane] < width) {
        std::memcpy(row_copy_.data(), src, static_cast<size_t>(width));
        src = row_copy_.data();
      }
      HorizontalAvx2(src, pos8.data(), coeff16.data(), taps16, static_cast<int>(pos8.size()), out);
    }
  };
  scale_rows(0, luma_h_, luma_v_, src_w_, luma_h16_, luma_pos8_, luma_taps16_, luma_row_,
             &luma_rows_);
  scale_rows(1, chroma_h_, chroma_v_, chroma_h_.src_len, chroma_h16_, chroma_pos8_, chroma_taps16_,
             chroma_row_, &u_rows_);
  scale_rows(2, chroma_h_, chroma_v_, chroma_h_.src_len, chroma_h16_, chroma_pos8_, chroma_taps16_,
             chroma_row_, &v_rows_);

  // Vertical pass and RGB packing, one output row at a time.
  const int luma_width = simd ? luma_row_ : dst_w_;
  const int chroma_width = simd ? chroma_row_ : chroma_h_.dst_len;
  auto filter_rows = [&](const FilterAxis& v, int y, const std::vector<int16_t>& rows, int row_len,
                         int width, int32_t* out) {
    for (int j = 0; j < v.size; ++j) {
      taps_[j] = rows.data() + static_cast<size_t>(v.pos[y] + j) * row_len;
    }
    vertical(taps_.data(), v.coeff.data() + static_cast<size_t>(y) * v.size, v.size, width, out);
  };
  const uint8_t* table = y_table_.data();
  for (int y = 0; y < dst_h_; ++y) {
    filter_rows(luma_v_, y, luma_rows_, luma_row_, luma_width, y_out_.data());
    filter_rows(chroma_v_, y, u_rows_, chroma_row_, chroma_width, u_out_.data());
    filter_rows(chroma_v_, y, v_rows_, chroma_row_, chroma_width, v_out_.data());
    uint8_t* d = dst + y * dst_stride;
    for (int i = 0; i < dst_w_ / 2; ++i) {
      // Out-of-range sums (never seen from 8-bit input) are clamped where
      // swscale would read outside its tables.
      const int u = std::clamp(u_out_[i], -kTableHeadroom, 255 + kTableHeadroom) + kTableHeadroom;
      const int v = std::clamp(v_out_[i], -kTableHeadroom, 255 + kTableHeadroom) + kTableHeadroom;
      const int r = r_v_[v];
      const int g = g_u_[u] + g_v_[v];
      const int b = b_u_[u];
      for (int k = 0; k < 2; ++k) {
        const int luma = y_out_[2 * i + k];
        d[0] = table[std::clamp(r + luma, 0, kYTableSize - 1)];
        d[1] = table[std::clamp(g + luma, 0, kYTableSize - 1)];
        d[2] = table[std::clamp(b + luma, 0, kYTableSize - 1)];
        d += 3;
      }
    }
  }
}

}  // namespace safeguard::media_internal
