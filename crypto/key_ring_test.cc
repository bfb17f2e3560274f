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
#include "testing/test_bytes.h"

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

TEST(KeyRingTest, FirstEpochFromIsTheFirstEpochStartingAtOrAfter) {
  EXPECT_EQ(first_epoch_from(10 * kDay, kDay), 10);      // a boundary is its own switch epoch
  EXPECT_EQ(first_epoch_from(10 * kDay + 1, kDay), 11);  // mid-epoch: the next one
  EXPECT_EQ(first_epoch_from(11 * kDay - 1, kDay), 11);
  EXPECT_EQ(first_epoch_from(7201, 3600), 3);
  EXPECT_EQ(first_epoch_from(-1, kDay), 0);
  EXPECT_EQ(first_epoch_from(-kDay - 1, kDay), -1);
  EXPECT_EQ(first_epoch_from(kDay + 5, 0), 2);  // rotation <= 0: the default (daily)
}

// Seed rotation: epochs before the switch have the old seed's keys, the
// switch epoch and later the new seed's, in every snapshot around the switch.
TEST(KeyRingTest, SeedSwitchDerivesOldKeysBeforeAndNewKeysFrom) {
  std::mt19937_64 rng(7);
  const auto old_seed = testing::random_bytes(rng, 32), new_seed = testing::random_bytes(rng, 32);
  const int64_t e0 = kT0 / kDay;
  const int64_t sw = e0 + 5;
  KeyRing old_only(old_seed), new_only(new_seed), both(old_seed, new_seed, sw);
  EXPECT_FALSE(old_only.has_new_seed());
  EXPECT_TRUE(both.has_new_seed());
  EXPECT_EQ(both.switch_epoch(), sw);
  EXPECT_FALSE(both.uses_new_seed(sw - 1));
  EXPECT_TRUE(both.uses_new_seed(sw));
  for (int64_t day : {0, 4, 5, 6, 18, 19, 25}) {
    const int64_t t = kT0 + day * kDay;
    auto b = both.snapshot_at(t), o = old_only.snapshot_at(t), n = new_only.snapshot_at(t);
    ASSERT_TRUE(b->complete());
    int old_keys = 0, new_keys = 0;
    for (int64_t e = b->current_epoch() - both.retention_epochs(); e <= b->current_epoch() + 1; ++e) {
      const MasterKey* k = b->at_epoch(e);
      ASSERT_NE(k, nullptr) << e;
      const MasterKey* want = e < sw ? o->at_epoch(e) : n->at_epoch(e);
      const MasterKey* other = e < sw ? n->at_epoch(e) : o->at_epoch(e);
      EXPECT_EQ(0, std::memcmp(k->raw, want->raw, 32)) << "day " << day << " epoch " << e;
      EXPECT_NE(0, std::memcmp(k->raw, other->raw, 32)) << "day " << day << " epoch " << e;
      EXPECT_EQ(k->id, static_cast<uint32_t>(e));
      (e < sw ? old_keys : new_keys)++;
    }
    // Day 4: the next epoch is the switch epoch, already the new seed's.
    if (day == 4) {
      EXPECT_EQ(new_keys, 1);
    }
    if (day == 25) {
      EXPECT_EQ(old_keys, 0);
    }
  }
  // A snapshot built on a previous one (the rotation thread's path) too.
  auto before = both.snapshot_at(kT0 + 4 * kDay);
  auto after = both.snapshot_at(kT0 + 5 * kDay, before.get());
  EXPECT_EQ(0, std::memcmp(after->current().raw, new_only.snapshot_at(kT0 + 5 * kDay)->current().raw, 32));
  const auto old_snap = old_only.snapshot_at(kT0 + 4 * kDay);
  ASSERT_NE(after->at_epoch(sw - 1), nullptr);
  ASSERT_NE(old_snap->at_epoch(sw - 1), nullptr);
  EXPECT_EQ(0, std::memcmp(after->at_epoch(sw - 1)->raw, old_snap->at_epoch(sw - 1)->raw, 32));
}

// The point of it: a cookie sealed before the switch by a member that has
// only the old seed opens after the switch on a member with both seeds, and
// a cookie sealed after the switch opens on a new-seed-only member.
TEST(KeyRingTest, CookieSealedBeforeSeedSwitchOpensAfterIt) {
  std::mt19937_64 rng(8);
  const auto old_seed = testing::random_bytes(rng, 32), new_seed = testing::random_bytes(rng, 32);
  const int64_t sw = first_epoch_from(kT0 + 2 * kDay + 100, kDay);  // mid-day: the next midnight
  EXPECT_EQ(sw, kT0 / kDay + 3);
  KeyRing old_only(old_seed), new_only(new_seed), both(old_seed, new_seed, sw);
  SessionKeys s;
  const auto c2s = testing::random_bytes(rng, 32), s2c = testing::random_bytes(rng, 32);
  ASSERT_TRUE(make_session_keys(AeadId::kAesSivCmac256, c2s, s2c, s));
  uint8_t cookie[104];
  ASSERT_EQ(seal_cookie(old_only.snapshot_at(kT0)->current(), s, cookie), 104u);
  SessionKeys out;
  const int64_t after = sw * kDay + 3600;  // an hour into the first new-seed epoch
  EXPECT_EQ(open_cookie(*both.snapshot_at(after), cookie, out), CookieStatus::kOk);
  EXPECT_EQ(0, std::memcmp(out.s2c, s2c.data(), 32));
  EXPECT_EQ(out.key_age, 3);
  // A member that swapped the seed outright (the old way) cannot.
  EXPECT_EQ(open_cookie(*new_only.snapshot_at(after), cookie, out), CookieStatus::kTampered);
  // Sealed after the switch by the two-seed member: opens on a new-seed-only member.
  ASSERT_EQ(seal_cookie(both.snapshot_at(after)->current(), s, cookie), 104u);
  EXPECT_EQ(open_cookie(*new_only.snapshot_at(after + kDay), cookie, out), CookieStatus::kOk);
  EXPECT_EQ(open_cookie(*old_only.snapshot_at(after), cookie, out), CookieStatus::kTampered);
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
