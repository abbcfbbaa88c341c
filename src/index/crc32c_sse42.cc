// CRC-32C with the SSE4.2 CRC32 instruction (compiled with -msse4.2; chosen
// at run time). One dependent chain of 8-byte steps runs at about 8 bytes
// per 3 cycles, several GB/s: a 10^7-entry snapshot checks in a fraction of
// its load-time budget, so the three-stream interleaving is not worth its
// complexity here. No library templates in this file (see hamming_kernels.h).

#include <nmmintrin.h>

#include <cstring>

#include "crc32c.h"

namespace safeguard::index_internal {

uint32_t Crc32cHardware(uint32_t crc, const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t c = ~crc;
  while (size > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), *p++);
    --size;
  }
  while (size >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
    p += 8;
    size -= 8;
  }
  while (size-- > 0) c = _mm_crc32_u8(static_cast<uint32_t>(c), *p++);
  return ~static_cast<uint32_t>(c);
}

}  // namespace safeguard::index_internal
