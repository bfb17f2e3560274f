#include "crypto/nts_batch.h"

#include <openssl/crypto.h>

#include <algorithm>

#include "crypto/cpu.h"
#include "crypto/gcm_siv.h"
#include "crypto/siv_evp.h"
#include "crypto/siv_ni.h"

namespace ntsd::crypto {
namespace {

bool open_one(const AuthToVerify& r, const SessionKeys& k) {
  if (r.sealed.size() < kAeadTagLength) return false;
  const MutableBytes pt(r.plaintext_out, r.sealed.size() - kAeadTagLength);
  if (k.aead == AeadId::kAes128GcmSiv) {
    GcmSivKey key;
    return cpu_features().aesni && gcm_siv_expand_key(k.c2s_key(), key) &&
           gcm_siv_open(key, r.ad, r.nonce, r.sealed, pt);
  }
  const Bytes ad[] = {r.ad};
  return evp_siv_open(k.aead, k.c2s_key(), ad, r.nonce, r.sealed, pt);
}

bool seal_one(const ReplyToSeal& r, const SessionKeys& k) {
  const MutableBytes out(r.out, r.plaintext.size() + kAeadTagLength);
  if (k.aead == AeadId::kAes128GcmSiv) {
    GcmSivKey key;
    return cpu_features().aesni && gcm_siv_expand_key(k.s2c_key(), key) &&
           gcm_siv_seal(key, r.ad, r.nonce, r.plaintext, out);
  }
  const Bytes ad[] = {r.ad};
  return evp_siv_seal(k.aead, k.s2c_key(), ad, r.nonce, r.plaintext, out);
}

// AEAD 15 with AES-NI goes to the batch; everything else is done one by one.
bool batchable(const SessionKeys& k) {
  return k.aead == AeadId::kAesSivCmac256 && k.key_length == 32 && cpu_features().aesni;
}

}  // namespace

void verify_authenticators_batched(std::span<const AuthToVerify> requests,
                                   std::span<const SessionKeys> keys, std::span<bool> ok) {
  for (size_t base = 0; base < requests.size(); base += kSivBatch) {
    const size_t n = std::min(kSivBatch, requests.size() - base);
    // Session keys come out of cookies, so each is expanded here, once.
    SivKey expanded[kSivBatch];
    SivKey* key_ptr[kSivBatch];
    Bytes raw[kSivBatch];
    SivJob jobs[kSivBatch];
    size_t idx[kSivBatch];
    size_t m = 0;
    bool with_ctr = false;
    for (size_t i = 0; i < n; ++i) {
      const AuthToVerify& r = requests[base + i];
      const SessionKeys& k = keys[base + i];
      if (!batchable(k)) {
        ok[base + i] = open_one(r, k);
        continue;
      }
      // Requests normally carry a tag only; K2 (CTR) is expanded only if some carry encrypted
      // fields.
      with_ctr = with_ctr || r.sealed.size() > kAeadTagLength;
      raw[m] = k.c2s_key();
      key_ptr[m] = &expanded[m];
      SivJob& job = jobs[m];
      job.key = &expanded[m];
      job.ad[0] = r.ad;
      job.ad_count = 1;
      job.nonce = r.nonce;
      job.input = r.sealed;
      job.output = r.plaintext_out;
      idx[m++] = base + i;
    }
    siv_expand_session_keys(std::span<const Bytes>(raw, m), key_ptr, with_ctr);
    siv_open_batch(std::span<SivJob>(jobs, m));
    for (size_t j = 0; j < m; ++j) {
      ok[idx[j]] = jobs[j].ok;
      siv_wipe_session_key(expanded[j]);
    }
  }
}

void seal_replies_batched(std::span<const ReplyToSeal> replies, std::span<const SessionKeys> keys,
                          std::span<bool> ok) {
  for (size_t base = 0; base < replies.size(); base += kSivBatch) {
    const size_t n = std::min(kSivBatch, replies.size() - base);
    SivKey expanded[kSivBatch];
    SivKey* key_ptr[kSivBatch];
    Bytes raw[kSivBatch];
    SivJob jobs[kSivBatch];
    size_t idx[kSivBatch];
    size_t m = 0;
    for (size_t i = 0; i < n; ++i) {
      const ReplyToSeal& r = replies[base + i];
      const SessionKeys& k = keys[base + i];
      if (!batchable(k)) {
        ok[base + i] = seal_one(r, k);
        continue;
      }
      raw[m] = k.s2c_key();
      key_ptr[m] = &expanded[m];
      SivJob& job = jobs[m];
      job.key = &expanded[m];
      job.ad[0] = r.ad;
      job.ad_count = 1;
      job.nonce = r.nonce;
      job.input = r.plaintext;
      job.output = r.out;
      idx[m++] = base + i;
    }
    siv_expand_session_keys(std::span<const Bytes>(raw, m), key_ptr, true);
    siv_seal_batch(std::span<SivJob>(jobs, m));
    for (size_t j = 0; j < m; ++j) {
      ok[idx[j]] = jobs[j].ok;
      siv_wipe_session_key(expanded[j]);
    }
  }
}

}  // namespace ntsd::crypto
