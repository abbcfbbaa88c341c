// Hamming-distance kernels of the index, one per instruction set, behind one
// dispatch point (internal to src/index).
//
// A stored hash is four 64-bit words (Hash256::words), and a hash array is
// those words back to back, 32 bytes per hash. Both kernels report every hash
// at distance <= max_distance (inclusive) as a (position, distance) pair,
// appended to out_pos/out_dist in an unspecified order, and return how many
// they wrote.
//
// The per-instruction-set definitions live in their own files, compiled with
// their own flags (see CMakeLists.txt). Those files include no standard
// library templates: an inline template instantiated there with -mavx512f
// could be the copy the linker keeps for every caller, and then crash on a
// CPU without AVX-512.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>

namespace safeguard::index_internal {

// Positions [first_position, first_position + count) of `hashes`, in order.
// REQUIRES: out_pos and out_dist hold `count` values; first_position + count
// fits in 32 bits.
using ScanFn = size_t (*)(const uint64_t* query, const uint64_t* hashes, size_t count,
                          uint32_t max_distance, uint32_t first_position, uint32_t* out_pos,
                          uint16_t* out_dist);

// The hashes at hashes[positions[i]] for i < count (positions may repeat and
// come in any order). REQUIRES: out_pos and out_dist hold `count` values.
using VerifyFn = size_t (*)(const uint64_t* query, const uint64_t* hashes,
                            const uint32_t* positions, size_t count, uint32_t max_distance,
                            uint32_t* out_pos, uint16_t* out_dist);

// Values are also accepted by SAFEGUARD_INDEX_KERNEL (by name).
enum class HammingKernel : int {
  kScalar = 0,  // portable C++; the reference every other kernel is tested against
  kAvx2 = 1,    // AVX2 + POPCNT
  kAvx512 = 2,  // AVX-512F + VPOPCNTDQ (Ice Lake, Zen 4 and later)
};

struct HammingKernelFns {
  ScanFn scan = nullptr;
  VerifyFn verify = nullptr;
};

bool HammingKernelSupported(HammingKernel kernel);
// REQUIRES: HammingKernelSupported(kernel).
HammingKernelFns HammingKernelFunctions(HammingKernel kernel);
// The widest kernel this CPU runs, unless SAFEGUARD_INDEX_KERNEL names a
// supported one. Decided once per process.
HammingKernel BestHammingKernel();
// "scalar", "avx2", "avx512" (a string literal). A plain pointer, not a
// string_view, so that this header pulls no library template into the
// per-instruction-set files.
const char* HammingKernelName(HammingKernel kernel);

// The definitions, one pair per file.
size_t ScanScalar(const uint64_t* query, const uint64_t* hashes, size_t count,
                  uint32_t max_distance, uint32_t first_position, uint32_t* out_pos,
                  uint16_t* out_dist);
size_t VerifyScalar(const uint64_t* query, const uint64_t* hashes, const uint32_t* positions,
                    size_t count, uint32_t max_distance, uint32_t* out_pos, uint16_t* out_dist);
size_t ScanAvx2(const uint64_t* query, const uint64_t* hashes, size_t count, uint32_t max_distance,
                uint32_t first_position, uint32_t* out_pos, uint16_t* out_dist);
size_t VerifyAvx2(const uint64_t* query, const uint64_t* hashes, const uint32_t* positions,
                  size_t count, uint32_t max_distance, uint32_t* out_pos, uint16_t* out_dist);
size_t ScanAvx512(const uint64_t* query, const uint64_t* hashes, size_t count,
                  uint32_t max_distance, uint32_t first_position, uint32_t* out_pos,
                  uint16_t* out_dist);
size_t VerifyAvx512(const uint64_t* query, const uint64_t* hashes, const uint32_t* positions,
                    size_t count, uint32_t max_distance, uint32_t* out_pos, uint16_t* out_dist);

}  // namespace safeguard::index_internal
