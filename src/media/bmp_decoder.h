// BMP decoding. libvips 8.14 reads BMP only through ImageMagick, which we
// keep blocked; this uses stb_image's BMP decoder alone (Debian's libstb-dev
// header, compiled here with every other stb format switched off).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace safeguard::media_internal {

struct FreeBmpPixels {
  void operator()(uint8_t* p) const;
};
using BmpPixels = std::unique_ptr<uint8_t, FreeBmpPixels>;

// Reads the header only. False if it is not a BMP stb can decode.
bool BmpDimensions(const uint8_t* data, size_t size, int* width, int* height);

// Decodes to packed 8-bit RGB (alpha dropped, palette expanded). Null on
// failure, with stb's reason in *failure.
BmpPixels DecodeBmpRgb(const uint8_t* data, size_t size, int* width, int* height,
                       std::string* failure);

}  // namespace safeguard::media_internal
