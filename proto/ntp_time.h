#pragma once
// NTP time formats (RFC 5905 §6): 64-bit timestamps (32.32 seconds since
// 1900, modulo 2^32 seconds per era) and 32-bit shorts (16.16 seconds), and
// their conversion to and from Unix nanoseconds.

#include <compare>
#include <cstdint>

namespace ntsd::proto {

// Seconds from 1900-01-01 (NTP epoch) to 1970-01-01 (Unix epoch).
constexpr uint64_t kNtpUnixOffset = 2208988800;

// 64-bit NTP timestamp: seconds << 32 | fraction, era not included.
struct NtpTimestamp {
  uint64_t raw;
  friend constexpr auto operator<=>(const NtpTimestamp&, const NtpTimestamp&) = default;
};

// 32-bit NTP short format: 16.16 unsigned seconds (root delay, root dispersion).
struct NtpShort {
  uint32_t raw;
  friend constexpr auto operator<=>(const NtpShort&, const NtpShort&) = default;
};

// Unix nanoseconds -> NTP timestamp, seconds taken modulo 2^32 (any era), fraction rounded.
NtpTimestamp ntp_from_unix_ns(int64_t unix_ns);
// NTP timestamp -> the Unix nanoseconds congruent to it that lie nearest pivot_unix_ns.
int64_t unix_ns_from_ntp(NtpTimestamp ts, int64_t pivot_unix_ns);
// a - b in nanoseconds, correct across an era boundary while |a - b| < 68 years.
int64_t ntp_diff_ns(NtpTimestamp a, NtpTimestamp b);

// Nanoseconds -> 16.16 short, rounded; negative saturates to 0, >= 65536 s to 0xffffffff.
NtpShort ntp_short_from_ns(int64_t ns);
// 16.16 short -> nanoseconds, rounded.
int64_t ns_from_ntp_short(NtpShort s);

// Precision field: smallest p in [-32, 34] with 2^p s >= ns (ns <= 0 gives -32).
int8_t precision_log2_from_ns(int64_t ns);

}  // namespace ntsd::proto
