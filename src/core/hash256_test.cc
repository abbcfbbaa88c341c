#include "safeguard/core/hash256.h"

#include <gtest/gtest.h>

#include <random>

namespace safeguard {
namespace {

TEST(Hash256, HexRoundTripsRandomValues) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 1000; ++i) {
    Hash256 h;
    for (auto& w : h.words) w = rng();
    Result<Hash256> back = Hash256::FromHex(h.ToHex());
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, h);
  }
}

TEST(Hash256, HexPrintsHighestBitFirstLikeTheReference) {
  // The reference prints sixteen 16-bit words, w[15] first; bit 255 is the
  // top bit of w[15], bit 0 the lowest bit of w[0].
  Hash256 h;
  h.set_bit(255);
  h.set_bit(0);
  EXPECT_EQ(h.ToHex(), "8000000000000000000000000000000000000000000000000000000000000001");
  Hash256 g;
  g.set_bit(16);  // lowest bit of w[1]
  EXPECT_EQ(g.ToHex().substr(56), "00010000");
}

TEST(Hash256, FromHexRejectsBadInput) {
  EXPECT_EQ(Hash256::FromHex("abc").status().code(), ErrorCode::kInvalidArgument);
  std::string s(64, 'f');
  s[10] = 'g';
  Result<Hash256> r = Hash256::FromHex(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("position 10"), std::string::npos);
  EXPECT_TRUE(Hash256::FromHex(std::string(64, 'F')).ok());
}

TEST(Hash256, HammingDistanceCountsDifferingBits) {
  Hash256 a, b;
  EXPECT_EQ(HammingDistance(a, b), 0);
  for (int k = 0; k < 256; k += 3) b.set_bit(k);
  EXPECT_EQ(HammingDistance(a, b), b.popcount());
  EXPECT_EQ(b.popcount(), 86);
  EXPECT_EQ(HammingDistance(b, b), 0);
}

TEST(Status, CarriesCodeAndMessage) {
  Status s = Status::LimitExceeded("too many pixels");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.ToString(), "limit_exceeded: too many pixels");
  EXPECT_TRUE(Status::Ok().ok());
  Result<int> r = Status::NotFound("x");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kNotFound);
  Result<int> v = 3;
  EXPECT_EQ(*v, 3);
}

}  // namespace
}  // namespace safeguard
