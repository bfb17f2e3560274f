#include "server/nts_request.h"

#include <algorithm>

#include "proto/byte_order.h"
#include "proto/ntp_packet.h"

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

// The same walk as proto::parse_extension_fields (the same bounds checks, in
// the same order, and at most kMaxExtensionFields fields), noting only what
// parse_nts_request reads: the request path parses every packet, and the list
// (32 fields with their spans, built and zeroed per packet) cost more than the
// checks. nts_request_fuzz holds the two to the same answers.
NtsScan scan_nts_request(std::span<const uint8_t> packet, NtsRequest* out) {
  using proto::kEfHeaderSize;
  if (packet.size() < proto::kNtpHeaderSize) return {NtsShape::kNotNts, false, 0};
  const uint8_t* data = packet.data();
  const size_t size = packet.size();
  size_t offset = proto::kNtpHeaderSize;
  size_t count = 0;
  size_t unique_ids = 0, cookies = 0, placeholders = 0;
  size_t uid_at = 0, uid_length = 0, cookie_at = 0, cookie_length = 0;
  size_t auth_at = 0, auth_length = 0;  // the first authenticator's field offset and body length
  bool authenticator = false;
  size_t placeholder_min = SIZE_MAX, placeholder_max = 0;
  bool fields_ok = true;
  while (offset < size) {
    const size_t remaining = size - offset;
    if (remaining < kEfHeaderSize) {
      fields_ok = false;
      break;
    }
    const uint16_t type = proto::load_be16(data + offset);
    const uint16_t length = proto::load_be16(data + offset + 2);
    if (length < kEfHeaderSize || length % 4 != 0 || length > remaining ||
        count == proto::kMaxExtensionFields) {
      fields_ok = false;
      break;
    }
    ++count;
    if (!authenticator) {
      const size_t body = length - kEfHeaderSize;
      switch (type) {
        case proto::kEfUniqueIdentifier:
          ++unique_ids;
          uid_at = offset + kEfHeaderSize;
          uid_length = body;
          break;
        case proto::kEfNtsCookie:
          ++cookies;
          cookie_at = offset + kEfHeaderSize;
          cookie_length = body;
          break;
        case proto::kEfNtsCookiePlaceholder:
          ++placeholders;
          placeholder_min = std::min(placeholder_min, body);
          placeholder_max = std::max(placeholder_max, body);
          break;
        case proto::kEfNtsAuthenticator:
          authenticator = true;
          auth_at = offset;
          auth_length = body;
          break;
        default: break;
      }
    }
    offset += length;
  }
  NtsScan scan{NtsShape::kNotNts, fields_ok, offset};
  // parse_nts_request's checks, in its order.
  if (unique_ids + cookies + placeholders == 0 && !authenticator) return scan;
  if (unique_ids != 1 || uid_length < kMinUniqueIdLength) {
    scan.shape = NtsShape::kBadUniqueId;
  } else if (cookies != 1) {
    scan.shape = NtsShape::kBadCookieCount;
  } else if (!authenticator) {
    scan.shape = NtsShape::kBadAuthenticator;
  } else {
    const std::span<const uint8_t> auth_body = packet.subspan(auth_at + kEfHeaderSize, auth_length);
    const auto parsed = proto::parse_nts_authenticator(auth_body);
    if (!parsed || parsed->ciphertext.size() < crypto::kAeadTagLength) {
      scan.shape = NtsShape::kBadAuthenticator;
    } else if (parsed->nonce.empty()) {
      scan.shape = NtsShape::kEmptyNonce;
    } else if (placeholders > 0 &&
               (placeholder_min != cookie_length || placeholder_max != cookie_length)) {
      scan.shape = NtsShape::kPlaceholderLength;
    } else if (1 + placeholders > kMaxCookiesPerReply) {
      scan.shape = NtsShape::kTooManyCookiesAsked;
    } else {
      scan.shape = NtsShape::kOk;
      out->unique_id = packet.subspan(uid_at, uid_length);
      out->cookie = packet.subspan(cookie_at, cookie_length);
      out->cookies_asked = 1 + placeholders;
      out->associated_data = packet.first(auth_at);
      out->nonce = parsed->nonce;
      out->ciphertext = parsed->ciphertext;
      out->nonce_room = auth_length - 4 - proto::pad4(parsed->ciphertext.size());
    }
  }
  return scan;
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
