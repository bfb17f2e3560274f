#include "proto/ntp_time.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <limits>

namespace ntsd::proto {
namespace {

constexpr int64_t kSec = 1'000'000'000;
// 2036-02-07 06:28:16 UTC: NTP seconds wrap from 0xffffffff to 0 (era 0 -> 1).
constexpr int64_t kRolloverUnixSec = (int64_t{1} << 32) - static_cast<int64_t>(kNtpUnixOffset);
static_assert(kRolloverUnixSec == 2085978496);

TEST(NtpTime, unix_epoch_maps_to_offset) {
  EXPECT_EQ(ntp_from_unix_ns(0).raw, kNtpUnixOffset << 32);
}

TEST(NtpTime, half_second_is_half_fraction) {
  EXPECT_EQ(ntp_from_unix_ns(kSec / 2).raw, (kNtpUnixOffset << 32) | 0x80000000u);
}

TEST(NtpTime, negative_unix_time_floors) {
  // -1 ns is 1969-12-31 23:59:59.999999999: previous second, fraction near 1.
  const NtpTimestamp ts = ntp_from_unix_ns(-1);
  EXPECT_EQ(ts.raw >> 32, kNtpUnixOffset - 1);
  EXPECT_EQ(ts.raw & 0xffffffffu, 0xfffffffcu);  // 0.999999999 * 2^32 rounded
  EXPECT_EQ(unix_ns_from_ntp(ts, 0), -1);
}

TEST(NtpTime, ntp_epoch_1900_is_zero) {
  EXPECT_EQ(ntp_from_unix_ns(-static_cast<int64_t>(kNtpUnixOffset) * kSec).raw, 0u);
}

TEST(NtpTime, era_rollover_2036_wraps_seconds_to_zero) {
  EXPECT_EQ(ntp_from_unix_ns(kRolloverUnixSec * kSec).raw, 0u);
  EXPECT_EQ(ntp_from_unix_ns(kRolloverUnixSec * kSec - kSec).raw, 0xffffffff00000000u);
  EXPECT_EQ(ntp_from_unix_ns(kRolloverUnixSec * kSec + kSec).raw, 0x0000000100000000u);
}

TEST(NtpTime, era_rollover_pivot_before) {
  const int64_t pivot = (kRolloverUnixSec - 86400) * kSec;  // 2036-02-06
  EXPECT_EQ(unix_ns_from_ntp(NtpTimestamp{0}, pivot), kRolloverUnixSec * kSec);
  EXPECT_EQ(unix_ns_from_ntp(NtpTimestamp{0x0000000100000000u}, pivot),
            (kRolloverUnixSec + 1) * kSec);
  EXPECT_EQ(unix_ns_from_ntp(NtpTimestamp{0xffffffff00000000u}, pivot),
            (kRolloverUnixSec - 1) * kSec);
}

TEST(NtpTime, era_rollover_pivot_after) {
  const int64_t pivot = (kRolloverUnixSec + 86400) * kSec;  // 2036-02-08
  EXPECT_EQ(unix_ns_from_ntp(NtpTimestamp{0}, pivot), kRolloverUnixSec * kSec);
  EXPECT_EQ(unix_ns_from_ntp(NtpTimestamp{0xffffffff00000000u}, pivot),
            (kRolloverUnixSec - 1) * kSec);
  EXPECT_EQ(unix_ns_from_ntp(NtpTimestamp{0x0000000100000000u}, pivot),
            (kRolloverUnixSec + 1) * kSec);
}

TEST(NtpTime, era_chosen_nearest_pivot) {
  // Raw 0 is both 1900-01-01 and 2036-02-07; the pivot picks the era.
  const int64_t y1900 = -static_cast<int64_t>(kNtpUnixOffset) * kSec;
  EXPECT_EQ(unix_ns_from_ntp(NtpTimestamp{0}, 1'700'000'000 * kSec), kRolloverUnixSec * kSec);
  EXPECT_EQ(unix_ns_from_ntp(NtpTimestamp{0}, 0), kRolloverUnixSec * kSec);  // 66 y vs 70 y
  EXPECT_EQ(unix_ns_from_ntp(NtpTimestamp{0}, -300'000'000 * kSec), y1900);
  // Era 2 (2172) from a pivot in 2150.
  EXPECT_EQ(unix_ns_from_ntp(NtpTimestamp{0}, 5'600'000'000 * kSec),
            (kRolloverUnixSec + (int64_t{1} << 32)) * kSec);
}

TEST(NtpTime, round_trip_is_exact_to_the_nanosecond) {
  const int64_t samples[] = {0,
                             1,
                             -1,
                             999'999'999,
                             1'000'000'000,
                             1'700'000'000'123'456'789,
                             kRolloverUnixSec * kSec - 1,
                             kRolloverUnixSec * kSec,
                             kRolloverUnixSec * kSec + 1,
                             -2'208'988'800'000'000'001,
                             7'000'000'000'987'654'321};
  for (int64_t t : samples) {
    for (int64_t pivot_offset :
         {int64_t{0}, 1000 * kSec, -1000 * kSec, int64_t{60} * 365 * 86400 * kSec,
          -int64_t{60} * 365 * 86400 * kSec}) {
      EXPECT_EQ(unix_ns_from_ntp(ntp_from_unix_ns(t), t + pivot_offset), t)
          << "t=" << t << " pivot offset=" << pivot_offset;
    }
  }
  for (int64_t ns = 0; ns < 3 * kSec; ns += 999'983) {
    ASSERT_EQ(unix_ns_from_ntp(ntp_from_unix_ns(ns), 0), ns);
  }
}

TEST(NtpTime, unix_ns_from_ntp_saturates_at_int64_edges) {
  const int64_t max = std::numeric_limits<int64_t>::max();
  const int64_t min = std::numeric_limits<int64_t>::min();
  const NtpTimestamp ahead{ntp_from_unix_ns(max).raw + (uint64_t{1000} << 32)};
  EXPECT_EQ(unix_ns_from_ntp(ahead, max), max);
  const NtpTimestamp behind{ntp_from_unix_ns(min).raw - (uint64_t{1000} << 32)};
  EXPECT_EQ(unix_ns_from_ntp(behind, min), min);
}

TEST(NtpTime, diff_across_rollover) {
  const NtpTimestamp before = ntp_from_unix_ns((kRolloverUnixSec - 1) * kSec);
  const NtpTimestamp after = ntp_from_unix_ns((kRolloverUnixSec + 1) * kSec + 250'000'000);
  EXPECT_EQ(ntp_diff_ns(after, before), 2 * kSec + 250'000'000);
  EXPECT_EQ(ntp_diff_ns(before, after), -(2 * kSec + 250'000'000));
  EXPECT_EQ(ntp_diff_ns(after, after), 0);
}

TEST(NtpTime, diff_small_and_negative_fractions) {
  const NtpTimestamp a = ntp_from_unix_ns(1'700'000'000 * kSec + 5);
  const NtpTimestamp b = ntp_from_unix_ns(1'700'000'000 * kSec + 12);
  EXPECT_EQ(ntp_diff_ns(a, b), -7);
  EXPECT_EQ(ntp_diff_ns(b, a), 7);
}

TEST(NtpTime, diff_near_68_years) {
  const int64_t span = int64_t{68} * 365 * 86400 * kSec;
  const NtpTimestamp a = ntp_from_unix_ns(span);
  const NtpTimestamp b = ntp_from_unix_ns(0);
  EXPECT_EQ(ntp_diff_ns(a, b), span);
  EXPECT_EQ(ntp_diff_ns(b, a), -span);
}

TEST(NtpTime, timestamp_ordering_is_raw_ordering) {
  EXPECT_LT(NtpTimestamp{1}, NtpTimestamp{2});
  EXPECT_EQ(NtpTimestamp{7}, NtpTimestamp{7});
  EXPECT_NE(NtpShort{1}, NtpShort{2});
}

TEST(NtpShort, conversions) {
  EXPECT_EQ(ntp_short_from_ns(kSec).raw, 0x00010000u);
  EXPECT_EQ(ntp_short_from_ns(kSec / 2).raw, 0x00008000u);
  EXPECT_EQ(ntp_short_from_ns(15'259).raw, 1u);  // one unit is 15258.789 ns
  EXPECT_EQ(ntp_short_from_ns(7'000).raw, 0u);
  EXPECT_EQ(ntp_short_from_ns(8'000).raw, 1u);
  EXPECT_EQ(ns_from_ntp_short(NtpShort{0x00010000u}), kSec);
  EXPECT_EQ(ns_from_ntp_short(NtpShort{1}), 15'259);
  EXPECT_EQ(ns_from_ntp_short(NtpShort{0xffffffffu}), 65'535'999'984'741);
}

TEST(NtpShort, saturates) {
  EXPECT_EQ(ntp_short_from_ns(-1).raw, 0u);
  EXPECT_EQ(ntp_short_from_ns(std::numeric_limits<int64_t>::min()).raw, 0u);
  EXPECT_EQ(ntp_short_from_ns(65536 * kSec).raw, 0xffffffffu);
  EXPECT_EQ(ntp_short_from_ns(65536 * kSec - 1).raw, 0xffffffffu);  // rounds up to 2^32: clamped
  EXPECT_EQ(ntp_short_from_ns(std::numeric_limits<int64_t>::max()).raw, 0xffffffffu);
}

TEST(NtpShort, round_trip_within_half_unit) {
  for (int64_t ns = 0; ns < 5 * kSec; ns += 12'345'677) {
    const int64_t back = ns_from_ntp_short(ntp_short_from_ns(ns));
    ASSERT_LE(std::abs(back - ns), 7'630) << ns;
  }
}

TEST(Precision, rounds_up_to_power_of_two_seconds) {
  EXPECT_EQ(precision_log2_from_ns(0), -32);
  EXPECT_EQ(precision_log2_from_ns(-5), -32);
  EXPECT_EQ(precision_log2_from_ns(1), -29);   // 2^-30 s = 0.93 ns < 1 ns
  EXPECT_EQ(precision_log2_from_ns(14), -26);  // 2^-26 s = 14.9 ns
  EXPECT_EQ(precision_log2_from_ns(15), -25);
  EXPECT_EQ(precision_log2_from_ns(1'000), -19);  // 2^-20 s = 0.95 us
  EXPECT_EQ(precision_log2_from_ns(kSec), 0);
  EXPECT_EQ(precision_log2_from_ns(kSec + 1), 1);
  EXPECT_EQ(precision_log2_from_ns(std::numeric_limits<int64_t>::max()), 34);
}

}  // namespace
}  // namespace ntsd::proto
