#include "crypto/aead.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "crypto/cpu.h"
#include "crypto/siv_evp.h"
#include "testing/test_bytes.h"

namespace ntsd::crypto {
namespace {

using testing::hex;

struct SivVector {
  const char* name;
  AeadId id;
  const char* key;
  std::vector<const char*> ad;
  const char* nonce;  // "" = deterministic (no nonce component)
  const char* plaintext;
  const char* sealed;
};

// RFC 5297 Appendix A (A.1 deterministic, A.2 nonce-based with two AD
// components) plus the widely used empty-input and AES-SIV-CMAC-512 vectors.
const SivVector kVectors[] = {
    {"rfc5297_a1",
     AeadId::kAesSivCmac256,
     "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
     {"101112131415161718191a1b1c1d1e1f2021222324252627"},
     "",
     "112233445566778899aabbccddee",
     "85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5c"},
    {"rfc5297_a2",
     AeadId::kAesSivCmac256,
     "7f7e7d7c7b7a79787776757473727170404142434445464748494a4b4c4d4e4f",
     {"00112233445566778899aabbccddeeffdeaddadadeaddadaffeeddccbbaa99887766554433221100",
      "102030405060708090a0"},
     "09f911029d74e35bd84156c5635688c0",
     "7468697320697320736f6d6520706c61696e7465787420746f20656e6372797074207573696e67205349562d41455"
     "3",
     "7bdb6e3b432667eb06f4d14bff2fbd0fcb900f2fddbe404326601965c889bf17dba77ceb094fa663b7a3f748ba8af"
     "829ea64ad544a272e9c"
     "485b62a3fd5c0d"},
    {"empty_ad_empty_plaintext",
     AeadId::kAesSivCmac256,
     "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
     {},
     "",
     "",
     "f2007a5beb2b8900c588a7adf599f172"},
    {"empty_ad_block_plaintext",
     AeadId::kAesSivCmac256,
     "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
     {},
     "",
     "00112233445566778899aabbccddeeff",
     "f304f912863e303d5b540e5057c7010c942ffaf45b0e5ca5fb9a56a5263bb065"},
    {"siv512_1",
     AeadId::kAesSivCmac512,
     "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f06f6e6d6c6b6a69686766656463626160f0f1f2f3f4f5f6f7f8f9fafbfcfdf"
     "eff000102030405060708"
     "090a0b0c0d0e0f",
     {"101112131415161718191a1b1c1d1e1f2021222324252627"},
     "",
     "112233445566778899aabbccddee",
     "f125274c598065cfc26b0e71575029088b035217e380cac8919ee800c126"},
    {"siv512_2",
     AeadId::kAesSivCmac512,
     "7f7e7d7c7b7a797877767574737271706f6e6d6c6b6a69686766656463626160404142434445464748494a4b4c4d4"
     "e4f5051525354555657"
     "58595a5b5b5d5e5f",
     {"00112233445566778899aabbccddeeffdeaddadadeaddadaffeeddccbbaa99887766554433221100",
      "102030405060708090a0"},
     "09f911029d74e35bd84156c5635688c0",
     "7468697320697320736f6d6520706c61696e7465787420746f20656e6372797074207573696e67205349562d41455"
     "3",
     "85b8167310038db7dc4692c0281ca35868181b2762f3c24f2efa5fb80cb143516ce6c434b898a6fd8eb98a418842f"
     "51f66fc67de43ac185a"
     "66dd72475bbb08"},
};

void check_vector(const SivVector& v, AeadBackend backend) {
  SCOPED_TRACE(v.name);
  const auto key = hex(v.key);
  std::vector<std::vector<uint8_t>> ad_bytes;
  for (const char* a : v.ad) ad_bytes.push_back(hex(a));
  std::vector<Bytes> ad(ad_bytes.begin(), ad_bytes.end());
  const auto nonce = hex(v.nonce);
  const auto pt = hex(v.plaintext);
  const auto want = hex(v.sealed);
  auto aead = make_aead(v.id, key, backend);
  if (aead == nullptr) {
    ASSERT_EQ(backend, AeadBackend::kNative);  // SIV-384/512 have no native path
    return;
  }
  std::vector<uint8_t> out(aead_sealed_length(pt.size()));
  ASSERT_TRUE(aead->seal(ad, nonce, pt, out));
  EXPECT_EQ(out, want);
  std::vector<uint8_t> back(pt.size());
  ASSERT_TRUE(aead->open(ad, nonce, want, back));
  EXPECT_EQ(back, pt);
  auto bad = want;
  bad[bad.size() - 1] ^= 1;
  EXPECT_FALSE(aead->open(ad, nonce, bad, back));
}

TEST(AeadTest, Rfc5297VectorsEvp) {
  for (const auto& v : kVectors) check_vector(v, AeadBackend::kOpenSsl);
}

TEST(AeadTest, Rfc5297VectorsNative) {
  if (!cpu_features().aesni) GTEST_SKIP() << "no AES-NI";
  for (const auto& v : kVectors) check_vector(v, AeadBackend::kNative);
}

// OpenSSL 3.0 trap: EVP_EncryptFinal fails for an empty plaintext, which is
// what every NTS request authenticator has. The EVP backend must still work,
// and must agree with the native code and with a one-byte neighbour's S2V.
TEST(AeadTest, EmptyPlaintextWithNonceAndAd) {
  std::mt19937_64 rng(7);
  for (AeadId id : {AeadId::kAesSivCmac256, AeadId::kAesSivCmac384, AeadId::kAesSivCmac512}) {
    const auto key = testing::random_bytes(rng, aead_key_length(id));
    const auto ad1 = testing::random_bytes(rng, 190);
    const auto nonce = testing::random_bytes(rng, 16);
    const Bytes ad[] = {ad1};
    auto evp = make_aead(id, key, AeadBackend::kOpenSsl);
    ASSERT_NE(evp, nullptr);
    std::vector<uint8_t> tag(16);
    ASSERT_TRUE(evp->seal(ad, nonce, {}, tag));
    EXPECT_TRUE(evp->open(ad, nonce, tag, {}));
    auto bad = tag;
    bad[3] ^= 0x10;
    EXPECT_FALSE(evp->open(ad, nonce, bad, {}));
    auto bad_nonce = nonce;
    bad_nonce[0] ^= 1;
    EXPECT_FALSE(evp->open(ad, bad_nonce, tag, {}));
    if (id == AeadId::kAesSivCmac256 && cpu_features().aesni) {
      auto native = make_aead(id, key, AeadBackend::kNative);
      std::vector<uint8_t> tag2(16);
      ASSERT_TRUE(native->seal(ad, nonce, {}, tag2));
      EXPECT_EQ(tag, tag2);
    }
  }
}

// The trap the other way: one EVP context per operation, so repeated use of one Aead object is
// stable.
TEST(AeadTest, RepeatedOperationsAreIndependent) {
  std::mt19937_64 rng(8);
  const auto key = testing::random_bytes(rng, 32);
  auto evp = make_aead(AeadId::kAesSivCmac256, key, AeadBackend::kOpenSsl);
  const auto pt = testing::random_bytes(rng, 40);
  const auto nonce = testing::random_bytes(rng, 16);
  std::vector<uint8_t> first(56), again(56);
  ASSERT_TRUE(evp->seal({}, nonce, pt, first));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(evp->seal({}, nonce, pt, again));
    EXPECT_EQ(first, again);
  }
}

TEST(AeadTest, RejectsBadArguments) {
  const std::vector<uint8_t> key(31);
  EXPECT_EQ(make_aead(AeadId::kAesSivCmac256, key), nullptr);
  const std::vector<uint8_t> key32(32);
  auto aead = make_aead(AeadId::kAesSivCmac256, key32, AeadBackend::kOpenSsl);
  std::vector<uint8_t> small(20);
  const std::vector<uint8_t> pt(5);
  EXPECT_FALSE(aead->seal({}, {}, pt, small));
  EXPECT_FALSE(aead->open({}, {}, Bytes(small.data(), 15), small));
  EXPECT_EQ(aead_from_wire(15), AeadId::kAesSivCmac256);
  EXPECT_EQ(aead_from_wire(30), AeadId::kAes128GcmSiv);
  EXPECT_EQ(aead_from_wire(1), std::nullopt);
}

}  // namespace
}  // namespace ntsd::crypto
