// Private to crypto/ (the fast NtsCrypto): straight-line VAES kernels for the
// dominant cookie shape, AEAD 15 (104-byte cookie, 68-byte plaintext), up to
// 16 at a time. Only the YMM-lane fast NtsCrypto calls them (VAES present).
#pragma once

#include <cstddef>
#include <cstdint>

#include "crypto/siv_key.h"

namespace ntsd::crypto::cookie_fast {

inline constexpr size_t kCookie = 104;
inline constexpr size_t kPlain = 68;

// Both kernels need the master keys' key id prefix cached (siv_cache_id_prefix, kSivKeyIdPrefix).
// Opens n <= 16 cookies; keys[i] is cookie i's master key; writes pt[i] and ok[i].
void open104(const uint8_t* const* cookies, const SivKey* const* keys, size_t n,
             uint8_t (*pt)[kPlain], bool* ok);
// Seals n <= 16 cookies under one key: out[i] gets key id (already there) ‖ nonce (already there) ‖
// V ‖ C.
void seal104(const SivKey& key, const uint8_t (*pt)[kPlain], uint8_t* const* out, size_t n);

}  // namespace ntsd::crypto::cookie_fast
