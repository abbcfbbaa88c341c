#include "crc32c.h"

#include <array>
#include <cstring>

namespace safeguard::index_internal {
namespace {

constexpr uint32_t kPolynomial = 0x82f63b78;  // Castagnoli, bit-reversed

// Slicing-by-8 tables: table[k][b] is the CRC of byte b followed by k zeros.
constexpr std::array<std::array<uint32_t, 256>, 8> MakeTables() {
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t c = b;
    for (int i = 0; i < 8; ++i) c = (c >> 1) ^ ((c & 1) != 0 ? kPolynomial : 0);
    t[0][b] = c;
  }
  for (uint32_t b = 0; b < 256; ++b) {
    for (int k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
  }
  return t;
}

constexpr auto kTables = MakeTables();

}  // namespace

uint32_t Crc32cPortable(uint32_t crc, const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = ~crc;
  while (size >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);  // little-endian hosts only (see snapshot_file.h)
    const uint64_t x = word ^ c;
    c = kTables[7][x & 0xff] ^ kTables[6][(x >> 8) & 0xff] ^ kTables[5][(x >> 16) & 0xff] ^
        kTables[4][(x >> 24) & 0xff] ^ kTables[3][(x >> 32) & 0xff] ^ kTables[2][(x >> 40) & 0xff] ^
        kTables[1][(x >> 48) & 0xff] ^ kTables[0][x >> 56];
    p += 8;
    size -= 8;
  }
  while (size-- > 0) c = (c >> 8) ^ kTables[0][(c ^ *p++) & 0xff];
  return ~c;
}

bool Crc32cHardwareSupported() { return __builtin_cpu_supports("sse4.2"); }

uint32_t Crc32c(uint32_t crc, const void* data, size_t size) {
  static const bool hardware = Crc32cHardwareSupported();
  return hardware ? Crc32cHardware(crc, data, size) : Crc32cPortable(crc, data, size);
}

}  // namespace safeguard::index_internal
