#include "proto/ntp_time.h"

#include <limits>

namespace ntsd::proto {
namespace {

constexpr int64_t kNsPerSec = 1'000'000'000;
constexpr uint64_t kFracMask = 0xffffffffu;

// Rounded to nearest: one fraction unit is ~0.23 ns, so ns -> fraction -> ns
// round-trips exactly (the two rounding errors add up to less than 0.5 ns).
uint64_t frac_from_ns(int64_t ns_in_second) {
  return ((static_cast<uint64_t>(ns_in_second) << 32) + kNsPerSec / 2) / kNsPerSec;
}

int64_t ns_from_frac(uint64_t frac) {
  return static_cast<int64_t>((frac * kNsPerSec + (uint64_t{1} << 31)) >> 32);
}

// Floor division: -1 ns is second -1, nanosecond 999999999.
void split_unix_ns(int64_t unix_ns, int64_t* sec, int64_t* ns) {
  *sec = unix_ns / kNsPerSec;
  *ns = unix_ns % kNsPerSec;
  if (*ns < 0) {
    *sec -= 1;
    *ns += kNsPerSec;
  }
}

// Signed 32.32 fixed point -> ns. The arithmetic shift floors, so the
// fraction is always the non-negative remainder.
int64_t ns_from_fixed(int64_t fixed) {
  const int64_t sec = fixed >> 32;
  return sec * kNsPerSec + ns_from_frac(static_cast<uint64_t>(fixed) & kFracMask);
}

int64_t saturate(bool negative) {
  return negative ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
}

}  // namespace

NtpTimestamp ntp_from_unix_ns(int64_t unix_ns) {
  int64_t sec, ns;
  split_unix_ns(unix_ns, &sec, &ns);
  // Unsigned arithmetic wraps modulo 2^64; the shift keeps the low 32 bits of
  // the seconds, which is exactly "modulo one NTP era".
  const uint64_t ntp_sec = static_cast<uint64_t>(sec) + kNtpUnixOffset;
  return NtpTimestamp{(ntp_sec << 32) + frac_from_ns(ns)};
}

int64_t unix_ns_from_ntp(NtpTimestamp ts, int64_t pivot_unix_ns) {
  int64_t pivot_sec, pivot_ns;
  split_unix_ns(pivot_unix_ns, &pivot_sec, &pivot_ns);
  const uint64_t pivot_frac = frac_from_ns(pivot_ns);
  const uint64_t pivot_raw =
      ((static_cast<uint64_t>(pivot_sec) + kNtpUnixOffset) << 32) + pivot_frac;
  // The wrapped difference, read as signed, is the offset from the pivot to
  // the nearest congruent instant (within +-2^31 s, i.e. +-68 years).
  const int64_t delta = static_cast<int64_t>(ts.raw - pivot_raw);
  const uint64_t frac_sum = pivot_frac + (static_cast<uint64_t>(delta) & kFracMask);
  // Whole Unix seconds of the result, then the exact fraction of ts: going
  // through the pivot's rounded fraction would add up to 1 ns of error.
  const int64_t sec = pivot_sec + (delta >> 32) + static_cast<int64_t>(frac_sum >> 32);
  int64_t result;
  if (__builtin_mul_overflow(sec, kNsPerSec, &result) ||
      __builtin_add_overflow(result, ns_from_frac(ts.raw & kFracMask), &result)) {
    return saturate(sec < 0);
  }
  return result;
}

int64_t ntp_diff_ns(NtpTimestamp a, NtpTimestamp b) {
  return ns_from_fixed(static_cast<int64_t>(a.raw - b.raw));
}

NtpShort ntp_short_from_ns(int64_t ns) {
  constexpr int64_t kMaxNs = int64_t{65536} * kNsPerSec;
  if (ns <= 0) return NtpShort{0};
  if (ns >= kMaxNs) return NtpShort{0xffffffffu};
  const uint64_t raw = ((static_cast<uint64_t>(ns) << 16) + kNsPerSec / 2) / kNsPerSec;
  return NtpShort{raw > 0xffffffffu ? 0xffffffffu : static_cast<uint32_t>(raw)};
}

int64_t ns_from_ntp_short(NtpShort s) {
  return static_cast<int64_t>((uint64_t{s.raw} * kNsPerSec + (uint64_t{1} << 15)) >> 16);
}

int8_t precision_log2_from_ns(int64_t ns) {
  // Rounded up, so the advertised precision is never better than measured.
  if (ns <= 0) return -32;
  for (int p = -32; p <= 0; ++p) {
    // ns <= 1e9 * 2^p  <=>  ns * 2^-p <= 1e9; ns <= 1e9 < 2^30 keeps the shift in range.
    if (ns <= kNsPerSec && (ns << -p) <= kNsPerSec) return static_cast<int8_t>(p);
  }
  for (int p = 1; p <= 33; ++p) {
    if (ns <= (kNsPerSec << p)) return static_cast<int8_t>(p);
  }
  return 34;  // 1e9 * 2^34 exceeds int64, so every remaining ns fits.
}

}  // namespace ntsd::proto
