// Big arrays of the index (hashes, tables, removal marks): page-aligned,
// zero-filled anonymous memory, advised for transparent huge pages.
//
// Why not std::vector: zero-filled anonymous pages cost nothing until
// touched, which makes the removal marks of a freshly loaded index free, and
// huge pages (where the kernel grants them) keep the page tables of a 1 GB
// index small. On the reference machine searches ran at the same speed with
// 4 KiB pages: their page walks hit the caches.
//
// Thread safety: the buffer is shared (std::shared_ptr); its contents follow
// whatever discipline the owner documents.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "safeguard/core/status.h"

namespace safeguard::index_internal {

// A zero-filled buffer of `bytes` bytes (at least 64-byte aligned; size 0
// allowed). Errors: kLimitExceeded when the system refuses the memory.
Result<std::shared_ptr<uint8_t>> AllocateLarge(size_t bytes);

// The same, typed. T must be trivially copyable.
template <typename T>
Result<std::shared_ptr<T>> AllocateLargeArray(size_t count) {
  Result<std::shared_ptr<uint8_t>> raw = AllocateLarge(count * sizeof(T));
  if (!raw.ok()) return raw.status();
  return std::shared_ptr<T>(*raw, reinterpret_cast<T*>(raw->get()));
}

}  // namespace safeguard::index_internal
