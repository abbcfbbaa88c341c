// Chooses the Hamming kernel at run time.

#include <cstdlib>
#include <string_view>

#include "hamming_kernels.h"

namespace safeguard::index_internal {

bool HammingKernelSupported(HammingKernel kernel) {
  switch (kernel) {
    case HammingKernel::kScalar:
      return true;
    case HammingKernel::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
    case HammingKernel::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq");
  }
  return false;
}

HammingKernelFns HammingKernelFunctions(HammingKernel kernel) {
  switch (kernel) {
    case HammingKernel::kScalar:
      return {ScanScalar, VerifyScalar};
    case HammingKernel::kAvx2:
      return {ScanAvx2, VerifyAvx2};
    case HammingKernel::kAvx512:
      return {ScanAvx512, VerifyAvx512};
  }
  return {ScanScalar, VerifyScalar};
}

HammingKernel BestHammingKernel() {
  static const HammingKernel best = [] {
    if (const char* forced = std::getenv("SAFEGUARD_INDEX_KERNEL"); forced != nullptr) {
      for (HammingKernel k :
           {HammingKernel::kScalar, HammingKernel::kAvx2, HammingKernel::kAvx512}) {
        if (std::string_view(forced) == HammingKernelName(k) && HammingKernelSupported(k)) return k;
      }
    }
    if (HammingKernelSupported(HammingKernel::kAvx512)) return HammingKernel::kAvx512;
    if (HammingKernelSupported(HammingKernel::kAvx2)) return HammingKernel::kAvx2;
    return HammingKernel::kScalar;
  }();
  return best;
}

const char* HammingKernelName(HammingKernel kernel) {
  switch (kernel) {
    case HammingKernel::kScalar:
      return "scalar";
    case HammingKernel::kAvx2:
      return "avx2";
    case HammingKernel::kAvx512:
      return "avx512";
  }
  return "unknown";
}

}  // namespace safeguard::index_internal
