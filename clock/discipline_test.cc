#include "clock/discipline.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace ntsd::clock {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kT0 = int64_t{1'750'000'000} * kSecond;  // simulated host time

// A noise-free clock stepped in host time: its rate against true time is
// (1 + oscillator)(1 + frequency), the frequency and steps being the
// discipline's actions when `apply` is set.
struct Model {
  double offset = 0;      // s, true - host, now
  double oscillator = 0;  // s/s, positive: host fast
  double frequency = 0;   // s/s, the frequency correction in force
  int64_t now = kT0;
  bool apply = true;

  // ns of host time pass: true time moves by ns / ((1 + e)(1 + f)).
  void advance(int64_t ns) {
    const double host = static_cast<double>(ns) * 1e-9;
    offset += host / ((1 + oscillator) * (1 + frequency)) - host;
    now += ns;
  }
  void act(const DisciplineAction& a) {
    if (!apply) return;
    if (a.step) offset -= a.step_s;
    if (a.set_frequency) frequency = a.frequency_ppm * 1e-6;
  }
  OffsetMeasurement measure(double error = 0.001) const { return {now, offset, error}; }
};

DisciplineAction feed(Discipline& d, Model& m) {
  const OffsetMeasurement one = m.measure();
  const DisciplineAction a = d.update(m.now, std::span<const OffsetMeasurement>(&one, 1));
  m.act(a);
  return a;
}

// Runs the model for `seconds`, ticking every second and measuring every `poll` s.
void run(Discipline& d, Model& m, int seconds, int poll = 16) {
  for (int s = 1; s <= seconds; ++s) {
    m.advance(kSecond);
    m.act(d.tick(m.now));
    if (s % poll == 0) feed(d, m);
  }
}

TEST(Discipline, outcome_names_are_distinct) {
  const DisciplineOutcome all[] = {DisciplineOutcome::kNoData,   DisciplineOutcome::kSlew,
                                   DisciplineOutcome::kJumpHeld, DisciplineOutcome::kStartStep,
                                   DisciplineOutcome::kLateStep, DisciplineOutcome::kStepRefused,
                                   DisciplineOutcome::kPanic};
  for (DisciplineOutcome a : all) {
    for (DisciplineOutcome b : all) {
      if (a != b) {
        EXPECT_STRNE(discipline_outcome_name(a), discipline_outcome_name(b));
      }
    }
  }
}

TEST(Discipline, learns_a_frequency_and_removes_the_offset) {
  Discipline d;
  Model m{.offset = 0.05, .oscillator = 40e-6};
  d.start(m.now);
  run(d, m, 1800);
  const DisciplineStats s = d.stats(m.now);
  EXPECT_NEAR(s.drift_ppm, -40 / (1 + 40e-6), 1e-6);  // (1 + e)(1 + f) = 1
  EXPECT_NEAR(s.host_frequency_ppm, 40, 1e-6);
  EXPECT_LT(std::fabs(m.offset), 1e-6);
  EXPECT_NEAR(s.offset, m.offset, 1e-9);
  EXPECT_TRUE(s.valid);
}

TEST(Discipline, active_and_measure_only_estimate_the_same_frequency) {
  // The corrections are kept out of the estimate, so whether they are applied
  // or not, the line fitted is the oscillator's.
  Discipline active;
  Model a{.offset = 0.08, .oscillator = -70e-6};
  DisciplineParams p;
  p.measure_only = true;
  Discipline measuring(p);
  Model b{.offset = 0.08, .oscillator = -70e-6, .apply = false};
  active.start(a.now);
  measuring.start(b.now);
  run(active, a, 900);
  run(measuring, b, 900);
  EXPECT_NEAR(active.stats(a.now).drift_ppm, 70 / (1 - 70e-6), 1e-6);
  EXPECT_NEAR(measuring.stats(b.now).drift_ppm, 70 / (1 - 70e-6), 1e-6);
  EXPECT_NEAR(measuring.stats(b.now).offset, b.offset, 1e-9);
  EXPECT_NEAR(b.offset, 0.08 + 900 / (1 - 70e-6) - 900, 1e-9);  // untouched
}

TEST(Discipline, measure_only_virtual_clock_is_where_active_mode_puts_the_clock) {
  // chronyd -x's virtual clock: the corrections active mode would make,
  // planned and integrated but never applied. On the same noise-free inputs
  // it must sit exactly where an adjusting discipline moved the clock —
  // the start step, the slews and the frequency included.
  for (const double start_offset : {0.08, 0.5, -0.01}) {
    // One time constant for both: on noise-free points the runs test sees
    // only rounding noise, and may cut the two windows (and so τ) differently.
    DisciplineParams p;
    p.min_time_constant = p.max_time_constant = 5;
    Discipline active(p);
    Model a{.offset = start_offset, .oscillator = -70e-6};
    p.measure_only = true;
    Discipline measuring(p);
    Model b{.offset = start_offset, .oscillator = -70e-6, .apply = false};
    active.start(a.now);
    measuring.start(b.now);
    for (int s = 16; s <= 1800; s += 16) {
      run(active, a, 16);
      run(measuring, b, 16);
      // b.offset - a.offset: how far the adjusted clock was moved, in true
      // seconds; the virtual clock counts host seconds (70 ppm apart here).
      // The active side ends a slew at the first whole-second tick() after
      // it is due, the virtual one when due: a few tenths of a microsecond.
      const double moved = b.offset - a.offset;
      ASSERT_NEAR(measuring.stats(b.now).virtual_clock, moved, 2e-6 + 1e-4 * std::fabs(moved))
          << "start offset " << start_offset << ", at " << s << " s";
    }
    EXPECT_NEAR(a.offset, 0, 1e-6) << start_offset;  // and active mode did converge
    EXPECT_EQ(active.stats(a.now).virtual_clock, 0);
  }
}

TEST(Discipline, measure_only_never_asks_for_anything) {
  DisciplineParams p;
  p.measure_only = true;
  p.have_driftfile = true;
  p.driftfile_ppm = 12;
  Discipline d(p);
  Model m{.offset = 0.5, .oscillator = 10e-6, .apply = false};
  const DisciplineAction start = d.start(m.now);
  EXPECT_FALSE(start.set_frequency);
  for (int i = 0; i < 50; ++i) {
    m.advance(16 * kSecond);
    const DisciplineAction a = feed(d, m);
    EXPECT_FALSE(a.step);
    EXPECT_FALSE(a.set_frequency);
    EXPECT_FALSE(d.tick(m.now).set_frequency);
  }
  EXPECT_EQ(d.next_tick_ns(), std::numeric_limits<int64_t>::max());
  // The outcome still says what active mode would have done.
  Discipline fresh(p);
  Model n{.offset = 0.5};
  EXPECT_EQ(feed(fresh, n).outcome, DisciplineOutcome::kStartStep);
}

TEST(Discipline, steps_once_at_start_above_the_threshold) {
  Discipline d;
  Model m{.offset = 0.3};
  d.start(m.now);
  m.advance(16 * kSecond);
  const DisciplineAction a = feed(d, m);
  EXPECT_EQ(a.outcome, DisciplineOutcome::kStartStep);
  EXPECT_TRUE(a.step);
  EXPECT_NEAR(a.step_s, 0.3, 1e-9);
  EXPECT_TRUE(a.set_frequency);
  EXPECT_NEAR(m.offset, 0, 1e-9);
  EXPECT_NEAR(d.stats(m.now).offset, 0, 1e-9);  // the step moved no point
  EXPECT_TRUE(d.started());
}

TEST(Discipline, slews_below_the_threshold_within_the_rate_limit) {
  Discipline d;
  Model m{.offset = 0.1};
  d.start(m.now);
  m.advance(16 * kSecond);
  const DisciplineAction a = feed(d, m);
  EXPECT_EQ(a.outcome, DisciplineOutcome::kSlew);
  EXPECT_FALSE(a.step);
  ASSERT_TRUE(a.set_frequency);
  EXPECT_NEAR(a.frequency_ppm, 500, 1e-9);  // 0.1 s over 16 s would be 6250 ppm: limited
  // The slew ends by itself: 0.1 s at 500 ppm is 200.1 s of host time (the
  // host runs 500 ppm fast meanwhile).
  const int64_t slew_end = m.now + 200'100'000'000;
  EXPECT_EQ(d.next_tick_ns(), slew_end);
  EXPECT_FALSE(d.tick(slew_end - 1000).set_frequency);
  m.advance(slew_end - m.now);
  const DisciplineAction end = d.tick(m.now);
  ASSERT_TRUE(end.set_frequency);
  EXPECT_NEAR(end.frequency_ppm, 0, 1e-9);
  m.act(end);
  EXPECT_NEAR(m.offset, 0, 1e-9);
}

TEST(Discipline, total_frequency_stays_within_the_kernel_limit) {
  DisciplineParams p;
  p.have_driftfile = true;
  p.driftfile_ppm = 450;
  p.driftfile_error_ppm = 0.01;
  Discipline d(p);
  Model m{.offset = 0.1, .oscillator = -450e-6};
  m.act(d.start(m.now));
  EXPECT_NEAR(m.frequency, 450e-6, 1e-12);
  m.advance(16 * kSecond);
  const DisciplineAction a = feed(d, m);
  EXPECT_LE(a.frequency_ppm, 500 + 1e-9);
  EXPECT_GT(a.frequency_ppm, 450);
}

TEST(Discipline, refuses_a_panic_offset_and_does_not_start) {
  Discipline d;
  Model m{.offset = 2000};
  d.start(m.now);
  for (int i = 0; i < 3; ++i) {
    m.advance(16 * kSecond);
    const DisciplineAction a = feed(d, m);
    EXPECT_EQ(a.outcome, DisciplineOutcome::kPanic);
    EXPECT_FALSE(a.step);
    EXPECT_FALSE(a.set_frequency);
  }
  EXPECT_FALSE(d.started());
  EXPECT_FALSE(d.stats(m.now).valid);
  // Once the upstreams make sense, the same discipline starts normally.
  m.offset = 0.2;
  m.advance(16 * kSecond);
  EXPECT_EQ(feed(d, m).outcome, DisciplineOutcome::kStartStep);
}

TEST(Discipline, a_late_jump_is_held_once_then_slewed_and_reported_once) {
  Discipline d;
  Model m{.offset = 0.01, .oscillator = 20e-6};
  d.start(m.now);
  run(d, m, 600);
  ASSERT_LT(std::fabs(m.offset), 1e-6);
  m.offset += 0.4;  // someone stepped the clock back
  m.advance(16 * kSecond);
  EXPECT_EQ(feed(d, m).outcome, DisciplineOutcome::kJumpHeld);
  m.advance(16 * kSecond);
  const DisciplineAction a = feed(d, m);
  EXPECT_EQ(a.outcome, DisciplineOutcome::kStepRefused);
  EXPECT_FALSE(a.step);
  m.advance(16 * kSecond);
  EXPECT_EQ(feed(d, m).outcome, DisciplineOutcome::kSlew);  // reported once per excursion
  // The slope survived the jump (kept as a prior).
  EXPECT_NEAR(d.stats(m.now).drift_ppm, -20, 0.01);  // -e / (1 + e)
  run(d, m, 3000);
  EXPECT_LT(std::fabs(m.offset), 1e-4);
}

TEST(Discipline, a_single_jump_is_dropped) {
  Discipline d;
  Model m{.offset = 0.01, .oscillator = 20e-6};
  d.start(m.now);
  run(d, m, 600);
  const OffsetMeasurement wild{m.now, m.offset + 1.0, 0.001};
  EXPECT_EQ(d.update(m.now, std::span<const OffsetMeasurement>(&wild, 1)).outcome,
            DisciplineOutcome::kJumpHeld);
  m.advance(16 * kSecond);
  EXPECT_EQ(feed(d, m).outcome, DisciplineOutcome::kSlew);
  EXPECT_NEAR(d.stats(m.now).offset, m.offset, 1e-9);
}

TEST(Discipline, late_step_with_permission) {
  DisciplineParams p;
  p.allow_late_steps = true;
  Discipline d(p);
  Model m{.offset = 0.01};
  d.start(m.now);
  run(d, m, 600);
  m.offset -= 0.4;
  m.advance(16 * kSecond);
  EXPECT_EQ(feed(d, m).outcome, DisciplineOutcome::kJumpHeld);
  m.advance(16 * kSecond);
  const DisciplineAction a = feed(d, m);
  EXPECT_EQ(a.outcome, DisciplineOutcome::kLateStep);
  EXPECT_NEAR(a.step_s, -0.4, 1e-6);
  EXPECT_LT(std::fabs(m.offset), 1e-6);
}

TEST(Discipline, driftfile_is_set_at_start_and_kept_as_the_first_estimate) {
  DisciplineParams p;
  p.have_driftfile = true;
  p.driftfile_ppm = -33.5;
  Discipline d(p);
  Model m{.offset = 0.001, .oscillator = 33.5e-6};
  const DisciplineAction start = d.start(m.now);
  ASSERT_TRUE(start.set_frequency);
  EXPECT_DOUBLE_EQ(start.frequency_ppm, -33.5);
  m.act(start);
  m.advance(16 * kSecond);
  feed(d, m);
  // One point says nothing about the frequency: the driftfile stands.
  EXPECT_DOUBLE_EQ(d.stats(m.now).drift_ppm, -33.5);
}

TEST(Discipline, holdover_keeps_the_base_frequency_and_drops_the_slew) {
  Discipline d;
  Model m{.offset = 0.002, .oscillator = 15e-6};
  d.start(m.now);
  run(d, m, 1200);
  m.offset += 0.0005;  // a last offset to slew
  m.advance(16 * kSecond);
  feed(d, m);
  const double learned = d.stats(m.now).drift_ppm;
  ASSERT_NE(d.next_tick_ns(), std::numeric_limits<int64_t>::max());
  ASSERT_NE(m.frequency, learned * 1e-6);
  for (int s = 0; s < 3600; ++s) {  // no measurement for an hour
    m.advance(kSecond);
    m.act(d.tick(m.now));
  }
  EXPECT_EQ(d.next_tick_ns(), std::numeric_limits<int64_t>::max());
  EXPECT_DOUBLE_EQ(d.stats(m.now).drift_ppm, learned);
  EXPECT_DOUBLE_EQ(m.frequency, learned * 1e-6);
}

TEST(Discipline, ignores_empty_and_non_finite_measurements) {
  Discipline d;
  EXPECT_EQ(d.update(kT0, {}).outcome, DisciplineOutcome::kNoData);
  const OffsetMeasurement bad{kT0, std::nan(""), 0.001};
  EXPECT_EQ(d.update(kT0, std::span<const OffsetMeasurement>(&bad, 1)).outcome,
            DisciplineOutcome::kNoData);
  EXPECT_FALSE(d.started());
}

TEST(Discipline, frequency_applied_keeps_the_estimate_true) {
  // The backend ran at a frequency other than the one asked for: told so,
  // the discipline still fits the oscillator's line.
  Discipline d;
  Model m{.offset = 0.01, .oscillator = 25e-6};
  d.start(m.now);
  run(d, m, 300);
  m.frequency = 3e-6;
  d.frequency_applied(m.now, 3);
  for (int i = 0; i < 20; ++i) {
    m.advance(16 * kSecond);
    const OffsetMeasurement one = m.measure();
    d.update(m.now, std::span<const OffsetMeasurement>(&one, 1));  // not applied
    d.frequency_applied(m.now, 3);
  }
  EXPECT_NEAR(d.stats(m.now).drift_ppm, -25 / (1 + 25e-6), 1e-6);
  EXPECT_NEAR(d.stats(m.now).offset, m.offset, 1e-9);
}

TEST(Discipline, runs_test_forgets_an_old_frequency) {
  // The oscillator changes by 2 ppm: the fit must follow, not average.
  Discipline d;
  Model m{.oscillator = 10e-6};
  std::vector<double> noise = {1e-5, -1e-5, 2e-5, -2e-5, 5e-6, -5e-6, 1.5e-5, -1.5e-5};
  d.start(m.now);
  auto run_noisy = [&](int polls) {
    for (int i = 0; i < polls; ++i) {
      m.advance(16 * kSecond);
      m.act(d.tick(m.now));
      OffsetMeasurement one = m.measure(1e-4);
      one.offset += noise[static_cast<size_t>(i) % noise.size()];
      m.act(d.update(m.now, std::span<const OffsetMeasurement>(&one, 1)));
    }
  };
  run_noisy(300);
  EXPECT_NEAR(d.stats(m.now).drift_ppm, -10, 0.05);
  m.oscillator = 12e-6;
  run_noisy(100);
  EXPECT_NEAR(d.stats(m.now).drift_ppm, -12, 0.2);
  EXPECT_LT(d.stats(m.now).points, 300);
}

}  // namespace
}  // namespace ntsd::clock
