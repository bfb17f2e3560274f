#include "crypto/siv_ni.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "crypto/cpu.h"
#include "crypto/siv_evp.h"
#include "testing/test_bytes.h"

namespace ntsd::crypto {
namespace {

struct Message {
  std::vector<uint8_t> key;
  std::vector<std::vector<uint8_t>> ad;
  std::vector<uint8_t> nonce;
  std::vector<uint8_t> plaintext;
  std::vector<Bytes> ad_spans() const { return {ad.begin(), ad.end()}; }
};

Message random_message(std::mt19937_64& rng, size_t pt_len) {
  Message m;
  m.key = testing::random_bytes(rng, 32);
  const size_t n_ad = rng() % 4;
  for (size_t i = 0; i < n_ad; ++i)
    m.ad.push_back(testing::random_bytes(rng, rng() % 3 == 0 ? rng() % 300 : rng() % 40));
  m.nonce = testing::random_bytes(rng, rng() % 4 == 0 ? 0 : 16);
  m.plaintext = testing::random_bytes(rng, pt_len);
  return m;
}

std::vector<uint8_t> evp_seal(const Message& m) {
  std::vector<uint8_t> out(m.plaintext.size() + 16);
  EXPECT_TRUE(evp_siv_seal(AeadId::kAesSivCmac256, m.key, m.ad_spans(), m.nonce, m.plaintext, out));
  return out;
}

class SivNiTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (!cpu_features().aesni) GTEST_SKIP() << "no AES-NI";
    if (GetParam() == 1 && !cpu_features().vaes256) GTEST_SKIP() << "no VAES";
  }
  SivLanes lanes() const { return GetParam() == 1 ? SivLanes::kYmm : SivLanes::kXmm; }
};

void check_single(const Message& m) {
  SivKey key;
  ASSERT_TRUE(siv_expand_key(m.key, key));
  const auto want = evp_seal(m);
  std::vector<uint8_t> got(want.size());
  const auto ad = m.ad_spans();
  ASSERT_TRUE(siv_seal(key, ad, m.nonce, m.plaintext, got));
  ASSERT_EQ(got, want) << "pt_len " << m.plaintext.size();
  std::vector<uint8_t> back(m.plaintext.size());
  ASSERT_TRUE(siv_open(key, ad, m.nonce, want, back));
  ASSERT_EQ(back, m.plaintext);
}

TEST_P(SivNiTest, SingleMatchesOpenSslEveryLengthTo130) {
  std::mt19937_64 rng(1);
  for (size_t len = 0; len <= 130; ++len) check_single(random_message(rng, len));
}

TEST_P(SivNiTest, SingleMatchesOpenSslRandomLengthsTo2048) {
  std::mt19937_64 rng(2);
  for (int i = 0; i < 300; ++i) check_single(random_message(rng, rng() % 2049));
}

// Batches of every size 1..40 (more than one chunk), mixed lengths, each job its own key.
TEST_P(SivNiTest, BatchMatchesOpenSsl) {
  std::mt19937_64 rng(3);
  for (size_t n = 1; n <= 40; ++n) {
    std::vector<Message> msgs;
    std::vector<SivKey> keys(n);
    std::vector<std::vector<uint8_t>> sealed(n), opened(n), want(n);
    std::vector<SivJob> seal_jobs(n), open_jobs(n);
    for (size_t i = 0; i < n; ++i) {
      const size_t len = rng() % 2 ? rng() % 131 : rng() % 2049;
      msgs.push_back(random_message(rng, len));
    }
    std::vector<std::vector<Bytes>> ads(n);
    for (size_t i = 0; i < n; ++i) {
      const Message& m = msgs[i];
      ASSERT_TRUE(siv_expand_key(m.key, keys[i]));
      want[i] = evp_seal(m);
      sealed[i].resize(want[i].size());
      opened[i].resize(m.plaintext.size());
      ads[i] = m.ad_spans();
      for (auto* job : {&seal_jobs[i], &open_jobs[i]}) {
        job->key = &keys[i];
        job->ad_count = static_cast<uint8_t>(ads[i].size());
        for (size_t c = 0; c < ads[i].size(); ++c) job->ad[c] = ads[i][c];
        job->nonce = m.nonce;
      }
      seal_jobs[i].input = m.plaintext;
      seal_jobs[i].output = sealed[i].data();
      open_jobs[i].input = want[i];
      open_jobs[i].output = opened[i].data();
    }
    // Corrupt every third message before opening: the others must still open.
    for (size_t i = 0; i < n; i += 3)
      want[i][rng() % want[i].size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    siv_seal_batch(seal_jobs, lanes());
    siv_open_batch(open_jobs, lanes());
    for (size_t i = 0; i < n; ++i) {
      ASSERT_TRUE(seal_jobs[i].ok);
      want[i] = evp_seal(msgs[i]);
      ASSERT_EQ(sealed[i], want[i]) << "batch " << n << " job " << i;
      if (i % 3 == 0) {
        EXPECT_FALSE(open_jobs[i].ok) << "batch " << n << " job " << i;
        EXPECT_EQ(opened[i], std::vector<uint8_t>(opened[i].size(), 0));
      } else {
        ASSERT_TRUE(open_jobs[i].ok) << "batch " << n << " job " << i;
        EXPECT_EQ(opened[i], msgs[i].plaintext);
      }
    }
  }
}

// Every single-bit change of tag, ciphertext, each AD component and nonce is rejected.
TEST_P(SivNiTest, EverySingleBitTamperRejected) {
  std::mt19937_64 rng(4);
  for (size_t pt_len : {0, 1, 15, 16, 17, 66, 100}) {
    Message m = random_message(rng, pt_len);
    m.ad = {testing::random_bytes(rng, 48), testing::random_bytes(rng, 7)};
    m.nonce = testing::random_bytes(rng, 16);
    SivKey key;
    ASSERT_TRUE(siv_expand_key(m.key, key));
    auto sealed = evp_seal(m);
    std::vector<uint8_t> out(pt_len);
    auto try_open = [&](bool batched) {
      const auto ad = m.ad_spans();
      if (!batched) return siv_open(key, ad, m.nonce, sealed, out);
      SivJob job;
      job.key = &key;
      job.ad_count = static_cast<uint8_t>(ad.size());
      for (size_t c = 0; c < ad.size(); ++c) job.ad[c] = ad[c];
      job.nonce = m.nonce;
      job.input = sealed;
      job.output = out.data();
      SivJob jobs[2] = {job, job};
      siv_open_batch(jobs, lanes());
      EXPECT_EQ(jobs[0].ok, jobs[1].ok);
      return jobs[0].ok;
    };
    ASSERT_TRUE(try_open(false));
    ASSERT_TRUE(try_open(true));
    auto flip_all = [&](std::vector<uint8_t>& buf) {
      for (size_t bit = 0; bit < buf.size() * 8; ++bit) {
        buf[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        EXPECT_FALSE(try_open(bit % 2 == 0)) << "bit " << bit;
        buf[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      }
    };
    flip_all(sealed);  // tag and ciphertext
    for (auto& a : m.ad) flip_all(a);
    flip_all(m.nonce);
    ASSERT_TRUE(try_open(false));
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, SivNiTest, ::testing::Values(0, 1),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == 0 ? "AesNi" : "Vaes";
                         });

}  // namespace
}  // namespace ntsd::crypto

namespace ntsd::crypto {
namespace {

TEST(SivSessionKeysTest, BatchedExpansionMatchesSingle) {
  if (!cpu_features().aesni) GTEST_SKIP() << "no AES-NI";
  std::mt19937_64 rng(9);
  for (int engine : {0, 1}) {
    if (engine == 1 && !cpu_features().vaes256) continue;
    const SivLanes lanes = engine == 1 ? SivLanes::kYmm : SivLanes::kXmm;
    for (size_t n : {1, 3, 4, 5, 8, 16, 17}) {
      std::vector<std::vector<uint8_t>> raw;
      std::vector<Bytes> views;
      std::vector<SivKey> want(n), got(n), mac_only(n);
      std::vector<SivKey*> got_ptr, mac_ptr;
      for (size_t i = 0; i < n; ++i) raw.push_back(testing::random_bytes(rng, 32));
      for (size_t i = 0; i < n; ++i) {
        views.push_back(raw[i]);
        ASSERT_TRUE(siv_expand_key(raw[i], want[i]));
        got_ptr.push_back(&got[i]);
        mac_ptr.push_back(&mac_only[i]);
      }
      ASSERT_TRUE(siv_expand_session_keys(views, got_ptr.data(), true, lanes));
      ASSERT_TRUE(siv_expand_session_keys(views, mac_ptr.data(), false, lanes));
      for (size_t i = 0; i < n; ++i) {
        EXPECT_EQ(0, std::memcmp(want[i].mac_rk, got[i].mac_rk, sizeof want[i].mac_rk));
        EXPECT_EQ(0, std::memcmp(want[i].ctr_rk, got[i].ctr_rk, sizeof want[i].ctr_rk));
        EXPECT_EQ(0, std::memcmp(want[i].cmac_k1, got[i].cmac_k1, 16));
        EXPECT_EQ(0, std::memcmp(want[i].cmac_k2, got[i].cmac_k2, 16));
        EXPECT_EQ(0, std::memcmp(want[i].d0, got[i].d0, 16));
        EXPECT_EQ(0, std::memcmp(want[i].mac_rk, mac_only[i].mac_rk, sizeof want[i].mac_rk));
        EXPECT_EQ(got[i].flags, kSivKeyHasCtr);
        EXPECT_EQ(mac_only[i].flags, 0);
      }
      // A MAC-only key verifies a tag-only message but refuses one with ciphertext.
      const auto ad = testing::random_bytes(rng, 190), nonce = testing::random_bytes(rng, 16);
      const Bytes ads[] = {ad};
      std::vector<uint8_t> tag(16), sealed(20), pt(4);
      ASSERT_TRUE(evp_siv_seal(AeadId::kAesSivCmac256, raw[0], ads, nonce, {}, tag));
      ASSERT_TRUE(evp_siv_seal(AeadId::kAesSivCmac256, raw[0], ads, nonce, pt, sealed));
      EXPECT_TRUE(siv_open(mac_only[0], ads, nonce, tag, {}));
      EXPECT_FALSE(siv_open(mac_only[0], ads, nonce, sealed, pt));
      EXPECT_TRUE(siv_open(got[0], ads, nonce, sealed, pt));
      siv_wipe_session_key(got[0]);
      EXPECT_EQ(got[0].d0[0] | got[0].mac_rk[3][5] | got[0].flags, 0);
    }
  }
}

}  // namespace
}  // namespace ntsd::crypto
