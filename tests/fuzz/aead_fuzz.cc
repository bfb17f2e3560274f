// Differential fuzz target for crypto/: the OpenSSL EVP reference, the
// single-buffer AES-NI AEAD (make_aead's native backend) and the batched fast
// NtsCrypto (XMM and YMM lanes) must agree byte for byte on seal and open, for
// AES-SIV-CMAC-256 and AES-128-GCM-SIV alike, and agree on rejecting a
// tampered message; arbitrary bytes opened as cookies must give the same
// status on the single path and on every implementation's batch, and never
// crash. Only the public interfaces (crypto/aead.h, crypto/nts_crypto.h): the kernels are
// private to crypto/.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "crypto/aead.h"
#include "crypto/cookie.h"
#include "crypto/key_ring.h"
#include "crypto/nts_crypto.h"
#include "crypto/siv_evp.h"

namespace {

using ntsd::crypto::Bytes;

struct Reader {
  const uint8_t* p;
  size_t n;
  uint8_t byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  Bytes take(size_t len) {
    len = len < n ? len : n;
    Bytes out(p, len);
    p += len;
    n -= len;
    return out;
  }
};

void check(bool ok) {
  if (!ok) std::abort();
}

// The implementations a batch is compared on: the reference first.
std::vector<const ntsd::crypto::NtsCrypto*> implementations() {
  using namespace ntsd::crypto;
  std::vector<const NtsCrypto*> all = {&evp_nts_crypto()};
  for (FastLanes lanes : {FastLanes::kXmm, FastLanes::kYmm}) {
    if (const NtsCrypto* fast = fast_nts_crypto(lanes)) all.push_back(fast);
  }
  return all;
}

void differential(const uint8_t* data, size_t size) {
  using namespace ntsd::crypto;
  Reader r{data, size};
  uint8_t key_bytes[32];
  for (auto& b : key_bytes) b = r.byte();
  const size_t n_ad = r.byte() % 4;
  Bytes ad[4];
  for (size_t i = 0; i < n_ad; ++i) ad[i] = r.take(r.byte() % 80);
  const Bytes nonce = r.take(r.byte() % 2 ? 16 : 0);
  const size_t flip = r.byte();
  const Bytes pt = r.take(r.n);
  const std::span<const Bytes> ads(ad, n_ad);

  // Single messages, any S2V vector: EVP against the native AEAD.
  std::vector<uint8_t> want(pt.size() + 16);
  check(evp_siv_seal(AeadId::kAesSivCmac256, Bytes(key_bytes, 32), ads, nonce, pt, want));
  const auto native = make_aead(AeadId::kAesSivCmac256, Bytes(key_bytes, 32), AeadBackend::kNative);
  if (native == nullptr) return;  // no AES-NI: nothing to compare the reference with
  std::vector<uint8_t> single(want.size());
  check(native->seal(ads, nonce, pt, single));
  check(single == want);
  std::vector<uint8_t> tampered = want;
  tampered[flip % tampered.size()] ^= static_cast<uint8_t>(1u << (flip % 8));
  std::vector<uint8_t> p1(pt.size() + 1), p2(pt.size() + 1);
  for (const auto* sealed : {&want, &tampered}) {
    const bool ref = evp_siv_open(AeadId::kAesSivCmac256, Bytes(key_bytes, 32), ads, nonce, *sealed, p1);
    check(ref == (sealed == &want));
    check(native->open(ads, nonce, *sealed, p2) == ref);
    if (ref) check(std::memcmp(p2.data(), pt.data(), pt.size()) == 0);
  }

  // Batches, NTS-shaped (one AD string, a nonce): the message twice, beside
  // an unrelated one, as AEAD 15 and as AEAD 30, through every implementation.
  const Bytes one_ad = n_ad > 0 ? ad[0] : Bytes();
  for (AeadId aead : {AeadId::kAesSivCmac256, AeadId::kAes128GcmSiv}) {
    SessionKeys keys[3];
    const size_t klen = aead_key_length(aead);
    for (int j = 0; j < 3; ++j) {
      // The same key both ways (replies are sealed under S2C, verified here under C2S).
      const uint8_t other[32] = {static_cast<uint8_t>(j)};
      const Bytes key = j == 2 ? Bytes(other, klen) : Bytes(key_bytes, klen);
      check(make_session_keys(aead, key, key, keys[j]));
    }
    uint8_t nonce_bytes[16] = {};
    std::memcpy(nonce_bytes, nonce.data(), nonce.size());
    const Bytes n(nonce_bytes, aead_nonce_length(aead));
    const uint8_t other_pt[16] = {1, 2, 3};
    std::vector<uint8_t> ref_out[3];
    std::vector<uint8_t> ref_tampered;
    bool ref_ok[3];
    for (const NtsCrypto* crypto : implementations()) {
      std::vector<uint8_t> out[3] = {std::vector<uint8_t>(want.size()), std::vector<uint8_t>(want.size()),
                                     std::vector<uint8_t>(32)};
      const ReplyToSeal replies[3] = {{one_ad, n, pt, out[0].data(), &keys[0]},
                                      {one_ad, n, pt, out[1].data(), &keys[1]},
                                      {Bytes(), n, Bytes(other_pt, 16), out[2].data(), &keys[2]}};
      bool ok[3];
      crypto->seal_replies(replies, ok);
      check(ok[0] && ok[1] && ok[2]);
      check(out[0] == out[1]);
      if (crypto == &evp_nts_crypto()) {
        for (int j = 0; j < 3; ++j) ref_out[j] = out[j];
        ref_tampered = out[0];
        ref_tampered[flip % ref_tampered.size()] ^= static_cast<uint8_t>(1u << (flip % 8));
      } else {
        for (int j = 0; j < 3; ++j) check(out[j] == ref_out[j]);
      }
      // Verify: intact, tampered, and the unrelated one.
      std::vector<uint8_t> o1(pt.size() + 1), o2(pt.size() + 1), o3(16);
      const AuthToVerify auths[3] = {{one_ad, n, ref_out[0], o1.data(), &keys[0]},
                                     {one_ad, n, ref_tampered, o2.data(), &keys[1]},
                                     {Bytes(), n, ref_out[2], o3.data(), &keys[2]}};
      crypto->verify_authenticators(auths, ok);
      if (crypto == &evp_nts_crypto()) {
        for (int j = 0; j < 3; ++j) ref_ok[j] = ok[j];
        check(ok[0] && !ok[1] && ok[2]);
      } else {
        for (int j = 0; j < 3; ++j) check(ok[j] == ref_ok[j]);
      }
      check(std::memcmp(o1.data(), pt.data(), pt.size()) == 0);
      for (size_t i = 0; i < pt.size(); ++i) check(o2[i] == 0);  // nothing unauthenticated left
    }
  }
}

void cookies(const uint8_t* data, size_t size) {
  using namespace ntsd::crypto;
  static KeyRing ring(std::vector<uint8_t>(32, 0x77));
  static auto keys = ring.snapshot_at(1'790'000'000);
  // Arbitrary bytes as a cookie, with the first four made a current key id half the time.
  std::vector<uint8_t> c(data, data + size);
  if (size >= 4 && (data[0] & 1)) {
    const uint32_t id = keys->current().id;
    c[0] = static_cast<uint8_t>(id >> 24);
    c[1] = static_cast<uint8_t>(id >> 16);
    c[2] = static_cast<uint8_t>(id >> 8);
    c[3] = static_cast<uint8_t>(id);
  }
  SessionKeys single, batched[2];
  const CookieStatus s = open_cookie(*keys, c, single);
  const Bytes views[2] = {c, c};
  for (const NtsCrypto* crypto : implementations()) {
    CookieStatus st[2];
    crypto->open_cookies(views, *keys, batched, st);
    check(st[0] == s && st[1] == s);
  }
  check(s != CookieStatus::kOk);  // forging a cookie from random bytes must not succeed
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  differential(data, size);
  cookies(data, size);
  return 0;
}
