// The machine a benchmark ran on, for the "machine" field of every result.
#pragma once

#include <string>

namespace safeguard::bench {

// "<CPU model>, <N> cores", from /proc/cpuinfo.
std::string MachineDescription();

// The x86 features the kernels use that this CPU has, space-separated
// (e.g. "popcnt sse4_2 avx2 avx512f avx512_vpopcntdq").
std::string CpuFeatures();

}  // namespace safeguard::bench
