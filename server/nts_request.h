#pragma once
// Recognises an NTS-protected request (RFC 8915 §5) among a packet's
// extension fields and checks its shape before any crypto runs.
#include <cstddef>
#include <cstdint>
#include <span>

#include "proto/extension_field.h"

namespace ntsd::server {

enum class NtsShape : uint8_t {
  kNotNts,              // no NTS field at all: a plain request
  kOk,
  kBadUniqueId,         // none, more than one, or shorter than 32 bytes
  kBadCookieCount,      // none or more than one cookie
  kBadAuthenticator,    // missing, not last, or malformed
  kPlaceholderLength,   // a placeholder whose body length differs from the cookie's
  kTooManyCookiesAsked, // more than kMaxCookiesPerReply cookies + placeholders
};

// Replies carry one fresh cookie per cookie + placeholder, at most this many.
constexpr size_t kMaxCookiesPerReply = 8;
constexpr size_t kMinUniqueIdLength = 32;

struct NtsRequest {
  std::span<const uint8_t> unique_id;        // UID field body
  std::span<const uint8_t> cookie;           // cookie field body
  size_t cookies_asked = 0;                  // 1 + placeholders
  std::span<const uint8_t> associated_data;  // the packet up to the authenticator field
  std::span<const uint8_t> nonce;
  std::span<const uint8_t> ciphertext;       // SIV tag ‖ encrypted fields
};

// Classifies `packet` given its parsed extension fields (status kOk).
NtsShape parse_nts_request(std::span<const uint8_t> packet, const proto::ExtensionFieldList& fields,
                           NtsRequest* out);

const char* nts_shape_name(NtsShape shape);

}  // namespace ntsd::server
