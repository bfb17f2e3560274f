#pragma once
// The parts of answering that every request shares: the header checks and the
// server-mode header written into a reply.
#include <cstdint>
#include <optional>
#include <span>

#include "proto/ntp_packet.h"
#include "proto/ntp_time.h"
#include "server/server_state.h"
#include "server/verdict.h"

namespace ntsd::server {

// Why a request's header makes it unanswerable, or nullopt. Checks size,
// version, mode and the transmit timestamp (not the extension fields).
std::optional<DropReason> check_request_header(std::span<const uint8_t> request);

// Writes the 48-byte server-mode header answering `request` into out.
// The transmit time is provisional (= rx_time) until restamped.
void write_reply_header(std::span<const uint8_t> request, proto::NtpTimestamp rx_time,
                        const ServerState& state, std::span<uint8_t> out);

// Writes a Kiss-o'-Death header (leap 3, stratum 0, refid = kiss code).
void write_kod_header(std::span<const uint8_t> request, proto::NtpTimestamp rx_time,
                      uint32_t kiss_code, std::span<uint8_t> out);

}  // namespace ntsd::server
