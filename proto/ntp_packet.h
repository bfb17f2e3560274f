#pragma once
// The 48-byte NTP header (RFC 5905 §7.3): full parse/write, and single-field
// accessors for the hot path that patches a reply in place.

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "proto/byte_order.h"
#include "proto/ntp_time.h"

namespace ntsd::proto {

constexpr size_t kNtpHeaderSize = 48;

// Byte offsets of each header field.
constexpr size_t kOffsetLiVnMode = 0;
constexpr size_t kOffsetStratum = 1;
constexpr size_t kOffsetPoll = 2;
constexpr size_t kOffsetPrecision = 3;
constexpr size_t kOffsetRootDelay = 4;
constexpr size_t kOffsetRootDispersion = 8;
constexpr size_t kOffsetReferenceId = 12;
constexpr size_t kOffsetReference = 16;
constexpr size_t kOffsetOrigin = 24;
constexpr size_t kOffsetReceive = 32;
constexpr size_t kOffsetTransmit = 40;

enum class Leap : uint8_t { kNone = 0, kInsert61 = 1, kDelete59 = 2, kUnsynchronized = 3 };

enum class Mode : uint8_t {
  kReserved = 0,
  kSymmetricActive = 1,
  kSymmetricPassive = 2,
  kClient = 3,
  kServer = 4,
  kBroadcast = 5,
  kControl = 6,
  kPrivate = 7,
};

struct NtpHeader {
  Leap leap;
  uint8_t version;  // 3 bits on the wire; write_header masks it
  Mode mode;
  uint8_t stratum;
  int8_t poll;
  int8_t precision;
  NtpShort root_delay;
  NtpShort root_dispersion;
  uint32_t reference_id;  // the 4 wire bytes read big-endian ("RATE" = 0x52415445)
  NtpTimestamp reference_time, origin_time, receive_time, transmit_time;
};

// Decodes the first 48 bytes; nullopt if shorter. No field is validated (version, mode: caller).
std::optional<NtpHeader> parse_header(std::span<const uint8_t> packet);
// Encodes h into out[0, 48); out.size() must be >= 48.
void write_header(const NtpHeader& h, std::span<uint8_t> out);

// Kiss code / ASCII refid ("RATE", "NTSN", "LOCL") as the big-endian u32 of its 4 characters.
constexpr uint32_t refid_from_ascii(const char (&s)[5]) {
  return (uint32_t{static_cast<uint8_t>(s[0])} << 24) |
         (uint32_t{static_cast<uint8_t>(s[1])} << 16) |
         (uint32_t{static_cast<uint8_t>(s[2])} << 8) | uint32_t{static_cast<uint8_t>(s[3])};
}

// A refid's characters up to the first NUL, as sent (stratum 0/1 refids and
// kiss codes are ASCII); each caller decides what it may print.
std::string refid_chars(uint32_t refid);
// A refid as a dotted quad ("192.0.2.1"): an IPv4 address, or the first four
// bytes of an IPv6 address's hash.
std::string refid_dotted_quad(uint32_t refid);

// First byte of the header from its three bit fields.
constexpr uint8_t li_vn_mode(Leap leap, uint8_t version, Mode mode) {
  return static_cast<uint8_t>(((static_cast<uint8_t>(leap) & 3u) << 6) | ((version & 7u) << 3) |
                              (static_cast<uint8_t>(mode) & 7u));
}
constexpr Leap leap_of(uint8_t li_vn_mode_byte) { return static_cast<Leap>(li_vn_mode_byte >> 6); }
constexpr uint8_t version_of(uint8_t li_vn_mode_byte) { return (li_vn_mode_byte >> 3) & 7u; }
constexpr Mode mode_of(uint8_t li_vn_mode_byte) { return static_cast<Mode>(li_vn_mode_byte & 7u); }

// Single-field access at a fixed offset (kOffset*); the caller guarantees offset + width <= size.
inline NtpTimestamp load_timestamp(std::span<const uint8_t> packet, size_t offset) {
  assert(offset + 8 <= packet.size());
  return NtpTimestamp{load_be64(packet.data() + offset)};
}
inline void store_timestamp(std::span<uint8_t> packet, size_t offset, NtpTimestamp ts) {
  assert(offset + 8 <= packet.size());
  store_be64(packet.data() + offset, ts.raw);
}
inline NtpShort load_short(std::span<const uint8_t> packet, size_t offset) {
  assert(offset + 4 <= packet.size());
  return NtpShort{load_be32(packet.data() + offset)};
}
inline void store_short(std::span<uint8_t> packet, size_t offset, NtpShort s) {
  assert(offset + 4 <= packet.size());
  store_be32(packet.data() + offset, s.raw);
}
inline uint32_t load_u32(std::span<const uint8_t> packet, size_t offset) {
  assert(offset + 4 <= packet.size());
  return load_be32(packet.data() + offset);
}
inline void store_u32(std::span<uint8_t> packet, size_t offset, uint32_t v) {
  assert(offset + 4 <= packet.size());
  store_be32(packet.data() + offset, v);
}

}  // namespace ntsd::proto
