// Signal values as the stores keep them: the bytes that the canonical hex
// spells (16 for MD5, 20 for SHA-1, 32 for PDQ and SHA-256), half the size of
// the text in rows and in the unique index. Callers see canonical hex only.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "safeguard/store/store.h"

namespace safeguard::store_internal {

// Bytes of a value of this type.
constexpr size_t SignalBytes(SignalType type) { return SignalHexDigits(type) / 2; }

// Appends the bytes of canonical hex `hex` to `out`. False (and `out`
// unchanged) when `hex` is not canonical for `type`: the wrong length, or a
// character other than 0-9 and a-f. (A table, not branches: imports run this
// for every line.)
inline bool AppendSignalBytes(SignalType type, std::string_view hex, std::string* out) {
  static constexpr auto kNibble = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    for (int c = '0'; c <= '9'; ++c) t[static_cast<size_t>(c)] = static_cast<int8_t>(c - '0');
    for (int c = 'a'; c <= 'f'; ++c) t[static_cast<size_t>(c)] = static_cast<int8_t>(c - 'a' + 10);
    return t;
  }();
  if (hex.size() != 2 * SignalBytes(type)) return false;
  const size_t start = out->size();
  out->resize(start + hex.size() / 2);
  char* dst = out->data() + start;
  int bad = 0;
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = kNibble[static_cast<unsigned char>(hex[i])];
    const int lo = kNibble[static_cast<unsigned char>(hex[i + 1])];
    bad |= hi | lo;  // negative when either is -1
    dst[i / 2] = static_cast<char>(hi << 4 | (lo & 15));
  }
  if (bad < 0) {
    out->resize(start);
    return false;
  }
  return true;
}

// The canonical (lowercase) hex of stored bytes.
inline std::string SignalHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(2 * bytes.size(), '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    hex[2 * i] = kDigits[b >> 4];
    hex[2 * i + 1] = kDigits[b & 15];
  }
  return hex;
}

inline Status NotCanonical(SignalType type) {
  return Status::InvalidArgument("not a canonical " + std::string(SignalTypeName(type)) +
                                 " value (" + std::to_string(2 * SignalBytes(type)) +
                                 " lowercase hex digits)");
}

}  // namespace safeguard::store_internal
