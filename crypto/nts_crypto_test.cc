#include "crypto/nts_crypto.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "crypto/cpu.h"
#include "crypto/key_ring.h"
#include "crypto/siv_evp.h"
#include "testing/test_bytes.h"

namespace ntsd::crypto {
namespace {

struct Request {
  SessionKeys keys;
  std::vector<uint8_t> ad, nonce, plaintext, sealed, opened, reply_out;
};

// A mix of session AEADs, as a server batch would have; GCM-SIV only where implemented. Each is
// sealed with make_aead's OpenSSL backend (SIV) or native one (GCM-SIV): the reference.
std::vector<Request> make_requests(std::mt19937_64& rng, size_t n) {
  std::vector<Request> reqs(n);
  for (size_t i = 0; i < n; ++i) {
    Request& r = reqs[i];
    AeadId aead = AeadId::kAesSivCmac256;
    if (i % 7 == 3) aead = AeadId::kAesSivCmac512;
    if (i % 7 == 5) aead = AeadId::kAesSivCmac384;
    if ((i % 7 == 6 || i % 11 == 2) && cpu_features().aesni) aead = AeadId::kAes128GcmSiv;
    const auto c2s = testing::random_bytes(rng, aead_key_length(aead));
    const auto s2c = testing::random_bytes(rng, aead_key_length(aead));
    EXPECT_TRUE(make_session_keys(aead, c2s, s2c, r.keys));
    r.ad = testing::random_bytes(rng, 150 + rng() % 80);
    r.nonce = testing::random_bytes(rng, aead_nonce_length(aead));
    r.plaintext =
        testing::random_bytes(rng, i % 4 == 0 ? 0 : rng() % 120);  // requests: mostly empty
    auto c = make_aead(aead, c2s,
                       aead == AeadId::kAes128GcmSiv ? AeadBackend::kNative : AeadBackend::kOpenSsl);
    EXPECT_NE(c, nullptr);
    r.sealed.resize(r.plaintext.size() + 16);
    const Bytes ad[] = {r.ad};
    EXPECT_TRUE(c->seal(ad, r.nonce, r.plaintext, r.sealed));
    r.opened.resize(r.plaintext.size());
    r.reply_out.resize(r.plaintext.size() + 16);
  }
  return reqs;
}

const NtsCrypto* implementation(const std::string& name) {
  if (name == "evp") return &evp_nts_crypto();
  return fast_nts_crypto(name == "xmm" ? FastLanes::kXmm : FastLanes::kYmm);
}

class NtsCryptoTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    crypto_ = implementation(GetParam());
    if (crypto_ == nullptr) GTEST_SKIP() << "this CPU has no " << GetParam() << " lanes";
  }
  const NtsCrypto* crypto_ = nullptr;
};

INSTANTIATE_TEST_SUITE_P(Implementations, NtsCryptoTest, ::testing::Values("evp", "xmm", "ymm"),
                         [](const auto& info) { return info.param; });

TEST_P(NtsCryptoTest, VerifyAndSealAgreeWithReference) {
  std::mt19937_64 rng(1);
  for (size_t n : {1, 5, 16, 23, 64}) {
    auto reqs = make_requests(rng, n);
    for (size_t i = 1; i < n; i += 4) reqs[i].sealed[rng() % reqs[i].sealed.size()] ^= 0x80;
    std::vector<AuthToVerify> auths;
    std::vector<ReplyToSeal> replies;
    for (auto& r : reqs) {
      auths.push_back({r.ad, r.nonce, r.sealed, r.opened.data(), &r.keys});
      replies.push_back({r.ad, r.nonce, r.plaintext, r.reply_out.data(), &r.keys});
    }
    bool ok[64];
    crypto_->verify_authenticators(auths, std::span<bool>(ok, n));
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(ok[i], i % 4 != 1) << "n " << n << " i " << i;
      EXPECT_EQ(reqs[i].opened,
                ok[i] ? reqs[i].plaintext : std::vector<uint8_t>(reqs[i].plaintext.size(), 0))
          << "n " << n << " i " << i;  // nothing unauthenticated left behind
    }
    crypto_->seal_replies(replies, std::span<bool>(ok, n));
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

// Cookies sealed by one implementation open under every other, and the same
// nonces give the same cookie bytes whichever implementation seals.
TEST_P(NtsCryptoTest, CookiesAgreeWithEvp) {
  std::mt19937_64 rng(2);
  KeyRing ring(std::vector<uint8_t>(32, 0x33));
  const auto old = ring.snapshot_at(1'790'000'000 - 2 * 86400);
  const auto keys = ring.snapshot_at(1'790'000'000, old.get());
  constexpr size_t kN = 37;
  std::vector<SessionKeys> sessions(kN);
  for (size_t i = 0; i < kN; ++i) {
    const AeadId aead = i % 6 == 5   ? AeadId::kAes128GcmSiv
                        : i % 6 == 4 ? AeadId::kAesSivCmac512
                        : i % 6 == 3 ? AeadId::kAesSivCmac384
                                     : AeadId::kAesSivCmac256;
    const auto c2s = testing::random_bytes(rng, aead_key_length(aead));
    const auto s2c = testing::random_bytes(rng, aead_key_length(aead));
    ASSERT_TRUE(make_session_keys(aead, c2s, s2c, sessions[i]));
  }
  const auto nonces = testing::random_bytes(rng, 16 * kN);
  std::vector<std::vector<uint8_t>> mine(kN, std::vector<uint8_t>(kMaxCookieLength)),
      theirs(kN, std::vector<uint8_t>(kMaxCookieLength));
  std::vector<uint8_t*> mine_ptr(kN), theirs_ptr(kN);
  for (size_t i = 0; i < kN; ++i) {
    mine_ptr[i] = mine[i].data();
    theirs_ptr[i] = theirs[i].data();
  }
  std::vector<size_t> mine_len(kN), theirs_len(kN);
  std::vector<const SessionKeys*> session_ptr(kN);
  for (size_t i = 0; i < kN; ++i) session_ptr[i] = &sessions[i];
  crypto_->seal_cookies(session_ptr, keys->current(), nonces, mine_ptr, mine_len);
  // The reference seals half of them with the older key, for key_age.
  evp_nts_crypto().seal_cookies(std::span(session_ptr).first(kN / 2), old->current(),
                                Bytes(nonces).first(16 * (kN / 2)), theirs_ptr, theirs_len);
  evp_nts_crypto().seal_cookies(std::span(session_ptr).subspan(kN / 2), keys->current(),
                                Bytes(nonces).subspan(16 * (kN / 2)),
                                std::span(theirs_ptr).subspan(kN / 2),
                                std::span(theirs_len).subspan(kN / 2));
  std::vector<Bytes> views;
  for (size_t i = 0; i < kN; ++i) {
    ASSERT_EQ(mine_len[i], cookie_length(sessions[i].aead));
    ASSERT_EQ(theirs_len[i], mine_len[i]);
    if (i >= kN / 2) {
      EXPECT_EQ(mine[i], theirs[i]) << i;
    }
    views.emplace_back(theirs[i].data(), theirs_len[i]);
  }
  theirs[7][60] ^= 1;  // one tampered
  std::vector<SessionKeys> out(kN);
  std::vector<CookieStatus> status(kN);
  crypto_->open_cookies(views, *keys, out, status);
  for (size_t i = 0; i < kN; ++i) {
    if (i == 7) {
      EXPECT_EQ(status[i], CookieStatus::kTampered);
      continue;
    }
    ASSERT_EQ(status[i], CookieStatus::kOk) << i;
    EXPECT_EQ(out[i].aead, sessions[i].aead);
    EXPECT_EQ(out[i].key_age, i < kN / 2 ? 2 : 0);
    EXPECT_EQ(0, std::memcmp(out[i].c2s, sessions[i].c2s, sessions[i].key_length));
    EXPECT_EQ(0, std::memcmp(out[i].s2c, sessions[i].s2c, sessions[i].key_length));
  }
}

// Items carry a pointer to their keys; the pointer, never the item's place in
// the batch nor its neighbours, decides the key. One batch of one shape (AEAD
// 15, 16-byte nonces: the packet kernel on YMM lanes, which pairs neighbours
// of a shape in one register) holds items sharing one SessionKeys, items with
// their own copy of those keys, items under other keys, and authenticators
// made under a neighbour's C2S key or the item's own S2C key, which must fail.
// The same items reversed give the same per-item results.
TEST_P(NtsCryptoTest, ItemsUseTheKeysTheyPointAt) {
  std::mt19937_64 rng(3);
  constexpr size_t kPool = 5;
  std::vector<SessionKeys> pool(kPool);
  for (auto& k : pool) {
    ASSERT_TRUE(make_session_keys(AeadId::kAesSivCmac256, testing::random_bytes(rng, 32),
                                  testing::random_bytes(rng, 32), k));
  }
  for (size_t n : {2, 7, 16, 17, 40}) {
    for (size_t text : {0, 108}) {
      enum class Seal { kOwn, kNeighbourC2s, kOwnS2c };
      struct Item {
        SessionKeys copy;           // used when `keys` points here
        const SessionKeys* keys;
        Seal how;
        std::vector<uint8_t> ad, nonce, plaintext, sealed, opened, reply_out;
      };
      std::vector<Item> items(n);
      for (size_t i = 0; i < n; ++i) {
        Item& it = items[i];
        const SessionKeys& base = pool[rng() % kPool];
        it.copy = base;
        it.keys = rng() % 2 == 0 ? &base : &it.copy;  // shared pointer, or its own copy
        it.how = static_cast<Seal>(rng() % 3);
        it.ad = testing::random_bytes(rng, 192);
        it.nonce = testing::random_bytes(rng, 16);
        it.plaintext = testing::random_bytes(rng, text);
      }
      for (size_t i = 0; i < n; ++i) {
        Item& it = items[i];
        Bytes key = it.keys->c2s_key();
        if (it.how == Seal::kOwnS2c) key = it.keys->s2c_key();
        if (it.how == Seal::kNeighbourC2s) {
          // The nearest item (either side) whose C2S key differs: what the kernel may pair it with.
          it.how = Seal::kOwn;
          for (size_t d = 1; d < n && it.how == Seal::kOwn; ++d) {
            for (size_t j : {(i + d) % n, (i + n - d) % n}) {
              if (!std::ranges::equal(items[j].keys->c2s_key(), it.keys->c2s_key())) {
                key = items[j].keys->c2s_key();
                it.how = Seal::kNeighbourC2s;
                break;
              }
            }
          }
        }
        it.sealed.resize(text + 16);
        const Bytes ad[] = {it.ad};
        ASSERT_TRUE(evp_siv_seal(AeadId::kAesSivCmac256, key, ad, it.nonce, it.plaintext, it.sealed));
      }
      for (bool reversed : {false, true}) {
        SCOPED_TRACE("n " + std::to_string(n) + " text " + std::to_string(text) +
                     (reversed ? " reversed" : ""));
        std::vector<size_t> order(n);
        for (size_t i = 0; i < n; ++i) order[i] = reversed ? n - 1 - i : i;
        std::vector<AuthToVerify> auths;
        std::vector<ReplyToSeal> replies;
        for (size_t i : order) {
          Item& it = items[i];
          it.opened.assign(text, 0xee);
          it.reply_out.assign(text + 16, 0xee);
          auths.push_back({it.ad, it.nonce, it.sealed, it.opened.data(), it.keys});
          replies.push_back({it.ad, it.nonce, it.plaintext, it.reply_out.data(), it.keys});
        }
        bool ok[64];
        crypto_->verify_authenticators(auths, std::span<bool>(ok, n));
        for (size_t k = 0; k < n; ++k) {
          const Item& it = items[order[k]];
          const bool want = it.how == Seal::kOwn;
          EXPECT_EQ(ok[k], want) << "item " << order[k] << " how " << static_cast<int>(it.how);
          EXPECT_EQ(it.opened, want ? it.plaintext : std::vector<uint8_t>(text, 0)) << order[k];
        }
        crypto_->seal_replies(replies, std::span<bool>(ok, n));
        for (size_t k = 0; k < n; ++k) {
          const Item& it = items[order[k]];
          ASSERT_TRUE(ok[k]);
          std::vector<uint8_t> want(text + 16);
          const Bytes ad[] = {it.ad};
          ASSERT_TRUE(evp_siv_seal(AeadId::kAesSivCmac256, it.keys->s2c_key(), ad, it.nonce,
                                   it.plaintext, want));
          EXPECT_EQ(it.reply_out, want) << "item " << order[k];
        }
      }
    }
  }
}

TEST(NtsCryptoChoiceTest, ParsesAndChooses) {
  EXPECT_EQ(parse_nts_crypto_choice("auto"), NtsCryptoChoice::kAuto);
  EXPECT_EQ(parse_nts_crypto_choice("evp"), NtsCryptoChoice::kEvp);
  EXPECT_EQ(parse_nts_crypto_choice("fast"), NtsCryptoChoice::kFast);
  EXPECT_EQ(parse_nts_crypto_choice("Fast"), std::nullopt);
  EXPECT_EQ(parse_nts_crypto_choice(""), std::nullopt);
  std::string error;
  EXPECT_EQ(choose_nts_crypto(NtsCryptoChoice::kEvp, &error), &evp_nts_crypto());
  EXPECT_EQ(choose_nts_crypto(NtsCryptoChoice::kAuto, &error), &auto_nts_crypto());
  const NtsCrypto* fast = choose_nts_crypto(NtsCryptoChoice::kFast, &error);
  if (cpu_features().aesni) {
    ASSERT_NE(fast, nullptr);
    EXPECT_EQ(fast->kind(), NtsCryptoKind::kFast);
    EXPECT_EQ(fast, fast_nts_crypto(cpu_features().vaes256 ? FastLanes::kYmm : FastLanes::kXmm));
    EXPECT_EQ(&auto_nts_crypto(), fast);
    EXPECT_TRUE(error.empty());
  } else {
    EXPECT_EQ(fast, nullptr);
    EXPECT_NE(error.find("AES-NI"), std::string::npos);
    EXPECT_EQ(&auto_nts_crypto(), &evp_nts_crypto());
  }
  EXPECT_EQ(evp_nts_crypto().kind(), NtsCryptoKind::kEvp);
}

}  // namespace
}  // namespace ntsd::crypto
