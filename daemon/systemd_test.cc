// The watchdog's liveness rule and the STATUS= line.
#include "daemon/systemd.h"

#include <gtest/gtest.h>

namespace ntsd::daemon {
namespace {

TEST(WorkerLiveness, EveryWorkerMustAdvance) {
  WorkerLiveness live;
  std::vector<int> stuck;
  EXPECT_TRUE(live.all_advanced({5, 7}, &stuck));  // first reading
  EXPECT_TRUE(live.all_advanced({6, 9}, &stuck));
  EXPECT_FALSE(live.all_advanced({7, 9}, &stuck));  // worker 1 did not move
  EXPECT_EQ(stuck, std::vector<int>{1});
  EXPECT_FALSE(live.all_advanced({7, 9}, &stuck));
  EXPECT_EQ(stuck, (std::vector<int>{0, 1}));
  EXPECT_TRUE(live.all_advanced({8, 10}, &stuck));
  EXPECT_TRUE(stuck.empty());
  EXPECT_TRUE(live.all_advanced({1, 1, 1}, &stuck));  // a new worker set: a new first reading
}

TEST(Systemd, StatusLine) {
  EXPECT_EQ(status_line(2, true, 2, 1234.4), "serving: 2 workers, NTS on, stratum 2, 1234 req/s");
  EXPECT_EQ(status_line(1, false, 16, 0), "serving: 1 worker, NTS off, stratum 16, 0 req/s");
}

TEST(Systemd, OnlyWithNotifySocket) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_EQ(SystemdNotifier::from_environment(), nullptr);
  ::setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
  ::setenv("WATCHDOG_USEC", "1500000", 1);
  auto n = SystemdNotifier::from_environment();
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->watchdog_usec(), 1500000u);
  EXPECT_EQ(n->tick_ms(), 500);
  ::unsetenv("WATCHDOG_USEC");
  EXPECT_EQ(SystemdNotifier::from_environment()->tick_ms(), SystemdNotifier::kStatusMs);
  ::unsetenv("NOTIFY_SOCKET");
}

}  // namespace
}  // namespace ntsd::daemon
