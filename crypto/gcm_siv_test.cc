#include "crypto/gcm_siv.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "crypto/cpu.h"
#include "testing/test_bytes.h"

namespace ntsd::crypto {
namespace {

using testing::hex;

struct Vector {
  const char* key;
  const char* nonce;
  const char* ad;
  const char* plaintext;
  const char* sealed;
};

// RFC 8452 Appendix C.1 (AEAD_AES_128_GCM_SIV).
const Vector kVectors[] = {
    {"01000000000000000000000000000000", "030000000000000000000000", "", "",
     "dc20e2d83f25705bb49e439eca56de25"},
    {"01000000000000000000000000000000", "030000000000000000000000", "", "0100000000000000",
     "b5d839330ac7b786578782fff6013b815b287c22493a364c"},
    {"01000000000000000000000000000000", "030000000000000000000000", "", "010000000000000000000000",
     "7323ea61d05932260047d942a4978db357391a0bc4fdec8b0d106639"},
    {"01000000000000000000000000000000", "030000000000000000000000", "",
     "01000000000000000000000000000000",
     "743f7c8077ab25f8624e2e948579cf77303aaf90f6fe21199c6068577437a0c4"},
    {"01000000000000000000000000000000", "030000000000000000000000", "",
     "010000000000000000000000000000000200000000000000000000000000000003000000000000000000000000000"
     "00004000000000000"
     "000000000000000000",
     "2433668f1058190f6d43e360f4f35cd8e475127cfca7028ea8ab5c20f7ab2af02516a2bdcbc08d521be37ff28c152"
     "bba36697f25b4cd16"
     "9c6590d1dd39566d3f8a263dd317aa88d56bdf3936dba75bb8"},
    {"01000000000000000000000000000000", "030000000000000000000000", "01", "0200000000000000",
     "1e6daba35669f4273b0a1a2560969cdf790d99759abd1508"},
    {"01000000000000000000000000000000", "030000000000000000000000", "01",
     "020000000000000000000000", "296c7889fd99f41917f4462008299c5102745aaa3a0c469fad9e075a"},
    {"01000000000000000000000000000000", "030000000000000000000000", "01",
     "02000000000000000000000000000000",
     "e2b0c5da79a901c1745f700525cb335b8f8936ec039e4e4bb97ebd8c4457441f"},
    {"01000000000000000000000000000000", "030000000000000000000000", "01",
     "0200000000000000000000000000000003000000000000000000000000000000",
     "620048ef3c1e73e57e02bb8562c416a319e73e4caac8e96a1ecb2933145a1d71e6af6a7f87287da059a71684ed349"
     "8e1"},
    {"36864200e0eaf5284d884a0e77d31646", "bae8e37fc83441b16034566b", "46bb91c3c5", "7a806c",
     "af60eb711bd85bc1e4d3e0a462e074eea428a8"},
};

TEST(GcmSivTest, Rfc8452Vectors) {
  if (!cpu_features().aesni) GTEST_SKIP() << "no AES-NI";
  for (const auto& v : kVectors) {
    const auto key = hex(v.key), nonce = hex(v.nonce), ad = hex(v.ad), pt = hex(v.plaintext),
               want = hex(v.sealed);
    GcmSivKey k;
    ASSERT_TRUE(gcm_siv_expand_key(key, k));
    std::vector<uint8_t> out(pt.size() + 16);
    ASSERT_TRUE(gcm_siv_seal(k, ad, nonce, pt, out));
    EXPECT_EQ(out, want) << v.sealed;
    std::vector<uint8_t> back(pt.size());
    ASSERT_TRUE(gcm_siv_open(k, ad, nonce, want, back));
    EXPECT_EQ(back, pt);
  }
}

TEST(GcmSivTest, RoundTripAndTamper) {
  if (!cpu_features().aesni) GTEST_SKIP() << "no AES-NI";
  std::mt19937_64 rng(1);
  for (size_t len = 0; len <= 70; ++len) {
    const auto key = testing::random_bytes(rng, 16), nonce = testing::random_bytes(rng, 12);
    const auto ad = testing::random_bytes(rng, rng() % 50), pt = testing::random_bytes(rng, len);
    GcmSivKey k;
    ASSERT_TRUE(gcm_siv_expand_key(key, k));
    std::vector<uint8_t> sealed(len + 16), back(len);
    ASSERT_TRUE(gcm_siv_seal(k, ad, nonce, pt, sealed));
    ASSERT_TRUE(gcm_siv_open(k, ad, nonce, sealed, back));
    EXPECT_EQ(back, pt);
    for (size_t bit = 0; bit < sealed.size() * 8; bit += 3) {
      sealed[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      EXPECT_FALSE(gcm_siv_open(k, ad, nonce, sealed, back));
      sealed[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    }
    auto n2 = nonce;
    n2[11] ^= 1;
    EXPECT_FALSE(gcm_siv_open(k, ad, n2, sealed, back));
  }
  GcmSivKey k;
  ASSERT_TRUE(gcm_siv_expand_key(std::vector<uint8_t>(16), k));
  std::vector<uint8_t> out(16);
  EXPECT_FALSE(gcm_siv_seal(k, {}, std::vector<uint8_t>(16), {}, out));  // nonce must be 12 bytes
}

// The batched calls agree with the single-buffer ones job for job: RFC 8452's
// vectors and random messages of every length 0..70 beside each other in
// batches of 1..40 (chunks of 16), every third one tampered before opening.
TEST(GcmSivTest, BatchMatchesSingle) {
  if (!cpu_features().aesni) GTEST_SKIP() << "no AES-NI";
  for (const auto& v : kVectors) {
    const auto key = hex(v.key), nonce = hex(v.nonce), ad = hex(v.ad), pt = hex(v.plaintext),
               want = hex(v.sealed);
    std::vector<uint8_t> out(pt.size() + 16), back(pt.size());
    GcmSivJob seal{key.data(), ad, nonce, pt, out.data()};
    gcm_siv_seal_batch(std::span(&seal, 1));
    ASSERT_TRUE(seal.ok);
    EXPECT_EQ(out, want) << v.sealed;
    GcmSivJob open{key.data(), ad, nonce, want, back.data()};
    gcm_siv_open_batch(std::span(&open, 1));
    ASSERT_TRUE(open.ok);
    EXPECT_EQ(back, pt);
  }
  std::mt19937_64 rng(2);
  for (size_t n : {1, 2, 7, 16, 17, 40}) {
    std::vector<std::vector<uint8_t>> keys, nonces, ads, pts, sealed(n), opened(n), want(n);
    std::vector<GcmSivJob> seals(n), opens(n);
    for (size_t i = 0; i < n; ++i) {
      keys.push_back(testing::random_bytes(rng, 16));
      nonces.push_back(testing::random_bytes(rng, 12));
      ads.push_back(testing::random_bytes(rng, i % 5 == 0 ? 190 : rng() % 50));
      pts.push_back(testing::random_bytes(rng, i % 4 == 0 ? 0 : rng() % 71));
      GcmSivKey k;
      ASSERT_TRUE(gcm_siv_expand_key(keys[i], k));
      want[i].resize(pts[i].size() + 16);
      ASSERT_TRUE(gcm_siv_seal(k, ads[i], nonces[i], pts[i], want[i]));
      sealed[i].resize(want[i].size());
      seals[i] = {keys[i].data(), ads[i], nonces[i], pts[i], sealed[i].data()};
    }
    gcm_siv_seal_batch(seals);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_TRUE(seals[i].ok);
      EXPECT_EQ(sealed[i], want[i]) << "batch " << n << " job " << i;
      if (i % 3 == 1) sealed[i][rng() % sealed[i].size()] ^= 0x10;
      opened[i].assign(pts[i].size(), 0xee);
      opens[i] = {keys[i].data(), ads[i], nonces[i], sealed[i],
                  opened[i].empty() ? nullptr : opened[i].data()};
    }
    gcm_siv_open_batch(opens);
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(opens[i].ok, i % 3 != 1) << "batch " << n << " job " << i;
      EXPECT_EQ(opened[i], opens[i].ok ? pts[i] : std::vector<uint8_t>(pts[i].size(), 0));
    }
  }
  // Malformed jobs fail alone: a short nonce, a sealed input shorter than the tag.
  const auto key = testing::random_bytes(rng, 16);
  uint8_t out[32];
  GcmSivJob bad[2] = {{key.data(), {}, Bytes(out, 16), {}, out},
                      {key.data(), {}, Bytes(out, 12), Bytes(out, 15), out}};
  gcm_siv_seal_batch(std::span(bad, 1));
  EXPECT_FALSE(bad[0].ok);
  gcm_siv_open_batch(std::span(bad + 1, 1));
  EXPECT_FALSE(bad[1].ok);
}

}  // namespace
}  // namespace ntsd::crypto
