// Bicubic downscaling of 8-bit 4:2:0 YCbCr to RGB24 with the exact bits of
// libswscale (FFmpeg 5.1, `SWS_BICUBIC`, default parameters and chroma
// positions), for the small frames TMK takes (64x64 from every frame it
// keeps). swscale stays the reference: `VideoDecoder` uses this only where
// it reproduces swscale, checks the first frame of every clip against
// swscale, and the tests compare the two bit for bit on random and real
// frames. It is faster because its vertical pass is vectorised (swscale's
// is scalar C for RGB24), its horizontal pass uses 256-bit registers with
// the tap count fixed at compile time, and the RGB lookup is done once per
// output pixel without swscale's per-line machinery.
//
// What is reproduced, step by step (swscale's own arithmetic):
//  - the filters: `initFilter`'s integer bicubic (B = 0, C = 0.6), its
//    trimming of near-zero taps, the x86 tap alignment (4 horizontal, 2
//    vertical), the border folding and the error-diffusing normalisation
//    (to 1 << 14 horizontally, 1 << 12 vertically);
//  - the horizontal pass to 15-bit intermediates (`hScale8To15`);
//  - the vertical pass and RGB24 packing with its lookup tables
//    (`yuv2rgb_X_c_template`, `ff_yuv2rgb_c_init_tables`), chroma shared by
//    each pair of output pixels.

#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

struct SwsContext;  // libswscale's

namespace safeguard::media_internal {

// One axis of a separable filter as swscale builds it.
struct FilterAxis {
  int src_len = 0;
  int dst_len = 0;
  int size = 0;                // taps per output
  std::vector<int32_t> pos;    // first source sample of each output
  std::vector<int16_t> coeff;  // dst_len * size taps, summing to `one`
};

// swscale's bicubic filter for `src_len` samples to `dst_len`, with its
// step `inc` (16.16), tap alignment, normalisation `one` and the
// positions of the first samples (1/256 units, 128 = centre). nullopt where
// swscale would not use one filter (taps >= 256: it cascades two scalers).
std::optional<FilterAxis> BicubicFilter(int src_len, int dst_len, int64_t inc, int align, int one,
                                        int src_pos, int dst_pos);

// The colour settings swscale converts with (sws_getColorspaceDetails).
struct ColourDetails {
  int inv_table[4] = {0, 0, 0, 0};  // the YCbCr matrix (sws_getCoefficients)
  int src_range = 0;                // 1: full range (JPEG), 0: limited
  int brightness = 0;
  int contrast = 1 << 16;
  int saturation = 1 << 16;
};

// The colour settings `sws` converts with; false if it will not say.
bool ReadColourDetails(SwsContext* sws, ColourDetails* out);

enum class ScaleKernel { kScalar, kAvx2 };
std::string_view ScaleKernelName(ScaleKernel k);
bool ScaleKernelSupported(ScaleKernel k);
// The fastest supported kernel (SAFEGUARD_SCALE_KERNEL=scalar|avx2 forces
// one where supported).
ScaleKernel BestScaleKernel();

class Yuv420ToRgb24Scaler {
 public:
  // nullptr where swscale would take another path than the one reproduced:
  // an odd or tiny output, a source under 32x32, no downscale in either
  // axis, a filter swscale would cascade, or a CPU whose tap alignment
  // differs (only x86 is reproduced).
  static std::unique_ptr<Yuv420ToRgb24Scaler> Create(int src_w, int src_h, int dst_w, int dst_h,
                                                     const ColourDetails& colour);

  // `planes`/`linesizes`: Y, Cb, Cr of a src_w x src_h frame (chroma
  // (src_w+1)/2 x (src_h+1)/2). Writes dst_h rows of dst_w RGB triples.
  void Scale(const uint8_t* const planes[3], const int linesizes[3], uint8_t* dst,
             std::ptrdiff_t dst_stride, ScaleKernel kernel);

  const FilterAxis& luma_h() const { return luma_h_; }
  const FilterAxis& luma_v() const { return luma_v_; }
  const FilterAxis& chroma_h() const { return chroma_h_; }
  const FilterAxis& chroma_v() const { return chroma_v_; }

 private:
  Yuv420ToRgb24Scaler() = default;

  int src_w_ = 0, src_h_ = 0, dst_w_ = 0, dst_h_ = 0;
  FilterAxis luma_h_, chroma_h_, luma_v_, chroma_v_;
  // The horizontal filters for the SIMD kernel: taps padded with zeros to a
  // multiple of 16, outputs to a multiple of 8 (extra outputs all zero).
  int luma_taps16_ = 0, chroma_taps16_ = 0;
  std::vector<int16_t> luma_h16_, chroma_h16_;
  std::vector<int32_t> luma_pos8_, chroma_pos8_;
  // RGB lookup (ff_yuv2rgb_c_init_tables for 24 bits per pixel): a clipped
  // luma ramp, and per chroma value the offset into it of each channel.
  std::vector<uint8_t> y_table_;
  std::vector<int32_t> r_v_, g_u_, g_v_, b_u_;  // indexed by value + 512
  // Scratch: horizontally scaled rows (15-bit), a row copy, vertical sums.
  int luma_row_ = 0, chroma_row_ = 0;  // int16 per stored row (multiple of 16)
  std::vector<int16_t> luma_rows_, u_rows_, v_rows_;
  std::vector<uint8_t> row_copy_;
  std::vector<int32_t> y_out_, u_out_, v_out_;
  std::vector<const int16_t*> taps_;
};

// The kernels. Horizontal: `outputs` values of min((sum of `taps` source
// bytes from pos[i] times coeff[i * taps + t]) >> 7, 32767). Vertical:
// `width` values of ((1 << 18) + sum of rows[j][x] * coeff[j]) >> 19. The
// AVX2 ones need taps a multiple of 16 and outputs a multiple of 8
// (horizontal), width a multiple of 16 (vertical), and may read 15 bytes
// past a source row's last tap.
void HorizontalScalar(const uint8_t* src, const int32_t* pos, const int16_t* coeff, int taps,
                      int outputs, int16_t* out);
void HorizontalAvx2(const uint8_t* src, const int32_t* pos, const int16_t* coeff, int taps,
                    int outputs, int16_t* out);
void VerticalScalar(const int16_t* const* rows, const int16_t* coeff, int taps, int width,
                    int32_t* out);
void VerticalAvx2(const int16_t* const* rows, const int16_t* coeff, int taps, int width,
                  int32_t* out);

}  // namespace safeguard::media_internal
