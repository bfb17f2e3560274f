#include "clock/exchange.h"

#include <algorithm>
#include <cmath>

#include "proto/ntp_time.h"

namespace ntsd::clock {

const char* sample_reject_name(SampleReject reject) {
  switch (reject) {
    case SampleReject::kNone: return "none";
    case SampleReject::kTooShort: return "too_short";
    case SampleReject::kNotServerMode: return "not_server_mode";
    case SampleReject::kBadVersion: return "bad_version";
    case SampleReject::kKissOfDeath: return "kiss_of_death";
    case SampleReject::kUnsynchronized: return "unsynchronized";
    case SampleReject::kZeroTimestamps: return "zero_timestamps";
    case SampleReject::kServerTimeBackwards: return "server_time_backwards";
    case SampleReject::kRootDistance: return "root_distance";
    case SampleReject::kNegativeDelay: return "negative_delay";
  }
  return "unknown";
}

namespace {

double seconds(int64_t ns) { return static_cast<double>(ns) * 1e-9; }
double seconds(proto::NtpShort s) { return seconds(proto::ns_from_ntp_short(s)); }

}  // namespace

ExchangeResult sample_from_reply(std::span<const uint8_t> reply, int64_t t1_ns, int64_t t4_ns,
                                 double precision_s) {
  ExchangeResult out;
  const auto header = proto::parse_header(reply);
  if (!header) return {SampleReject::kTooShort, {}};
  if (header->mode != proto::Mode::kServer) return {SampleReject::kNotServerMode, {}};
  if (header->version < 1 || header->version > 4) return {SampleReject::kBadVersion, {}};
  if (header->stratum == 0) return {SampleReject::kKissOfDeath, {}};
  // RFC 5905 §8 (packet tests 5-7 of ntpd): an unsynchronised server, or one
  // whose own distance to a reference is already past MAXDIST, has no time to give.
  if (header->leap == proto::Leap::kUnsynchronized || header->stratum >= kMaxStratum) {
    return {SampleReject::kUnsynchronized, {}};
  }
  if (header->receive_time.raw == 0 || header->transmit_time.raw == 0) {
    return {SampleReject::kZeroTimestamps, {}};
  }
  const double root_delay = seconds(header->root_delay);
  const double root_dispersion = seconds(header->root_dispersion);
  if (root_delay / 2 + root_dispersion > kMaxDistance) return {SampleReject::kRootDistance, {}};

  // T2/T3 are NTP timestamps of one era; map them onto Unix ns next to our
  // own T4 (valid while the clocks are within 68 years of each other).
  const int64_t t2_ns = proto::unix_ns_from_ntp(header->receive_time, t4_ns);
  const int64_t t3_ns = proto::unix_ns_from_ntp(header->transmit_time, t4_ns);
  if (t3_ns < t2_ns) return {SampleReject::kServerTimeBackwards, {}};

  const double server_precision = std::ldexp(1.0, header->precision);
  // Offsets and delays from differences of nearby stamps, in ns first so no
  // precision is lost to the 1.7e18 magnitude of Unix ns as doubles.
  const int64_t round_trip_ns = t4_ns - t1_ns;
  const int64_t hold_ns = t3_ns - t2_ns;
  double delay = seconds(round_trip_ns - hold_ns);
  // A delay below zero beyond the two clocks' precisions is impossible: a
  // mismatched reply or a stepped host clock. Within that noise, clamp.
  if (delay < -(precision_s + server_precision)) return {SampleReject::kNegativeDelay, {}};
  delay = std::max(delay, precision_s);
  const double offset = (seconds(t2_ns - t1_ns) + seconds(t3_ns - t4_ns)) / 2;

  out.sample.time_ns = t4_ns;
  out.sample.offset = offset;
  out.sample.delay = delay;
  // RFC 5905 §8: epsilon = rho_server + rho_local + PHI * (T4 - T1).
  out.sample.dispersion = server_precision + precision_s + kPhi * seconds(std::max<int64_t>(round_trip_ns, 0));
  UpstreamHeader& h = out.sample.header;
  h.leap = header->leap;
  h.stratum = header->stratum;
  h.precision = header->precision;
  h.reference_id = header->reference_id;
  h.root_delay = root_delay;
  h.root_dispersion = root_dispersion;
  h.reference_time_ns = header->reference_time.raw == 0 ? 0 : proto::unix_ns_from_ntp(header->reference_time, t4_ns);
  return out;
}

}  // namespace ntsd::clock
