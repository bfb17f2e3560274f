#include "crypto/nts_batch.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "crypto/cpu.h"
#include "crypto/test_util.h"

namespace ntsd::crypto {
namespace {

struct Request {
  SessionKeys keys;
  std::vector<uint8_t> ad, nonce, plaintext, sealed, opened, reply_out;
};

// A mix of session AEADs, as a server batch would have; GCM-SIV only where implemented.
std::vector<Request> make_requests(std::mt19937_64& rng, size_t n) {
  std::vector<Request> reqs(n);
  for (size_t i = 0; i < n; ++i) {
    Request& r = reqs[i];
    AeadId aead = AeadId::kAesSivCmac256;
    if (i % 7 == 3) aead = AeadId::kAesSivCmac512;
    if (i % 7 == 5) aead = AeadId::kAesSivCmac384;
    if (i % 7 == 6 && cpu_features().aesni) aead = AeadId::kAes128GcmSiv;
    const auto c2s = testing::random_bytes(rng, aead_key_length(aead));
    const auto s2c = testing::random_bytes(rng, aead_key_length(aead));
    EXPECT_TRUE(make_session_keys(aead, c2s, s2c, r.keys));
    r.ad = testing::random_bytes(rng, 150 + rng() % 80);
    r.nonce = testing::random_bytes(rng, aead_nonce_length(aead));
    r.plaintext =
        testing::random_bytes(rng, i % 4 == 0 ? 0 : rng() % 120);  // requests: mostly empty
    auto c = make_aead(aead, c2s, AeadBackend::kBest);
    EXPECT_NE(c, nullptr);
    r.sealed.resize(r.plaintext.size() + 16);
    const Bytes ad[] = {r.ad};
    EXPECT_TRUE(c->seal(ad, r.nonce, r.plaintext, r.sealed));
    r.opened.resize(r.plaintext.size());
    r.reply_out.resize(r.plaintext.size() + 16);
  }
  return reqs;
}

TEST(NtsBatchTest, VerifyAndSealAgreeWithReference) {
  std::mt19937_64 rng(1);
  for (size_t n : {1, 5, 16, 23}) {
    auto reqs = make_requests(rng, n);
    for (size_t i = 1; i < n; i += 4) reqs[i].sealed[rng() % reqs[i].sealed.size()] ^= 0x80;
    std::vector<AuthToVerify> auths;
    std::vector<ReplyToSeal> replies;
    std::vector<SessionKeys> keys;
    for (auto& r : reqs) {
      auths.push_back({r.ad, r.nonce, r.sealed, r.opened.data()});
      replies.push_back({r.ad, r.nonce, r.plaintext, r.reply_out.data()});
      keys.push_back(r.keys);
    }
    std::vector<uint8_t> ok_bytes(n);
    bool ok[64];
    verify_authenticators_batched(auths, keys, std::span<bool>(ok, n));
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(ok[i], i % 4 != 1) << "n " << n << " i " << i;
      if (ok[i]) {
        EXPECT_EQ(reqs[i].opened, reqs[i].plaintext);
      }
    }
    seal_replies_batched(replies, keys, std::span<bool>(ok, n));
    for (size_t i = 0; i < n; ++i) {
      ASSERT_TRUE(ok[i]);
      auto ref = make_aead(reqs[i].keys.aead, reqs[i].keys.s2c_key(), AeadBackend::kBest);
      std::vector<uint8_t> want(reqs[i].plaintext.size() + 16);
      const Bytes ad[] = {reqs[i].ad};
      ASSERT_TRUE(ref->seal(ad, reqs[i].nonce, reqs[i].plaintext, want));
      EXPECT_EQ(reqs[i].reply_out, want) << "n " << n << " i " << i;
    }
  }
}

}  // namespace
}  // namespace ntsd::crypto
