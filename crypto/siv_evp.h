// AES-SIV (RFC 5297) over OpenSSL 3 EVP: the reference the fast paths are tested against.
#pragma once

#include <span>

#include "crypto/aead.h"

namespace ntsd::crypto {

// Seals with AES-SIV-CMAC-256/384/512 (key 32/48/64 bytes): out = V ‖ C. False on bad input.
bool evp_siv_seal(AeadId id, Bytes key, std::span<const Bytes> ad, Bytes nonce, Bytes plaintext,
                  MutableBytes out);
// Opens V ‖ C into plaintext_out; false if the tag does not verify or input is malformed.
bool evp_siv_open(AeadId id, Bytes key, std::span<const Bytes> ad, Bytes nonce, Bytes sealed,
                  MutableBytes plaintext_out);

}  // namespace ntsd::crypto
