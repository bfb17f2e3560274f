#include "server/server_state.h"

namespace ntsd::server {

ServerState local_reference_state(uint8_t stratum) {
  ServerState state;
  state.leap = proto::Leap::kNone;
  state.stratum = stratum;
  state.precision = -24;  // CLOCK_REALTIME via vDSO reads in tens of ns
  state.reference_id = 0x7f7f0101;
  state.root_delay = proto::NtpShort{0};
  // A local reference claims no upstream error; 1/65536 s is the short
  // format's smallest non-zero value, as ntpd's local clock reports.
  state.root_dispersion = proto::NtpShort{1};
  state.reference_time = proto::NtpTimestamp{0};
  return state;
}

void ServerStateCell::publish(const ServerState& state) {
  std::array<uint64_t, kWords> raw{};
  std::memcpy(raw.data(), &state, sizeof(state));
  const uint64_t seq = sequence_.load(std::memory_order_relaxed);
  // No standalone fences (ThreadSanitizer cannot model them): each word is
  // stored with release, so a reader that sees any new word also sees the odd
  // sequence number stored before it, and retries.
  sequence_.store(seq + 1, std::memory_order_relaxed);  // odd: write in progress
  for (size_t i = 0; i < kWords; ++i) words_[i].store(raw[i], std::memory_order_release);
  sequence_.store(seq + 2, std::memory_order_release);
}

ServerState ServerStateCell::load() const {
  std::array<uint64_t, kWords> raw{};
  for (;;) {
    const uint64_t before = sequence_.load(std::memory_order_acquire);
    if (before & 1) continue;
    // Acquire loads keep the second sequence read after the word reads.
    for (size_t i = 0; i < kWords; ++i) raw[i] = words_[i].load(std::memory_order_acquire);
    if (sequence_.load(std::memory_order_relaxed) == before) break;
  }
  ServerState state;
  std::memcpy(static_cast<void*>(&state), raw.data(), sizeof(state));
  return state;
}

}  // namespace ntsd::server
