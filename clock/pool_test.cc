#include "clock/pool.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "clock/source.h"
#include "config/config.h"

namespace ntsd::clock {
namespace {

constexpr int64_t kS = 1'000'000'000;
constexpr int64_t kT0 = int64_t{1'700'000'000} * kS;

int64_t at(int64_t seconds) { return kT0 + seconds * kS; }

using Strings = std::vector<std::string>;

config::UpstreamServer pool_line() {
  config::UpstreamServer c;
  c.host = "pool.example.net";
  c.is_pool = true;
  c.iburst = true;
  c.minpoll = 6;
  c.maxpoll = 6;
  return c;
}

TEST(PoolTest, MaxClockFromTos) {
  EXPECT_EQ(max_clock({}), 10u);
  const std::vector<config::TosOption> tos = {{"minclock", 4}, {"maxclock", 11}, {"minsane", 3}};
  EXPECT_EQ(max_clock(tos), 11u);
  const std::vector<config::TosOption> twice = {{"maxclock", 11}, {"maxclock", 7}};
  EXPECT_EQ(max_clock(twice), 7u);
}

TEST(PoolTest, PickSkipsInUseExcludedAndRepeatsWithinRoom) {
  const Strings resolved = {"a", "b", "a", "c", "d", "e", "f"};
  const Strings in_use = {"b"};
  const Strings exclude = {"d"};
  EXPECT_EQ(pool_pick(resolved, in_use, exclude, 7, 10), (Strings{"a", "c", "e"}));
  EXPECT_EQ(pool_pick(resolved, in_use, exclude, 9, 10), (Strings{"a"}));
  EXPECT_EQ(pool_pick(resolved, in_use, exclude, 10, 10), Strings{});
  EXPECT_EQ(pool_pick(resolved, in_use, exclude, 12, 10), Strings{});
  EXPECT_EQ(pool_pick({}, in_use, exclude, 0, 10), Strings{});
}

// The guide's case: `tos maxclock 11`, and NTPsec counts the pool lines
// themselves. Here: maxclock 5, one `server` line (192.0.2.1) and this pool
// line are 2 associations, so the pool fills 3.
TEST(PoolTest, FillsUpToMaxClockThenWaits) {
  Pool pool(pool_line(), 5);
  EXPECT_EQ(pool.start(at(0)), (PoolActions{.resolve = true, .timer_ns = at(30)}));
  const Strings answer = {"192.0.2.1",  "192.0.2.10", "192.0.2.10",
                          "192.0.2.11", "192.0.2.12", "192.0.2.13"};
  const PoolActions a = pool.resolved(at(0), true, answer, Strings{"192.0.2.1"}, 2);
  EXPECT_EQ(a.mobilise, (Strings{"192.0.2.10", "192.0.2.11", "192.0.2.12"}));
  EXPECT_FALSE(a.timer_ns.has_value());
  EXPECT_EQ(pool.state(), PoolState::kIdle);
  EXPECT_EQ(pool.members(), 3u);
  const config::UpstreamServer member = pool.member_config("192.0.2.10");
  EXPECT_EQ(member.host, "192.0.2.10");
  EXPECT_TRUE(member.is_pool);
  EXPECT_TRUE(member.iburst);
}

// A short pool keeps looking, with the shared backoff; a failed lookup too.
TEST(PoolTest, ShortPoolLooksAgainWithBackoff) {
  Pool pool(pool_line(), 10);
  pool.start(at(0));
  PoolActions a = pool.resolved(at(0), true, Strings{"192.0.2.10"}, Strings{}, 1);
  EXPECT_EQ(a, (PoolActions{.mobilise = {"192.0.2.10"}, .timer_ns = at(16)}));
  EXPECT_EQ(pool.state(), PoolState::kWaiting);
  EXPECT_EQ(pool.timer(at(15)), (PoolActions{.timer_ns = at(16)}));
  EXPECT_EQ(pool.timer(at(16)), (PoolActions{.resolve = true, .timer_ns = at(46)}));
  a = pool.resolved(at(16), true, Strings{"192.0.2.10"}, Strings{"192.0.2.10"}, 2);
  EXPECT_EQ(a, (PoolActions{.timer_ns = at(16 + 32)}));
  EXPECT_EQ(pool.timer(at(48)), (PoolActions{.resolve = true, .timer_ns = at(78)}));
  // The lookup overruns its deadline: a failure.
  EXPECT_EQ(pool.timer(at(78)), (PoolActions{.timer_ns = at(78 + 64)}));
  // A late answer is ignored.
  EXPECT_EQ(pool.resolved(at(79), true, Strings{"192.0.2.11"}, Strings{}, 2),
            (PoolActions{.timer_ns = at(142)}));
  EXPECT_EQ(pool.short_lookups(), 3u);
}

// A pool member goes silent, demobilises after 8 unreachable polls, and the
// pool replaces it with a fresh address: never one in use, never the dead
// one, never more than maxclock in all.
TEST(PoolTest, DeadMemberIsReplaced) {
  Pool pool(pool_line(), 4);
  pool.start(at(0));
  const Strings first = {"192.0.2.10", "192.0.2.11", "192.0.2.12"};
  PoolActions a = pool.resolved(at(0), true, first, Strings{}, 1);
  EXPECT_EQ(a.mobilise, first);
  Strings in_use = first;

  // The member at 192.0.2.11, driven by hand: its server never answers.
  Source member(pool.member_config("192.0.2.11"));
  SourceActions s = member.start(at(0));
  ASSERT_TRUE(s.resolve);
  s = member.resolved(at(0), true);
  ASSERT_TRUE(s.send_poll);  // iburst: 8 packets, one poll
  int sends = 1;
  while (!s.demobilize) {
    ASSERT_TRUE(s.timer_ns.has_value());
    s = member.timer(*s.timer_ns);
    sends += s.send_poll ? 1 : 0;
  }
  // 8 unreachable polls (the first an iburst of 8 packets) every 64 s.
  EXPECT_EQ(sends, 8 + 7);
  EXPECT_EQ(member.state(), SourceState::kDemobilized);
  EXPECT_EQ(member.reach(), 0);

  std::erase(in_use, "192.0.2.11");
  a = pool.member_demobilised(at(512), "192.0.2.11");
  EXPECT_EQ(a, (PoolActions{.resolve = true, .timer_ns = at(542)}));
  EXPECT_EQ(pool.members(), 2u);
  // The name hands back the dead server and two in use first.
  const Strings second = {"192.0.2.11", "192.0.2.10", "192.0.2.12", "192.0.2.13", "192.0.2.14"};
  a = pool.resolved(at(512), true, second, in_use, 1 + in_use.size());
  EXPECT_EQ(a.mobilise, (Strings{"192.0.2.13"}));
  EXPECT_FALSE(a.timer_ns.has_value());
  EXPECT_EQ(pool.members(), 3u);
  in_use.push_back("192.0.2.13");

  // An hour later the dead server may come back.
  std::erase(in_use, "192.0.2.13");
  pool.member_demobilised(at(512 + 3600), "192.0.2.13");
  a = pool.resolved(at(512 + 3600), true, second, in_use, 1 + in_use.size());
  EXPECT_EQ(a.mobilise, (Strings{"192.0.2.11"}));
}

}  // namespace
}  // namespace ntsd::clock
