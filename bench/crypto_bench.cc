// Crypto microbenchmarks: cookie open/seal, request authenticator verify,
// reply seal and the whole per-request crypto, OpenSSL EVP against the
// single-buffer and batched AES-NI/VAES paths; SIV and GCM-SIV throughput.
// Run: bazel run -c opt //bench:crypto_bench
#include <benchmark/benchmark.h>
#include <openssl/rand.h>

#include <cstring>
#include <random>
#include <vector>

#include "crypto/aead.h"
#include "crypto/cookie.h"
#include "crypto/cpu.h"
#include "crypto/gcm_siv.h"
#include "crypto/key_ring.h"
#include "crypto/nonce_source.h"
#include "crypto/nts_batch.h"
#include "crypto/siv_evp.h"
#include "crypto/siv_ni.h"

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
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

// Cookie open through OpenSSL EVP (the reference): one context per operation.
void BM_CookieOpenEvp(benchmark::State& state) {
  Fixture& f = fixture();
  cpu_features_override(true, true);
  SessionKeys out;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(open_cookie(*f.keys, f.cookie_views[i++ % kMaxBatch], out));
  }
  cpu_features_override(false, false);
  per_item(state, 1);
}
BENCHMARK(BM_CookieOpenEvp);

// Single-buffer AES-NI cookie open, cached master key schedule.
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

void BM_CookieOpenBatched(benchmark::State& state) {
  Fixture& f = fixture();
  const size_t n = static_cast<size_t>(state.range(0));
  SessionKeys out[kMaxBatch];
  CookieStatus status[kMaxBatch];
  for (auto _ : state) {
    open_cookies_batched(std::span<const Bytes>(f.cookie_views.data(), n), *f.keys,
                         std::span<SessionKeys>(out, n), std::span<CookieStatus>(status, n));
    benchmark::DoNotOptimize(status);
  }
  per_item(state, n);
}
BENCHMARK(BM_CookieOpenBatched)->Arg(1)->Arg(4)->Arg(8)->Arg(16);

// Same, forced onto the 128-bit AES-NI engine (no VAES), for comparison.
void BM_CookieOpenBatchedAesNi(benchmark::State& state) {
  siv_force_engine(0);
  BM_CookieOpenBatched(state);
  siv_force_engine(-1);
}
BENCHMARK(BM_CookieOpenBatchedAesNi)->Arg(16);

void BM_CookieSealEvp(benchmark::State& state) {
  Fixture& f = fixture();
  cpu_features_override(true, true);
  uint8_t cookie[kMaxCookieLength];
  const uint8_t nonce[16] = {1};
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        seal_cookie(f.keys->current(), f.sessions[i++ % kMaxBatch], nonce, cookie));
  }
  cpu_features_override(false, false);
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
    seal_cookies_batched(std::span<const SessionKeys>(f.sessions.data(), n), *f.keys, nonces,
                         std::span<uint8_t* const>(out, n), std::span<size_t>(lengths, n));
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
    reqs.push_back({f.request_ad[k], f.request_nonce[k], f.request_tag[k], nullptr});
  bool ok[kMaxBatch];
  for (auto _ : state) {
    verify_authenticators_batched(reqs, std::span<const SessionKeys>(f.sessions.data(), n),
                                  std::span<bool>(ok, n));
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
  for (size_t k = 0; k < n; ++k) replies.push_back({f.reply_ad[k], f.reply_nonce[k], pt, out[k]});
  bool ok[kMaxBatch];
  for (auto _ : state) {
    seal_replies_batched(replies, std::span<const SessionKeys>(f.sessions.data(), n),
                         std::span<bool>(ok, n));
    benchmark::DoNotOptimize(ok);
  }
  per_item(state, n);
}
BENCHMARK(BM_ReplySealBatched)->Arg(1)->Arg(16);

// The whole server-side crypto of one NTS request, per request: open its
// cookie, verify its authenticator, seal one fresh cookie, seal the reply
// carrying that cookie; fresh nonces included (the worker's NonceSource on
// the batched path, OpenSSL's RAND_bytes on the EVP path).
template <bool kBatched>
void request_crypto(benchmark::State& state) {
  Fixture& f = fixture();
  const size_t n = static_cast<size_t>(state.range(0));
  SessionKeys sessions[kMaxBatch];
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
    auths[k] = {f.request_ad[k], f.request_nonce[k], f.request_tag[k], nullptr};
    replies[k] = {f.reply_ad[k], Bytes(nonces + n * 16 + 16 * k, 16),
                  Bytes(cookie_ef[k], kCookieEf), reply[k]};
  }
  NonceSource nonce_source;
  if (!kBatched) cpu_features_override(true, true);
  for (auto _ : state) {
    if (kBatched) {
      nonce_source.fill(MutableBytes(nonces, 32 * n));
    } else {
      RAND_bytes(nonces, static_cast<int>(32 * n));
    }
    if (kBatched) {
      open_cookies_batched(std::span<const Bytes>(f.cookie_views.data(), n), *f.keys,
                           std::span<SessionKeys>(sessions, n), std::span<CookieStatus>(status, n));
      verify_authenticators_batched(std::span<const AuthToVerify>(auths, n),
                                    std::span<const SessionKeys>(sessions, n),
                                    std::span<bool>(ok, n));
      seal_cookies_batched(std::span<const SessionKeys>(sessions, n), *f.keys,
                           Bytes(nonces, 16 * n), std::span<uint8_t* const>(cookie_out, n),
                           std::span<size_t>(lengths, n));
      seal_replies_batched(std::span<const ReplyToSeal>(replies, n),
                           std::span<const SessionKeys>(sessions, n), std::span<bool>(ok, n));
    } else {
      for (size_t k = 0; k < n; ++k) {
        status[k] = open_cookie(*f.keys, f.cookie_views[k], sessions[k]);
        const Bytes ad[] = {auths[k].ad};
        ok[k] = evp_siv_open(AeadId::kAesSivCmac256, sessions[k].c2s_key(), ad, auths[k].nonce,
                             auths[k].sealed, {});
        lengths[k] = seal_cookie(f.keys->current(), sessions[k], Bytes(nonces + 16 * k, 16),
                                 MutableBytes(cookie_out[k], 104));
        const Bytes rad[] = {replies[k].ad};
        ok[k] &= evp_siv_seal(AeadId::kAesSivCmac256, sessions[k].s2c_key(), rad, replies[k].nonce,
                              replies[k].plaintext, MutableBytes(reply[k], kCookieEf + 16));
      }
    }
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(reply);
  }
  if (!kBatched) cpu_features_override(false, false);
  for (size_t k = 0; k < n; ++k) {
    if (status[k] != CookieStatus::kOk || !ok[k]) state.SkipWithError("request crypto failed");
  }
  per_item(state, n);
}

void BM_RequestCryptoBatched(benchmark::State& state) { request_crypto<true>(state); }
BENCHMARK(BM_RequestCryptoBatched)->Arg(1)->Arg(16);
void BM_RequestCryptoEvp(benchmark::State& state) { request_crypto<false>(state); }
BENCHMARK(BM_RequestCryptoEvp)->Arg(16);

// The SIV engine alone on cookie-shaped messages (AD 4 bytes, nonce 16, 84 sealed bytes), one key.
void BM_SivOpenBatchRaw(benchmark::State& state) {
  std::mt19937_64 rng(4);
  const size_t n = static_cast<size_t>(state.range(0));
  SivKey key;
  siv_expand_key(random_bytes(rng, 32), key);
  const auto ad = random_bytes(rng, 4), nonce = random_bytes(rng, 16), pt = random_bytes(rng, 68);
  std::vector<uint8_t> sealed(84);
  const Bytes ads[] = {ad};
  siv_seal(key, ads, nonce, pt, sealed);
  uint8_t out[kMaxBatch][68];
  SivJob jobs[kMaxBatch];
  for (size_t i = 0; i < n; ++i) {
    jobs[i].key = &key;
    jobs[i].ad[0] = ad;
    jobs[i].ad_count = 1;
    jobs[i].nonce = nonce;
    jobs[i].input = sealed;
    jobs[i].output = out[i];
  }
  for (auto _ : state) {
    siv_open_batch(std::span<SivJob>(jobs, n));
    benchmark::DoNotOptimize(out);
  }
  if (!jobs[0].ok) state.SkipWithError("open failed");
  per_item(state, n);
}
BENCHMARK(BM_SivOpenBatchRaw)->Arg(1)->Arg(16);

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
  SivKey k;
  siv_expand_key(key, k);
  const Bytes ad[] = {ad1};
  for (auto _ : state) benchmark::DoNotOptimize(siv_seal(k, ad, nonce, pt, out));
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
  GcmSivKey k;
  gcm_siv_expand_key(key, k);
  for (auto _ : state) benchmark::DoNotOptimize(gcm_siv_seal(k, ad, nonce, pt, out));
  state.SetBytesProcessed(state.iterations() * state.range(0));
  per_item(state, 1);
}
BENCHMARK(BM_GcmSivSeal)->Arg(0)->Arg(64)->Arg(1024);

}  // namespace
}  // namespace ntsd::crypto
