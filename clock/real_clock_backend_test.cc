// Every backend here is a dry run: no test may change the host clock. The
// kernel is only read (clock_adjtime with modes = 0).
#include "clock/real_clock_backend.h"

#include <gtest/gtest.h>
#include <time.h>

#include <cmath>
#include <limits>

namespace ntsd::clock {
namespace {

using Call = AdjtimexRecord::Call;
using proto::Leap;

constexpr int kStatusMode = ADJ_STATUS | ADJ_NANO | ADJ_MAXERROR | ADJ_ESTERROR | ADJ_TIMECONST;

// The records after the one-time PLL take-over (reset offset, PLL off).
std::vector<AdjtimexRecord> after_takeover(const RealClockBackend& b) {
  EXPECT_GE(b.records().size(), 2u);
  if (b.records().size() < 2) return {};
  EXPECT_EQ(b.records()[0].call, Call::kResetPllOffset);
  EXPECT_EQ(b.records()[1].call, Call::kPllOff);
  return {b.records().begin() + 2, b.records().end()};
}

TEST(RealClockBackend, dry_run_is_not_adjusting) {
  RealClockBackend b(RealClockBackend::Mode::kDryRun);
  EXPECT_FALSE(b.adjusts_host_clock());
  EXPECT_TRUE(b.records().empty());
  EXPECT_EQ(b.call_count(), 0u);
}

TEST(RealClockBackend, frequency_is_scaled_ppm_with_sign) {
  RealClockBackend b = RealClockBackend::dry_run_from(STA_UNSYNC, 0.0);
  std::string error;
  ASSERT_TRUE(b.set_frequency(12.5, &error)) << error;
  EXPECT_TRUE(error.empty()) << error;
  EXPECT_DOUBLE_EQ(b.frequency(), 12.5);
  ASSERT_TRUE(b.set_frequency(-3.25, &error));
  ASSERT_TRUE(b.set_frequency(0.1, &error));  // 6553.6 -> 6554
  ASSERT_TRUE(b.set_frequency(-0.1, &error));
  const auto r = after_takeover(b);
  ASSERT_EQ(r.size(), 4u);
  for (const AdjtimexRecord& rec : r) {
    EXPECT_EQ(rec.call, Call::kSetFrequency);
    EXPECT_EQ(rec.tx.modes, unsigned{ADJ_FREQUENCY});
  }
  EXPECT_EQ(r[0].tx.freq, 819200);  // 12.5 * 65536
  EXPECT_EQ(r[1].tx.freq, -212992);
  EXPECT_EQ(r[2].tx.freq, 6554);
  EXPECT_EQ(r[3].tx.freq, -6554);
  EXPECT_DOUBLE_EQ(b.frequency(), -6554 / 65536.0);
}

TEST(RealClockBackend, frequency_clamps_at_500_ppm_and_says_so_once_per_run) {
  RealClockBackend b = RealClockBackend::dry_run_from(STA_UNSYNC, 0.0);
  std::string error;
  ASSERT_TRUE(b.set_frequency(612.0, &error));
  EXPECT_NE(error.find("clamped"), std::string::npos) << error;
  EXPECT_NE(error.find("+500"), std::string::npos) << error;
  EXPECT_DOUBLE_EQ(b.frequency(), 500.0);
  error.clear();
  ASSERT_TRUE(b.set_frequency(700.0, &error));
  EXPECT_TRUE(error.empty()) << "a second clamp in a row is not reported again: " << error;
  ASSERT_TRUE(b.set_frequency(100.0, &error));
  EXPECT_TRUE(error.empty());
  ASSERT_TRUE(b.set_frequency(-900.0, &error));
  EXPECT_NE(error.find("-500"), std::string::npos) << error;
  EXPECT_DOUBLE_EQ(b.frequency(), -500.0);
  ASSERT_TRUE(b.set_frequency(500.0, &error));  // exactly the limit: no clamp
  const auto r = after_takeover(b);
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0].tx.freq, 500 * 65536);
  EXPECT_EQ(r[1].tx.freq, 500 * 65536);
  EXPECT_EQ(r[2].tx.freq, 100 * 65536);
  EXPECT_EQ(r[3].tx.freq, -500 * 65536);
  EXPECT_EQ(r[4].tx.freq, 500 * 65536);
}

TEST(RealClockBackend, frequency_reject_not_a_number) {
  RealClockBackend b = RealClockBackend::dry_run_from(STA_UNSYNC, 7.0);
  std::string error;
  EXPECT_FALSE(b.set_frequency(std::numeric_limits<double>::quiet_NaN(), &error));
  EXPECT_FALSE(error.empty());
  EXPECT_FALSE(b.set_frequency(std::numeric_limits<double>::infinity(), &error));
  EXPECT_TRUE(b.records().empty());
  EXPECT_DOUBLE_EQ(b.frequency(), 7.0);
}

// A PLL left on by a previous daemon is reset and switched off once, before
// the first change; bits that are not ours survive.
TEST(RealClockBackend, takes_over_from_the_kernel_pll_once) {
  RealClockBackend b = RealClockBackend::dry_run_from(
      STA_PLL | STA_FLL | STA_PPSFREQ | STA_PPSTIME | STA_FREQHOLD | STA_NANO, 3.0);
  EXPECT_DOUBLE_EQ(b.frequency(), 3.0);
  std::string error;
  ASSERT_TRUE(b.set_frequency(4.0, &error)) << error;
  ASSERT_TRUE(b.set_frequency(5.0, &error)) << error;
  ASSERT_EQ(b.records().size(), 4u);
  const timex& reset = b.records()[0].tx;
  EXPECT_EQ(b.records()[0].call, Call::kResetPllOffset);
  EXPECT_EQ(reset.modes, unsigned{ADJ_STATUS | ADJ_OFFSET});
  EXPECT_EQ(reset.status, STA_PLL | STA_FREQHOLD);  // STA_NANO is read-only: not written
  EXPECT_EQ(reset.offset, 0);
  const timex& off = b.records()[1].tx;
  EXPECT_EQ(b.records()[1].call, Call::kPllOff);
  EXPECT_EQ(off.modes, unsigned{ADJ_STATUS});
  EXPECT_EQ(off.status, STA_FREQHOLD);
  EXPECT_EQ(b.records()[2].call, Call::kSetFrequency);
  EXPECT_EQ(b.records()[3].call, Call::kSetFrequency);
  EXPECT_STREQ(adjtimex_call_name(Call::kPllOff), "pll_off");
}

TEST(RealClockBackend, step_positive_is_normalised) {
  RealClockBackend b = RealClockBackend::dry_run_from(STA_UNSYNC, 0.0);
  std::string error;
  ASSERT_TRUE(b.step(1.5, &error)) << error;
  ASSERT_TRUE(b.step(1e-9, &error));
  ASSERT_TRUE(b.step(86400.000000001, &error));
  const auto r = after_takeover(b);
  ASSERT_EQ(r.size(), 3u);
  for (const AdjtimexRecord& rec : r) {
    EXPECT_EQ(rec.call, Call::kStep);
    EXPECT_EQ(rec.tx.modes, unsigned{ADJ_SETOFFSET | ADJ_NANO});
  }
  EXPECT_EQ(r[0].tx.time.tv_sec, 1);
  EXPECT_EQ(r[0].tx.time.tv_usec, 500'000'000);
  EXPECT_EQ(r[1].tx.time.tv_sec, 0);
  EXPECT_EQ(r[1].tx.time.tv_usec, 1);
  EXPECT_EQ(r[2].tx.time.tv_sec, 86400);
  EXPECT_EQ(r[2].tx.time.tv_usec, 1);
}

// The kernel wants tv_usec (ns with ADJ_NANO) in [0, 1e9) and the sign in tv_sec.
TEST(RealClockBackend, step_negative_is_normalised) {
  RealClockBackend b = RealClockBackend::dry_run_from(STA_UNSYNC, 0.0);
  std::string error;
  ASSERT_TRUE(b.step(-0.25, &error)) << error;
  ASSERT_TRUE(b.step(-2.000000001, &error));
  ASSERT_TRUE(b.step(-3.0, &error));
  ASSERT_TRUE(b.step(-1e-9, &error));
  const auto r = after_takeover(b);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].tx.time.tv_sec, -1);
  EXPECT_EQ(r[0].tx.time.tv_usec, 750'000'000);
  EXPECT_EQ(r[1].tx.time.tv_sec, -3);
  EXPECT_EQ(r[1].tx.time.tv_usec, 999'999'999);
  EXPECT_EQ(r[2].tx.time.tv_sec, -3);
  EXPECT_EQ(r[2].tx.time.tv_usec, 0);
  EXPECT_EQ(r[3].tx.time.tv_sec, -1);
  EXPECT_EQ(r[3].tx.time.tv_usec, 999'999'999);
  for (const AdjtimexRecord& rec : r) {
    EXPECT_GE(rec.tx.time.tv_usec, 0);
    EXPECT_LT(rec.tx.time.tv_usec, 1'000'000'000);
  }
}

TEST(RealClockBackend, step_reject_absurd_offsets) {
  RealClockBackend b = RealClockBackend::dry_run_from(STA_UNSYNC, 0.0);
  std::string error;
  EXPECT_FALSE(b.step(std::numeric_limits<double>::quiet_NaN(), &error));
  EXPECT_FALSE(b.step(-std::numeric_limits<double>::infinity(), &error));
  EXPECT_FALSE(b.step(2e9, &error));
  EXPECT_FALSE(error.empty());
  EXPECT_TRUE(b.records().empty());
}

TEST(RealClockBackend, status_sets_unsync_leap_and_errors_in_microseconds) {
  // STA_FREQHOLD is writable and not ours: it must survive every write.
  RealClockBackend b = RealClockBackend::dry_run_from(STA_UNSYNC | STA_FREQHOLD, 0.0);
  std::string error;
  KernelStatus s;
  s.synchronized = true;
  s.maxerror_s = 0.0015;
  s.esterror_s = 0.0002;
  s.leap = Leap::kInsert61;
  s.time_constant = 6;
  ASSERT_TRUE(b.set_status(s, &error)) << error;
  s.synchronized = false;
  s.leap = Leap::kDelete59;
  s.maxerror_s = 1.0000001;  // a bound: rounded up
  s.esterror_s = 1.0000001;  // an estimate: rounded to nearest
  ASSERT_TRUE(b.set_status(s, &error));
  s.synchronized = true;
  s.leap = Leap::kNone;
  ASSERT_TRUE(b.set_status(s, &error));
  s.leap = Leap::kUnsynchronized;
  ASSERT_TRUE(b.set_status(s, &error));
  const auto r = after_takeover(b);
  ASSERT_EQ(r.size(), 4u);
  for (const AdjtimexRecord& rec : r) {
    EXPECT_EQ(rec.call, Call::kSetStatus);
    EXPECT_EQ(rec.tx.modes, unsigned{kStatusMode});
    EXPECT_FALSE((rec.tx.status & STA_INS) && (rec.tx.status & STA_DEL));
    EXPECT_EQ(rec.tx.status & (STA_PLL | STA_FLL), 0);
    EXPECT_NE(rec.tx.status & STA_FREQHOLD, 0);
  }
  EXPECT_EQ(r[0].tx.status, STA_FREQHOLD | STA_INS);
  EXPECT_EQ(r[0].tx.maxerror, 1500);
  EXPECT_EQ(r[0].tx.esterror, 200);
  EXPECT_EQ(r[0].tx.constant, 6);
  EXPECT_EQ(r[1].tx.status, STA_FREQHOLD | STA_DEL | STA_UNSYNC);
  EXPECT_EQ(r[1].tx.maxerror, 1'000'001);
  EXPECT_EQ(r[1].tx.esterror, 1'000'000);
  EXPECT_EQ(r[2].tx.status, STA_FREQHOLD);
  EXPECT_EQ(r[3].tx.status, STA_FREQHOLD);
}

TEST(RealClockBackend, status_clamps_errors_and_time_constant) {
  RealClockBackend b = RealClockBackend::dry_run_from(STA_UNSYNC, 0.0);
  std::string error;
  KernelStatus s;  // defaults: unsynchronised, 16 s errors
  ASSERT_TRUE(b.set_status(s, &error));
  s.maxerror_s = 100.0;
  s.esterror_s = -1.0;
  s.time_constant = 20;
  ASSERT_TRUE(b.set_status(s, &error));
  s.maxerror_s = std::numeric_limits<double>::quiet_NaN();
  s.time_constant = -3;
  ASSERT_TRUE(b.set_status(s, &error));
  const auto r = after_takeover(b);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].tx.status, STA_UNSYNC);
  EXPECT_EQ(r[0].tx.maxerror, 16'000'000);
  EXPECT_EQ(r[0].tx.esterror, 16'000'000);
  EXPECT_EQ(r[1].tx.maxerror, 16'000'000);
  EXPECT_EQ(r[1].tx.esterror, 0);
  EXPECT_EQ(r[1].tx.constant, 10);
  EXPECT_EQ(r[2].tx.maxerror, 16'000'000);
  EXPECT_EQ(r[2].tx.constant, 0);
}

TEST(RealClockBackend, records_are_bounded) {
  RealClockBackend b = RealClockBackend::dry_run_from(STA_UNSYNC, 0.0);
  std::string error;
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(b.set_frequency(i % 100, &error));
  EXPECT_EQ(b.records().size(), RealClockBackend::kMaxRecords);
  EXPECT_EQ(b.call_count(), 5002u);
  EXPECT_EQ(b.records().back().tx.freq, 99 * 65536);
}

// The kernel's state is read before and after a dry run that would change the
// frequency: nothing moved. (Values chosen so that even a broken dry run
// could do no harm: a 0.001 ppm change, a 1 µs step there and back, and the
// status the kernel already has.)
TEST(RealClockBackend, dry_run_never_touches_the_kernel) {
  KernelClockState before;
  std::string error;
  ASSERT_TRUE(read_kernel_clock_state(before, &error)) << error;
  RealClockBackend b(RealClockBackend::Mode::kDryRun);
  EXPECT_DOUBLE_EQ(b.frequency(), before.freq_ppm);
  const double target = before.freq_ppm + (before.freq_ppm < 0 ? 0.001 : -0.001);
  ASSERT_TRUE(b.set_frequency(target, &error)) << error;
  ASSERT_TRUE(b.step(1e-6, &error));
  ASSERT_TRUE(b.step(-1e-6, &error));
  KernelStatus s;
  s.synchronized = !before.unsync;
  s.maxerror_s = 16.0;
  s.esterror_s = 16.0;
  ASSERT_TRUE(b.set_status(s, &error));
  EXPECT_NEAR(b.frequency(), target, 1.0 / 65536);
  EXPECT_EQ(b.call_count(), 6u);

  KernelClockState after;
  ASSERT_TRUE(read_kernel_clock_state(after, &error)) << error;
  EXPECT_EQ(after.freq_ppm, before.freq_ppm);
  EXPECT_NE(after.freq_ppm, b.frequency());
  EXPECT_EQ(after.status, before.status);
  EXPECT_EQ(after.pll, before.pll);
}

// The one real kernel call a test may make: modes = 0, read only.
TEST(RealClockBackend, reads_plausible_kernel_state) {
  KernelClockState s;
  std::string error;
  ASSERT_TRUE(read_kernel_clock_state(s, &error)) << error;
  EXPECT_GE(s.state, TIME_OK);
  EXPECT_LE(s.state, TIME_ERROR);
  EXPECT_LE(std::fabs(s.freq_ppm), 500.0);
  EXPECT_GE(s.maxerror_s, 0.0);
  EXPECT_LE(s.maxerror_s, 16.0);
  EXPECT_GE(s.esterror_s, 0.0);
  EXPECT_GE(s.constant, 0);
  EXPECT_LE(s.constant, 10);
  EXPECT_GE(s.tai, 0);
  EXPECT_LT(s.tai, 100);
  EXPECT_GE(s.tick_us, 9000);  // the kernel allows tick within +-10 % of 10000 µs
  EXPECT_LE(s.tick_us, 11000);
  EXPECT_FALSE(s.insert && s.del);
  EXPECT_EQ(s.unsync, (s.status & STA_UNSYNC) != 0);
  const std::string line = describe_kernel_clock_state(s);
  EXPECT_EQ(line.rfind("kernel clock: ", 0), 0u) << line;
  EXPECT_NE(line.find("ppm"), std::string::npos) << line;
}

TEST(RealClockBackend, now_is_the_real_time) {
  RealClockBackend b = RealClockBackend::dry_run_from(STA_UNSYNC, 0.0);
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  const int64_t real = static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
  EXPECT_LT(std::llabs(b.now_unix_ns() - real), int64_t{1'000'000'000});
}

}  // namespace
}  // namespace ntsd::clock
