#pragma once
// The values that flow one way through clock/: one NTP exchange becomes a
// Sample; a source's filter turns its samples into a SourceEstimate; selection
// and combining turn the estimates of all sources into a SystemEstimate; the
// system state turns that into what the workers serve (server::ServerState).
// Seconds are doubles here (RFC 5905's own arithmetic); wire formats stay in proto/.
#include <cstdint>

#include "proto/ntp_packet.h"

namespace ntsd::clock {

// RFC 5905 constants.
inline constexpr double kPhi = 15e-6;           // frequency tolerance (s/s): dispersion growth
inline constexpr double kMaxDispersion = 16.0;  // MAXDISP (s)
inline constexpr double kMinDispersion = 0.005; // MINDISP (s)
inline constexpr double kMaxDistance = 1.5;     // MAXDIST (s): root distance beyond which a source, or our own holdover, is unusable
inline constexpr int kMaxStratum = 16;

// What the server said about itself in the reply header.
struct UpstreamHeader {
  proto::Leap leap = proto::Leap::kNone;
  uint8_t stratum = 0;
  int8_t precision = -20;
  uint32_t reference_id = 0;
  double root_delay = 0;       // s
  double root_dispersion = 0;  // s
  int64_t reference_time_ns = 0;  // Unix ns (0: the server sent none)
};

// One verified exchange (RFC 5905 §8: T1 origin, T2 receive, T3 transmit, T4 destination).
struct Sample {
  int64_t time_ns = 0;      // T4 on the host clock, Unix ns: when the sample was taken
  double offset = 0;        // theta = ((T2 - T1) + (T3 - T4)) / 2, s; positive: the host clock is behind
  double delay = 0;         // delta = (T4 - T1) - (T3 - T2), s, at least the precision
  double dispersion = 0;    // epsilon = server precision + our precision + PHI * (T4 - T1), s
  UpstreamHeader header;
};

// A source's current figure after its clock filter (RFC 5905 §10).
struct SourceEstimate {
  bool valid = false;       // false: no usable sample yet (or all too old)
  int64_t time_ns = 0;      // host time of the sample the estimate rests on
  double offset = 0;        // s
  double delay = 0;         // s
  double dispersion = 0;    // s, filter dispersion as of updated_ns
  double jitter = 0;        // s, RMS of offset differences in the filter
  UpstreamHeader header;    // of the sample the estimate rests on
  int64_t updated_ns = 0;   // host time the filter last ran (sample or missed poll)
};

// How selection treats a source (config `prefer` / `noselect`).
struct SourceFlags {
  bool prefer = false;
  bool noselect = false;
};

// The result of selection and combining over all sources at one moment.
struct SystemEstimate {
  bool synchronized = false;  // a majority clique was found (and >= minsane sources)
  int selected = -1;          // index of the system peer in the input, -1 if none
  double offset = 0;          // combined offset, s (positive: the host clock is behind)
  double jitter = 0;          // system jitter, s
  int survivors = 0;          // sources that passed selection and clustering
  double selection_jitter = 0;  // s, survivors' weighted RMS offset about the system peer's
};

}  // namespace ntsd::clock
