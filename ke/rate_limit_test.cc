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

TEST(KeRateLimiter, FullTableDropsARefilledBucketForANewcomer) {
  KeRateLimiter rl({.per_second = 1, .burst = 2, .max_addresses = 2});
  EXPECT_TRUE(rl.allow(v4(1), false, 0));
  EXPECT_TRUE(rl.allow(v4(2), false, 0));
  // 10 s later both have refilled: the least recent (1) carries nothing and
  // makes room; 3 gets a full burst.
  EXPECT_EQ(rl.check(v4(3), false, 10 * kSecond), RateVerdict::kAllowed);
  EXPECT_EQ(rl.check(v4(3), false, 10 * kSecond), RateVerdict::kAllowed);
  EXPECT_EQ(rl.tracked(), 2u);
  EXPECT_EQ(rl.evicted(), 0u);
}

TEST(KeRateLimiter, FullTableFailsClosed) {
  KeRateLimiter rl({.per_second = 1, .burst = 2, .max_addresses = 2});
  EXPECT_TRUE(rl.allow(v4(1), false, 0));
  EXPECT_TRUE(rl.allow(v4(2), false, 0));
  // Full, and nothing has refilled: a new address is refused, not let through untracked.
  EXPECT_EQ(rl.check(v4(3), false, 0), RateVerdict::kTableFull);
  EXPECT_EQ(rl.tracked(), 2u);
  EXPECT_EQ(rl.evicted(), 1u);
  // It is tracked now (with an empty bucket): a retry one token later gets through.
  EXPECT_EQ(rl.check(v4(3), false, kSecond / 2), RateVerdict::kLimited);
  EXPECT_EQ(rl.check(v4(3), false, kSecond), RateVerdict::kAllowed);
}

TEST(KeRateLimiter, EvictionTakesTheLeastRecentlyUsedAndAnEvictedAddressStaysLimited) {
  KeRateLimiter rl({.per_second = 1, .burst = 3, .max_addresses = 3});
  for (uint8_t a = 1; a <= 3; ++a) EXPECT_TRUE(rl.allow(v4(a), false, 0));
  // Address 1 keeps coming back until its bucket is empty: it is the most recent.
  EXPECT_TRUE(rl.allow(v4(1), false, 1));
  EXPECT_TRUE(rl.allow(v4(1), false, 2));
  EXPECT_FALSE(rl.allow(v4(1), false, 3));
  // Two new addresses evict 2 and 3 (least recent), not 1, whose empty bucket stays.
  EXPECT_EQ(rl.check(v4(10), false, 4), RateVerdict::kTableFull);
  EXPECT_EQ(rl.check(v4(11), false, 5), RateVerdict::kTableFull);
  EXPECT_EQ(rl.check(v4(1), false, 6), RateVerdict::kLimited);
  // A larger flood evicts 1 too; coming back it is a newcomer in a full table:
  // refused again, never handed a fresh burst.
  for (uint8_t a = 20; a < 30; ++a) EXPECT_EQ(rl.check(v4(a), false, 7), RateVerdict::kTableFull);
  EXPECT_EQ(rl.check(v4(1), false, 8), RateVerdict::kTableFull);
  EXPECT_EQ(rl.evicted(), 2u + 10u + 1u);
}

TEST(KeRateLimiter, ZeroRateDisables) {
  KeRateLimiter rl({.per_second = 0, .burst = 0, .max_addresses = 1});
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(rl.allow(v4(1), false, 0));
}

}  // namespace
}  // namespace ntsd::ke
