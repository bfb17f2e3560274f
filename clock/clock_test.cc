#include "clock/clock.h"

#include <gtest/gtest.h>

namespace ntsd::clock {
namespace {

TEST(SimulatedClock, moves_only_when_told) {
  SimulatedClock clock(1'000);
  EXPECT_EQ(clock.now_unix_ns(), 1'000);
  clock.advance(500);
  EXPECT_EQ(clock.now_unix_ns(), 1'500);
  clock.set(42);
  EXPECT_EQ(clock.now_unix_ns(), 42);
}

TEST(RealClock, reads_a_time_after_2024) {
  RealClock clock;
  EXPECT_GT(clock.now_unix_ns(), int64_t{1'704'067'200} * 1'000'000'000);  // 2024-01-01
}

}  // namespace
}  // namespace ntsd::clock
