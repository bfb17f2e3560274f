#pragma once
// What the server tells clients about its own clock: stratum, reference id,
// root delay/dispersion, leap, precision and reference time. The clock thread
// publishes it; every worker reads it once per batch.
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "proto/ntp_packet.h"
#include "proto/ntp_time.h"

namespace ntsd::server {

struct ServerState {
  proto::Leap leap = proto::Leap::kUnsynchronized;
  uint8_t stratum = 16;
  int8_t precision = -20;
  uint32_t reference_id = 0;
  proto::NtpShort root_delay{0};
  proto::NtpShort root_dispersion{0};
  // Zero means "use the receive time" (a local reference has no update time).
  proto::NtpTimestamp reference_time{0};
};

// The embedded default when no upstream is configured: like chrony's
// `local stratum 10` — the host clock is served as a stratum-10 reference
// with refid 127.127.1.1 (0x7f7f0101, chrony's local refid).
ServerState local_reference_state(uint8_t stratum = 10);

// Single-writer, many-reader cell for a small trivially copyable value: a
// seqlock over atomic words. Readers never block the writer and take no lock
// or reference count; a read that overlaps a write retries. Every worker
// reads it each batch, so it owns its cache line: nothing placed next to it
// (it lives on the daemon's stack) can invalidate the workers' copies.
class alignas(64) ServerStateCell {
 public:
  explicit ServerStateCell(const ServerState& initial) { publish(initial); }
  void publish(const ServerState& state);
  ServerState load() const;

 private:
  static_assert(std::is_trivially_copyable_v<ServerState>);
  static constexpr size_t kWords = (sizeof(ServerState) + 7) / 8;
  std::atomic<uint64_t> sequence_{0};
  std::array<std::atomic<uint64_t>, kWords> words_{};
};
static_assert(sizeof(ServerStateCell) == 64);

}  // namespace ntsd::server
