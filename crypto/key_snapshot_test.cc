#include "crypto/key_snapshot.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "crypto/cookie.h"
#include "crypto/key_ring.h"
#include "crypto/nts_crypto.h"
#include "testing/test_bytes.h"

namespace ntsd::crypto {
namespace {

constexpr int64_t kT0 = 1'790'000'000;

TEST(KeySnapshotTest, OldSnapshotFreedOnlyAfterEveryReaderQuiesces) {
  KeyRing ring(std::vector<uint8_t>(32, 9), 1, 4);
  KeyPublisher pub(ring.snapshot_at(kT0));
  const auto r1 = pub.register_reader();
  const auto r2 = pub.register_reader();
  const KeySnapshot* held = pub.load();
  pub.publish(ring.snapshot_at(kT0 + 1, held));
  EXPECT_EQ(pub.retired_count(), 1u);
  pub.quiescent(r1);
  pub.reclaim();
  EXPECT_EQ(pub.retired_count(), 1u);     // r2 may still hold it
  EXPECT_EQ(held->current_epoch(), kT0);  // still readable
  pub.quiescent(r2);
  pub.reclaim();
  EXPECT_EQ(pub.retired_count(), 0u);
  // An offline reader does not hold anything back.
  pub.offline(r2);
  pub.publish(ring.snapshot_at(kT0 + 2, pub.load()));
  pub.quiescent(r1);
  pub.reclaim();
  EXPECT_EQ(pub.retired_count(), 0u);
  pub.unregister_reader(r1);
  pub.unregister_reader(r2);
}

// One writer rotating every millisecond (1 s rotation period on a fast
// simulated clock), N readers sealing and opening cookies with the snapshot
// they loaded for each batch. Every cookie sealed in a batch must open in
// the same batch, and under TSan/ASan no race, use-after-free or leak.
TEST(KeySnapshotTest, StressRotateWhileReadersSealAndOpen) {
  constexpr int kReaders = 3;
  const auto duration = std::chrono::milliseconds(3000);
  KeyRing ring(std::vector<uint8_t>(32, 7), 1, 8);
  KeyPublisher pub(ring.snapshot_at(kT0));
  std::atomic<bool> stop{false};
  std::atomic<int64_t> failures{0}, batches{0}, rotations{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      const auto id = pub.register_reader();
      ASSERT_NE(id, KeyPublisher::kNoReader);
      std::mt19937_64 rng(r);
      SessionKeys s;
      const auto k = testing::random_bytes(rng, 32);
      make_session_keys(AeadId::kAesSivCmac256, k, k, s);
      const SessionKeys* sessions[8];
      for (auto& x : sessions) x = &s;
      uint8_t cookies[8][kMaxCookieLength];
      uint8_t* ptrs[8];
      for (int i = 0; i < 8; ++i) ptrs[i] = cookies[i];
      while (!stop.load(std::memory_order_relaxed)) {
        const KeySnapshot* snap = pub.load();  // once per batch
        const auto nonces = testing::random_bytes(rng, 16 * 8);
        size_t lengths[8];
        auto_nts_crypto().seal_cookies(sessions, snap->current(), nonces, ptrs, lengths);
        Bytes views[8];
        for (int i = 0; i < 8; ++i) views[i] = Bytes(cookies[i], lengths[i]);
        SessionKeys out[8];
        CookieStatus status[8];
        auto_nts_crypto().open_cookies(views, *snap, out, status);
        for (auto st : status) {
          if (st != CookieStatus::kOk) failures.fetch_add(1);
        }
        pub.quiescent(id);
        batches.fetch_add(1, std::memory_order_relaxed);
        if (rng() % 64 == 0) {  // sometimes idle
          pub.offline(id);
          std::this_thread::yield();
          pub.online(id);
        }
      }
      pub.unregister_reader(id);
    });
  }
  std::thread writer([&] {
    int64_t t = kT0;
    const auto end = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < end) {
      ++t;
      pub.publish(ring.snapshot_at(t, pub.load()));
      rotations.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    stop.store(true);
  });
  writer.join();
  for (auto& t : readers) t.join();
  pub.reclaim();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(pub.retired_count(), 0u);
  EXPECT_GT(rotations.load(), 100);
  EXPECT_GT(batches.load(), 100);
  std::printf("rotations %lld, reader batches %lld\n", static_cast<long long>(rotations.load()),
              static_cast<long long>(batches.load()));
}

}  // namespace
}  // namespace ntsd::crypto
