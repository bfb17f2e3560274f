#include "server/nts_request.h"

#include <algorithm>

#include "proto/byte_order.h"

namespace ntsd::server {

// RFC 8915 §5.7 on what an NTS request carries and RFC 7822 on fields:
//  - exactly one Unique Identifier (>= 32 bytes, §5.3), exactly one NTS
//    Cookie, exactly one authenticator; a duplicate is a malformed request;
//  - Cookie Placeholders the same length as the cookie (§5.5), so the reply
//    (one cookie per cookie + placeholder) is never larger than the request;
//  - unknown field types are ignored (RFC 7822 §3), authenticated if before
//    the authenticator;
//  - fields after the authenticator are neither encrypted nor authenticated:
//    "The server MUST discard any unauthenticated extension fields and process
//    the packet as though they were not present", so they are skipped here
//    (chrony drops such packets instead; ntsd follows the RFC). A second
//    authenticator is one of them.
NtsShape parse_nts_request(std::span<const uint8_t> packet, const proto::ExtensionFieldList& fields,
                           NtsRequest* out) {
  size_t unique_ids = 0, cookies = 0, placeholders = 0;
  const proto::ExtensionField* unique_id = nullptr;
  const proto::ExtensionField* cookie = nullptr;
  const proto::ExtensionField* authenticator = nullptr;
  size_t authenticated = 0;  // fields before the authenticator
  for (; authenticated < fields.count; ++authenticated) {
    const proto::ExtensionField& field = fields.fields[authenticated];
    if (field.type == proto::kEfNtsAuthenticator) {
      authenticator = &field;
      break;
    }
    switch (field.type) {
      case proto::kEfUniqueIdentifier: ++unique_ids; unique_id = &field; break;
      case proto::kEfNtsCookie: ++cookies; cookie = &field; break;
      case proto::kEfNtsCookiePlaceholder:
        ++placeholders;
        break;
      default: break;
    }
  }
  if (unique_ids + cookies + placeholders == 0 && authenticator == nullptr)
    return NtsShape::kNotNts;
  if (unique_ids != 1 || unique_id->body.size() < kMinUniqueIdLength) return NtsShape::kBadUniqueId;
  if (cookies != 1) return NtsShape::kBadCookieCount;
  if (authenticator == nullptr) return NtsShape::kBadAuthenticator;
  const auto parsed = proto::parse_nts_authenticator(authenticator->body);
  if (!parsed || parsed->ciphertext.size() < crypto::kAeadTagLength) {
    return NtsShape::kBadAuthenticator;
  }
  if (parsed->nonce.empty()) return NtsShape::kEmptyNonce;
  for (size_t i = 0; i < authenticated; ++i) {
    const proto::ExtensionField& field = fields.fields[i];
    if (field.type == proto::kEfNtsCookiePlaceholder && field.body.size() != cookie->body.size()) {
      return NtsShape::kPlaceholderLength;
    }
  }
  if (1 + placeholders > kMaxCookiesPerReply) return NtsShape::kTooManyCookiesAsked;
  out->unique_id = unique_id->body;
  out->cookie = cookie->body;
  out->cookies_asked = 1 + placeholders;
  out->associated_data = packet.first(authenticator->offset);
  out->nonce = parsed->nonce;
  out->ciphertext = parsed->ciphertext;
  // Body = lengths (4) ‖ nonce ‖ pad ‖ ciphertext ‖ pad ‖ Additional Padding.
  out->nonce_room = authenticator->body.size() - 4 - proto::pad4(parsed->ciphertext.size());
  return NtsShape::kOk;
}

size_t required_nonce_room(crypto::AeadId aead) {
  // N_MAX: unbounded for AES-SIV-CMAC (RFC 5297 §6), 12 for AES-128-GCM-SIV (RFC 8452 §4).
  const size_t n_max = aead == crypto::AeadId::kAes128GcmSiv ? 12 : SIZE_MAX;
  return proto::pad4(std::min<size_t>(16, n_max));
}

// "If N_LEN is greater than or equal to N_REQ, then no Additional Padding
// field is required. Otherwise, the Additional Padding field SHALL be at least
// N_REQ - N_LEN octets in length. Servers MUST enforce this requirement by
// discarding any packet that does not conform to it." (RFC 8915 §5.6). It is
// what lets the server answer with its own full-length nonce and still never
// send more bytes than it received.
bool nonce_room_ok(const NtsRequest& request, crypto::AeadId aead) {
  return request.nonce_room >= required_nonce_room(aead);
}

std::optional<size_t> count_encrypted_placeholders(std::span<const uint8_t> plaintext,
                                                   size_t cookie_length) {
  size_t count = 0;
  size_t at = 0;
  // Encrypted fields may be shorter than RFC 7822's 16 bytes but are whole
  // 4-byte words (RFC 8915 §5.6).
  while (at < plaintext.size()) {
    if (plaintext.size() - at < proto::kEfHeaderSize) return std::nullopt;
    const uint16_t type = proto::load_be16(plaintext.data() + at);
    const uint16_t length = proto::load_be16(plaintext.data() + at + 2);
    if (length < proto::kEfHeaderSize || length % 4 != 0 || length > plaintext.size() - at) {
      return std::nullopt;
    }
    if (type == proto::kEfNtsCookiePlaceholder) {
      if (length - proto::kEfHeaderSize != cookie_length) return std::nullopt;
      ++count;
    }
    at += length;
  }
  return count;
}

const char* nts_shape_name(NtsShape shape) {
  switch (shape) {
    case NtsShape::kNotNts: return "not_nts";
    case NtsShape::kOk: return "ok";
    case NtsShape::kBadUniqueId: return "bad_unique_id";
    case NtsShape::kBadCookieCount: return "bad_cookie_count";
    case NtsShape::kBadAuthenticator: return "bad_authenticator_field";
    case NtsShape::kPlaceholderLength: return "placeholder_length";
    case NtsShape::kTooManyCookiesAsked: return "too_many_cookies_asked";
    case NtsShape::kEmptyNonce:
      return "empty_nonce";
  }
  return "unknown";
}

}  // namespace ntsd::server
