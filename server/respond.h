#pragma once
// The request path as a pure function: bytes in, reply bytes out. No socket,
// no clock read, no allocation, no exception. The worker calls it per packet.
#include <cstdint>
#include <span>

#include "proto/ntp_time.h"
#include "server/server_state.h"
#include "server/verdict.h"

namespace ntsd::server {

// Answers one request received at rx_time. `out` must not overlap `request`;
// the reply is written to its front and is never larger than the request, so
// an out span of request.size() bytes always suffices (no amplification).
// The transmit timestamp is provisional (= rx_time): the worker restamps it
// with stamp_transmit() just before the batch is sent.
Verdict respond(std::span<const uint8_t> request, proto::NtpTimestamp rx_time,
                const ServerState& state, std::span<uint8_t> out);

// Overwrites a reply's transmit timestamp.
void stamp_transmit(std::span<uint8_t> reply, proto::NtpTimestamp tx_time);

}  // namespace ntsd::server
