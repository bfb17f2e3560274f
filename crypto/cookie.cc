#include "crypto/cookie.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>  // explicit_bzero

#include <algorithm>
#include <cstring>

#include "crypto/cookie_fast.h"
#include "crypto/cpu.h"
#include "crypto/siv_evp.h"
#include "crypto/siv_ni.h"

namespace ntsd::crypto {
namespace {

constexpr size_t kHeader = kCookieKeyIdLength + kCookieNonceLength;  // in the clear
constexpr size_t kMaxPlaintext = kMaxCookieLength - kHeader - kAeadTagLength;

size_t plaintext_length(AeadId aead) { return cookie_length(aead) - kHeader - kAeadTagLength; }

void put_u32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

uint32_t get_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

// AEAD id ‖ C2S ‖ S2C ‖ zeros.
size_t build_plaintext(const SessionKeys& s, uint8_t* pt) {
  const size_t len = plaintext_length(s.aead);
  std::memset(pt, 0, len);
  const uint16_t id = static_cast<uint16_t>(s.aead);
  pt[0] = static_cast<uint8_t>(id >> 8);
  pt[1] = static_cast<uint8_t>(id);
  std::memcpy(pt + 2, s.c2s, s.key_length);
  std::memcpy(pt + 2 + s.key_length, s.s2c, s.key_length);
  return len;
}

// Parses an authentic plaintext. The layout is ours, so a mismatch means a
// cookie from a newer ntsd (unknown AEAD) rather than an attack.
CookieStatus parse_plaintext(Bytes pt, SessionKeys& out) {
  const uint16_t wire = static_cast<uint16_t>(pt[0] << 8 | pt[1]);
  // The common case with fixed sizes, so the copies are a few vector moves.
  if (wire == static_cast<uint16_t>(AeadId::kAesSivCmac256) && pt.size() == 68) {
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
bool plausible_length(size_t n) { return n == 104 || n == 136 || n == 168 || n == 72; }

const MasterKey* lookup(const KeySnapshot& keys, Bytes cookie, CookieStatus& status) {
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

}  // namespace

size_t cookie_length(AeadId aead) {
  const size_t raw = kHeader + kAeadTagLength + 2 + 2 * aead_key_length(aead);
  return (raw + 3) & ~size_t{3};
}

void wipe_session_keys(std::span<SessionKeys> sessions) {
  if (!sessions.empty()) OPENSSL_cleanse(sessions.data(), sessions.size_bytes());
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

size_t seal_cookie(const MasterKey& key, const SessionKeys& session, Bytes nonce,
                   MutableBytes out) {
  const size_t len = cookie_length(session.aead);
  // Fail closed: a key whose derivation failed seals nothing.
  if (!key.valid || out.size() < len || nonce.size() != kCookieNonceLength ||
      session.key_length != aead_key_length(session.aead)) {
    return 0;
  }
  uint8_t pt[kMaxPlaintext];
  const size_t pt_len = build_plaintext(session, pt);
  put_u32(out.data(), key.id);
  std::memcpy(out.data() + kCookieKeyIdLength, nonce.data(), kCookieNonceLength);
  const Bytes ad[] = {Bytes(out.data(), kCookieKeyIdLength)};
  const Bytes n(out.data() + kCookieKeyIdLength, kCookieNonceLength);
  const MutableBytes sealed = out.subspan(kHeader, pt_len + kAeadTagLength);
  const bool ok = cpu_features().aesni ? siv_seal(key.siv, ad, n, Bytes(pt, pt_len), sealed)
                                       : evp_siv_seal(AeadId::kAesSivCmac256, Bytes(key.raw, 32),
                                                      ad, n, Bytes(pt, pt_len), sealed);
  OPENSSL_cleanse(pt, sizeof pt);
  return ok ? len : 0;
}

size_t seal_cookie(const MasterKey& key, const SessionKeys& session, MutableBytes out) {
  uint8_t nonce[kCookieNonceLength];
  if (RAND_bytes(nonce, sizeof nonce) != 1) return 0;
  return seal_cookie(key, session, nonce, out);
}

CookieStatus open_cookie(const KeySnapshot& keys, Bytes cookie, SessionKeys& out) {
  CookieStatus status;
  const MasterKey* key = lookup(keys, cookie, status);
  if (key == nullptr) return status;
  uint8_t pt[kMaxPlaintext];
  const Bytes ad[] = {cookie.first(kCookieKeyIdLength)};
  const Bytes nonce = cookie.subspan(kCookieKeyIdLength, kCookieNonceLength);
  const Bytes sealed = cookie.subspan(kHeader);
  const MutableBytes plain(pt, sealed.size() - kAeadTagLength);
  const bool ok = cpu_features().aesni ? siv_open(key->siv, ad, nonce, sealed, plain)
                                       : evp_siv_open(AeadId::kAesSivCmac256, Bytes(key->raw, 32),
                                                      ad, nonce, sealed, plain);
  if (!ok) return CookieStatus::kTampered;
  status = parse_plaintext(plain, out);
  out.key_age = static_cast<int32_t>(keys.current_epoch() - key->epoch);
  OPENSSL_cleanse(pt, sizeof pt);
  return status;
}

namespace {

// Cookies the VAES kernel does not take (other AEADs, or no VAES): the
// general batched engine. Kept out of line so the common path does not pay
// for constructing these job records.
void open_general(std::span<const Bytes> cookies, const KeySnapshot& keys,
                  const MasterKey* const* key, const size_t* idx, size_t m,
                  std::span<SessionKeys> out, std::span<CookieStatus> status) {
  SivJob jobs[kSivBatch];
  uint8_t pt[kSivBatch][kMaxPlaintext];
  for (size_t j = 0; j < m; ++j) {
    const Bytes c = cookies[idx[j]];
    SivJob& job = jobs[j];
    job.key = &key[j]->siv;
    job.ad[0] = c.first(kCookieKeyIdLength);
    job.ad_count = 1;
    job.nonce = c.subspan(kCookieKeyIdLength, kCookieNonceLength);
    job.input = c.subspan(kHeader);
    job.output = pt[j];
  }
  siv_open_batch(std::span<SivJob>(jobs, m));
  for (size_t j = 0; j < m; ++j) {
    const size_t i = idx[j];
    if (!jobs[j].ok) {
      status[i] = CookieStatus::kTampered;
      continue;
    }
    status[i] = parse_plaintext(Bytes(pt[j], jobs[j].input.size() - kAeadTagLength), out[i]);
    out[i].key_age = static_cast<int32_t>(keys.current_epoch() - key[j]->epoch);
  }
  explicit_bzero(pt, sizeof pt[0] * m);
}

}  // namespace

void open_cookies_batched(std::span<const Bytes> cookies, const KeySnapshot& keys,
                          std::span<SessionKeys> out, std::span<CookieStatus> status) {
  if (!cpu_features().aesni) {
    for (size_t i = 0; i < cookies.size(); ++i) status[i] = open_cookie(keys, cookies[i], out[i]);
    return;
  }
  const bool vaes = cpu_features().vaes256 && siv_engine() == 1;
  for (size_t base = 0; base < cookies.size(); base += kSivBatch) {
    const size_t n = std::min(kSivBatch, cookies.size() - base);
    // AEAD 15 cookies (104 bytes) take the fixed-shape kernel; others the general batch.
    const uint8_t* fast_cookie[kSivBatch];
    const SivKey* fast_key[kSivBatch];
    const MasterKey* fast_master[kSivBatch];
    size_t fast_idx[kSivBatch];
    uint8_t fast_pt[kSivBatch][cookie_fast::kPlain];
    bool fast_ok[kSivBatch];
    size_t f = 0;
    const MasterKey* general_key[kSivBatch];
    size_t general_idx[kSivBatch];
    size_t m = 0;
    for (size_t i = base; i < base + n; ++i) {
      const Bytes c = cookies[i];
      const MasterKey* key = lookup(keys, c, status[i]);
      if (key == nullptr) continue;
      if (vaes && c.size() == cookie_fast::kCookie) {
        fast_cookie[f] = c.data();
        fast_key[f] = &key->siv;
        fast_master[f] = key;
        fast_idx[f++] = i;
      } else {
        general_key[m] = key;
        general_idx[m++] = i;
      }
    }
    if (f > 0) cookie_fast::open104(fast_cookie, fast_key, f, fast_pt, fast_ok);
    for (size_t j = 0; j < f; ++j) {
      const size_t i = fast_idx[j];
      status[i] = fast_ok[j] ? parse_plaintext(Bytes(fast_pt[j], cookie_fast::kPlain), out[i])
                             : CookieStatus::kTampered;
      out[i].key_age = static_cast<int32_t>(keys.current_epoch() - fast_master[j]->epoch);
    }
    if (f > 0) explicit_bzero(fast_pt, sizeof fast_pt[0] * f);
    if (m > 0) open_general(cookies, keys, general_key, general_idx, m, out, status);
  }
}

namespace {

// Sessions the VAES kernel does not take: the general batched engine, out of line.
void seal_general(std::span<const SessionKeys> sessions, const MasterKey& key,
                  std::span<const uint8_t> nonces, std::span<uint8_t* const> out, const size_t* idx,
                  size_t m, std::span<size_t> lengths) {
  SivJob jobs[kSivBatch];
  uint8_t pt[kSivBatch][kMaxPlaintext];
  for (size_t j = 0; j < m; ++j) {
    const size_t i = idx[j];
    uint8_t* c = out[i];
    const size_t pt_len = build_plaintext(sessions[i], pt[j]);
    put_u32(c, key.id);
    std::memcpy(c + kCookieKeyIdLength, nonces.data() + i * kCookieNonceLength, kCookieNonceLength);
    SivJob& job = jobs[j];
    job.key = &key.siv;
    job.ad[0] = Bytes(c, kCookieKeyIdLength);
    job.ad_count = 1;
    job.nonce = Bytes(c + kCookieKeyIdLength, kCookieNonceLength);
    job.input = Bytes(pt[j], pt_len);
    job.output = c + kHeader;
  }
  siv_seal_batch(std::span<SivJob>(jobs, m));
  for (size_t j = 0; j < m; ++j)
    lengths[idx[j]] = jobs[j].ok ? cookie_length(sessions[idx[j]].aead) : 0;
  explicit_bzero(pt, sizeof pt[0] * m);
}

}  // namespace

void seal_cookies_batched(std::span<const SessionKeys> sessions, const KeySnapshot& keys,
                          std::span<const uint8_t> nonces, std::span<uint8_t* const> out,
                          std::span<size_t> lengths) {
  const MasterKey& key = keys.current();
  if (!key.valid) {  // fail closed: no cookie under a key whose derivation failed
    std::fill(lengths.begin(), lengths.begin() + static_cast<ptrdiff_t>(sessions.size()), 0);
    return;
  }
  if (!cpu_features().aesni || nonces.size() < sessions.size() * kCookieNonceLength) {
    for (size_t i = 0; i < sessions.size(); ++i) {
      lengths[i] = nonces.size() < (i + 1) * kCookieNonceLength
                       ? 0
                       : seal_cookie(key, sessions[i],
                                     nonces.subspan(i * kCookieNonceLength, kCookieNonceLength),
                                     MutableBytes(out[i], cookie_length(sessions[i].aead)));
    }
    return;
  }
  const bool vaes = cpu_features().vaes256 && siv_engine() == 1;
  for (size_t base = 0; base < sessions.size(); base += kSivBatch) {
    const size_t n = std::min(kSivBatch, sessions.size() - base);
    // AEAD 15 sessions take the fixed-shape kernel; others the general batch.
    uint8_t fast_pt[kSivBatch][cookie_fast::kPlain];
    uint8_t* fast_out[kSivBatch];
    size_t fast_idx[kSivBatch];
    size_t f = 0;
    size_t general_idx[kSivBatch];
    size_t m = 0;
    for (size_t i = base; i < base + n; ++i) {
      const SessionKeys& s = sessions[i];
      uint8_t* c = out[i];
      lengths[i] = 0;
      if (s.key_length != aead_key_length(s.aead) || c == nullptr) continue;  // rejected
      if (!vaes || s.aead != AeadId::kAesSivCmac256) {
        general_idx[m++] = i;
        continue;
      }
      build_plaintext(s, fast_pt[f]);
      put_u32(c, key.id);
      std::memcpy(c + kCookieKeyIdLength, nonces.data() + i * kCookieNonceLength,
                  kCookieNonceLength);
      fast_out[f] = c;
      fast_idx[f++] = i;
    }
    if (f > 0) {
      cookie_fast::seal104(key.siv, fast_pt, fast_out, f);
      for (size_t j = 0; j < f; ++j) lengths[fast_idx[j]] = cookie_fast::kCookie;
      explicit_bzero(fast_pt, sizeof fast_pt[0] * f);
    }
    if (m > 0) seal_general(sessions, key, nonces, out, general_idx, m, lengths);
  }
}

}  // namespace ntsd::crypto
