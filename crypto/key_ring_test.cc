#include "crypto/key_ring.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>

#include "crypto/cookie.h"
#include "crypto/seed_file.h"
#include "crypto/test_util.h"

namespace ntsd::crypto {
namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kT0 = 1'790'000'000;

TEST(KeyRingTest, SlotsAndRetention) {
  const std::vector<uint8_t> seed(32, 1);
  KeyRing daily(seed);
  EXPECT_EQ(daily.retention_epochs(), 14);
  EXPECT_EQ(daily.slot_count(), 16u);
  KeyRing hourly(seed, 3600, 14 * kDay);
  EXPECT_EQ(hourly.retention_epochs(), 336);
  EXPECT_EQ(hourly.slot_count(), 512u);
  KeyRing odd(seed, 7 * 3600, 2 * kDay);  // 48 h / 7 h -> 7 epochs kept
  EXPECT_EQ(odd.retention_epochs(), 7);
  EXPECT_EQ(odd.slot_count(), 16u);
  EXPECT_EQ(daily.epoch_at(0), 0);
  EXPECT_EQ(daily.epoch_at(kDay - 1), 0);
  EXPECT_EQ(daily.epoch_at(kDay), 1);
  EXPECT_EQ(daily.epoch_at(-1), -1);
}

TEST(KeyRingTest, SnapshotHoldsCurrentNextAndRetained) {
  KeyRing ring(std::vector<uint8_t>(32, 2));
  auto snap = ring.snapshot_at(kT0);
  const int64_t e = kT0 / kDay;
  EXPECT_EQ(snap->current().epoch, e);
  EXPECT_EQ(snap->current().id, static_cast<uint32_t>(e));
  EXPECT_EQ(snap->current().id & 15, static_cast<uint32_t>(e) & 15);  // slot in the low bits
  for (int64_t x = e - 14; x <= e + 1; ++x) EXPECT_NE(snap->at_epoch(x), nullptr) << x;
  EXPECT_EQ(snap->at_epoch(e - 15), nullptr);
  EXPECT_EQ(snap->at_epoch(e + 2), nullptr);
  KeyLookup why;
  EXPECT_EQ(snap->find(static_cast<uint32_t>(e - 15), why), nullptr);
  EXPECT_EQ(why, KeyLookup::kExpired);
  EXPECT_EQ(snap->find(static_cast<uint32_t>(e + 2), why), nullptr);
  EXPECT_EQ(why, KeyLookup::kUnknown);
  // Each epoch its own key; the same epoch the same key in a reused snapshot.
  EXPECT_NE(0, std::memcmp(snap->at_epoch(e)->raw, snap->at_epoch(e + 1)->raw, 32));
  auto next = ring.snapshot_at(kT0 + kDay, snap.get());
  EXPECT_EQ(0, std::memcmp(next->at_epoch(e)->raw, snap->at_epoch(e)->raw, 32));
  EXPECT_FALSE(ring.stale(*snap, kT0));
  EXPECT_TRUE(ring.stale(*snap, kT0 + kDay));
}

// Fleet mode: two servers that share only the seed file open each other's cookies.
TEST(KeyRingTest, TwoRingsWithOneSeedOpenEachOthersCookies) {
  std::mt19937_64 rng(1);
  const auto seed = testing::random_bytes(rng, 32);
  KeyRing a(seed);
  KeyRing b(seed);
  auto snap_a = a.snapshot_at(kT0);
  auto snap_b = b.snapshot_at(kT0 + 3 * kDay + 17);  // b restarted later, different time
  SessionKeys s;
  const auto c2s = testing::random_bytes(rng, 32), s2c = testing::random_bytes(rng, 32);
  ASSERT_TRUE(make_session_keys(AeadId::kAesSivCmac256, c2s, s2c, s));
  uint8_t cookie[104];
  ASSERT_EQ(seal_cookie(snap_a->current(), s, cookie), 104u);
  SessionKeys out;
  EXPECT_EQ(open_cookie(*snap_b, cookie, out), CookieStatus::kOk);
  EXPECT_EQ(0, std::memcmp(out.c2s, c2s.data(), 32));
  EXPECT_EQ(out.key_age, 3);
  ASSERT_EQ(seal_cookie(snap_b->current(), s, cookie), 104u);
  EXPECT_EQ(open_cookie(*a.snapshot_at(kT0 + 3 * kDay), cookie, out), CookieStatus::kOk);
  // A different seed is a different fleet.
  KeyRing c(testing::random_bytes(rng, 32));
  EXPECT_EQ(open_cookie(*c.snapshot_at(kT0 + 3 * kDay), cookie, out), CookieStatus::kTampered);
}

TEST(KeyRingTest, DerivationIsHkdfOfSeedAndEpoch) {
  const std::vector<uint8_t> seed(32, 3);
  uint8_t k1[32], k2[32], k3[32];
  ASSERT_TRUE(derive_master_key(seed, 20000, k1));
  ASSERT_TRUE(derive_master_key(seed, 20000, k2));
  ASSERT_TRUE(derive_master_key(seed, 20001, k3));
  EXPECT_EQ(0, std::memcmp(k1, k2, 32));
  EXPECT_NE(0, std::memcmp(k1, k3, 32));
}

// A failed HKDF leaves no half-derived key behind (and KeyRing marks the slot
// invalid, so nothing is sealed with it: cookie_test NothingIsSealedWithAnInvalidKey).
TEST(KeyRingTest, DerivationFailureLeavesNoKey) {
  uint8_t out[32];
  std::memset(out, 0xab, sizeof out);
  ASSERT_FALSE(derive_master_key(Bytes(), 20000, out));  // HKDF refuses an empty key
  EXPECT_EQ(std::vector<uint8_t>(out, out + 32), std::vector<uint8_t>(32, 0));
}

// `nts rotate` / `nts keepkeys` that would need gigabytes of keys are refused
// with a reason and a fix (the daemon's --check and start-up call this).
TEST(KeyRingTest, RingsThatWouldNeedGigabytesAreRejected) {
  EXPECT_EQ(key_ring_size_error(86400, 14 * kDay), "");
  EXPECT_EQ(key_ring_size_error(86400, 365 * kDay), "");
  EXPECT_EQ(key_ring_size_error(3600, 365 * kDay), "");
  EXPECT_EQ(key_ring_size_error(60, 7 * kDay), "");  // 10,080 keys
  EXPECT_EQ(key_ring_slots(86400, 14 * kDay), 16u);
  EXPECT_EQ(key_ring_slots(3600, 14 * kDay), 512u);
  // rotate 60 + keepkeys 365: 525,600 keys, 2^20 slots, over a GiB per snapshot.
  EXPECT_EQ(key_ring_slots(60, 365 * kDay), uint64_t{1} << 20);
  EXPECT_GT(key_snapshot_bytes(60, 365 * kDay), uint64_t{1} << 30);
  const std::string error = key_ring_size_error(60, 365 * kDay);
  EXPECT_EQ(error,
            "nts rotate 60 with a key retention of 365 days keeps 525600 cookie keys (1048576 ring "
            "slots, " +
                std::to_string(key_snapshot_bytes(60, 365 * kDay) >> 20) +
                " MiB per key snapshot); at most 16382 are allowed: rotate less often (nts "
                "rotate 1926 or more) or keep keys for fewer days (nts keepkeys 11 or less)");
  EXPECT_NE(key_ring_size_error(60, 14 * kDay), "");  // 20,160 keys
  EXPECT_EQ(key_ring_size_error(1926, 365 * kDay), "");
  EXPECT_EQ(key_ring_size_error(60, 11 * kDay), "");
  EXPECT_NE(key_ring_size_error(60, 12 * kDay), "");
  // A ring built anyway stays bounded.
  KeyRing capped(std::vector<uint8_t>(32, 1), 60, 365 * kDay);
  EXPECT_EQ(capped.slot_count(), kMaxKeyRingSlots);
}

// Seed file tests: crypto/seed_file_test.cc.

}  // namespace
}  // namespace ntsd::crypto
