#pragma once
// One client/server exchange as a measurement: the reply's header plus our
// own send and receive times become a Sample (RFC 5905 §8), or the reason the
// reply cannot be one. Pure: no clock, no socket.
#include <cstdint>
#include <optional>
#include <span>

#include "clock/sample.h"

namespace ntsd::clock {

// Why a reply that passed the codec's checks (origin, authentication) still
// gives no sample. Counted per source; never logged per packet.
enum class SampleReject : uint8_t {
  kNone,
  kTooShort,          // fewer than 48 bytes
  kNotServerMode,     // mode is not 4 (server)
  kBadVersion,        // version outside 1..4
  kKissOfDeath,       // stratum 0: a KoD, handled by the source machine, not a time
  kUnsynchronized,    // leap 3 or stratum >= 16: the server itself has no time to give
  kZeroTimestamps,    // receive or transmit stamp is 0: no server time in it
  kServerTimeBackwards,  // T3 < T2: the server's stamps are inconsistent
  kRootDistance,      // the server's own root delay/2 + dispersion > MAXDIST (1.5 s)
  kNegativeDelay,     // the round trip is shorter than the server's hold time by more than noise
};
const char* sample_reject_name(SampleReject reject);

struct ExchangeResult {
  SampleReject reject = SampleReject::kNone;
  Sample sample;  // meaningful when reject == kNone
};

// t1_ns: host time the request left (taken just before sending); t4_ns: host
// time the reply arrived (the kernel's receive stamp). precision_s: our own
// clock's read precision.
ExchangeResult sample_from_reply(std::span<const uint8_t> reply, int64_t t1_ns, int64_t t4_ns,
                                 double precision_s);

}  // namespace ntsd::clock
