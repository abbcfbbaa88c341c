#include "machine.h"

#include <fstream>
#include <thread>

namespace safeguard::bench {
namespace {

std::string CpuInfoField(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "";
}

}  // namespace

std::string MachineDescription() {
  std::string model = CpuInfoField("model name");
  if (model.empty()) model = "unknown CPU";
  return model + ", " + std::to_string(std::thread::hardware_concurrency()) + " cores";
}

std::string CpuFeatures() {
  std::string flags(" ");
  flags.append(CpuInfoField("flags"));
  flags.push_back(' ');
  std::string out;
  for (const char* f : {"popcnt", "sse4_2", "avx2", "bmi2", "fma", "avx512f", "avx512bw",
                        "avx512vl", "avx512_vpopcntdq"}) {
    // Appends, not operator+: GCC 12 at -O3 warns falsely (-Wrestrict) on
    // "a" + std::string + "b" chains.
    std::string word(" ");
    word.append(f);
    word.push_back(' ');
    if (flags.find(word) == std::string::npos) continue;
    if (!out.empty()) out.push_back(' ');
    out.append(f);
  }
  return out;
}

}  // namespace safeguard::bench
