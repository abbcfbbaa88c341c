#include "review_media.h"

#include <vips/vips.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "safeguard/media/image.h"

namespace safeguard::engine_internal {
namespace {

// Area-average downscale of a greyscale image so that the longest side is at
// most kRenditionMaxSide (every source pixel counts: no aliasing shimmer).
GreyImage Downscale(const std::vector<uint8_t>& grey, int w, int h) {
  const int longest = std::max(w, h);
  if (longest <= kRenditionMaxSide) {
    return GreyImage{w, h, std::string(grey.begin(), grey.end())};
  }
  const double scale = static_cast<double>(kRenditionMaxSide) / longest;
  const int ow = std::max(1, static_cast<int>(std::lround(w * scale)));
  const int oh = std::max(1, static_cast<int>(std::lround(h * scale)));
  GreyImage out{ow, oh, std::string(static_cast<size_t>(ow) * oh, '\0')};
  for (int oy = 0; oy < oh; ++oy) {
    const int y0 = static_cast<int>(static_cast<int64_t>(oy) * h / oh);
    const int y1 = std::max(y0 + 1, static_cast<int>(static_cast<int64_t>(oy + 1) * h / oh));
    for (int ox = 0; ox < ow; ++ox) {
      const int x0 = static_cast<int>(static_cast<int64_t>(ox) * w / ow);
      const int x1 = std::max(x0 + 1, static_cast<int>(static_cast<int64_t>(ox + 1) * w / ow));
      uint64_t sum = 0;
      for (int y = y0; y < y1; ++y) {
        for (int x = x0; x < x1; ++x) sum += grey[static_cast<size_t>(y) * w + x];
      }
      const uint64_t n = static_cast<uint64_t>(y1 - y0) * static_cast<uint64_t>(x1 - x0);
      out.pixels[static_cast<size_t>(oy) * ow + ox] = static_cast<char>((sum + n / 2) / n);
    }
  }
  return out;
}

// One horizontal or vertical box pass of radius r with clamped edges.
void BoxPass(std::vector<float>& img, int w, int h, int r, bool horizontal) {
  const int n = horizontal ? w : h;
  const int lines = horizontal ? h : w;
  std::vector<float> line(static_cast<size_t>(n));
  for (int l = 0; l < lines; ++l) {
    auto at = [&](int i) -> float& {
      return horizontal ? img[static_cast<size_t>(l) * w + i] : img[static_cast<size_t>(i) * w + l];
    };
    for (int i = 0; i < n; ++i) line[i] = at(i);
    double sum = 0;
    for (int k = -r; k <= r; ++k) sum += line[std::clamp(k, 0, n - 1)];
    for (int i = 0; i < n; ++i) {
      at(i) = static_cast<float>(sum / (2 * r + 1));
      sum += line[std::clamp(i + r + 1, 0, n - 1)] - line[std::clamp(i - r, 0, n - 1)];
    }
  }
}

}  // namespace

Result<GreyImage> ReviewPixels(std::string_view bytes, int sigma) {
  DecodeOptions options;
  options.shrink_to_min_side = kRenditionMaxSide;
  Result<RgbImage> rgb = DecodeImage(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                     options, "review media");
  if (!rgb.ok()) return rgb.status();
  const int w = rgb->width;
  const int h = rgb->height;
  std::vector<uint8_t> grey(static_cast<size_t>(w) * h);
  for (size_t i = 0; i < grey.size(); ++i) {
    const uint8_t* p = &rgb->pixels[3 * i];
    // ITU-R BT.601 luma, as the PDQ reference uses.
    grey[i] = static_cast<uint8_t>(std::lround(0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]));
  }
  GreyImage out = Downscale(grey, w, h);
  if (sigma > 0) {
    // Three box passes of width b approximate a Gaussian of variance
    // 3 (b^2 - 1) / 12; pick the radius that gives sigma.
    const int r = std::max(
        1, static_cast<int>(std::lround((std::sqrt(4.0 * sigma * sigma + 1.0) - 1.0) / 2.0)));
    std::vector<float> f(out.pixels.size());
    for (size_t i = 0; i < f.size(); ++i) f[i] = static_cast<uint8_t>(out.pixels[i]);
    for (int pass = 0; pass < 3; ++pass) {
      BoxPass(f, out.width, out.height, r, true);
      BoxPass(f, out.width, out.height, r, false);
    }
    for (size_t i = 0; i < f.size(); ++i) {
      out.pixels[i] =
          static_cast<char>(static_cast<uint8_t>(std::clamp(std::lround(f[i]), 0L, 255L)));
    }
  }
  return out;
}

Result<std::string> RenderForReview(std::string_view bytes, int sigma) {
  Result<GreyImage> grey = ReviewPixels(bytes, sigma);
  if (!grey.ok()) return grey.status();
  VipsImage* image = vips_image_new_from_memory(grey->pixels.data(), grey->pixels.size(),
                                                grey->width, grey->height, 1, VIPS_FORMAT_UCHAR);
  if (image == nullptr) {
    vips_error_clear();
    return Status::Internal("review rendition: cannot wrap pixels");
  }
  void* buffer = nullptr;
  size_t length = 0;
  const int rc = vips_jpegsave_buffer(image, &buffer, &length, "Q", 80, "strip", TRUE, nullptr);
  g_object_unref(image);
  if (rc != 0) {
    vips_error_clear();
    return Status::Internal("review rendition: JPEG encoding failed");
  }
  std::string jpeg(static_cast<const char*>(buffer), length);
  g_free(buffer);
  return jpeg;
}

}  // namespace safeguard::engine_internal
