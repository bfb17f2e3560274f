#include "ke/rate_limit.h"

#include <gtest/gtest.h>

namespace ntsd::ke {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

std::array<uint8_t, 16> v4(uint8_t last) { return {192, 0, 2, last}; }

TEST(KeRateLimiter, BurstThenSustainedRate) {
  KeRateLimiter rl({.per_second = 2, .burst = 3, .max_addresses = 100});
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(rl.allow(v4(1), false, 0)) << i;
  EXPECT_FALSE(rl.allow(v4(1), false, 0));
  EXPECT_TRUE(rl.allow(v4(2), false, 0));  // another address has its own bucket
  EXPECT_TRUE(rl.allow(v4(1), false, kSecond / 2));
  EXPECT_FALSE(rl.allow(v4(1), false, kSecond / 2));
}

TEST(KeRateLimiter, Ipv6SharesABucketPerSlash64) {
  KeRateLimiter rl({.per_second = 1, .burst = 1, .max_addresses = 100});
  std::array<uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1};
  std::array<uint8_t, 16> b = a;
  b[15] = 9;
  EXPECT_TRUE(rl.allow(a, true, 0));
  EXPECT_FALSE(rl.allow(b, true, 0));
  b[7] = 2;  // another /64
  EXPECT_TRUE(rl.allow(b, true, 0));
}

TEST(KeRateLimiter, FullTableDropsRefilledBucketsAndFailsOpen) {
  KeRateLimiter rl({.per_second = 1, .burst = 2, .max_addresses = 2});
  EXPECT_TRUE(rl.allow(v4(1), false, 0));
  EXPECT_TRUE(rl.allow(v4(2), false, 0));
  EXPECT_TRUE(rl.allow(v4(3), false, 0));  // table full, nothing refilled: allowed untracked
  EXPECT_EQ(rl.tracked(), 2u);
  EXPECT_TRUE(rl.allow(v4(3), false, 10 * kSecond));  // both refilled → evicted, 3 tracked
  EXPECT_EQ(rl.tracked(), 1u);
}

TEST(KeRateLimiter, ZeroRateDisables) {
  KeRateLimiter rl({.per_second = 0, .burst = 0, .max_addresses = 1});
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(rl.allow(v4(1), false, 0));
}

}  // namespace
}  // namespace ntsd::ke
