#include "server/nts_request.h"

namespace ntsd::server {

NtsShape parse_nts_request(std::span<const uint8_t> packet, const proto::ExtensionFieldList& fields,
                           NtsRequest* out) {
  size_t unique_ids = 0, cookies = 0, placeholders = 0, authenticators = 0;
  const proto::ExtensionField* unique_id = nullptr;
  const proto::ExtensionField* cookie = nullptr;
  const proto::ExtensionField* authenticator = nullptr;
  for (size_t i = 0; i < fields.count; ++i) {
    const proto::ExtensionField& field = fields.fields[i];
    switch (field.type) {
      case proto::kEfUniqueIdentifier: ++unique_ids; unique_id = &field; break;
      case proto::kEfNtsCookie: ++cookies; cookie = &field; break;
      case proto::kEfNtsCookiePlaceholder: ++placeholders; break;
      case proto::kEfNtsAuthenticator:
        ++authenticators;
        authenticator = &field;
        break;
      default: break;
    }
  }
  if (unique_ids + cookies + placeholders + authenticators == 0) return NtsShape::kNotNts;
  if (unique_ids != 1 || unique_id->body.size() < kMinUniqueIdLength) return NtsShape::kBadUniqueId;
  if (cookies != 1) return NtsShape::kBadCookieCount;
  // The authenticator must be the last field: anything after it would be
  // unauthenticated (RFC 8915 §5.6), and no NTS client sends that.
  if (authenticators != 1 || authenticator != &fields.fields[fields.count - 1]) {
    return NtsShape::kBadAuthenticator;
  }
  const auto parsed = proto::parse_nts_authenticator(authenticator->body);
  if (!parsed || parsed->nonce.empty() || parsed->ciphertext.size() < 16) {
    return NtsShape::kBadAuthenticator;
  }
  for (size_t i = 0; i < fields.count; ++i) {
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
  return NtsShape::kOk;
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
  }
  return "unknown";
}

}  // namespace ntsd::server
