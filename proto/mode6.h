#pragma once
// NTP mode-6 control messages (RFC 9327): the 12-byte header, request
// parsing and reply fragmenting. Pure: bytes in, structs out, no I/O.
//
//   0: LI|VN|Mode=6   1: R|E|M|opcode(5)   2: sequence   4: status
//   6: association id   8: offset   10: count   12: data (count bytes, padded to 4)
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace ntsd::proto {

constexpr size_t kMode6HeaderSize = 12;
// Data octets per fragment (NTPsec's CTL_MAX_DATA_LEN): 480-byte fragments.
constexpr size_t kMode6MaxData = 468;
constexpr size_t kMode6MaxFragment = kMode6HeaderSize + kMode6MaxData;
// Largest request accepted: header, the most data, padding and the longest
// MAC ntpq appends to an authenticated request (key id + SHA-512: 4 + 64).
constexpr size_t kMode6MaxRequest = kMode6HeaderSize + kMode6MaxData + 8 + 68;

constexpr uint8_t kMode6Response = 0x80;
constexpr uint8_t kMode6Error = 0x40;
constexpr uint8_t kMode6More = 0x20;
constexpr uint8_t kMode6OpcodeMask = 0x1f;

enum class Mode6Opcode : uint8_t {
  kReadStatus = 1,  // association ids and status words (assoc 0), or one peer's status
  kReadVariables = 2,
  kWriteVariables = 3,
  kReadClock = 4,
  kWriteClock = 5,
  kSetTrap = 6,
  kAsyncMessage = 7,
  kConfigure = 8,
  kSaveConfig = 9,
  kReadMru = 10,
  kReadOrderedList = 11,
  kRequestNonce = 12,
  kUnsetTrap = 31,
};

// The error code a refused request gets, in the high byte of the status word.
enum class Mode6Error : uint8_t {
  kUnspecified = 0,
  kAuthentication = 1,
  kBadFormat = 2,            // invalid message length or format
  kBadOpcode = 3,            // an opcode this server does not implement
  kUnknownAssociation = 4,
  kUnknownVariable = 5,
  kBadValue = 6,
  kProhibited = 7,           // administratively prohibited: every write
};

// Why a datagram is not a request to answer. Each is a silent drop: none of
// them may get a reply.
enum class Mode6Parse : uint8_t {
  kOk,
  kTooShort,      // under 12 bytes
  kTooLong,       // over kMode6MaxRequest: no ntpq request is that large
  kNotMode6,      // mode field is not 6
  kBadVersion,    // version 0 or > 4
  kResponse,      // R bit set: a reply, never answered (no reply loops between servers)
  kFlags,         // E or M set: requests are never errors or continued
  kOffset,        // nonzero offset: requests are one fragment
  kCount,         // count beyond the datagram or above kMode6MaxData
};

struct Mode6Request {
  uint8_t version = 0;
  uint8_t opcode = 0;  // 5 bits
  uint16_t sequence = 0;
  uint16_t association = 0;
  std::span<const uint8_t> data;  // `count` octets; padding and any MAC excluded
  size_t size = 0;                // the whole datagram, for the amplification bound
};

// True when the first octet says mode 6 (the worker's one-byte test).
constexpr bool is_mode6(uint8_t li_vn_mode) { return (li_vn_mode & 7) == 6; }

// Checks and decodes a request; `out` is set only on kOk.
Mode6Parse parse_mode6_request(std::span<const uint8_t> packet, Mode6Request* out);
const char* mode6_parse_name(Mode6Parse result);

// Octets on the wire for `data_size` data octets in one fragment (padded to 4).
constexpr size_t mode6_fragment_size(size_t data_size) {
  return kMode6HeaderSize + ((data_size + 3) & ~size_t{3});
}
// Octets on the wire for a whole reply body split into 468-octet fragments.
size_t mode6_reply_size(size_t body_size);

// Writes fragment `offset` .. offset+n of `body` (n <= kMode6MaxData) as a
// response to `request` into `out` (>= mode6_fragment_size(n) bytes): R set, M
// set when more follows, zero padding. Returns the octets written.
size_t write_mode6_fragment(const Mode6Request& request, uint8_t leap, uint16_t status,
                            std::span<const uint8_t> body, size_t offset, std::span<uint8_t> out);
// Writes the error response (R and E set, code in the status, no data): 12 octets.
size_t write_mode6_error(const Mode6Request& request, uint8_t leap, Mode6Error code,
                         std::span<uint8_t> out);

}  // namespace ntsd::proto
