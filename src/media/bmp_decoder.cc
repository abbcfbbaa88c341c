// Third-party decoder code is compiled in this file alone, with its warnings
// off (CMakeLists.txt); keep Safeguard's own code here to the thin wrappers.
#include "bmp_decoder.h"

#include <climits>

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_NO_FAILURE_STRINGS_IF_UNUSED
#include <stb/stb_image.h>

namespace safeguard::media_internal {

void FreeBmpPixels::operator()(uint8_t* p) const { stbi_image_free(p); }

bool BmpDimensions(const uint8_t* data, size_t size, int* width, int* height) {
  if (size > INT_MAX) return false;
  int channels = 0;
  return stbi_info_from_memory(data, static_cast<int>(size), width, height, &channels) == 1;
}

BmpPixels DecodeBmpRgb(const uint8_t* data, size_t size, int* width, int* height,
                       std::string* failure) {
  if (size > INT_MAX) {
    *failure = "too large";
    return nullptr;
  }
  int channels = 0;
  BmpPixels pixels(
      stbi_load_from_memory(data, static_cast<int>(size), width, height, &channels, 3));
  if (pixels == nullptr) {
    const char* reason = stbi_failure_reason();
    *failure = reason != nullptr ? reason : "unknown error";
  }
  return pixels;
}

}  // namespace safeguard::media_internal
