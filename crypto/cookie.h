// NTS cookies (RFC 8915 §6): key id (4) ‖ nonce (16) ‖ AES-SIV-CMAC-256 under
// the master key, with S2V components (key id, nonce, plaintext) and
// plaintext = AEAD id (u16) ‖ C2S key ‖ S2C key ‖ zero padding to a cookie
// length that is a multiple of 4. Sizes: AEAD 15 → 104, 16 → 136, 17 → 168,
// 30 → 72 bytes. Decoding never throws and never logs; it returns a status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "crypto/aead.h"
#include "crypto/key_snapshot.h"

namespace ntsd::crypto {

inline constexpr size_t kCookieKeyIdLength = 4;
inline constexpr size_t kCookieNonceLength = 16;
inline constexpr size_t kMaxCookieLength = 168;
inline constexpr size_t kMaxSessionKeyLength = 64;

// Why a cookie did or did not open (one counter each).
enum class CookieStatus : uint8_t {
  kOk,               // authentic; the session keys are filled in
  kUnknownKey,       // key id not in the ring and not behind it: a future epoch or another deployment
  kExpiredKey,       // key id older than the retention window
  kBadLength,        // not one of the four cookie lengths; no crypto done
  kTampered,         // authentication failed: forged, corrupted, or a ring with another seed
  kUnsupportedAead,  // authentic, but an AEAD id this build does not know
};

// The session keys a cookie carries (exported from TLS at NTS-KE).
struct SessionKeys {
  AeadId aead = AeadId::kAesSivCmac256;
  uint8_t key_length = 0;  // bytes in each of c2s and s2c
  int32_t key_age = 0;  // epochs between the sealing master key and the current one (set by open)
  uint8_t c2s[kMaxSessionKeyLength] = {};
  uint8_t s2c[kMaxSessionKeyLength] = {};
  Bytes c2s_key() const { return {c2s, key_length}; }
  Bytes s2c_key() const { return {s2c, key_length}; }
};

// Session keys for an AEAD from two exported keys; false if lengths do not fit the AEAD.
bool make_session_keys(AeadId aead, Bytes c2s, Bytes s2c, SessionKeys& out);
// Zeroes session keys (explicit_bzero: batch scratch, once a batch is done with them).
void wipe_session_keys(std::span<SessionKeys> sessions);
// Cookie length for a session AEAD (a multiple of 4).
size_t cookie_length(AeadId aead);
// Seals a cookie with `key` and a caller-chosen 16-byte nonce; returns its length, 0 if out is too
// small or the key is not valid (fail closed). One cookie through auto_nts_crypto() (nts_crypto.h).
size_t seal_cookie(const MasterKey& key, const SessionKeys& session, Bytes nonce, MutableBytes out);
// Same, with a fresh random nonce from OpenSSL's generator.
size_t seal_cookie(const MasterKey& key, const SessionKeys& session, MutableBytes out);
// Opens a cookie against the snapshot's keys; on kOk fills `out` (with key_age). One cookie through
// auto_nts_crypto(); batches go through an NtsCrypto's open_cookies.
CookieStatus open_cookie(const KeySnapshot& keys, Bytes cookie, SessionKeys& out);

}  // namespace ntsd::crypto
