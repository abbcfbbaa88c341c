// Test helpers for the engine and the API: photo-like synthetic images made
// in memory, and an engine on a scratch SQLite store.
#pragma once

#include <vips/vips.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "safeguard/engine/engine.h"
#include "safeguard/hash/file_signals.h"
#include "safeguard/media/image.h"
#include "test_support.h"

namespace safeguard::test_support {

// A w x h image of smooth shapes that differs with `seed` (PDQ quality well
// above 50), encoded as PNG ("png") or JPEG ("jpeg").
inline std::string MakeImage(uint32_t seed, int w = 256, int h = 192,
                             const std::string& format = "png") {
  std::vector<uint8_t> px(static_cast<size_t>(w) * h * 3);
  const double a = 3 + seed % 7, b = 2 + (seed / 7) % 5, c = 0.5 + (seed % 11) * 0.3;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const double u = static_cast<double>(x) / w, v = static_cast<double>(y) / h;
      const double r = 127 + 120 * std::sin(a * u * 6.283 + c) * std::cos(b * v * 6.283);
      const double g = 127 + 120 * std::sin((a + b) * (u + v) * 3.14 + seed);
      const double bl = 127 + 120 * std::cos(b * u * 6.283 - a * v * 3.14);
      uint8_t* p = &px[(static_cast<size_t>(y) * w + x) * 3];
      p[0] = static_cast<uint8_t>(r);
      p[1] = static_cast<uint8_t>(g);
      p[2] = static_cast<uint8_t>(bl);
    }
  }
  (void)InitializeImageDecoding();
  VipsImage* image = vips_image_new_from_memory(px.data(), px.size(), w, h, 3, VIPS_FORMAT_UCHAR);
  void* buf = nullptr;
  size_t len = 0;
  if (format == "jpeg") {
    vips_jpegsave_buffer(image, &buf, &len, "Q", 90, nullptr);
  } else {
    vips_pngsave_buffer(image, &buf, &len, nullptr);
  }
  g_object_unref(image);
  std::string out(static_cast<const char*>(buf), len);
  g_free(buf);
  return out;
}

// The PDQ hash (hex) and quality the engine computes for `bytes` by default.
inline std::pair<std::string, int> PdqOf(const std::string& bytes) {
  SignalOptions options;
  Result<FileSignals> s =
      ComputeSignals(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), options, "test");
  if (!s.ok() || !s->is_image || !s->image_status.ok()) return {"", 0};
  return {s->pdq.hash.ToHex(), s->pdq.quality};
}

// A configuration for tests: a SQLite store in `dir`, fast index refresh.
inline ServiceConfig TestConfig(const ScratchDir& dir) {
  ServiceConfig config;
  config.store_url = "sqlite:" + dir.File("safeguard.db");
  config.index_refresh_ms = 50;
  config.http_threads = 4;
  return config;
}

}  // namespace safeguard::test_support
