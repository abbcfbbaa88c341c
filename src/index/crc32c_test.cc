#include "crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace safeguard::index_internal {
namespace {

TEST(Crc32cTest, KnownValues) {
  // RFC 3720 (iSCSI), appendix B.4, and the usual check value.
  EXPECT_EQ(Crc32c(0, "123456789", 9), 0xe3069283u);
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xff), up(32), down(32);
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<uint8_t>(i);
    down[i] = static_cast<uint8_t>(31 - i);
  }
  EXPECT_EQ(Crc32c(0, zeros.data(), 32), 0x8a9136aau);
  EXPECT_EQ(Crc32c(0, ones.data(), 32), 0x62a8ab43u);
  EXPECT_EQ(Crc32c(0, up.data(), 32), 0x46dd794eu);
  EXPECT_EQ(Crc32c(0, down.data(), 32), 0x113fdb5cu);
  EXPECT_EQ(Crc32c(0, "", 0), 0u);
}

TEST(Crc32cTest, PortableAndHardwareAgreeAndExtend) {
  std::mt19937_64 rng(4);
  std::vector<uint8_t> data(5000);
  for (uint8_t& b : data) b = static_cast<uint8_t>(rng());
  for (size_t start : {0, 1, 3, 7, 8}) {
    for (size_t size : {0, 1, 7, 8, 9, 63, 64, 65, 4000}) {
      const uint32_t portable = Crc32cPortable(0, data.data() + start, size);
      if (Crc32cHardwareSupported()) {
        EXPECT_EQ(Crc32cHardware(0, data.data() + start, size), portable) << start << " " << size;
      }
      EXPECT_EQ(Crc32c(0, data.data() + start, size), portable);
      // Extending piecewise equals the whole.
      const size_t cut = size / 3;
      EXPECT_EQ(Crc32c(Crc32c(0, data.data() + start, cut), data.data() + start + cut, size - cut),
                portable);
    }
  }
}

}  // namespace
}  // namespace safeguard::index_internal
