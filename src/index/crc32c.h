// CRC-32C (Castagnoli), the checksum of index snapshot files.
//
// Chosen for corruption detection, not for security: it catches every burst
// error up to 32 bits and random damage with probability 1 - 2^-32, and
// runs at memory speed with the SSE4.2 CRC32 instruction (a table-driven
// fallback serves other CPUs; both give the same values).
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>

namespace safeguard::index_internal {

// The CRC-32C of data[0, size) continued from `crc`, the CRC-32C of the bytes
// before it (0 for none): Crc32c(Crc32c(0, a), b) == Crc32c(0, a + b).
// Example: Crc32c(0, "123456789", 9) == 0xe3069283.
uint32_t Crc32c(uint32_t crc, const void* data, size_t size);

// The two implementations, for tests. Crc32cHardware REQUIRES SSE4.2.
uint32_t Crc32cPortable(uint32_t crc, const void* data, size_t size);
uint32_t Crc32cHardware(uint32_t crc, const void* data, size_t size);
bool Crc32cHardwareSupported();

}  // namespace safeguard::index_internal
