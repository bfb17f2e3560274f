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

class SeedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    dir_ = std::string(tmp ? tmp : "/tmp") + "/seed_test_" + std::to_string(::getpid());
    ::mkdir(dir_.c_str(), 0700);
    path_ = dir_ + "/ntsd.seed";
    ::unlink(path_.c_str());
  }
  void TearDown() override {
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  std::string dir_, path_;
};

TEST_F(SeedFileTest, CreateThenReadBack) {
  std::string error;
  auto seed = load_or_create_seed(path_, error);
  ASSERT_TRUE(seed.has_value()) << error;
  EXPECT_EQ(seed->size(), 32u);
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 65);  // 64 hex digits and a newline
  auto again = load_or_create_seed(path_, error);
  ASSERT_TRUE(again.has_value()) << error;
  EXPECT_EQ(*seed, *again);  // persisted, not regenerated
  EXPECT_NE(::access((path_ + ".tmp").c_str(), F_OK), 0);
}

TEST_F(SeedFileTest, RefusesGroupOrWorldReadable) {
  std::string error;
  ASSERT_TRUE(create_seed_file(path_, error)) << error;
  ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
  EXPECT_FALSE(read_seed_file(path_, error).has_value());
  EXPECT_NE(error.find("chmod 600 " + path_), std::string::npos) << error;
  EXPECT_NE(error.find("0644"), std::string::npos) << error;
  ASSERT_EQ(::chmod(path_.c_str(), 0640), 0);
  EXPECT_FALSE(read_seed_file(path_, error).has_value());
  ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);
  EXPECT_TRUE(read_seed_file(path_, error).has_value()) << error;
}

TEST_F(SeedFileTest, RawAndShortSeeds) {
  std::string error;
  {
    std::ofstream f(path_, std::ios::binary);
    std::string raw(40, '\xee');
    f << raw;
  }
  ::chmod(path_.c_str(), 0600);
  auto seed = read_seed_file(path_, error);
  ASSERT_TRUE(seed.has_value()) << error;
  EXPECT_EQ(seed->size(), 40u);
  {
    std::ofstream f(path_, std::ios::binary | std::ios::trunc);
    f << "abcdef\n";
  }
  EXPECT_FALSE(read_seed_file(path_, error).has_value());
  EXPECT_NE(error.find("at least 32"), std::string::npos) << error;
  EXPECT_FALSE(read_seed_file(dir_ + "/missing", error).has_value());
  EXPECT_NE(error.find("missing"), std::string::npos);
}

}  // namespace
}  // namespace ntsd::crypto
