#include "server/respond.h"

#include <algorithm>

#include "proto/extension_field.h"
#include "proto/ntp_packet.h"

namespace ntsd::server {
namespace {

using proto::kNtpHeaderSize;

// Checks what follows the 48-byte header. A v4 packet may carry extension
// fields (RFC 7822) and, after them, a legacy MAC; v3 packets only a MAC.
// Returns the reason to drop, or kCount when the packet is acceptable.
DropReason check_trailer(std::span<const uint8_t> request, uint8_t version) {
  if (request.size() == kNtpHeaderSize) return DropReason::kCount;
  const auto trailer = request.subspan(kNtpHeaderSize);
  if (version == 4) {
    const proto::ExtensionFieldList fields = proto::parse_extension_fields(request);
    const auto tail = request.subspan(std::min(fields.parsed_end, request.size()));
    if (fields.status == proto::EfStatus::kOk || proto::looks_like_legacy_mac(tail)) {
      bool has_uid = false;
      bool has_cookie = false;
      for (size_t i = 0; i < fields.count; ++i) {
        has_uid |= fields.fields[i].type == proto::kEfUniqueIdentifier;
        has_cookie |= fields.fields[i].type == proto::kEfNtsCookie;
      }
      // An NTS client must never get an unauthenticated answer: chrony and
      // NTPsec servers without usable keys drop such requests too.
      if (has_uid && has_cookie) return DropReason::kNtsNotAvailable;
      return DropReason::kCount;
    }
    return DropReason::kMalformedExtensions;
  }
  return proto::looks_like_legacy_mac(trailer) ? DropReason::kCount
                                                : DropReason::kMalformedExtensions;
}

}  // namespace

Verdict respond(std::span<const uint8_t> request, proto::NtpTimestamp rx_time,
                const ServerState& state, std::span<uint8_t> out) {
  if (request.size() < kNtpHeaderSize) return Verdict::drop(DropReason::kTooShort);
  const uint8_t version = (request[0] >> 3) & 7;
  const auto mode = static_cast<proto::Mode>(request[0] & 7);
  if (version < 1 || version > 4) return Verdict::drop(DropReason::kBadVersion);
  if (mode != proto::Mode::kClient) return Verdict::drop(DropReason::kNotClientMode);
  if (const DropReason why = check_trailer(request, version); why != DropReason::kCount) {
    return Verdict::drop(why);
  }
  const auto request_header = proto::parse_header(request);
  if (request_header->transmit_time.raw == 0) return Verdict::drop(DropReason::kZeroTransmit);
  if (out.size() < kNtpHeaderSize) return Verdict::drop(DropReason::kTooShort);

  proto::NtpHeader reply;
  reply.leap = state.leap;
  reply.version = version;
  reply.mode = proto::Mode::kServer;
  reply.stratum = state.stratum;
  reply.poll = request_header->poll;
  reply.precision = state.precision;
  reply.root_delay = state.root_delay;
  reply.root_dispersion = state.root_dispersion;
  reply.reference_id = state.reference_id;
  // A local reference has no last-update time; report the start of the
  // current second, which clients accept as "recently updated".
  reply.reference_time = state.reference_time.raw != 0
                             ? state.reference_time
                             : proto::NtpTimestamp{rx_time.raw & ~uint64_t{0xffffffff}};
  reply.origin_time = request_header->transmit_time;
  reply.receive_time = rx_time;
  reply.transmit_time = rx_time;
  proto::write_header(reply, out);
  return Verdict::reply(kNtpHeaderSize);
}

void stamp_transmit(std::span<uint8_t> reply, proto::NtpTimestamp tx_time) {
  proto::store_timestamp(reply, proto::kOffsetTransmit, tx_time);
}

}  // namespace ntsd::server
