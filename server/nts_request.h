#pragma once
// Recognises an NTS-protected request (RFC 8915 §5) among a packet's
// extension fields and checks its shape before any crypto runs; the rules
// that need the session's AEAD (nonce room) or the decrypted fields
// (encrypted placeholders) are checked after the cookie opens.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "crypto/aead.h"
#include "proto/extension_field.h"

namespace ntsd::server {

enum class NtsShape : uint8_t {
  kNotNts,  // no NTS field before the authenticator: a plain request
  kOk,
  kBadUniqueId,          // none, more than one, or shorter than 32 bytes
  kBadCookieCount,       // none or more than one cookie
  kBadAuthenticator,     // missing, or its nonce/ciphertext lengths do not fit its body
  kPlaceholderLength,    // a placeholder whose body length differs from the cookie's
  kTooManyCookiesAsked,  // more than kMaxCookiesPerReply cookies + placeholders
  kEmptyNonce,           // an authenticator with a zero-length nonce
};

// Replies carry one fresh cookie per cookie + placeholder, at most this many.
constexpr size_t kMaxCookiesPerReply = 8;
constexpr size_t kMinUniqueIdLength = 32;

struct NtsRequest {
  std::span<const uint8_t> unique_id;        // UID field body
  std::span<const uint8_t> cookie;           // cookie field body
  size_t cookies_asked = 0;                  // 1 + placeholders in the clear
  std::span<const uint8_t> associated_data;  // the packet up to the authenticator field
  std::span<const uint8_t> nonce;
  std::span<const uint8_t> ciphertext;       // SIV tag ‖ encrypted fields
  size_t nonce_room = 0;                     // padded nonce + Additional Padding (RFC 8915 §5.6)
};

// Classifies `packet` given its parsed extension fields (status kOk). Fields
// after the first authenticator are unauthenticated and ignored (RFC 8915 §5.7).
NtsShape parse_nts_request(std::span<const uint8_t> packet, const proto::ExtensionFieldList& fields,
                           NtsRequest* out);

// proto::parse_extension_fields and parse_nts_request in one pass, without
// building the field list (the request path's form): the same shape and, on
// kOk, the same fields.
struct NtsScan {
  NtsShape shape;
  bool fields_ok;     // the list parses (EfStatus::kOk)
  size_t parsed_end;  // where its valid part ends (ExtensionFieldList::parsed_end)
};
NtsScan scan_nts_request(std::span<const uint8_t> packet, NtsRequest* out);

// RFC 8915 §5.6 N_REQ: min(16, the AEAD's longest nonce) rounded up to 4 —
// 16 for AES-SIV-CMAC, 12 for AES-128-GCM-SIV.
size_t required_nonce_room(crypto::AeadId aead);
// The Additional Padding rule: a padded nonce shorter than N_REQ needs padding making up the rest.
bool nonce_room_ok(const NtsRequest& request, crypto::AeadId aead);

// Cookie Placeholders among the decrypted fields of an authenticator
// (RFC 8915 §5.7: placeholders MAY be encrypted); nullopt if the fields are
// malformed or a placeholder's body length differs from the cookie's.
std::optional<size_t> count_encrypted_placeholders(std::span<const uint8_t> plaintext,
                                                   size_t cookie_length);

const char* nts_shape_name(NtsShape shape);

}  // namespace ntsd::server
