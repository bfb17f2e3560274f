#pragma once
// NTP extension fields (RFC 7822) and the NTS fields that ride in them
// (RFC 8915 §5): bounded iteration with no allocation, and writers.
//
// Wire format of one field: u16 type ‖ u16 length ‖ body, where length counts
// the 4-byte header and is a multiple of 4. Fields follow the 48-byte header
// back to back.
//
// Legacy MAC (RFC 7822 §7): a packet may end in a MAC after its fields: 4
// bytes (crypto-NAK) or 20/24 bytes (key id + MD5/SHA-1 digest). The parser
// does not guess; it reads every byte after the header as fields and stops at
// the first one that does not fit. A caller that accepts MACs checks:
//   list.status == EfStatus::kOk                 -> no MAC, fields cover the packet;
//   looks_like_legacy_mac(packet.subspan(list.parsed_end))
//                                                -> fields [0, count) + a MAC trailer;
//   otherwise                                    -> malformed, drop.
// (A MAC whose key id happens to parse as a field header is seen as a field;
// NTS packets end in an authenticator, so an NTS server never needs the MAC.)

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace ntsd::proto {

constexpr uint16_t kEfUniqueIdentifier = 0x0104;
constexpr uint16_t kEfNtsCookie = 0x0204;
constexpr uint16_t kEfNtsCookiePlaceholder = 0x0304;
constexpr uint16_t kEfNtsAuthenticator = 0x0404;

constexpr size_t kEfHeaderSize = 4;
constexpr size_t kMaxExtensionFields = 32;

enum class EfStatus : uint8_t {
  kOk,
  kTruncatedHeader,       // 1-3 bytes left: not even a field header
  kLengthTooSmall,        // length < 4
  kLengthNotMultipleOf4,  // length % 4 != 0
  kOverrun,               // length runs past the end of the packet
  kTooMany,               // a valid field beyond kMaxExtensionFields
  kPacketTooShort,        // packet shorter than the 48-byte NTP header
};

// Stable lower-case name for counters and logs ("ok", "overrun", ...).
const char* ef_status_name(EfStatus status);

struct ExtensionField {
  uint16_t type;
  uint16_t length;                // including the 4-byte header
  size_t offset;                  // of the field header, from the packet start
  std::span<const uint8_t> body;  // length - 4 bytes, padding included
};

struct ExtensionFieldList {
  std::array<ExtensionField, kMaxExtensionFields> fields;
  size_t count;       // valid entries in fields
  EfStatus status;    // kOk, or why parsing stopped
  size_t parsed_end;  // end of the last valid field (48 if none); == packet size when kOk
};

// Parses every field after the 48-byte header; stops at the first malformed one.
ExtensionFieldList parse_extension_fields(std::span<const uint8_t> packet);

// True if trailer has the shape of a legacy MAC: 4 (crypto-NAK), 20 or 24 bytes.
bool looks_like_legacy_mac(std::span<const uint8_t> trailer);

// The NTS Authenticator and Encrypted EFs body, as views into it.
struct NtsAuthenticator {
  std::span<const uint8_t> nonce, ciphertext;  // unpadded
};

// u16 nonce len ‖ u16 ciphertext len ‖ nonce ‖ pad4 ‖ ciphertext ‖ pad4 [‖ extra padding].
std::optional<NtsAuthenticator> parse_nts_authenticator(std::span<const uint8_t> body);

// n rounded up to a multiple of 4.
constexpr size_t pad4(size_t n) { return (n + 3) & ~size_t{3}; }

// Writes a field header + body + zero padding to a multiple of 4; returns bytes written, 0 if it
// does not fit in out or in a u16 length. body may overlap out.
size_t write_extension_field(std::span<uint8_t> out, uint16_t type, std::span<const uint8_t> body);
// Writes only the 4-byte field header; returns 4, or 0 if out is too small.
size_t write_extension_field_header(std::span<uint8_t> out, uint16_t type, uint16_t length);
// Wire size of an authenticator field with these nonce and ciphertext lengths.
constexpr size_t nts_authenticator_field_size(size_t nonce_len, size_t ciphertext_len) {
  return kEfHeaderSize + 4 + pad4(nonce_len) + pad4(ciphertext_len);
}
// Writes a whole authenticator field; returns bytes written, 0 if it does not fit. nonce and
// ciphertext may already sit at their final place in out (e.g. encrypted in place).
size_t write_nts_authenticator(std::span<uint8_t> out, std::span<const uint8_t> nonce,
                               std::span<const uint8_t> ciphertext);

}  // namespace ntsd::proto
