#include "proto/mode6.h"

#include <algorithm>
#include <cstring>

#include "proto/byte_order.h"

namespace ntsd::proto {
namespace {

void write_header(const Mode6Request& request, uint8_t leap, uint8_t flags, uint16_t status,
                  uint16_t offset, uint16_t count, uint8_t* out) {
  // The reply carries the request's version back (ntpq drops replies whose
  // version it does not speak) and the server's leap bits, as NTPsec does.
  out[0] = static_cast<uint8_t>((leap & 3) << 6 | (request.version & 7) << 3 | 6);
  out[1] = static_cast<uint8_t>(kMode6Response | flags | (request.opcode & kMode6OpcodeMask));
  store_be16(out + 2, request.sequence);
  store_be16(out + 4, status);
  store_be16(out + 6, request.association);
  store_be16(out + 8, offset);
  store_be16(out + 10, count);
}

}  // namespace

Mode6Parse parse_mode6_request(std::span<const uint8_t> packet, Mode6Request* out) {
  if (packet.size() < kMode6HeaderSize) return Mode6Parse::kTooShort;
  if (packet.size() > kMode6MaxRequest) return Mode6Parse::kTooLong;
  const uint8_t* p = packet.data();
  if (!is_mode6(p[0])) return Mode6Parse::kNotMode6;
  const uint8_t version = (p[0] >> 3) & 7;
  if (version < 1 || version > 4) return Mode6Parse::kBadVersion;
  if ((p[1] & kMode6Response) != 0) return Mode6Parse::kResponse;
  if ((p[1] & (kMode6Error | kMode6More)) != 0) return Mode6Parse::kFlags;
  if (load_be16(p + 8) != 0) return Mode6Parse::kOffset;
  const uint16_t count = load_be16(p + 10);
  if (count > kMode6MaxData || kMode6HeaderSize + count > packet.size()) return Mode6Parse::kCount;
  out->version = version;
  out->opcode = p[1] & kMode6OpcodeMask;
  out->sequence = load_be16(p + 2);
  out->association = load_be16(p + 6);
  out->data = packet.subspan(kMode6HeaderSize, count);
  out->size = packet.size();
  return Mode6Parse::kOk;
}

const char* mode6_parse_name(Mode6Parse result) {
  switch (result) {
    case Mode6Parse::kOk: return "ok";
    case Mode6Parse::kTooShort: return "too_short";
    case Mode6Parse::kTooLong: return "too_long";
    case Mode6Parse::kNotMode6: return "not_mode6";
    case Mode6Parse::kBadVersion: return "bad_version";
    case Mode6Parse::kResponse: return "response";
    case Mode6Parse::kFlags: return "flags";
    case Mode6Parse::kOffset: return "offset";
    case Mode6Parse::kCount: return "count";
  }
  return "unknown";
}

size_t mode6_reply_size(size_t body_size) {
  if (body_size == 0) return kMode6HeaderSize;
  const size_t full = body_size / kMode6MaxData;
  const size_t rest = body_size % kMode6MaxData;
  return full * kMode6MaxFragment + (rest != 0 ? mode6_fragment_size(rest) : 0);
}

size_t write_mode6_fragment(const Mode6Request& request, uint8_t leap, uint16_t status,
                            std::span<const uint8_t> body, size_t offset, std::span<uint8_t> out) {
  const size_t n = std::min(kMode6MaxData, body.size() - std::min(offset, body.size()));
  const size_t size = mode6_fragment_size(n);
  if (out.size() < size) return 0;
  const bool more = offset + n < body.size();
  write_header(request, leap, more ? kMode6More : 0, status, static_cast<uint16_t>(offset),
               static_cast<uint16_t>(n), out.data());
  if (n != 0) std::memcpy(out.data() + kMode6HeaderSize, body.data() + offset, n);
  // ntpq rejects fragments whose length is not a multiple of 4.
  std::memset(out.data() + kMode6HeaderSize + n, 0, size - kMode6HeaderSize - n);
  return size;
}

size_t write_mode6_error(const Mode6Request& request, uint8_t leap, Mode6Error code,
                         std::span<uint8_t> out) {
  if (out.size() < kMode6HeaderSize) return 0;
  write_header(request, leap, kMode6Error, static_cast<uint16_t>(static_cast<uint16_t>(code) << 8), 0, 0,
               out.data());
  return kMode6HeaderSize;
}

}  // namespace ntsd::proto
