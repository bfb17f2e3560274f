#include "server/respond.h"

#include "proto/ntp_packet.h"

namespace ntsd::server {

Verdict respond(std::span<const uint8_t> request, proto::NtpTimestamp rx_time,
                const ServerState& state, std::span<uint8_t> out, const NtsPolicy& nts,
                proto::NtpTimestamp tx_time) {
  // One responder per thread: its scratch space is allocated once.
  thread_local BatchResponder responder(crypto::auto_nts_crypto());
  const Request in{request, rx_time};
  Reply reply{out.first(std::min(out.size(), request.size())), {}};
  responder.prepare(std::span(&in, 1), state, nts, std::span(&reply, 1));
  responder.finish(tx_time.raw != 0 ? tx_time : rx_time, std::span(&reply, 1));
  return reply.verdict;
}

void stamp_transmit(std::span<uint8_t> reply, proto::NtpTimestamp tx_time) {
  proto::store_timestamp(reply, proto::kOffsetTransmit, tx_time);
}

}  // namespace ntsd::server
