// Crypto microbenchmarks: cookie open/seal, request authenticator verify,
// reply seal and the whole per-request crypto through the NtsCrypto interface
// (crypto/nts_crypto.h), the EVP implementation against the fast one (widest
// lanes, and XMM lanes for comparison); SIV and GCM-SIV throughput through
// make_aead.
// Run: bazel run -c opt //bench:crypto_bench
#include <benchmark/benchmark.h>
#include <openssl/rand.h>

#include <cstring>
#include <random>
#include <vector>

#include "crypto/aead.h"
#include "crypto/cookie.h"
#include "crypto/key_ring.h"
#include "crypto/nonce_source.h"
#include "crypto/nts_crypto.h"
#include "crypto/siv_evp.h"

namespace ntsd::crypto {
namespace {

constexpr int64_t kNow = 1'790'000'000;
constexpr size_t kMaxBatch = 16;
constexpr size_t kRequestAd = 190;     // header + Unique Identifier + cookie EF of a request
constexpr size_t kReplyAd = 84;        // header + Unique Identifier of a reply
constexpr size_t kCookieEf = 4 + 104;  // one fresh cookie's extension field (104-byte cookie)

std::vector<uint8_t> random_bytes(std::mt19937_64& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// Per-item time as a counter: "per_item" in seconds (shown as ns).
void per_item(benchmark::State& state, size_t items) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * items));
  state.counters["per_item"] =
      benchmark::Counter(static_cast<double>(items), benchmark::Counter::kIsIterationInvariantRate |
                                                         benchmark::Counter::kInvert);
}

struct Fixture {
  KeyRing ring{std::vector<uint8_t>(32, 0x42)};
  std::unique_ptr<const KeySnapshot> keys;
  std::vector<SessionKeys> sessions;
  std::vector<std::vector<uint8_t>> cookies;
  std::vector<Bytes> cookie_views;
  std::vector<std::vector<uint8_t>> request_ad, request_nonce, request_tag;
  std::vector<std::vector<uint8_t>> reply_ad, reply_nonce;
  std::vector<const SessionKeys*> session_ptr;

  Fixture() {
    std::mt19937_64 rng(1);
    // Cookies from several master keys (clients hold cookies of various ages).
    auto old = ring.snapshot_at(kNow - 5 * 86400);
    keys = ring.snapshot_at(kNow, old.get());
    for (size_t i = 0; i < kMaxBatch; ++i) {
      SessionKeys s;
      make_session_keys(AeadId::kAesSivCmac256, random_bytes(rng, 32), random_bytes(rng, 32), s);
      sessions.push_back(s);
      cookies.emplace_back(104);
      seal_cookie((i % 2 ? old : keys)->current(), s, cookies.back());
      request_ad.push_back(random_bytes(rng, kRequestAd));
      request_nonce.push_back(random_bytes(rng, 16));
      request_tag.emplace_back(16);
      const Bytes ad[] = {request_ad.back()};
      evp_siv_seal(AeadId::kAesSivCmac256, s.c2s_key(), ad, request_nonce.back(), {},
                   request_tag.back());
      reply_ad.push_back(random_bytes(rng, kReplyAd));
      reply_nonce.push_back(random_bytes(rng, 16));
    }
    for (auto& c : cookies) cookie_views.emplace_back(c);
    for (auto& s : sessions) session_ptr.push_back(&s);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

const NtsCrypto& evp() { return evp_nts_crypto(); }
// The fast implementation (widest lanes); the EVP one where the CPU has no AES-NI.
const NtsCrypto& fast(FastLanes lanes = FastLanes::kWidest) {
  const NtsCrypto* f = fast_nts_crypto(lanes);
  return f != nullptr ? *f : evp_nts_crypto();
}

// Cookie open through OpenSSL EVP (the reference): one context per operation.
void BM_CookieOpenEvp(benchmark::State& state) {
  Fixture& f = fixture();
  SessionKeys out;
  CookieStatus status;
  size_t i = 0;
  for (auto _ : state) {
    evp().open_cookies(std::span(&f.cookie_views[i++ % kMaxBatch], 1), *f.keys, std::span(&out, 1),
                       std::span(&status, 1));
    benchmark::DoNotOptimize(status);
  }
  per_item(state, 1);
}
BENCHMARK(BM_CookieOpenEvp);

// open_cookie(): one cookie through auto_nts_crypto() (the fast path, a batch of one).
void BM_CookieOpenSingle(benchmark::State& state) {
  Fixture& f = fixture();
  SessionKeys out;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(open_cookie(*f.keys, f.cookie_views[i++ % kMaxBatch], out));
  }
  per_item(state, 1);
}
BENCHMARK(BM_CookieOpenSingle);

void cookie_open_batched(benchmark::State& state, const NtsCrypto& crypto) {
  Fixture& f = fixture();
  const size_t n = static_cast<size_t>(state.range(0));
  SessionKeys out[kMaxBatch];
  CookieStatus status[kMaxBatch];
  for (auto _ : state) {
    crypto.open_cookies(std::span<const Bytes>(f.cookie_views.data(), n), *f.keys,
                        std::span<SessionKeys>(out, n), std::span<CookieStatus>(status, n));
    benchmark::DoNotOptimize(status);
  }
  per_item(state, n);
}

void BM_CookieOpenBatched(benchmark::State& state) { cookie_open_batched(state, fast()); }
BENCHMARK(BM_CookieOpenBatched)->Arg(1)->Arg(4)->Arg(8)->Arg(16);

// Same on the fast implementation's XMM lanes (the general 128-bit AES-NI engine), for comparison.
void BM_CookieOpenBatchedAesNi(benchmark::State& state) {
  cookie_open_batched(state, fast(FastLanes::kXmm));
}
BENCHMARK(BM_CookieOpenBatchedAesNi)->Arg(16);

void BM_CookieSealEvp(benchmark::State& state) {
  Fixture& f = fixture();
  uint8_t cookie[kMaxCookieLength];
  uint8_t* const out[] = {cookie};
  const uint8_t nonce[16] = {1};
  size_t length = 0;
  size_t i = 0;
  for (auto _ : state) {
    evp().seal_cookies(std::span(&f.session_ptr[i++ % kMaxBatch], 1), f.keys->current(), nonce,
                       out, std::span(&length, 1));
    benchmark::DoNotOptimize(length);
  }
  per_item(state, 1);
}
BENCHMARK(BM_CookieSealEvp);

void BM_CookieSealBatched(benchmark::State& state) {
  Fixture& f = fixture();
  const size_t n = static_cast<size_t>(state.range(0));
  uint8_t cookies[kMaxBatch][kMaxCookieLength];
  uint8_t* out[kMaxBatch];
  for (size_t i = 0; i < kMaxBatch; ++i) out[i] = cookies[i];
  uint8_t nonces[kMaxBatch * 16] = {};
  size_t lengths[kMaxBatch];
  for (auto _ : state) {
    fast().seal_cookies(std::span<const SessionKeys* const>(f.session_ptr.data(), n),
                        f.keys->current(), nonces, std::span<uint8_t* const>(out, n),
                        std::span<size_t>(lengths, n));
    benchmark::DoNotOptimize(cookies);
  }
  per_item(state, n);
}
BENCHMARK(BM_CookieSealBatched)->Arg(1)->Arg(16);

// Request authenticator: ~190 bytes of AD, empty plaintext (tag only), per-request C2S key.
void BM_AuthVerifyEvp(benchmark::State& state) {
  Fixture& f = fixture();
  size_t i = 0;
  for (auto _ : state) {
    const size_t k = i++ % kMaxBatch;
    const Bytes ad[] = {f.request_ad[k]};
    benchmark::DoNotOptimize(evp_siv_open(AeadId::kAesSivCmac256, f.sessions[k].c2s_key(), ad,
                                          f.request_nonce[k], f.request_tag[k], {}));
  }
  per_item(state, 1);
}
BENCHMARK(BM_AuthVerifyEvp);

void BM_AuthVerifyBatched(benchmark::State& state) {
  Fixture& f = fixture();
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<AuthToVerify> reqs;
  for (size_t k = 0; k < n; ++k)
    reqs.push_back({f.request_ad[k], f.request_nonce[k], f.request_tag[k], nullptr, &f.sessions[k]});
  bool ok[kMaxBatch];
  for (auto _ : state) {
    fast().verify_authenticators(reqs, std::span<bool>(ok, n));
    benchmark::DoNotOptimize(ok);
  }
  per_item(state, n);
}
BENCHMARK(BM_AuthVerifyBatched)->Arg(1)->Arg(16);

// Reply: ~84 bytes of AD, one fresh 104-byte cookie (108-byte extension field) encrypted under S2C.
void BM_ReplySealEvp(benchmark::State& state) {
  Fixture& f = fixture();
  uint8_t pt[kCookieEf] = {}, out[kCookieEf + 16];
  size_t i = 0;
  for (auto _ : state) {
    const size_t k = i++ % kMaxBatch;
    const Bytes ad[] = {f.reply_ad[k]};
    benchmark::DoNotOptimize(evp_siv_seal(AeadId::kAesSivCmac256, f.sessions[k].s2c_key(), ad,
                                          f.reply_nonce[k], pt, out));
  }
  per_item(state, 1);
}
BENCHMARK(BM_ReplySealEvp);

void BM_ReplySealBatched(benchmark::State& state) {
  Fixture& f = fixture();
  const size_t n = static_cast<size_t>(state.range(0));
  static uint8_t pt[kCookieEf] = {};
  static uint8_t out[kMaxBatch][kCookieEf + 16];
  std::vector<ReplyToSeal> replies;
  for (size_t k = 0; k < n; ++k)
    replies.push_back({f.reply_ad[k], f.reply_nonce[k], pt, out[k], &f.sessions[k]});
  bool ok[kMaxBatch];
  for (auto _ : state) {
    fast().seal_replies(replies, std::span<bool>(ok, n));
    benchmark::DoNotOptimize(ok);
  }
  per_item(state, n);
}
BENCHMARK(BM_ReplySealBatched)->Arg(1)->Arg(16);

// The whole server-side crypto of one NTS request, per request: open its
// cookie, verify its authenticator, seal one fresh cookie, seal the reply
// carrying that cookie; fresh nonces included (the worker's NonceSource with
// the fast implementation, OpenSSL's RAND_bytes with the EVP one).
template <bool kFast>
void request_crypto(benchmark::State& state) {
  Fixture& f = fixture();
  const NtsCrypto& crypto = kFast ? fast() : evp();
  const size_t n = static_cast<size_t>(state.range(0));
  SessionKeys sessions[kMaxBatch];
  const SessionKeys* session_ptr[kMaxBatch];
  CookieStatus status[kMaxBatch];
  uint8_t nonces[kMaxBatch * 32];
  uint8_t cookie_ef[kMaxBatch][kCookieEf];
  uint8_t* cookie_out[kMaxBatch];
  size_t lengths[kMaxBatch];
  uint8_t reply[kMaxBatch][kCookieEf + 16];
  bool ok[kMaxBatch];
  AuthToVerify auths[kMaxBatch];
  ReplyToSeal replies[kMaxBatch];
  for (size_t k = 0; k < n; ++k) {
    cookie_out[k] = cookie_ef[k] + 4;
    session_ptr[k] = &sessions[k];
    auths[k] = {f.request_ad[k], f.request_nonce[k], f.request_tag[k], nullptr, &sessions[k]};
    replies[k] = {f.reply_ad[k], Bytes(nonces + n * 16 + 16 * k, 16),
                  Bytes(cookie_ef[k], kCookieEf), reply[k], &sessions[k]};
  }
  NonceSource nonce_source;
  for (auto _ : state) {
    if (kFast) {
      nonce_source.fill(MutableBytes(nonces, 32 * n));
    } else {
      RAND_bytes(nonces, static_cast<int>(32 * n));
    }
    crypto.open_cookies(std::span<const Bytes>(f.cookie_views.data(), n), *f.keys,
                        std::span<SessionKeys>(sessions, n), std::span<CookieStatus>(status, n));
    crypto.verify_authenticators(std::span<const AuthToVerify>(auths, n), std::span<bool>(ok, n));
    crypto.seal_cookies(std::span<const SessionKeys* const>(session_ptr, n), f.keys->current(),
                        Bytes(nonces, 16 * n), std::span<uint8_t* const>(cookie_out, n),
                        std::span<size_t>(lengths, n));
    crypto.seal_replies(std::span<const ReplyToSeal>(replies, n), std::span<bool>(ok, n));
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(reply);
  }
  for (size_t k = 0; k < n; ++k) {
    if (status[k] != CookieStatus::kOk || !ok[k]) state.SkipWithError("request crypto failed");
  }
  per_item(state, n);
}

void BM_RequestCryptoBatched(benchmark::State& state) { request_crypto<true>(state); }
BENCHMARK(BM_RequestCryptoBatched)->Arg(1)->Arg(16);
void BM_RequestCryptoEvp(benchmark::State& state) { request_crypto<false>(state); }
BENCHMARK(BM_RequestCryptoEvp)->Arg(16);

// AEAD 30 (AES-128-GCM-SIV) sessions: verify a tag-only request authenticator
// (190 bytes of AD, 12-byte nonce) and seal a reply with one fresh 72-byte
// cookie (76-byte field), per request, N at a time: the batched GCM-SIV of the
// fast implementation against the EVP implementation (which, OpenSSL 3.0
// having no GCM-SIV, runs ntsd's single-buffer GCM-SIV one request at a time,
// as the fast path did before it was batched).
template <bool kFast>
void gcm_siv_request(benchmark::State& state) {
  const NtsCrypto& crypto = kFast ? fast() : evp();
  if (fast_nts_crypto() == nullptr) {
    state.SkipWithError("no AES-NI: no GCM-SIV");
    return;
  }
  const size_t n = static_cast<size_t>(state.range(0));
  std::mt19937_64 rng(5);
  SessionKeys sessions[kMaxBatch];
  std::vector<std::vector<uint8_t>> ad, nonce, tag;
  static uint8_t pt[76] = {};
  static uint8_t out[kMaxBatch][76 + 16];
  AuthToVerify auths[kMaxBatch];
  ReplyToSeal replies[kMaxBatch];
  for (size_t k = 0; k < n; ++k) {
    const auto c2s = random_bytes(rng, 16);
    make_session_keys(AeadId::kAes128GcmSiv, c2s, random_bytes(rng, 16), sessions[k]);
    ad.push_back(random_bytes(rng, kRequestAd));
    nonce.push_back(random_bytes(rng, 12));
    tag.emplace_back(16);
    const Bytes ads[] = {ad.back()};
    make_aead(AeadId::kAes128GcmSiv, c2s)->seal(ads, nonce.back(), {}, tag.back());
  }
  for (size_t k = 0; k < n; ++k) {
    auths[k] = {ad[k], nonce[k], tag[k], nullptr, &sessions[k]};
    replies[k] = {Bytes(ad[k]).first(kReplyAd), nonce[k], pt, out[k], &sessions[k]};
  }
  bool ok[kMaxBatch];
  for (auto _ : state) {
    crypto.verify_authenticators(std::span<const AuthToVerify>(auths, n), std::span<bool>(ok, n));
    crypto.seal_replies(std::span<const ReplyToSeal>(replies, n), std::span<bool>(ok, n));
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(out);
  }
  crypto.verify_authenticators(std::span<const AuthToVerify>(auths, n), std::span<bool>(ok, n));
  for (size_t k = 0; k < n; ++k) {
    if (!ok[k]) state.SkipWithError("GCM-SIV verify failed");
  }
  per_item(state, n);
}

void BM_GcmSivRequestBatched(benchmark::State& state) { gcm_siv_request<true>(state); }
BENCHMARK(BM_GcmSivRequestBatched)->Arg(1)->Arg(16);
void BM_GcmSivRequestOneByOne(benchmark::State& state) { gcm_siv_request<false>(state); }
BENCHMARK(BM_GcmSivRequestOneByOne)->Arg(16);

// Nonces for one batch of 16 requests (a cookie nonce and a reply nonce each: 512 bytes).
void BM_NonceRandBytes(benchmark::State& state) {
  uint8_t buf[512];
  for (auto _ : state) benchmark::DoNotOptimize(RAND_bytes(buf, sizeof buf));
  per_item(state, 16);
}
BENCHMARK(BM_NonceRandBytes);

void BM_NonceSource(benchmark::State& state) {
  NonceSource src;
  uint8_t buf[512];
  for (auto _ : state) benchmark::DoNotOptimize(src.fill(buf));
  per_item(state, 16);
}
BENCHMARK(BM_NonceSource);

// AES-SIV-CMAC-256 seal, plaintext of range(0) bytes, 1 AD of 64 bytes + 16-byte nonce.
void BM_SivSealEvp(benchmark::State& state) {
  std::mt19937_64 rng(2);
  const auto key = random_bytes(rng, 32), ad1 = random_bytes(rng, 64),
             nonce = random_bytes(rng, 16);
  const auto pt = random_bytes(rng, static_cast<size_t>(state.range(0)));
  std::vector<uint8_t> out(pt.size() + 16);
  const Bytes ad[] = {ad1};
  for (auto _ : state)
    benchmark::DoNotOptimize(evp_siv_seal(AeadId::kAesSivCmac256, key, ad, nonce, pt, out));
  state.SetBytesProcessed(state.iterations() * state.range(0));
  per_item(state, 1);
}
BENCHMARK(BM_SivSealEvp)->Arg(0)->Arg(64)->Arg(1024);

void BM_SivSealNative(benchmark::State& state) {
  std::mt19937_64 rng(2);
  const auto key = random_bytes(rng, 32), ad1 = random_bytes(rng, 64),
             nonce = random_bytes(rng, 16);
  const auto pt = random_bytes(rng, static_cast<size_t>(state.range(0)));
  std::vector<uint8_t> out(pt.size() + 16);
  const auto aead = make_aead(AeadId::kAesSivCmac256, key, AeadBackend::kNative);
  if (aead == nullptr) {
    state.SkipWithError("no AES-NI");
    return;
  }
  const Bytes ad[] = {ad1};
  for (auto _ : state) benchmark::DoNotOptimize(aead->seal(ad, nonce, pt, out));
  state.SetBytesProcessed(state.iterations() * state.range(0));
  per_item(state, 1);
}
BENCHMARK(BM_SivSealNative)->Arg(0)->Arg(64)->Arg(1024);

// AES-128-GCM-SIV seal (per-nonce key derivation included), 64-byte AD.
void BM_GcmSivSeal(benchmark::State& state) {
  std::mt19937_64 rng(3);
  const auto key = random_bytes(rng, 16), ad = random_bytes(rng, 64), nonce = random_bytes(rng, 12);
  const auto pt = random_bytes(rng, static_cast<size_t>(state.range(0)));
  std::vector<uint8_t> out(pt.size() + 16);
  const auto aead = make_aead(AeadId::kAes128GcmSiv, key, AeadBackend::kNative);
  if (aead == nullptr) {
    state.SkipWithError("no AES-NI");
    return;
  }
  const Bytes ads[] = {ad};
  for (auto _ : state) benchmark::DoNotOptimize(aead->seal(ads, nonce, pt, out));
  state.SetBytesProcessed(state.iterations() * state.range(0));
  per_item(state, 1);
}
BENCHMARK(BM_GcmSivSeal)->Arg(0)->Arg(64)->Arg(1024);

}  // namespace
}  // namespace ntsd::crypto
