#include "safeguard/core/hash256.h"

namespace safeguard {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string Hash256::ToHex() const {
  std::string out(64, '0');
  for (int w = 0; w < 4; ++w) {
    uint64_t v = words[3 - w];
    for (int d = 15; d >= 0; --d) {
      out[w * 16 + d] = kHexDigits[v & 0xf];
      v >>= 4;
    }
  }
  return out;
}

Result<Hash256> Hash256::FromHex(std::string_view hex) {
  if (hex.size() != 64) {
    return Status::InvalidArgument("a 256-bit hash needs 64 hex digits, got " +
                                   std::to_string(hex.size()));
  }
  Hash256 h;
  for (int w = 0; w < 4; ++w) {
    uint64_t v = 0;
    for (int d = 0; d < 16; ++d) {
      int x = HexValue(hex[w * 16 + d]);
      if (x < 0) {
        return Status::InvalidArgument("not a hex digit at position " + std::to_string(w * 16 + d));
      }
      v = (v << 4) | static_cast<uint64_t>(x);
    }
    h.words[3 - w] = v;
  }
  return h;
}

std::string BytesToHex(const uint8_t* data, size_t size) {
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kHexDigits[data[i] >> 4];
    out[2 * i + 1] = kHexDigits[data[i] & 0xf];
  }
  return out;
}

}  // namespace safeguard
