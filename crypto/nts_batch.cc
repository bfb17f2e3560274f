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
    const bool ok = cpu_features().aesni && gcm_siv_expand_key(k.c2s_key(), key) &&
                    gcm_siv_open(key, r.ad, r.nonce, r.sealed, pt);
    OPENSSL_cleanse(&key, sizeof key);  // a session key schedule on the stack
    return ok;
  }
  const Bytes ad[] = {r.ad};
  return evp_siv_open(k.aead, k.c2s_key(), ad, r.nonce, r.sealed, pt);
}

bool seal_one(const ReplyToSeal& r, const SessionKeys& k) {
  const MutableBytes out(r.out, r.plaintext.size() + kAeadTagLength);
  if (k.aead == AeadId::kAes128GcmSiv) {
    GcmSivKey key;
    const bool ok = cpu_features().aesni && gcm_siv_expand_key(k.s2c_key(), key) &&
                    gcm_siv_seal(key, r.ad, r.nonce, r.plaintext, out);
    OPENSSL_cleanse(&key, sizeof key);
    return ok;
  }
  const Bytes ad[] = {r.ad};
  return evp_siv_seal(k.aead, k.s2c_key(), ad, r.nonce, r.plaintext, out);
}

// AEAD 15 with AES-NI goes to the batch; everything else is done one by one.
bool batchable(const SessionKeys& k) {
  return k.aead == AeadId::kAesSivCmac256 && k.key_length == 32 && cpu_features().aesni;
}

// Runs a batch in chunks of kSivBatch: AEAD-15 items through the interleaved
// SIV engine, the rest one by one. `describe` fills an item's SivJob and
// returns its session key (expanded here, once, since session keys come out of
// cookies) and whether the job needs the CTR half of that key.
template <typename Item, typename OneByOne, typename Describe, typename RunJobs>
void run_in_batches(std::span<const Item> items, std::span<const SessionKeys> keys,
                    std::span<bool> ok, OneByOne one_by_one, Describe describe, RunJobs run_jobs) {
  for (size_t base = 0; base < items.size(); base += kSivBatch) {
    const size_t n = std::min(kSivBatch, items.size() - base);
    SivKey expanded[kSivBatch];
    SivKey* key_ptr[kSivBatch];
    Bytes raw[kSivBatch];
    SivJob jobs[kSivBatch];
    size_t idx[kSivBatch];
    size_t m = 0;
    bool with_ctr = false;
    for (size_t i = 0; i < n; ++i) {
      const Item& item = items[base + i];
      const SessionKeys& k = keys[base + i];
      if (!batchable(k)) {
        ok[base + i] = one_by_one(item, k);
        continue;
      }
      SivJob& job = jobs[m];
      bool needs_ctr = false;
      raw[m] = describe(item, k, job, needs_ctr);
      with_ctr = with_ctr || needs_ctr;
      key_ptr[m] = &expanded[m];
      job.key = &expanded[m];
      idx[m++] = base + i;
    }
    siv_expand_session_keys(std::span<const Bytes>(raw, m), key_ptr, with_ctr);
    run_jobs(std::span<SivJob>(jobs, m));
    for (size_t j = 0; j < m; ++j) {
      ok[idx[j]] = jobs[j].ok;
      siv_wipe_session_key(expanded[j]);
    }
  }
}

}  // namespace

void verify_authenticators_batched(std::span<const AuthToVerify> requests,
                                   std::span<const SessionKeys> keys, std::span<bool> ok) {
  run_in_batches(
      requests, keys, ok, open_one,
      [](const AuthToVerify& r, const SessionKeys& k, SivJob& job, bool& needs_ctr) {
        // Requests normally carry a tag only; K2 (CTR) is expanded only if
        // some carry encrypted fields.
        needs_ctr = r.sealed.size() > kAeadTagLength;
        job.ad[0] = r.ad;
        job.ad_count = 1;
        job.nonce = r.nonce;
        job.input = r.sealed;
        job.output = r.plaintext_out;
        return k.c2s_key();
      },
      siv_open_batch);
}

void seal_replies_batched(std::span<const ReplyToSeal> replies, std::span<const SessionKeys> keys,
                          std::span<bool> ok) {
  run_in_batches(
      replies, keys, ok, seal_one,
      [](const ReplyToSeal& r, const SessionKeys& k, SivJob& job, bool& needs_ctr) {
        needs_ctr = true;
        job.ad[0] = r.ad;
        job.ad_count = 1;
        job.nonce = r.nonce;
        job.input = r.plaintext;
        job.output = r.out;
        return k.s2c_key();
      },
      siv_seal_batch);
}

}  // namespace ntsd::crypto
