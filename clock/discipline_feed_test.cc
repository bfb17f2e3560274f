#include "clock/discipline_feed.h"

#include <gtest/gtest.h>

namespace ntsd::clock {
namespace {

Sample sample_with(double offset, double delay) {
  Sample s;
  s.time_ns = 1'000'000'000;
  s.offset = offset;
  s.delay = delay;
  return s;
}

SourceEstimate filter_with_best(double delay, double jitter = 0) {
  SourceEstimate e;
  e.valid = true;
  e.delay = delay;
  e.jitter = jitter;
  return e;
}

TEST(DisciplineFeed, first_sample_is_its_own_best) {
  const auto m = discipline_measurement(sample_with(0.001, 0.010), SourceEstimate{});
  ASSERT_TRUE(m.has_value());
  EXPECT_DOUBLE_EQ(m->offset, 0.001);
  EXPECT_DOUBLE_EQ(m->error, 0.005);  // half the round trip: the asymmetry bound
}

TEST(DisciplineFeed, reject_round_trip_past_the_gate) {
  EXPECT_FALSE(discipline_measurement(sample_with(0, 0.0140), filter_with_best(0.010)).has_value());
  EXPECT_TRUE(discipline_measurement(sample_with(0, 0.0130), filter_with_best(0.010)).has_value());
}

TEST(DisciplineFeed, excess_delay_lowers_the_weight) {
  const auto best = discipline_measurement(sample_with(0, 0.010), filter_with_best(0.010));
  const auto queued = discipline_measurement(sample_with(0, 0.012), filter_with_best(0.010));
  ASSERT_TRUE(best && queued);
  EXPECT_GT(queued->error, best->error);
}

TEST(DisciplineFeed, shares_weigh_each_part) {
  FeedParams p;
  p.base_share = 0;
  p.jitter_share = 1;
  p.excess_share = 0.5;
  const auto m = discipline_measurement(sample_with(0, 0.012), filter_with_best(0.010, 0.0003), p);
  ASSERT_TRUE(m.has_value());
  EXPECT_NEAR(m->error, 0.0003 + 0.001, 1e-12);
}

}  // namespace
}  // namespace ntsd::clock
