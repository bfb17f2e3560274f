#include "crypto/cookie.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>  // explicit_bzero

#include <cstring>

#include "crypto/nts_crypto.h"

namespace ntsd::crypto {

size_t cookie_length(AeadId aead) {
  const size_t raw = kCookieKeyIdLength + kCookieNonceLength + kAeadTagLength + 2 +
                     2 * aead_key_length(aead);
  return (raw + 3) & ~size_t{3};
}

// explicit_bzero, not OPENSSL_cleanse: both are never optimised away, and
// glibc's runs at memset's speed where OpenSSL's stores 8 bytes a step (a
// server batch wipes 140 bytes per request on the hot path).
void wipe_session_keys(std::span<SessionKeys> sessions) {
  if (!sessions.empty()) explicit_bzero(sessions.data(), sessions.size_bytes());
}

bool make_session_keys(AeadId aead, Bytes c2s, Bytes s2c, SessionKeys& out) {
  const size_t n = aead_key_length(aead);
  if (c2s.size() != n || s2c.size() != n || n > kMaxSessionKeyLength) return false;
  out.aead = aead;
  out.key_length = static_cast<uint8_t>(n);
  std::memcpy(out.c2s, c2s.data(), n);
  std::memcpy(out.s2c, s2c.data(), n);
  return true;
}

// Single cookies (NTS-KE's eight per handshake, tests, tools) are a batch of
// one through the implementation kAuto picks: both give the same bytes.
size_t seal_cookie(const MasterKey& key, const SessionKeys& session, Bytes nonce,
                   MutableBytes out) {
  if (out.size() < cookie_length(session.aead) || nonce.size() != kCookieNonceLength) return 0;
  uint8_t* const dest[] = {out.data()};
  size_t length = 0;
  const SessionKeys* const sessions[] = {&session};
  auto_nts_crypto().seal_cookies(sessions, key, nonce, dest, std::span(&length, 1));
  return length;
}

size_t seal_cookie(const MasterKey& key, const SessionKeys& session, MutableBytes out) {
  uint8_t nonce[kCookieNonceLength];
  if (RAND_bytes(nonce, sizeof nonce) != 1) return 0;
  return seal_cookie(key, session, nonce, out);
}

CookieStatus open_cookie(const KeySnapshot& keys, Bytes cookie, SessionKeys& out) {
  CookieStatus status = CookieStatus::kBadLength;
  auto_nts_crypto().open_cookies(std::span(&cookie, 1), keys, std::span(&out, 1),
                                 std::span(&status, 1));
  return status;
}

}  // namespace ntsd::crypto
