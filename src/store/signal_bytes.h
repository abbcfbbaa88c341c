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

// Appends the bytes that lowercase hex `hex` spells to `out`. False (and
// `out` unchanged) for an odd length or a character other than 0-9 and a-f.
// (A table, not branches: imports run this for every line.)
inline bool AppendHexBytes(std::string_view hex, std::string* out) {
  static constexpr auto kNibble = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    for (int c = '0'; c <= '9'; ++c) t[static_cast<size_t>(c)] = static_cast<int8_t>(c - '0');
    for (int c = 'a'; c <= 'f'; ++c) t[static_cast<size_t>(c)] = static_cast<int8_t>(c - 'a' + 10);
    return t;
  }();
  if (hex.size() % 2 != 0) return false;
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

// AppendHexBytes of a value canonical for `type` (SignalHexDigits digits);
// false for any other.
inline bool AppendSignalBytes(SignalType type, std::string_view hex, std::string* out) {
  return hex.size() == 2 * SignalBytes(type) && AppendHexBytes(hex, out);
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

// The payload rules of EntryWriter::Add, the same for every store: a payload
// signal carries 1..kMaxPayloadBytes bytes whose PayloadKey is its value; the
// other signals carry none.
inline Status CheckPayload(const Entry& e) {
  const std::string name(SignalTypeName(e.signal));
  if (!SignalHasPayload(e.signal)) {
    if (e.payload.empty()) return Status::Ok();
    return Status::InvalidArgument("a " + name + " entry carries no payload");
  }
  if (e.payload.empty()) {
    return Status::InvalidArgument("a " + name + " entry needs its signature as payload");
  }
  if (e.payload.size() > kMaxPayloadBytes) {
    return Status::LimitExceeded("a " + name + " payload of " + std::to_string(e.payload.size()) +
                                 " bytes is over the limit of " + std::to_string(kMaxPayloadBytes));
  }
  if (PayloadKey(e.payload) != e.value) {
    return Status::InvalidArgument("a " + name +
                                   " entry's value must be the SHA-256 of its payload");
  }
  return Status::Ok();
}

}  // namespace safeguard::store_internal
