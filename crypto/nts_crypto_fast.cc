// The fast NtsCrypto: ntsd's AES-NI/VAES code, every item of a batch that
// it can take interleaved with the others (README.md "Fast path"):
//   cookies, AEAD 15 (104 bytes), YMM lanes: the straight-line cookie kernel
//     (cookie_fast.cc), 16 cookies per pass;
//   other cookies, and all cookies on XMM lanes: the batched S2V engine
//     (siv_ni.cc / siv_vaes.cc);
//   authenticators and replies, AEAD 15 with a 16-byte nonce, YMM lanes: the
//     packet kernel (packet_fast.cc), session keys expanded inside, in pairs;
//   other AEAD 15 authenticators and replies: session keys expanded together,
//     then the batched S2V engine;
//   authenticators and replies, AEAD 30: the batched GCM-SIV (gcm_siv.cc);
//   AEAD 16 and 17 (no native code): OpenSSL EVP, one by one.
// Reached only on a CPU with AES-NI (fast_nts_crypto returns null otherwise)
// and, for the YMM lanes, VAES + AVX2.
#include <openssl/crypto.h>
#include <string.h>  // explicit_bzero

#include <algorithm>
#include <cstring>

#include "crypto/cookie_fast.h"
#include "crypto/cookie_layout.h"
#include "crypto/cpu.h"
#include "crypto/gcm_siv.h"
#include "crypto/nts_crypto.h"
#include "crypto/packet_fast.h"
#include "crypto/siv_evp.h"
#include "crypto/siv_ni.h"

namespace ntsd::crypto {
namespace {

namespace layout = cookie_layout;

static_assert(cookie_fast::kCookie == layout::kSiv256Cookie);
static_assert(cookie_fast::kPlain == layout::kSiv256Plaintext);

// Cookies the cookie kernel does not take (other AEADs, or XMM lanes): the
// general batched engine. Kept out of line so the common path does not pay
// for constructing these job records.
void open_general(std::span<const Bytes> cookies, const KeySnapshot& keys,
                  const MasterKey* const* key, const size_t* idx, size_t m,
                  std::span<SessionKeys> out, std::span<CookieStatus> status, SivLanes lanes) {
  SivJob jobs[kSivBatch];
  uint8_t pt[kSivBatch][layout::kMaxPlaintext];
  for (size_t j = 0; j < m; ++j) {
    const Bytes c = cookies[idx[j]];
    SivJob& job = jobs[j];
    job.key = &key[j]->siv;
    job.ad[0] = c.first(kCookieKeyIdLength);
    job.ad_count = 1;
    job.nonce = c.subspan(kCookieKeyIdLength, kCookieNonceLength);
    job.input = c.subspan(layout::kHeader);
    job.output = pt[j];
  }
  siv_open_batch(std::span<SivJob>(jobs, m), lanes);
  for (size_t j = 0; j < m; ++j) {
    const size_t i = idx[j];
    if (!jobs[j].ok) {
      status[i] = CookieStatus::kTampered;
      continue;
    }
    status[i] = layout::parse_plaintext(Bytes(pt[j], jobs[j].input.size() - kAeadTagLength), out[i]);
    out[i].key_age = layout::key_age(keys, *key[j]);
  }
  explicit_bzero(pt, sizeof pt[0] * m);
}

// Sessions the cookie kernel does not take: the general batched engine, out of line.
void seal_general(std::span<const SessionKeys* const> sessions, const MasterKey& key, Bytes nonces,
                  std::span<uint8_t* const> out, const size_t* idx, size_t m,
                  std::span<size_t> lengths, SivLanes lanes) {
  SivJob jobs[kSivBatch];
  uint8_t pt[kSivBatch][layout::kMaxPlaintext];
  for (size_t j = 0; j < m; ++j) {
    const size_t i = idx[j];
    uint8_t* c = out[i];
    const size_t pt_len = layout::build_plaintext(*sessions[i], pt[j]);
    layout::write_header(c, key.id, nonces.data() + i * kCookieNonceLength);
    SivJob& job = jobs[j];
    job.key = &key.siv;
    job.ad[0] = Bytes(c, kCookieKeyIdLength);
    job.ad_count = 1;
    job.nonce = Bytes(c + kCookieKeyIdLength, kCookieNonceLength);
    job.input = Bytes(pt[j], pt_len);
    job.output = c + layout::kHeader;
  }
  siv_seal_batch(std::span<SivJob>(jobs, m), lanes);
  for (size_t j = 0; j < m; ++j)
    lengths[idx[j]] = jobs[j].ok ? cookie_length(sessions[idx[j]]->aead) : 0;
  explicit_bzero(pt, sizeof pt[0] * m);
}

// AEAD 16/17 have no native code: OpenSSL, one item at a time.
bool open_evp(const AuthToVerify& r, const SessionKeys& k) {
  if (r.sealed.size() < kAeadTagLength) return false;
  const Bytes ad[] = {r.ad};
  return evp_siv_open(k.aead, k.c2s_key(), ad, r.nonce, r.sealed,
                      MutableBytes(r.plaintext_out, r.sealed.size() - kAeadTagLength));
}

bool seal_evp(const ReplyToSeal& r, const SessionKeys& k) {
  const Bytes ad[] = {r.ad};
  return evp_siv_seal(k.aead, k.s2c_key(), ad, r.nonce, r.plaintext,
                      MutableBytes(r.out, r.plaintext.size() + kAeadTagLength));
}

// A packet-kernel job for an AEAD 15 item (16-byte nonce).
packet_fast::Job describe_packet(const AuthToVerify& r, const SessionKeys& k) {
  return {k.c2s, r.ad.data(), r.ad.size(), r.nonce.data(), r.sealed.data(), r.sealed.size(),
          r.plaintext_out, false};
}

packet_fast::Job describe_packet(const ReplyToSeal& r, const SessionKeys& k) {
  return {k.s2c, r.ad.data(), r.ad.size(), r.nonce.data(), r.plaintext.data(), r.plaintext.size(),
          r.out, false};
}

// Items the packet kernel does not take: AEAD 15 through the interleaved SIV
// engine, AEAD 30 through the batched GCM-SIV, the rest one by one.
// `describe` fills an item's SivJob or GcmSivJob and returns the session key
// half this direction uses (AEAD 15 keys are expanded here, together, since
// session keys come out of cookies) and whether the SIV job needs the CTR
// half of that key. Out of line, so the common path does not pay for
// constructing these records.
template <typename Item, typename OneByOne, typename Describe, typename RunSiv, typename RunGcm>
__attribute__((noinline)) void run_general(std::span<const Item> items, std::span<bool> ok,
                                           const size_t* which, size_t count, SivLanes lanes,
                                           OneByOne one_by_one, Describe describe, RunSiv run_siv,
                                           RunGcm run_gcm) {
  static_assert(kGcmSivBatch >= kSivBatch);
  SivKey expanded[kSivBatch];
  SivKey* key_ptr[kSivBatch];
  Bytes raw[kSivBatch];
  SivJob jobs[kSivBatch];
  size_t idx[kSivBatch];
  size_t m = 0;
  GcmSivJob gcm_jobs[kSivBatch];
  size_t gcm_idx[kSivBatch];
  size_t g = 0;
  bool with_ctr = false;
  for (size_t w = 0; w < count; ++w) {
    const size_t i = which[w];
    const Item& item = items[i];
    const SessionKeys& k = *item.keys;
    if (k.aead == AeadId::kAesSivCmac256 && k.key_length == 32) {
      SivJob& job = jobs[m];
      bool needs_ctr = false;
      raw[m] = describe(item, k, &job, nullptr, needs_ctr);
      with_ctr = with_ctr || needs_ctr;
      key_ptr[m] = &expanded[m];
      job.key = &expanded[m];
      idx[m++] = i;
    } else if (k.aead == AeadId::kAes128GcmSiv && k.key_length == 16) {
      bool unused = false;
      gcm_jobs[g].key = describe(item, k, nullptr, &gcm_jobs[g], unused).data();
      gcm_idx[g++] = i;
    } else {
      ok[i] = one_by_one(item, k);
    }
  }
  if (m > 0) {
    siv_expand_session_keys(std::span<const Bytes>(raw, m), key_ptr, with_ctr, lanes);
    run_siv(std::span<SivJob>(jobs, m), lanes);
    for (size_t j = 0; j < m; ++j) {
      ok[idx[j]] = jobs[j].ok;
      siv_wipe_session_key(expanded[j]);
    }
  }
  if (g > 0) {
    run_gcm(std::span<GcmSivJob>(gcm_jobs, g));
    for (size_t j = 0; j < g; ++j) ok[gcm_idx[j]] = gcm_jobs[j].ok;
  }
}

// Runs a batch in chunks of kSivBatch: on YMM lanes, AEAD 15 items with a
// 16-byte nonce (every NTS client's) through the packet kernel, the others
// through run_general.
template <typename Item, typename OneByOne, typename Describe, typename RunSiv, typename RunGcm,
          typename RunPacket>
void run_in_batches(std::span<const Item> items, std::span<bool> ok, SivLanes lanes,
                    OneByOne one_by_one, Describe describe, RunSiv run_siv, RunGcm run_gcm,
                    RunPacket run_packet) {
  static_assert(packet_fast::kMaxJobs >= kSivBatch);
  const bool packet_kernel = lanes == SivLanes::kYmm;
  for (size_t base = 0; base < items.size(); base += kSivBatch) {
    const size_t n = std::min(kSivBatch, items.size() - base);
    packet_fast::Job packet_jobs[kSivBatch];
    size_t packet_idx[kSivBatch];
    size_t f = 0;
    size_t rest[kSivBatch];
    size_t r = 0;
    for (size_t i = base; i < base + n; ++i) {
      const Item& item = items[i];
      const SessionKeys& k = *item.keys;
      if (packet_kernel && k.aead == AeadId::kAesSivCmac256 && k.key_length == 32 &&
          item.nonce.size() == packet_fast::kNonce) {
        packet_jobs[f] = describe_packet(item, k);
        packet_idx[f++] = i;
      } else {
        rest[r++] = i;
      }
    }
    if (f > 0) {
      run_packet(packet_jobs, f);
      for (size_t j = 0; j < f; ++j) ok[packet_idx[j]] = packet_jobs[j].ok;
    }
    if (r > 0) run_general(items, ok, rest, r, lanes, one_by_one, describe, run_siv, run_gcm);
  }
}

class FastNtsCrypto final : public NtsCrypto {
 public:
  explicit FastNtsCrypto(SivLanes lanes) : lanes_(lanes) {}
  NtsCryptoKind kind() const override { return NtsCryptoKind::kFast; }
  std::string_view name() const override {
    return lanes_ == SivLanes::kYmm ? "fast (AES-NI + VAES, YMM lanes)" : "fast (AES-NI, XMM lanes)";
  }

  void open_cookies(std::span<const Bytes> cookies, const KeySnapshot& keys,
                    std::span<SessionKeys> out, std::span<CookieStatus> status) const override {
    const bool kernel = lanes_ == SivLanes::kYmm;
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
        const MasterKey* key = layout::lookup(keys, c, status[i]);
        if (key == nullptr) continue;
        if (kernel && c.size() == cookie_fast::kCookie && (key->siv.flags & kSivKeyIdPrefix)) {
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
        status[i] = fast_ok[j]
                        ? layout::parse_plaintext(Bytes(fast_pt[j], cookie_fast::kPlain), out[i])
                        : CookieStatus::kTampered;
        out[i].key_age = layout::key_age(keys, *fast_master[j]);
      }
      if (f > 0) explicit_bzero(fast_pt, sizeof fast_pt[0] * f);
      if (m > 0) open_general(cookies, keys, general_key, general_idx, m, out, status, lanes_);
    }
  }

  void verify_authenticators(std::span<const AuthToVerify> requests,
                             std::span<bool> ok) const override {
    run_in_batches(
        requests, ok, lanes_, open_evp,
        [](const AuthToVerify& r, const SessionKeys& k, SivJob* job, GcmSivJob* gcm,
           bool& needs_ctr) {
          if (gcm != nullptr) {
            *gcm = GcmSivJob{nullptr, r.ad, r.nonce, r.sealed, r.plaintext_out, false};
            return k.c2s_key();
          }
          // Requests normally carry a tag only; K2 (CTR) is expanded only if
          // some carry encrypted fields.
          needs_ctr = r.sealed.size() > kAeadTagLength;
          job->ad[0] = r.ad;
          job->ad_count = 1;
          job->nonce = r.nonce;
          job->input = r.sealed;
          job->output = r.plaintext_out;
          return k.c2s_key();
        },
        siv_open_batch, gcm_siv_open_batch, packet_fast::open);
  }

  void seal_cookies(std::span<const SessionKeys* const> sessions, const MasterKey& key,
                    Bytes nonces, std::span<uint8_t* const> out,
                    std::span<size_t> lengths) const override {
    if (!key.valid) {  // fail closed: no cookie under a key whose derivation failed
      std::fill(lengths.begin(), lengths.begin() + static_cast<ptrdiff_t>(sessions.size()), 0);
      return;
    }
    const bool kernel = lanes_ == SivLanes::kYmm && (key.siv.flags & kSivKeyIdPrefix);
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
        const SessionKeys& s = *sessions[i];
        uint8_t* c = out[i];
        lengths[i] = 0;
        if (!layout::sealable(s) || c == nullptr ||
            nonces.size() < (i + 1) * kCookieNonceLength) {
          continue;  // rejected
        }
        if (!kernel || s.aead != AeadId::kAesSivCmac256) {
          general_idx[m++] = i;
          continue;
        }
        layout::build_plaintext(s, fast_pt[f]);
        layout::write_header(c, key.id, nonces.data() + i * kCookieNonceLength);
        fast_out[f] = c;
        fast_idx[f++] = i;
      }
      if (f > 0) {
        cookie_fast::seal104(key.siv, fast_pt, fast_out, f);
        for (size_t j = 0; j < f; ++j) lengths[fast_idx[j]] = cookie_fast::kCookie;
        explicit_bzero(fast_pt, sizeof fast_pt[0] * f);
      }
      if (m > 0) seal_general(sessions, key, nonces, out, general_idx, m, lengths, lanes_);
    }
  }

  void seal_replies(std::span<const ReplyToSeal> replies, std::span<bool> ok) const override {
    run_in_batches(
        replies, ok, lanes_, seal_evp,
        [](const ReplyToSeal& r, const SessionKeys& k, SivJob* job, GcmSivJob* gcm,
           bool& needs_ctr) {
          if (gcm != nullptr) {
            *gcm = GcmSivJob{nullptr, r.ad, r.nonce, r.plaintext, r.out, false};
            return k.s2c_key();
          }
          needs_ctr = true;
          job->ad[0] = r.ad;
          job->ad_count = 1;
          job->nonce = r.nonce;
          job->input = r.plaintext;
          job->output = r.out;
          return k.s2c_key();
        },
        siv_seal_batch, gcm_siv_seal_batch, packet_fast::seal);
  }

 private:
  SivLanes lanes_;
};

}  // namespace

// The one place the fast path asks the CPU what it has.
const NtsCrypto* fast_nts_crypto(FastLanes lanes) {
  const CpuFeatures& cpu = cpu_features();
  if (!cpu.aesni) return nullptr;
  static const FastNtsCrypto xmm(SivLanes::kXmm);
  static const FastNtsCrypto ymm(SivLanes::kYmm);
  switch (lanes) {
    case FastLanes::kXmm:
      return &xmm;
    case FastLanes::kYmm:
      return cpu.vaes256 ? &ymm : nullptr;
    case FastLanes::kWidest:
      break;
  }
  return cpu.vaes256 ? &ymm : &xmm;
}

}  // namespace ntsd::crypto
