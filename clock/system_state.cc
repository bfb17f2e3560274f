#include "clock/system_state.h"

#include <netinet/in.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "proto/ntp_time.h"

namespace ntsd::clock {
namespace {

double seconds_since(int64_t from_ns, int64_t to_ns) {
  return to_ns > from_ns ? static_cast<double>(to_ns - from_ns) * 1e-9 : 0.0;
}

// Seconds -> 16.16, rounded up: these are error bounds, and a bound rounded
// down would claim a little more accuracy than the server has.
proto::NtpShort short_ceil(double seconds) {
  if (!(seconds > 0)) return proto::NtpShort{0};
  const double units = std::ceil(seconds * 65536.0);
  if (units >= 4294967295.0) return proto::NtpShort{0xffffffffu};
  return proto::NtpShort{static_cast<uint32_t>(units)};
}

bool is_v4_mapped(const uint8_t* b) {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(b, kPrefix, sizeof(kPrefix)) == 0;
}

}  // namespace

SourceAddress SourceAddress::ipv4(uint32_t address_host_order) {
  SourceAddress a;
  a.bytes[0] = static_cast<uint8_t>(address_host_order >> 24);
  a.bytes[1] = static_cast<uint8_t>(address_host_order >> 16);
  a.bytes[2] = static_cast<uint8_t>(address_host_order >> 8);
  a.bytes[3] = static_cast<uint8_t>(address_host_order);
  return a;
}

SourceAddress SourceAddress::ipv6_bytes(const std::array<uint8_t, 16>& address) {
  SourceAddress a;
  a.ipv6 = true;
  a.bytes = address;
  return a;
}

std::optional<SourceAddress> source_address(const sockaddr* address) {
  if (address == nullptr) return std::nullopt;
  if (address->sa_family == AF_INET) {
    sockaddr_in sin;
    std::memcpy(&sin, address, sizeof(sin));
    SourceAddress a;
    std::memcpy(a.bytes.data(), &sin.sin_addr, 4);
    return a;
  }
  if (address->sa_family == AF_INET6) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, address, sizeof(sin6));
    SourceAddress a;
    const auto* b = reinterpret_cast<const uint8_t*>(&sin6.sin6_addr);
    // An IPv4 server reached over a dual-stack socket is still an IPv4
    // source: its refid is its address, not a hash.
    if (is_v4_mapped(b)) {
      std::memcpy(a.bytes.data(), b + 12, 4);
    } else {
      a.ipv6 = true;
      std::memcpy(a.bytes.data(), b, 16);
    }
    return a;
  }
  return std::nullopt;
}

uint32_t reference_id_of(const SourceAddress& address) {
  const auto word = [](const uint8_t* b) {
    return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | uint32_t{b[3]};
  };
  const uint8_t* b = address.bytes.data();
  if (!address.ipv6) return word(b);
  // NTPsec addr2refid(): MD5 over the 16 address bytes, the first four
  // digest bytes in wire order. Only a host whose OpenSSL refuses MD5 (FIPS
  // mode) takes the fallback: the address folded to 32 bits, still stable per
  // source, just not NTPsec's value.
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(b, 16, digest, &length, EVP_md5(), nullptr) == 1 && length >= 4) {
    return word(digest);
  }
  return word(b) ^ word(b + 4) ^ word(b + 8) ^ word(b + 12);
}

const char* sync_status_name(SyncStatus status) {
  switch (status) {
    case SyncStatus::kUnsynchronized:
      return "unsynchronized";
    case SyncStatus::kSynchronized:
      return "synchronized";
    case SyncStatus::kHoldover:
      return "holdover";
  }
  return "?";
}

SystemState::SystemState(int8_t precision) : precision_(precision) {}

server::ServerState SystemState::update(int64_t now_ns, const SystemEstimate& system,
                                        const SourceEstimate& peer,
                                        const SourceAddress& peer_address,
                                        std::optional<proto::Leap> leap_override) {
  const bool usable = system.synchronized && peer.valid && peer.header.stratum + 1 < kMaxStratum;
  if (usable) {
    offset_ = system.offset;
    jitter_ = system.jitter;
    // RFC 5905 clock_update(). The system jitter already combines the
    // peer's jitter with the selection jitter (the RFC's root of the sum of
    // squares). ntsd does not steer the host clock here, so the system
    // peer's measured offset is error every client inherits and stays in;
    // it also makes our root distance cover the peer's whole correctness
    // interval, wherever in it the truth lies.
    const double root_delay = peer.header.root_delay + peer.delay;
    const double root_dispersion =
        peer.header.root_dispersion + system.jitter +
        std::max(kMinDispersion, peer.dispersion + kPhi * seconds_since(peer.updated_ns, now_ns) +
                                     std::fabs(peer.offset));
    if (root_delay / 2 + root_dispersion > kMaxDistance) {
      // A system peer whose figures already exceed MAXDIST (usually a host
      // clock far off, since ntsd does not step it) gives nothing a client
      // would accept: serve "unsynchronized" rather than a claim clients reject.
      held_ = false;
      synchronized_ = false;
    } else {
      held_ = true;
      synchronized_ = true;
      ever_synchronized_ = true;
      stratum_ = static_cast<uint8_t>(peer.header.stratum + 1);
      reference_id_ = reference_id_of(peer_address);
      source_leap_ = peer.header.leap;
      root_delay_ = root_delay;
      root_dispersion_ = root_dispersion;
      update_ns_ = now_ns;
      reference_time_ns_ = peer.time_ns;
    }
  } else {
    synchronized_ = false;
  }
  // The leapfile knows the leap date, the sources only its announcement;
  // during holdover it is the only thing that can clear a stale warning.
  leap_ = leap_override && *leap_override != proto::Leap::kUnsynchronized ? *leap_override
                                                                          : source_leap_;
  // Holdover that ran out is forgotten: only a new synchronization brings the
  // state back, never a later call that happens to ask about an earlier time.
  if (held_ && !holding(now_ns)) held_ = false;
  return state(now_ns);
}

double SystemState::root_dispersion_at(int64_t now_ns) const {
  return root_dispersion_ + kPhi * seconds_since(update_ns_, now_ns);
}

// RFC 5905's MAXDIST rule applied to ourselves: with no update, the root
// dispersion grows at PHI (the worst-case drift of an undisciplined
// oscillator) from the last update, and the state is served until the root
// distance passes 1.5 s -- (1.5 - d0/2 - r0) / 15e-6 s, some 27 h from a
// well-synchronized state.
bool SystemState::holding(int64_t now_ns) const {
  return held_ && root_delay_ / 2 + root_dispersion_at(now_ns) <= kMaxDistance;
}

server::ServerState SystemState::state(int64_t now_ns) const {
  server::ServerState s;
  s.precision = precision_;
  if (!holding(now_ns)) {
    s.leap = proto::Leap::kUnsynchronized;
    s.stratum = kMaxStratum;
    // NTPsec's INIT until the first synchronization; afterwards no refid.
    s.reference_id = ever_synchronized_ ? 0 : proto::refid_from_ascii("INIT");
    s.root_delay = proto::NtpShort{0};
    s.root_dispersion = short_ceil(kMaxDispersion);
    s.reference_time = proto::NtpTimestamp{
        reference_time_ns_ != 0 ? proto::ntp_from_unix_ns(reference_time_ns_).raw : 0};
    return s;
  }
  s.leap = leap_;
  s.stratum = stratum_;
  s.reference_id = reference_id_;
  s.root_delay = short_ceil(root_delay_);
  s.root_dispersion = short_ceil(root_dispersion_at(now_ns));
  s.reference_time = proto::ntp_from_unix_ns(reference_time_ns_);
  return s;
}

SystemStatus SystemState::status(int64_t now_ns) const {
  SystemStatus st;
  const bool hold = holding(now_ns);
  st.sync = !hold           ? SyncStatus::kUnsynchronized
            : synchronized_ ? SyncStatus::kSynchronized
                            : SyncStatus::kHoldover;
  st.offset = offset_;
  st.jitter = jitter_;
  st.since_update = ever_synchronized_ ? seconds_since(update_ns_, now_ns) : -1;
  st.reference_time_ns = reference_time_ns_;
  st.reference_id = state(now_ns).reference_id;
  if (hold) {
    st.leap = leap_;
    st.stratum = stratum_;
    st.root_delay = root_delay_;
    st.root_dispersion = root_dispersion_at(now_ns);
  }
  return st;
}

}  // namespace ntsd::clock
