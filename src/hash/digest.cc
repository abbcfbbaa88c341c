#include "safeguard/hash/digest.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <cassert>
#include <cstdio>
#include <cstdlib>

#include "safeguard/core/file.h"
#include "safeguard/core/hash256.h"

namespace safeguard {
namespace {

// DigestFile reads this many bytes at a time; memory use is bounded by it.
constexpr size_t kReadBufferSize = size_t{1} << 20;  // 1 MiB

// OpenSSL refusing MD5/SHA-1/SHA-256 (an allocation failure, or a provider
// configuration without these algorithms) leaves no digest to return and is
// not something a caller can handle: report it and stop.
[[noreturn]] void FatalOpenSsl(const char* what) {
  char detail[256] = "no OpenSSL error queued";
  unsigned long err = ERR_get_error();
  if (err != 0) ERR_error_string_n(err, detail, sizeof(detail));
  std::fprintf(stderr, "safeguard: fatal: OpenSSL %s failed: %s\n", what, detail);
  std::abort();
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

MdCtx NewContext(const EVP_MD* md) {
  MdCtx ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) FatalOpenSsl("EVP_MD_CTX_new");
  if (EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) FatalOpenSsl("EVP_DigestInit_ex");
  return ctx;
}

std::string FinalHex(EVP_MD_CTX* ctx) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, out, &len) != 1) FatalOpenSsl("EVP_DigestFinal_ex");
  return BytesToHex(out, len);
}

}  // namespace

struct Digester::State {
  MdCtx md5 = NewContext(EVP_md5());
  MdCtx sha1 = NewContext(EVP_sha1());
  MdCtx sha256 = NewContext(EVP_sha256());
  bool finished = false;
};

Digester::Digester() : state_(std::make_unique<State>()) {}

Digester::~Digester() = default;

void Digester::Update(const uint8_t* data, size_t size) {
  assert(!state_->finished && "Digester::Update after Finish");
  if (size == 0) return;
  if (EVP_DigestUpdate(state_->md5.get(), data, size) != 1 ||
      EVP_DigestUpdate(state_->sha1.get(), data, size) != 1 ||
      EVP_DigestUpdate(state_->sha256.get(), data, size) != 1) {
    FatalOpenSsl("EVP_DigestUpdate");
  }
}

Digests Digester::Finish() {
  assert(!state_->finished && "Digester::Finish called twice");
  state_->finished = true;
  Digests d;
  d.md5 = FinalHex(state_->md5.get());
  d.sha1 = FinalHex(state_->sha1.get());
  d.sha256 = FinalHex(state_->sha256.get());
  return d;
}

Digests DigestBytes(const uint8_t* data, size_t size) {
  Digester digester;
  digester.Update(data, size);
  return digester.Finish();
}

Result<Digests> DigestFile(const std::string& path) {
  Result<InputFile> file = InputFile::Open(path);
  if (!file.ok()) return file.status();
  auto buffer = std::make_unique_for_overwrite<uint8_t[]>(kReadBufferSize);
  Digester digester;
  while (true) {
    Result<size_t> n = file->Read(buffer.get(), kReadBufferSize);
    if (!n.ok()) return n.status();
    digester.Update(buffer.get(), *n);
    if (*n < kReadBufferSize) break;  // end of file
  }
  return digester.Finish();
}

}  // namespace safeguard
