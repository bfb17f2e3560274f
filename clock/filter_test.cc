#include "clock/filter.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ntsd::clock {
namespace {

constexpr int64_t kT0 = int64_t{1'750'000'000} * 1'000'000'000;  // simulated host time
constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kPoll = 64 * kSecond;

Sample sample(int64_t time_ns, double offset, double delay, double dispersion = 1e-5) {
  Sample s;
  s.time_ns = time_ns;
  s.offset = offset;
  s.delay = delay;
  s.dispersion = dispersion;
  s.header.stratum = 1;
  s.header.root_delay = 0.0002;
  s.header.root_dispersion = 0.0003;
  return s;
}

TEST(ClockFilter, empty_filter_has_no_estimate) {
  ClockFilter f;
  EXPECT_FALSE(f.estimate().valid);
  EXPECT_EQ(root_distance(f.estimate(), kT0), kMaxDispersion);
}

TEST(ClockFilter, chooses_the_minimum_delay_sample) {
  ClockFilter f;
  const double delays[] = {0.030, 0.025, 0.010, 0.040, 0.020, 0.035, 0.028, 0.033};
  FilterOutcome outcomes[8];
  for (int i = 0; i < 8; ++i) {
    outcomes[i] = f.add(sample(kT0 + i * kPoll, 0.001 + i * 1e-5, delays[i]));
  }
  EXPECT_EQ(outcomes[0], FilterOutcome::kUsed);
  EXPECT_EQ(outcomes[1], FilterOutcome::kUsed);  // newer and lower delay
  EXPECT_EQ(outcomes[2], FilterOutcome::kUsed);
  for (int i = 3; i < 8; ++i) EXPECT_EQ(outcomes[i], FilterOutcome::kOld) << i;
  const SourceEstimate& e = f.estimate();
  ASSERT_TRUE(e.valid);
  EXPECT_DOUBLE_EQ(e.delay, 0.010);
  EXPECT_DOUBLE_EQ(e.offset, 0.001 + 2e-5);
  EXPECT_EQ(e.time_ns, kT0 + 2 * kPoll);
  EXPECT_EQ(e.updated_ns, kT0 + 7 * kPoll);
  EXPECT_EQ(e.header.stratum, 1);
  EXPECT_EQ(f.reach(), 0xff);
}

TEST(ClockFilter, high_delay_spike_is_not_chosen) {
  ClockFilter f;
  for (int i = 0; i < 7; ++i) f.add(sample(kT0 + i * kPoll, 0.001, 0.010 + i * 1e-6));
  ASSERT_DOUBLE_EQ(f.estimate().offset, 0.001);
  // Queueing on the way out: 200 ms of delay and a 95 ms offset error.
  EXPECT_EQ(f.add(sample(kT0 + 7 * kPoll, 0.096, 0.200)), FilterOutcome::kOld);
  EXPECT_DOUBLE_EQ(f.estimate().offset, 0.001);
  EXPECT_DOUBLE_EQ(f.estimate().delay, 0.010);
  // When the sample used so far shifts out, the next lowest delay takes over, never the spike.
  EXPECT_EQ(f.add(sample(kT0 + 8 * kPoll, 0.001, 0.0105)), FilterOutcome::kUsed);
  EXPECT_DOUBLE_EQ(f.estimate().offset, 0.001);
  EXPECT_DOUBLE_EQ(f.estimate().delay, 0.010 + 1e-6);
}

TEST(ClockFilter, jitter_is_rms_of_offset_differences_to_the_best_sample) {
  ClockFilter f;
  const double offsets[] = {0.0, 0.001, -0.001, 0.002};
  for (int i = 0; i < 4; ++i) f.add(sample(kT0 + i * kPoll, offsets[i], 0.010 + i * 0.001));
  // Best is the first (lowest delay); differences 1, -1, 2 ms over m - 1 = 3.
  EXPECT_NEAR(f.estimate().jitter, std::sqrt((1e-6 + 1e-6 + 4e-6) / 3), 1e-12);
  EXPECT_DOUBLE_EQ(f.estimate().offset, 0.0);
}

TEST(ClockFilter, jitter_is_floored_at_the_precision) {
  FilterParams p;
  p.precision = 2e-6;
  ClockFilter f(p);
  for (int i = 0; i < 8; ++i) f.add(sample(kT0 + i * kPoll, 0.001, 0.010));
  EXPECT_DOUBLE_EQ(f.estimate().jitter, 2e-6);
}

TEST(ClockFilter, dispersion_ages_at_phi) {
  ClockFilter f;
  // Zero sample dispersion; delays rise with time, so rank order = age order.
  for (int i = 0; i < 8; ++i) f.add(sample(kT0 + i * kPoll, 0.0, 0.010 + i * 0.001, 0.0));
  double expected = 0;
  for (int i = 0; i < 8; ++i) expected += std::ldexp(1.0, -(i + 1)) * kPhi * 64.0 * (7 - i);
  EXPECT_NEAR(f.estimate().dispersion, expected, 1e-12);

  // Between filter runs the root distance keeps growing at PHI.
  const SourceEstimate& e = f.estimate();
  const int64_t now = kT0 + 7 * kPoll;
  EXPECT_NEAR(root_distance(e, now + 1000 * kSecond) - root_distance(e, now), 1000 * kPhi, 1e-12);
}

TEST(ClockFilter, root_distance_formula) {
  ClockFilter f;
  for (int i = 0; i < 8; ++i) f.add(sample(kT0 + i * kPoll, 0.0, 0.020, 0.0));
  const SourceEstimate& e = f.estimate();
  const int64_t now = e.updated_ns + 100 * kSecond;
  const double expected = (0.0002 + 0.020) / 2 + 0.0003 + e.dispersion + kPhi * 100 + e.jitter;
  EXPECT_NEAR(root_distance(e, now), expected, 1e-12);
  // A tiny delay is floored at MINDISP.
  SourceEstimate tiny = e;
  tiny.delay = 0;
  tiny.header.root_delay = 0;
  EXPECT_NEAR(root_distance(tiny, now),
              kMinDispersion / 2 + 0.0003 + e.dispersion + kPhi * 100 + e.jitter, 1e-12);
}

TEST(ClockFilter, needs_four_samples_before_the_distance_is_below_maxdist) {
  ClockFilter f;
  for (int i = 0; i < 3; ++i) f.add(sample(kT0 + i * 2 * kSecond, 0.0, 0.010));
  EXPECT_TRUE(f.estimate().valid);
  EXPECT_GT(root_distance(f.estimate(), kT0 + 4 * kSecond), kMaxDistance);
  f.add(sample(kT0 + 6 * kSecond, 0.0, 0.010));
  EXPECT_LT(root_distance(f.estimate(), kT0 + 6 * kSecond), kMaxDistance);
}

TEST(ClockFilter, stale_low_delay_sample_gives_way_past_the_allan_intercept) {
  ClockFilter f;
  const int64_t poll = 1024 * kSecond;
  f.add(sample(kT0, 0.004, 0.005));
  for (int i = 1; i < 3; ++i) f.add(sample(kT0 + i * poll, 0.001, 0.010));
  EXPECT_DOUBLE_EQ(f.estimate().offset, 0.004);  // 2048 s old: not yet past the intercept
  f.add(sample(kT0 + 3 * poll, 0.001, 0.010));
  EXPECT_DOUBLE_EQ(f.estimate().offset, 0.001);
  EXPECT_EQ(f.estimate().time_ns, kT0 + 3 * poll);
}

TEST(ClockFilter, missed_polls_shift_in_dummies_up_to_maxdisp) {
  ClockFilter f;
  for (int i = 0; i < 8; ++i) f.add(sample(kT0 + i * kPoll, 0.002, 0.010));
  const double before = f.estimate().dispersion;
  int64_t t = kT0 + 7 * kPoll;

  t += kPoll;
  f.add_missed_poll(t);
  EXPECT_TRUE(f.estimate().valid);
  EXPECT_DOUBLE_EQ(f.estimate().offset, 0.002);
  EXPECT_GT(f.estimate().dispersion, before + 0.05);  // a MAXDISP stage in the 1/256 slot
  EXPECT_EQ(f.reach(), 0xfe);

  for (int i = 1; i < 7; ++i) {
    t += kPoll;
    f.add_missed_poll(t);
    EXPECT_TRUE(f.estimate().valid) << i;
  }
  t += kPoll;
  f.add_missed_poll(t);  // the eighth: no real sample left
  EXPECT_FALSE(f.estimate().valid);
  EXPECT_EQ(f.reach(), 0);
  EXPECT_NEAR(f.estimate().dispersion, kMaxDispersion * (1 - std::ldexp(1.0, -8)), 1e-9);
  EXPECT_EQ(root_distance(f.estimate(), t), kMaxDispersion);

  // The source answers again: its first sample is taken, but four are needed to be selectable.
  t += kPoll;
  EXPECT_EQ(f.add(sample(t, 0.003, 0.010)), FilterOutcome::kUsed);
  EXPECT_TRUE(f.estimate().valid);
  EXPECT_DOUBLE_EQ(f.estimate().offset, 0.003);
  EXPECT_GT(root_distance(f.estimate(), t), kMaxDistance);
}

TEST(ClockFilter, popcorn_spike_is_held_back_and_a_persistent_step_is_followed) {
  ClockFilter f;
  for (int i = 0; i < 8; ++i) {
    f.add(sample(kT0 + i * kPoll, 0.001 + (i % 2 ? 1e-5 : -1e-5), 0.010 + i * 1e-6));
  }
  const double steady = f.estimate().offset;
  int64_t t = kT0 + 7 * kPoll;

  // A lone low-delay spike 50 ms away: held back, never chosen afterwards.
  t += kPoll;
  EXPECT_EQ(f.add(sample(t, 0.051, 0.009)), FilterOutcome::kPopcorn);
  EXPECT_DOUBLE_EQ(f.estimate().offset, steady);
  t += kPoll;
  EXPECT_EQ(f.add(sample(t, 0.001, 0.0095)), FilterOutcome::kUsed);
  EXPECT_DOUBLE_EQ(f.estimate().offset, 0.001);
  t += kPoll;
  f.add(sample(t, 0.001, 0.0099));
  EXPECT_DOUBLE_EQ(f.estimate().offset, 0.001);

  // A real step: the first sample is held back, the second confirms it.
  t += kPoll;
  EXPECT_EQ(f.add(sample(t, 0.101, 0.008)), FilterOutcome::kPopcorn);
  EXPECT_DOUBLE_EQ(f.estimate().offset, 0.001);
  t += kPoll;
  EXPECT_EQ(f.add(sample(t, 0.1012, 0.0085)), FilterOutcome::kUsed);
  EXPECT_DOUBLE_EQ(f.estimate().offset, 0.1012);
}

TEST(ClockFilter, reset_empties_the_register) {
  ClockFilter f;
  for (int i = 0; i < 8; ++i) f.add(sample(kT0 + i * kPoll, 0.0, 0.010));
  f.reset();
  EXPECT_FALSE(f.estimate().valid);
  EXPECT_EQ(f.reach(), 0);
}

}  // namespace
}  // namespace ntsd::clock
