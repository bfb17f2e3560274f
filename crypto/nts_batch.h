// Batched per-request crypto for the server's hot path: after
// open_cookies_batched() (cookie.h), verify each request's authenticator under
// its C2S key, then seal each reply under its S2C key. Caller-provided spans,
// no allocation, no exceptions; AEAD 15 requests are interleaved with AES-NI /
// VAES, other AEADs take the per-request path.
#pragma once

#include <cstdint>
#include <span>

#include "crypto/aead.h"
#include "crypto/cookie.h"

namespace ntsd::crypto {

// A request's NTS Authenticator and Encrypted Extension Fields.
struct AuthToVerify {
  Bytes ad;                // the packet up to the authenticator field
  Bytes nonce;             // the authenticator's nonce
  Bytes sealed;            // its ciphertext (tag and encrypted fields)
  uint8_t* plaintext_out;  // sealed.size() - 16 bytes for the decrypted fields (may be null if 0)
};

// A reply to seal: the encrypted part is typically the fresh cookies' extension fields.
struct ReplyToSeal {
  Bytes ad;         // the reply packet up to the authenticator field
  Bytes nonce;      // a fresh nonce: 16 bytes for SIV, 12 for GCM-SIV
  Bytes plaintext;  // the extension fields to encrypt
  uint8_t* out;     // plaintext.size() + 16 bytes
};

// ok[i] = request i's authenticator is valid under keys[i].c2s (plaintext written on success).
void verify_authenticators_batched(std::span<const AuthToVerify> requests,
                                   std::span<const SessionKeys> keys, std::span<bool> ok);
// Seals reply i under keys[i].s2c; ok[i] = sealed.
void seal_replies_batched(std::span<const ReplyToSeal> replies, std::span<const SessionKeys> keys,
                          std::span<bool> ok);

}  // namespace ntsd::crypto
