// Hash256: a 256-bit perceptual hash (PDQ), with hex and Hamming distance.
//
// Bit k (0..255) is bit (k % 64) of words[k / 64]. The hex form is the
// reference implementation's: 64 lowercase hex digits, most significant bit
// first. The reference stores sixteen 16-bit words and prints w[15] first;
// this layout prints the same string.
//
// Thread safety: a plain value.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

#include "safeguard/core/status.h"

namespace safeguard {

struct Hash256 {
  std::array<uint64_t, 4> words{};

  // REQUIRES: 0 <= k < 256.
  bool bit(int k) const { return (words[k >> 6] >> (k & 63)) & 1u; }
  void set_bit(int k) { words[k >> 6] |= uint64_t{1} << (k & 63); }

  bool is_zero() const { return (words[0] | words[1] | words[2] | words[3]) == 0; }

  // Number of set bits.
  int popcount() const {
    return std::popcount(words[0]) + std::popcount(words[1]) + std::popcount(words[2]) +
           std::popcount(words[3]);
  }

  // 64 lowercase hex digits.
  std::string ToHex() const;

  // Parses exactly 64 hex digits (either case); anything else is kInvalidArgument.
  static Result<Hash256> FromHex(std::string_view hex);

  friend bool operator==(const Hash256&, const Hash256&) = default;
};

// Number of differing bits, 0..256.
inline int HammingDistance(const Hash256& a, const Hash256& b) {
  return std::popcount(a.words[0] ^ b.words[0]) + std::popcount(a.words[1] ^ b.words[1]) +
         std::popcount(a.words[2] ^ b.words[2]) + std::popcount(a.words[3] ^ b.words[3]);
}

// Lowercase hex of arbitrary bytes (digests).
std::string BytesToHex(const uint8_t* data, size_t size);

}  // namespace safeguard
