// Cryptographic digests of file bytes: MD5, SHA-1, SHA-256 (OpenSSL).
//
// Computed in one pass, streaming, so a file of any size is never held in
// memory. MD5 and SHA-1 are broken for security but remain the identifiers
// that hash lists (NCMEC, Project VIC, StopNCII video) use.
//
// Thread safety: a Digester is used by one thread at a time; the free
// functions are thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "safeguard/core/status.h"

namespace safeguard {

struct Digests {
  std::string md5;     // 32 lowercase hex digits
  std::string sha1;    // 40 lowercase hex digits
  std::string sha256;  // 64 lowercase hex digits
};

// Incremental MD5 + SHA-1 + SHA-256 over one byte stream.
class Digester {
 public:
  Digester();
  ~Digester();
  Digester(const Digester&) = delete;
  Digester& operator=(const Digester&) = delete;

  void Update(const uint8_t* data, size_t size);
  // Ends the stream. REQUIRES: called once; Update is not called afterwards.
  Digests Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Digests of a buffer.
Digests DigestBytes(const uint8_t* data, size_t size);

// Digests of a file, read in fixed-size chunks. Errors: kNotFound, kIoError.
Result<Digests> DigestFile(const std::string& path);

}  // namespace safeguard
