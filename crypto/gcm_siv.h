// AES-128-GCM-SIV (RFC 8452, NTS AEAD 30) with AES-NI + PCLMULQDQ (POLYVAL).
// OpenSSL 3.0 lacks it. Callers check cpu_features().aesni first.
#pragma once

#include <cstdint>

#include "crypto/aead.h"

namespace ntsd::crypto {

// An expanded 16-byte key-generating key.
struct alignas(16) GcmSivKey {
  uint8_t rk[11][16];
};

// Expands a 16-byte key; false if the length is wrong.
bool gcm_siv_expand_key(Bytes key, GcmSivKey& out);
// Seals: out = ciphertext ‖ tag (plaintext.size() + 16 bytes); nonce must be 12 bytes.
bool gcm_siv_seal(const GcmSivKey& key, Bytes ad, Bytes nonce, Bytes plaintext, MutableBytes out);
// Opens ciphertext ‖ tag; false (plaintext_out zeroed) if not authentic.
bool gcm_siv_open(const GcmSivKey& key, Bytes ad, Bytes nonce, Bytes sealed,
                  MutableBytes plaintext_out);

}  // namespace ntsd::crypto
