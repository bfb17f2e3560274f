#include "server/plain_reply.h"

namespace ntsd::server {

using proto::kNtpHeaderSize;

std::optional<DropReason> check_request_header(std::span<const uint8_t> request) {
  if (request.size() < kNtpHeaderSize) return DropReason::kTooShort;
  const uint8_t version = proto::version_of(request[0]);
  if (version < 1 || version > 4) return DropReason::kBadVersion;
  if (proto::mode_of(request[0]) != proto::Mode::kClient) return DropReason::kNotClientMode;
  if (proto::load_timestamp(request, proto::kOffsetTransmit).raw == 0) {
    return DropReason::kZeroTransmit;
  }
  return std::nullopt;
}

void write_reply_header(std::span<const uint8_t> request, proto::NtpTimestamp rx_time,
                        const ServerState& state, std::span<uint8_t> out) {
  proto::NtpHeader reply;
  reply.leap = state.leap;
  reply.version = proto::version_of(request[0]);
  reply.mode = proto::Mode::kServer;
  reply.stratum = state.stratum;
  reply.poll = static_cast<int8_t>(request[proto::kOffsetPoll]);
  reply.precision = state.precision;
  reply.root_delay = state.root_delay;
  reply.root_dispersion = state.root_dispersion;
  reply.reference_id = state.reference_id;
  // A local reference has no last-update time; report the start of the
  // current second, which clients accept as "recently updated".
  reply.reference_time = state.reference_time.raw != 0
                             ? state.reference_time
                             : proto::NtpTimestamp{rx_time.raw & ~uint64_t{0xffffffff}};
  reply.origin_time = proto::load_timestamp(request, proto::kOffsetTransmit);
  reply.receive_time = rx_time;
  reply.transmit_time = rx_time;
  proto::write_header(reply, out);
}

void write_kod_header(std::span<const uint8_t> request, proto::NtpTimestamp rx_time,
                      uint32_t kiss_code, std::span<uint8_t> out) {
  ServerState kiss;
  kiss.leap = proto::Leap::kUnsynchronized;
  kiss.stratum = 0;
  kiss.precision = 0;
  kiss.reference_id = kiss_code;
  kiss.reference_time = proto::NtpTimestamp{0};
  write_reply_header(request, rx_time, kiss, out);
  proto::store_timestamp(out, proto::kOffsetReference, proto::NtpTimestamp{0});
}

}  // namespace ntsd::server
