#pragma once
// One request through the request path (BatchResponder with a batch of one):
// bytes in, reply bytes out. For tests, fuzzing and tools; the workers use
// BatchResponder directly so crypto is batched across requests. Its crypto is
// crypto::auto_nts_crypto() (the fast path wherever the CPU has AES-NI).
#include <cstdint>
#include <span>

#include "proto/ntp_time.h"
#include "server/batch_responder.h"
#include "server/server_state.h"
#include "server/verdict.h"

namespace ntsd::server {

// Answers one request received at rx_time and sent at tx_time. The reply is
// written to the front of `out` and is never larger than the request, so an
// out span of request.size() bytes always suffices (no amplification).
Verdict respond(std::span<const uint8_t> request, proto::NtpTimestamp rx_time,
                const ServerState& state, std::span<uint8_t> out, const NtsPolicy& nts = {},
                proto::NtpTimestamp tx_time = proto::NtpTimestamp{0});

// Overwrites a reply's transmit timestamp (plain replies only: an NTS reply's
// transmit time is authenticated).
void stamp_transmit(std::span<uint8_t> reply, proto::NtpTimestamp tx_time);

}  // namespace ntsd::server
