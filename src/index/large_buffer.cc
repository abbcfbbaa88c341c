#include "large_buffer.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace safeguard::index_internal {
namespace {

// Below this, malloc serves well and huge pages would waste memory.
constexpr size_t kMmapThreshold = size_t{1} << 20;
constexpr size_t kHugePage = size_t{2} << 20;

}  // namespace

Result<std::shared_ptr<uint8_t>> AllocateLarge(size_t bytes) {
  if (bytes < kMmapThreshold) {
    // Rounded up so that size 0 still yields a distinct, aligned pointer.
    const size_t rounded = (bytes + 63) / 64 * 64 + 64;
    void* p = std::aligned_alloc(64, rounded);
    if (p == nullptr) {
      return Status::LimitExceeded("out of memory allocating " + std::to_string(bytes) + " bytes");
    }
    std::memset(p, 0, rounded);
    return std::shared_ptr<uint8_t>(static_cast<uint8_t*>(p), [](uint8_t* q) { std::free(q); });
  }
  const size_t length = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  // Over-map by one huge page and trim, so that the buffer starts on a 2 MiB
  // boundary and every 2 MiB of it can be one huge page.
  void* raw =
      mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    return Status::LimitExceeded("out of memory mapping " + std::to_string(bytes) + " bytes");
  }
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > start) munmap(raw, aligned - start);
  const uintptr_t end = start + length + kHugePage;
  if (end > aligned + length)
    munmap(reinterpret_cast<void*>(aligned + length), end - aligned - length);
  void* p = reinterpret_cast<void*>(aligned);
  // Advice only: without transparent huge pages everything works the same.
  (void)madvise(p, length, MADV_HUGEPAGE);
  return std::shared_ptr<uint8_t>(static_cast<uint8_t*>(p),
                                  [length](uint8_t* q) { munmap(q, length); });
}

}  // namespace safeguard::index_internal
