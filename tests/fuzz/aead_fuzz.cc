// Differential fuzz target for crypto/: the OpenSSL EVP reference, the
// single-buffer AES-NI path and the batched AES-NI / VAES engines must agree
// byte for byte on AES-SIV-CMAC-256 seal and open, and agree on rejecting a
// tampered message; arbitrary bytes opened as cookies must give the same
// status on the single and batched paths and never crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "crypto/aead.h"
#include "crypto/cookie.h"
#include "crypto/cpu.h"
#include "crypto/key_ring.h"
#include "crypto/siv_evp.h"
#include "crypto/siv_ni.h"

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

  std::vector<uint8_t> want(pt.size() + 16);
  check(evp_siv_seal(AeadId::kAesSivCmac256, Bytes(key_bytes, 32), ads, nonce, pt, want));
  if (!cpu_features().aesni) return;
  SivKey key;
  check(siv_expand_key(Bytes(key_bytes, 32), key));
  std::vector<uint8_t> single(want.size());
  check(siv_seal(key, ads, nonce, pt, single));
  check(single == want);
  for (int engine : {0, 1}) {
    if (engine == 1 && !cpu_features().vaes256) continue;
    siv_force_engine(engine);
    // The message twice in a batch of three, beside an unrelated one.
    std::vector<uint8_t> out[3] = {std::vector<uint8_t>(want.size()),
                                   std::vector<uint8_t>(want.size()), std::vector<uint8_t>(32)};
    const uint8_t other_pt[16] = {1, 2, 3};
    SivJob jobs[3];
    for (int j = 0; j < 3; ++j) {
      jobs[j].key = &key;
      jobs[j].ad_count = static_cast<uint8_t>(j == 2 ? 0 : n_ad);
      for (size_t c = 0; c < n_ad; ++c) jobs[j].ad[c] = ad[c];
      jobs[j].nonce = j == 2 ? Bytes() : nonce;
      jobs[j].input = j == 2 ? Bytes(other_pt, 16) : pt;
      jobs[j].output = out[j].data();
    }
    siv_seal_batch(jobs);
    check(jobs[0].ok && jobs[1].ok && jobs[2].ok);
    check(out[0] == want && out[1] == want);
    // Open: intact and with one bit flipped, all paths agree.
    std::vector<uint8_t> tampered = want;
    tampered[flip % tampered.size()] ^= static_cast<uint8_t>(1u << (flip % 8));
    std::vector<uint8_t> p1(pt.size() + 1), p2(pt.size() + 1);
    for (const auto* sealed : {&want, &tampered}) {
      const bool ref =
          evp_siv_open(AeadId::kAesSivCmac256, Bytes(key_bytes, 32), ads, nonce, *sealed, p1);
      check(ref == (sealed == &want));
      check(siv_open(key, ads, nonce, *sealed, p2) == ref);
      SivJob open_jobs[2];
      for (int j = 0; j < 2; ++j) {
        open_jobs[j] = jobs[0];
        open_jobs[j].input = *sealed;
        open_jobs[j].output = j == 0 ? p1.data() : p2.data();
      }
      siv_open_batch(open_jobs);
      check(open_jobs[0].ok == ref && open_jobs[1].ok == ref);
      if (ref) check(std::memcmp(p1.data(), pt.data(), pt.size()) == 0);
    }
    siv_force_engine(-1);
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
  CookieStatus st[2];
  open_cookies_batched(views, *keys, batched, st);
  check(st[0] == s && st[1] == s);
  check(s != CookieStatus::kOk);  // forging a cookie from random bytes must not succeed
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  differential(data, size);
  cookies(data, size);
  return 0;
}
