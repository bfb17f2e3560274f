#pragma once
// What the workers serve, from each selection's result: stratum, refid, root
// delay/dispersion, leap and reference time (RFC 5905 clock_update), with
// holdover after the sources are lost. Pure: time passed in.
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>

#include "clock/sample.h"
#include "proto/ntp_packet.h"
#include "server/server_state.h"

namespace ntsd::clock {

// A source's address, as the refid needs it.
struct SourceAddress {
  bool ipv6 = false;
  std::array<uint8_t, 16> bytes{};  // network order; IPv4 in the first four bytes

  static SourceAddress ipv4(uint32_t address_host_order);
  static SourceAddress ipv6_bytes(const std::array<uint8_t, 16>& address);
};

// The address of an AF_INET or AF_INET6 socket address; nullopt for any other family.
std::optional<SourceAddress> source_address(const sockaddr* address);
// Refid naming a source: its IPv4 address (127.0.0.1 -> 0x7f000001), or for
// IPv6 the first four bytes of the MD5 of its 16 bytes (NTPsec's rule).
uint32_t reference_id_of(const SourceAddress& address);

enum class SyncStatus : uint8_t {
  kUnsynchronized,  // never synchronized, or root distance past MAXDIST: leap 3, stratum 16
  kSynchronized,    // following a system peer
  kHoldover,        // sources lost; serving the last state with root dispersion growing at PHI
};

const char* sync_status_name(SyncStatus status);

// For operators' tools (`ntsctl sysinfo`, metrics).
struct SystemStatus {
  SyncStatus sync = SyncStatus::kUnsynchronized;
  proto::Leap leap = proto::Leap::kUnsynchronized;
  uint8_t stratum = kMaxStratum;
  uint32_t reference_id = 0;
  double offset = 0;           // s, system offset at the last update (positive: host clock behind)
  double jitter = 0;           // s, system jitter at the last update
  double root_delay = 0;       // s
  double root_dispersion = 0;  // s, at the time asked about
  double since_update = -1;    // s since the last synchronized update; -1 if never
  int64_t reference_time_ns = 0;  // host time of the sample last used; 0 if never
};

class SystemState {
 public:
  // precision: the host clock's, log2 s, as served in the precision field.
  explicit SystemState(int8_t precision);

  // After each selection: system is its result, peer and peer_address the
  // selected source's (ignored unless system.synchronized). leap_override
  // (from a leapfile) replaces the source's leap bits while synchronized or
  // in holdover; kUnsynchronized there is ignored.
  server::ServerState update(int64_t now_ns, const SystemEstimate& system,
                             const SourceEstimate& peer, const SourceAddress& peer_address,
                             std::optional<proto::Leap> leap_override = std::nullopt);
  // What to serve at now_ns with no new selection (holdover ageing only).
  server::ServerState state(int64_t now_ns) const;
  SystemStatus status(int64_t now_ns) const;

 private:
  // Root dispersion of the held state at now_ns, s.
  double root_dispersion_at(int64_t now_ns) const;
  // True while the held state is synchronized (or in holdover) at now_ns.
  bool holding(int64_t now_ns) const;

  int8_t precision_;
  bool ever_synchronized_ = false;
  bool synchronized_ = false;  // the last update had a system peer
  bool held_ = false;          // a state from a synchronized update is held
  proto::Leap leap_ = proto::Leap::kNone;
  proto::Leap source_leap_ = proto::Leap::kNone;
  uint8_t stratum_ = kMaxStratum;
  uint32_t reference_id_ = 0;
  double offset_ = 0;
  double jitter_ = 0;
  double root_delay_ = 0;
  double root_dispersion_ = 0;  // at update_ns_
  int64_t update_ns_ = 0;       // now_ns of the last synchronized update
  int64_t reference_time_ns_ = 0;
};

}  // namespace ntsd::clock
