// Private to //crypto:keys: the cookie layout (cookie.h) as the two NtsCrypto
// implementations and the single-cookie calls build and parse it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "crypto/cookie.h"
#include "crypto/key_snapshot.h"

namespace ntsd::crypto::cookie_layout {

inline constexpr size_t kHeader = kCookieKeyIdLength + kCookieNonceLength;  // in the clear
inline constexpr size_t kMaxPlaintext = kMaxCookieLength - kHeader - kAeadTagLength;
// AEAD 15, the dominant cookie: its sizes, fixed.
inline constexpr size_t kSiv256Cookie = 104;
inline constexpr size_t kSiv256Plaintext = 68;

inline size_t plaintext_length(AeadId aead) {
  return cookie_length(aead) - kHeader - kAeadTagLength;
}

inline void put_u32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

inline uint32_t get_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

// AEAD id ‖ C2S ‖ S2C ‖ zeros; returns the plaintext length.
inline size_t build_plaintext(const SessionKeys& s, uint8_t* pt) {
  // The common case with fixed sizes, so the copies are a few vector moves
  // (variable lengths make the compiler use rep movs, slow to start).
  if (s.aead == AeadId::kAesSivCmac256 && s.key_length == 32) {
    pt[0] = 0;
    pt[1] = static_cast<uint8_t>(AeadId::kAesSivCmac256);
    std::memcpy(pt + 2, s.c2s, 32);
    std::memcpy(pt + 34, s.s2c, 32);
    pt[66] = pt[67] = 0;
    return kSiv256Plaintext;
  }
  const size_t len = plaintext_length(s.aead);
  std::memset(pt, 0, len);
  const uint16_t id = static_cast<uint16_t>(s.aead);
  pt[0] = static_cast<uint8_t>(id >> 8);
  pt[1] = static_cast<uint8_t>(id);
  std::memcpy(pt + 2, s.c2s, s.key_length);
  std::memcpy(pt + 2 + s.key_length, s.s2c, s.key_length);
  return len;
}

// Key id ‖ nonce at the front of a cookie being sealed.
inline void write_header(uint8_t* cookie, uint32_t key_id, const uint8_t* nonce) {
  put_u32(cookie, key_id);
  std::memcpy(cookie + kCookieKeyIdLength, nonce, kCookieNonceLength);
}

// A session a cookie can carry: key length right for its AEAD.
inline bool sealable(const SessionKeys& s) { return s.key_length == aead_key_length(s.aead); }

// Parses an authentic plaintext. The layout is ours, so a mismatch means a
// cookie from a newer ntsd (unknown AEAD) rather than an attack.
inline CookieStatus parse_plaintext(Bytes pt, SessionKeys& out) {
  const uint16_t wire = static_cast<uint16_t>(pt[0] << 8 | pt[1]);
  // The common case with fixed sizes, so the copies are a few vector moves.
  if (wire == static_cast<uint16_t>(AeadId::kAesSivCmac256) && pt.size() == kSiv256Plaintext) {
    out.aead = AeadId::kAesSivCmac256;
    out.key_length = 32;
    std::memcpy(out.c2s, pt.data() + 2, 32);
    std::memcpy(out.s2c, pt.data() + 34, 32);
    return CookieStatus::kOk;
  }
  const auto aead = aead_from_wire(wire);
  if (!aead || plaintext_length(*aead) != pt.size()) return CookieStatus::kUnsupportedAead;
  out.aead = *aead;
  out.key_length = static_cast<uint8_t>(aead_key_length(*aead));
  std::memcpy(out.c2s, pt.data() + 2, out.key_length);
  std::memcpy(out.s2c, pt.data() + 2 + out.key_length, out.key_length);
  return CookieStatus::kOk;
}

// A length no cookie of ours has is rejected before any crypto.
// cookie_length() of the four AEADs (cookie_test pins both lists).
inline bool plausible_length(size_t n) { return n == 104 || n == 136 || n == 168 || n == 72; }

// The master key a cookie names, or null with the status saying why.
inline const MasterKey* lookup(const KeySnapshot& keys, Bytes cookie, CookieStatus& status) {
  if (!plausible_length(cookie.size())) {
    status = CookieStatus::kBadLength;
    return nullptr;
  }
  KeyLookup why;
  const MasterKey* key = keys.find(get_u32(cookie.data()), why);
  status = why == KeyLookup::kFound     ? CookieStatus::kOk
           : why == KeyLookup::kExpired ? CookieStatus::kExpiredKey
                                        : CookieStatus::kUnknownKey;
  return key;
}

inline int32_t key_age(const KeySnapshot& keys, const MasterKey& key) {
  return static_cast<int32_t>(keys.current_epoch() - key.epoch);
}

}  // namespace ntsd::crypto::cookie_layout
