#include "proto/ntp_packet.h"

#include <cstdio>

namespace ntsd::proto {

std::optional<NtpHeader> parse_header(std::span<const uint8_t> packet) {
  if (packet.size() < kNtpHeaderSize) return std::nullopt;
  const uint8_t* p = packet.data();
  NtpHeader h;
  h.leap = leap_of(p[kOffsetLiVnMode]);
  h.version = version_of(p[kOffsetLiVnMode]);
  h.mode = mode_of(p[kOffsetLiVnMode]);
  h.stratum = p[kOffsetStratum];
  h.poll = static_cast<int8_t>(p[kOffsetPoll]);
  h.precision = static_cast<int8_t>(p[kOffsetPrecision]);
  h.root_delay = NtpShort{load_be32(p + kOffsetRootDelay)};
  h.root_dispersion = NtpShort{load_be32(p + kOffsetRootDispersion)};
  h.reference_id = load_be32(p + kOffsetReferenceId);
  h.reference_time = NtpTimestamp{load_be64(p + kOffsetReference)};
  h.origin_time = NtpTimestamp{load_be64(p + kOffsetOrigin)};
  h.receive_time = NtpTimestamp{load_be64(p + kOffsetReceive)};
  h.transmit_time = NtpTimestamp{load_be64(p + kOffsetTransmit)};
  return h;
}

void write_header(const NtpHeader& h, std::span<uint8_t> out) {
  assert(out.size() >= kNtpHeaderSize);
  uint8_t* p = out.data();
  p[kOffsetLiVnMode] = li_vn_mode(h.leap, h.version, h.mode);
  p[kOffsetStratum] = h.stratum;
  p[kOffsetPoll] = static_cast<uint8_t>(h.poll);
  p[kOffsetPrecision] = static_cast<uint8_t>(h.precision);
  store_be32(p + kOffsetRootDelay, h.root_delay.raw);
  store_be32(p + kOffsetRootDispersion, h.root_dispersion.raw);
  store_be32(p + kOffsetReferenceId, h.reference_id);
  store_be64(p + kOffsetReference, h.reference_time.raw);
  store_be64(p + kOffsetOrigin, h.origin_time.raw);
  store_be64(p + kOffsetReceive, h.receive_time.raw);
  store_be64(p + kOffsetTransmit, h.transmit_time.raw);
}

std::string refid_chars(uint32_t refid) {
  std::string text;
  for (int shift = 24; shift >= 0; shift -= 8) {
    const char c = static_cast<char>((refid >> shift) & 0xff);
    if (c == 0) break;
    text += c;
  }
  return text;
}

std::string refid_dotted_quad(uint32_t refid) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", refid >> 24, (refid >> 16) & 0xff, (refid >> 8) & 0xff,
                refid & 0xff);
  return buf;
}

}  // namespace ntsd::proto
