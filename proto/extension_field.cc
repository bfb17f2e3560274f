#include "proto/extension_field.h"

#include <cstring>

#include "proto/byte_order.h"
#include "proto/ntp_packet.h"

namespace ntsd::proto {

const char* ef_status_name(EfStatus status) {
  switch (status) {
    case EfStatus::kOk:
      return "ok";
    case EfStatus::kTruncatedHeader:
      return "truncated_header";
    case EfStatus::kLengthTooSmall:
      return "length_too_small";
    case EfStatus::kLengthNotMultipleOf4:
      return "length_not_multiple_of_4";
    case EfStatus::kOverrun:
      return "overrun";
    case EfStatus::kTooMany:
      return "too_many";
    case EfStatus::kPacketTooShort:
      return "packet_too_short";
  }
  return "unknown";
}

ExtensionFieldList parse_extension_fields(std::span<const uint8_t> packet) {
  ExtensionFieldList list;
  list.count = 0;
  list.status = EfStatus::kOk;
  if (packet.size() < kNtpHeaderSize) {
    list.status = EfStatus::kPacketTooShort;
    list.parsed_end = 0;
    return list;
  }
  size_t offset = kNtpHeaderSize;
  const size_t size = packet.size();
  // Every check compares against the bytes remaining, never offset + length,
  // so no sum can wrap. RFC 7822's 16-byte minimum is not enforced: RFC 8915
  // fields are only required to be whole 4-byte words, and rejecting short
  // unknown fields would gain nothing.
  while (offset < size) {
    const size_t remaining = size - offset;
    if (remaining < kEfHeaderSize) {
      list.status = EfStatus::kTruncatedHeader;
      break;
    }
    const uint16_t type = load_be16(packet.data() + offset);
    const uint16_t length = load_be16(packet.data() + offset + 2);
    if (length < kEfHeaderSize) {
      list.status = EfStatus::kLengthTooSmall;
      break;
    }
    if (length % 4 != 0) {
      list.status = EfStatus::kLengthNotMultipleOf4;
      break;
    }
    if (length > remaining) {
      list.status = EfStatus::kOverrun;
      break;
    }
    // Counted only once the field is known to be well formed, so a packet of
    // exactly kMaxExtensionFields fields followed by garbage reports the garbage.
    if (list.count == kMaxExtensionFields) {
      list.status = EfStatus::kTooMany;
      break;
    }
    list.fields[list.count++] = ExtensionField{
        type, length, offset, packet.subspan(offset + kEfHeaderSize, length - kEfHeaderSize)};
    offset += length;
  }
  list.parsed_end = offset;
  return list;
}

bool looks_like_legacy_mac(std::span<const uint8_t> trailer) {
  // RFC 7822 §7.5 identifies a MAC by its length alone: key id only
  // (crypto-NAK), key id + MD5 (16) or key id + SHA-1 (20).
  const size_t n = trailer.size();
  return n == 4 || n == 20 || n == 24;
}

std::optional<NtsAuthenticator> parse_nts_authenticator(std::span<const uint8_t> body) {
  if (body.size() < 4) return std::nullopt;
  const size_t nonce_len = load_be16(body.data());
  const size_t ciphertext_len = load_be16(body.data() + 2);
  // u16 lengths: the padded sum is at most 2 * 65536, far from wrapping.
  const size_t nonce_padded = pad4(nonce_len);
  const size_t ciphertext_padded = pad4(ciphertext_len);
  // RFC 8915 §5.6 allows additional padding after the ciphertext, so the body
  // may be longer than the two padded parts, never shorter.
  if (4 + nonce_padded + ciphertext_padded > body.size()) return std::nullopt;
  return NtsAuthenticator{body.subspan(4, nonce_len),
                          body.subspan(4 + nonce_padded, ciphertext_len)};
}

size_t write_extension_field_header(std::span<uint8_t> out, uint16_t type, uint16_t length) {
  if (out.size() < kEfHeaderSize) return 0;
  store_be16(out.data(), type);
  store_be16(out.data() + 2, length);
  return kEfHeaderSize;
}

size_t write_extension_field(std::span<uint8_t> out, uint16_t type, std::span<const uint8_t> body) {
  const size_t total = kEfHeaderSize + pad4(body.size());
  if (total > 0xfffc || total > out.size()) return 0;
  // memmove: the body may already be in out (built in place); the header is
  // written last so an overlapping body is moved before being overwritten.
  if (!body.empty()) std::memmove(out.data() + kEfHeaderSize, body.data(), body.size());
  std::memset(out.data() + kEfHeaderSize + body.size(), 0, total - kEfHeaderSize - body.size());
  write_extension_field_header(out, type, static_cast<uint16_t>(total));
  return total;
}

size_t write_nts_authenticator(std::span<uint8_t> out, std::span<const uint8_t> nonce,
                               std::span<const uint8_t> ciphertext) {
  if (nonce.size() > 0xffff || ciphertext.size() > 0xffff) return 0;
  const size_t total = nts_authenticator_field_size(nonce.size(), ciphertext.size());
  if (total > 0xfffc || total > out.size()) return 0;
  uint8_t* p = out.data();
  const size_t nonce_at = kEfHeaderSize + 4;
  const size_t ciphertext_at = nonce_at + pad4(nonce.size());
  if (!ciphertext.empty()) std::memmove(p + ciphertext_at, ciphertext.data(), ciphertext.size());
  if (!nonce.empty()) std::memmove(p + nonce_at, nonce.data(), nonce.size());
  std::memset(p + nonce_at + nonce.size(), 0, pad4(nonce.size()) - nonce.size());
  std::memset(p + ciphertext_at + ciphertext.size(), 0,
              pad4(ciphertext.size()) - ciphertext.size());
  write_extension_field_header(out, kEfNtsAuthenticator, static_cast<uint16_t>(total));
  store_be16(p + kEfHeaderSize, static_cast<uint16_t>(nonce.size()));
  store_be16(p + kEfHeaderSize + 2, static_cast<uint16_t>(ciphertext.size()));
  return total;
}

}  // namespace ntsd::proto
