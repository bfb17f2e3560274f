#include "crypto/cookie.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "crypto/cpu.h"
#include "crypto/key_ring.h"
#include "crypto/nts_crypto.h"
#include "crypto/siv_evp.h"
#include "testing/test_bytes.h"

namespace ntsd::crypto {
namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kT0 = 1'790'000'000;  // some time in 2026

std::vector<uint8_t> test_seed(uint8_t fill = 0x5a) { return std::vector<uint8_t>(32, fill); }

SessionKeys random_session(std::mt19937_64& rng, AeadId aead) {
  SessionKeys s;
  const auto c2s = testing::random_bytes(rng, aead_key_length(aead));
  const auto s2c = testing::random_bytes(rng, aead_key_length(aead));
  EXPECT_TRUE(make_session_keys(aead, c2s, s2c, s));
  return s;
}

void expect_same(const SessionKeys& a, const SessionKeys& b) {
  EXPECT_EQ(a.aead, b.aead);
  ASSERT_EQ(a.key_length, b.key_length);
  EXPECT_EQ(0, std::memcmp(a.c2s, b.c2s, a.key_length));
  EXPECT_EQ(0, std::memcmp(a.s2c, b.s2c, a.key_length));
}

TEST(CookieTest, LengthsAreMultiplesOfFour) {
  EXPECT_EQ(cookie_length(AeadId::kAesSivCmac256), 104u);
  EXPECT_EQ(cookie_length(AeadId::kAesSivCmac384), 136u);
  EXPECT_EQ(cookie_length(AeadId::kAesSivCmac512), 168u);
  EXPECT_EQ(cookie_length(AeadId::kAes128GcmSiv), 72u);
}

TEST(CookieTest, RoundTripEveryAead) {
  std::mt19937_64 rng(1);
  KeyRing ring(test_seed());
  auto snap = ring.snapshot_at(kT0);
  for (AeadId aead : {AeadId::kAesSivCmac256, AeadId::kAesSivCmac384, AeadId::kAesSivCmac512,
                      AeadId::kAes128GcmSiv}) {
    const SessionKeys s = random_session(rng, aead);
    uint8_t cookie[kMaxCookieLength];
    const size_t n = seal_cookie(snap->current(), s, cookie);
    ASSERT_EQ(n, cookie_length(aead));
    SessionKeys back;
    ASSERT_EQ(open_cookie(*snap, Bytes(cookie, n), back), CookieStatus::kOk);
    expect_same(s, back);
    EXPECT_EQ(back.key_age, 0);
  }
}

// The exact layout: key id ‖ nonce ‖ SIV(master; S2V = key id, nonce, plaintext), checked with
// OpenSSL.
TEST(CookieTest, LayoutMatchesDesign) {
  std::mt19937_64 rng(2);
  KeyRing ring(test_seed());
  auto snap = ring.snapshot_at(kT0);
  const SessionKeys s = random_session(rng, AeadId::kAesSivCmac256);
  const auto nonce = testing::random_bytes(rng, 16);
  uint8_t cookie[104];
  ASSERT_EQ(seal_cookie(snap->current(), s, nonce, cookie), 104u);
  const uint32_t id = static_cast<uint32_t>(kT0 / kDay);
  EXPECT_EQ(cookie[0], id >> 24);
  EXPECT_EQ(cookie[3], id & 0xff);
  EXPECT_EQ(0, std::memcmp(cookie + 4, nonce.data(), 16));
  uint8_t pt[68];
  const Bytes ad[] = {Bytes(cookie, 4)};
  ASSERT_TRUE(evp_siv_open(AeadId::kAesSivCmac256, Bytes(snap->current().raw, 32), ad,
                           Bytes(cookie + 4, 16), Bytes(cookie + 20, 84), pt));
  EXPECT_EQ(pt[0], 0);
  EXPECT_EQ(pt[1], 15);
  EXPECT_EQ(0, std::memcmp(pt + 2, s.c2s, 32));
  EXPECT_EQ(0, std::memcmp(pt + 34, s.s2c, 32));
  EXPECT_EQ(pt[66], 0);
  EXPECT_EQ(pt[67], 0);
}

TEST(CookieTest, RejectsBadLengthTamperUnknownAndExpired) {
  std::mt19937_64 rng(3);
  KeyRing ring(test_seed());
  auto snap = ring.snapshot_at(kT0);
  const SessionKeys s = random_session(rng, AeadId::kAesSivCmac256);
  uint8_t cookie[104];
  ASSERT_EQ(seal_cookie(snap->current(), s, cookie), 104u);
  SessionKeys out;
  EXPECT_EQ(open_cookie(*snap, Bytes(cookie, 103), out), CookieStatus::kBadLength);
  EXPECT_EQ(open_cookie(*snap, Bytes(cookie, 0), out), CookieStatus::kBadLength);
  for (size_t bit = 32; bit < 104 * 8; ++bit) {  // every bit after the key id
    cookie[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_EQ(open_cookie(*snap, cookie, out), CookieStatus::kTampered) << bit;
    cookie[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  }
  // A flipped key-id bit names another epoch: unknown, expired or (if in the ring) tampered.
  cookie[3] ^= 0x01;
  EXPECT_EQ(open_cookie(*snap, cookie, out), CookieStatus::kTampered);  // the previous day's key
  cookie[3] ^= 0x01;
  cookie[0] ^= 0x40;  // far future
  EXPECT_EQ(open_cookie(*snap, cookie, out), CookieStatus::kUnknownKey);
  cookie[0] ^= 0x40;
  ASSERT_EQ(open_cookie(*snap, cookie, out), CookieStatus::kOk);
  // 15 days later the key has left the retention window.
  auto later = ring.snapshot_at(kT0 + 15 * kDay);
  EXPECT_EQ(open_cookie(*later, cookie, out), CookieStatus::kExpiredKey);
  // A ring with another seed names the same ids but fails authentication.
  KeyRing other(test_seed(0x11));
  EXPECT_EQ(open_cookie(*other.snapshot_at(kT0), cookie, out), CookieStatus::kTampered);
}

// Rotation never breaks a valid cookie within the window, and age is reported.
TEST(CookieTest, OpensAcrossRotationWithinRetention) {
  std::mt19937_64 rng(4);
  KeyRing ring(test_seed());
  auto snap = ring.snapshot_at(kT0);
  const SessionKeys s = random_session(rng, AeadId::kAesSivCmac256);
  uint8_t cookie[104];
  ASSERT_EQ(seal_cookie(snap->current(), s, cookie), 104u);
  for (int64_t day = 0; day <= 14; ++day) {
    auto now = ring.snapshot_at(kT0 + day * kDay, snap.get());
    SessionKeys out;
    ASSERT_EQ(open_cookie(*now, cookie, out), CookieStatus::kOk) << "day " << day;
    EXPECT_EQ(out.key_age, day);
    snap = std::move(now);
  }
  // A peer whose clock is ahead sealed with our next key: it opens too.
  auto peer = ring.snapshot_at(kT0 + kDay);
  ASSERT_EQ(seal_cookie(peer->current(), s, cookie), 104u);
  SessionKeys out;
  EXPECT_EQ(open_cookie(*ring.snapshot_at(kT0), cookie, out), CookieStatus::kOk);
}

TEST(CookieTest, UnsupportedAeadInsideAuthenticCookie) {
  // A cookie from a future ntsd: authentic, but an AEAD id we do not know.
  KeyRing ring(test_seed());
  auto snap = ring.snapshot_at(kT0);
  uint8_t cookie[104] = {};
  const uint32_t id = snap->current().id;
  cookie[0] = static_cast<uint8_t>(id >> 24);
  cookie[1] = static_cast<uint8_t>(id >> 16);
  cookie[2] = static_cast<uint8_t>(id >> 8);
  cookie[3] = static_cast<uint8_t>(id);
  uint8_t pt[68] = {0x12, 0x34};
  const Bytes ad[] = {Bytes(cookie, 4)};
  ASSERT_TRUE(evp_siv_seal(AeadId::kAesSivCmac256, Bytes(snap->current().raw, 32), ad,
                           Bytes(cookie + 4, 16), pt, MutableBytes(cookie + 20, 84)));
  SessionKeys out;
  EXPECT_EQ(open_cookie(*snap, cookie, out), CookieStatus::kUnsupportedAead);
}

// Each implementation's batched open/seal (EVP; fast on XMM lanes, the
// general engine; fast on YMM lanes, the VAES cookie kernel) agrees with the
// single-cookie calls (auto_nts_crypto()), cookie by cookie.
const NtsCrypto* implementation(const std::string& name) {
  if (name == "evp") return &evp_nts_crypto();
  return fast_nts_crypto(name == "xmm" ? FastLanes::kXmm : FastLanes::kYmm);
}

class CookieBatchTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    crypto_ = implementation(GetParam());
    if (crypto_ == nullptr) GTEST_SKIP() << "this CPU has no " << GetParam() << " lanes";
  }
  const NtsCrypto* crypto_ = nullptr;
};

INSTANTIATE_TEST_SUITE_P(Implementations, CookieBatchTest, ::testing::Values("evp", "xmm", "ymm"),
                         [](const auto& info) { return info.param; });

TEST_P(CookieBatchTest, BatchedMatchesSingle) {
  std::mt19937_64 rng(5);
  KeyRing ring(test_seed());
  auto old = ring.snapshot_at(kT0 - 3 * kDay);
  auto snap = ring.snapshot_at(kT0);
  for (size_t n : {1, 3, 8, 16, 17, 40}) {
    std::vector<SessionKeys> sessions;
    std::vector<std::vector<uint8_t>> cookies(n);
    std::vector<Bytes> views(n);
    for (size_t i = 0; i < n; ++i) {
      const AeadId aead = i % 5 == 4 ? AeadId::kAes128GcmSiv : AeadId::kAesSivCmac256;
      sessions.push_back(random_session(rng, aead));
      cookies[i].resize(cookie_length(aead));
      // Mix keys: some cookies from an older (still retained) master key.
      ASSERT_GT(seal_cookie((i % 3 == 0 ? old : snap)->current(), sessions[i], cookies[i]), 0u);
    }
    // Damage some: tamper, bad length, unknown key.
    if (n > 2) cookies[1][50] ^= 4;
    if (n > 6) cookies[6].pop_back();
    if (n > 7) cookies[7][0] ^= 0x20;
    for (size_t i = 0; i < n; ++i) views[i] = cookies[i];
    std::vector<SessionKeys> out(n);
    std::vector<CookieStatus> status(n);
    crypto_->open_cookies(views, *snap, out, status);
    for (size_t i = 0; i < n; ++i) {
      SessionKeys single;
      ASSERT_EQ(status[i], open_cookie(*snap, views[i], single)) << i;
      if (status[i] == CookieStatus::kOk) {
        expect_same(out[i], sessions[i]);
        EXPECT_EQ(out[i].key_age, i % 3 == 0 ? 3 : 0);
      }
    }
    if (n > 2) {
      EXPECT_EQ(status[1], CookieStatus::kTampered);
    }
    if (n > 6) {
      EXPECT_EQ(status[6], CookieStatus::kBadLength);
    }
    if (n > 7) {
      EXPECT_EQ(status[7], CookieStatus::kUnknownKey);
    }
    // Batched seal: byte-equal to single seal with the same nonces.
    const auto nonces = testing::random_bytes(rng, 16 * n);
    std::vector<std::vector<uint8_t>> sealed(n, std::vector<uint8_t>(kMaxCookieLength));
    std::vector<uint8_t*> ptrs(n);
    for (size_t i = 0; i < n; ++i) ptrs[i] = sealed[i].data();
    std::vector<size_t> lengths(n);
    std::vector<const SessionKeys*> session_ptr(n);
    for (size_t i = 0; i < n; ++i) session_ptr[i] = &sessions[i];
    crypto_->seal_cookies(session_ptr, snap->current(), nonces, ptrs, lengths);
    for (size_t i = 0; i < n; ++i) {
      uint8_t single[kMaxCookieLength];
      const size_t len =
          seal_cookie(snap->current(), sessions[i], Bytes(nonces.data() + 16 * i, 16), single);
      ASSERT_EQ(lengths[i], len);
      EXPECT_EQ(0, std::memcmp(single, sealed[i].data(), len));
    }
  }
}

// Keys fail closed: with the current key's derivation failed, nothing is
// sealed on any path (single, VAES cookie kernel, general engine), not one
// byte is written, and cookies under the retained keys still open.
TEST_P(CookieBatchTest, NothingIsSealedWithAnInvalidKey) {
  KeyRing ring(test_seed());
  const auto good = ring.snapshot_at(kT0);
  ASSERT_TRUE(good->complete());
  KeySnapshot broken(good->current_epoch(), good->retention_epochs(), good->slot_count());
  for (int64_t e = good->current_epoch() - good->retention_epochs(); e <= good->current_epoch() + 1;
       ++e) {
    broken.mutable_slot(e) = *good->at_epoch(e);
  }
  EXPECT_TRUE(broken.complete());
  broken.mutable_slot(good->current_epoch()).valid = false;
  EXPECT_FALSE(broken.complete());

  std::mt19937_64 rng(9);
  constexpr size_t kN = 20;
  std::vector<SessionKeys> sessions;
  for (size_t i = 0; i < kN; ++i) {
    sessions.push_back(
        random_session(rng, i % 4 == 3 ? AeadId::kAes128GcmSiv : AeadId::kAesSivCmac256));
  }
  const auto nonces = testing::random_bytes(rng, 16 * kN);
  std::vector<std::vector<uint8_t>> out(kN, std::vector<uint8_t>(kMaxCookieLength, 0xee));
  std::vector<uint8_t*> ptrs(kN);
  for (size_t i = 0; i < kN; ++i) ptrs[i] = out[i].data();
  std::vector<size_t> lengths(kN, 99);
  std::vector<const SessionKeys*> session_ptr(kN);
  for (size_t i = 0; i < kN; ++i) session_ptr[i] = &sessions[i];
  crypto_->seal_cookies(session_ptr, broken.current(), nonces, ptrs, lengths);
  for (size_t i = 0; i < kN; ++i) {
    EXPECT_EQ(lengths[i], 0u) << i;
    EXPECT_EQ(out[i], std::vector<uint8_t>(kMaxCookieLength, 0xee)) << i;
  }
  uint8_t cookie[kMaxCookieLength];
  EXPECT_EQ(seal_cookie(broken.current(), sessions[0], cookie), 0u);
  EXPECT_EQ(seal_cookie(broken.current(), sessions[0], Bytes(nonces.data(), 16), cookie), 0u);

  // Opening: retained keys still open theirs; the invalid one opens nothing.
  SessionKeys opened;
  ASSERT_EQ(seal_cookie(ring.snapshot_at(kT0 - kDay)->current(), sessions[0], cookie), 104u);
  EXPECT_EQ(open_cookie(broken, Bytes(cookie, 104), opened), CookieStatus::kOk);
  ASSERT_EQ(seal_cookie(good->current(), sessions[0], cookie), 104u);
  EXPECT_EQ(open_cookie(broken, Bytes(cookie, 104), opened), CookieStatus::kUnknownKey);
}

TEST(CookieTest, WipeSessionKeysZeroesThem) {
  std::mt19937_64 rng(10);
  std::vector<SessionKeys> sessions = {random_session(rng, AeadId::kAesSivCmac512),
                                       random_session(rng, AeadId::kAesSivCmac256)};
  wipe_session_keys(sessions);
  const SessionKeys zero_bytes = [] {
    SessionKeys z;
    std::memset(static_cast<void*>(&z), 0, sizeof z);
    return z;
  }();
  for (const SessionKeys& s : sessions) {
    EXPECT_EQ(0, std::memcmp(&s, &zero_bytes, sizeof s));
  }
}

// The single-cookie calls go through the implementation kAuto picks: the
// fast one wherever the CPU has AES-NI, and byte-equal to the EVP reference.
TEST(CookieTest, SingleCookiesUseAutoAndAgreeWithEvp) {
  EXPECT_EQ(&auto_nts_crypto(), fast_nts_crypto() != nullptr
                                    ? fast_nts_crypto()
                                    : static_cast<const NtsCrypto*>(&evp_nts_crypto()));
  EXPECT_EQ(auto_nts_crypto().kind(), cpu_features().aesni ? NtsCryptoKind::kFast : NtsCryptoKind::kEvp);
  std::mt19937_64 rng(6);
  KeyRing ring(test_seed());
  auto snap = ring.snapshot_at(kT0);
  const SessionKeys s = random_session(rng, AeadId::kAesSivCmac256);
  const auto nonce = testing::random_bytes(rng, 16);
  uint8_t single[104], evp[104];
  ASSERT_EQ(seal_cookie(snap->current(), s, nonce, single), 104u);
  uint8_t* const out[] = {evp};
  size_t length = 0;
  const SessionKeys* const session_ptr[] = {&s};
  evp_nts_crypto().seal_cookies(session_ptr, snap->current(), nonce, out, std::span(&length, 1));
  ASSERT_EQ(length, 104u);
  EXPECT_EQ(0, std::memcmp(single, evp, 104));
  SessionKeys opened;
  CookieStatus status;
  const Bytes view(single, 104);
  evp_nts_crypto().open_cookies(std::span(&view, 1), *snap, std::span(&opened, 1), std::span(&status, 1));
  EXPECT_EQ(status, CookieStatus::kOk);
  expect_same(opened, s);
}

}  // namespace
}  // namespace ntsd::crypto
