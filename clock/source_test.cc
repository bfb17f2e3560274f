#include "clock/source.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "config/config.h"

namespace ntsd::clock {
namespace {

constexpr int64_t kS = 1'000'000'000;
constexpr int64_t kT0 = int64_t{1'700'000'000} * kS;

int64_t at(int64_t seconds) { return kT0 + seconds * kS; }

std::vector<int64_t> times(std::initializer_list<int64_t> seconds) {
  std::vector<int64_t> out;
  for (int64_t s : seconds) out.push_back(at(s));
  return out;
}

config::UpstreamServer server(bool nts, int minpoll, int maxpoll) {
  config::UpstreamServer c;
  c.host = "time.example.net";
  c.nts = nts;
  c.minpoll = minpoll;
  c.maxpoll = maxpoll;
  return c;
}

// The runner, the network, the resolver, the NTS-KE server and the NTP
// server, all simulated: a queue of timed events plus the source's one
// timer, run in time order. Latencies are zero unless a test sets them, so
// every time in a test is exact.
class Sim {
 public:
  explicit Sim(const config::UpstreamServer& c) : src(c), nts_(c.nts) {}

  Source src;
  int64_t now = kT0;
  std::optional<int64_t> timer;

  // The environment, by index of the lookup / key exchange / request.
  std::function<bool(size_t)> dns_ok = [](size_t) { return true; };
  std::optional<int64_t> dns_latency = 0;  // nullopt: the resolver never answers
  std::function<bool(size_t)> ke_ok = [](size_t) { return true; };
  uint32_t ke_cookies = 8;
  std::function<std::optional<SourceReply>(size_t)> upstream = [](size_t) {
    return std::optional<SourceReply>(SourceReply::kVerified);
  };
  bool refill = true;  // a verified NTS reply brings one fresh cookie
  int64_t rtt = 0;

  // What the runner did.
  std::vector<int64_t> resolves, kes, sends;
  int drops = 0;
  int missed = 0;
  bool demobilized = false;
  uint32_t jar = 0;  // the runner's cookie jar

  void start() { apply(src.start(now)); }

  void run_until(int64_t t) {
    for (;;) {
      const bool have_event = !queue_.empty() && queue_.begin()->first <= t;
      const bool have_timer = timer && *timer <= t;
      if (!have_event && !have_timer) break;
      if (have_event && (!have_timer || queue_.begin()->first <= *timer)) {
        auto node = queue_.extract(queue_.begin());
        now = node.key();
        node.mapped()();
      } else {
        now = *timer;
        apply(src.timer(now));
      }
    }
    now = std::max(now, t);
  }

  void apply(const SourceActions& a) {
    // The machine's own invariants: exactly one timer while alive, none after.
    EXPECT_EQ(a.timer_ns.has_value(), src.state() != SourceState::kDemobilized);
    EXPECT_EQ(a.timer_ns, src.next_timer_ns());
    if (a.timer_ns) {
      EXPECT_GE(*a.timer_ns, now);
    }
    if (a.drop_session) {
      ++drops;
      jar = 0;
    }
    if (a.missed_poll) ++missed;
    if (a.resolve) {
      const size_t i = resolves.size();
      resolves.push_back(now);
      const bool ok = dns_ok(i);
      if (dns_latency) later(*dns_latency, [this, ok] { apply(src.resolved(now, ok)); });
    }
    if (a.start_ke) {
      const size_t i = kes.size();
      kes.push_back(now);
      const bool ok = ke_ok(i);
      later(0, [this, ok] {
        if (ok) jar = ke_cookies;
        apply(src.ke_done(now, ok, ok ? ke_cookies : 0));
      });
    }
    if (a.send_poll) {
      const size_t i = sends.size();
      sends.push_back(now);
      if (nts_ && jar > 0) --jar;
      const std::optional<SourceReply> r = upstream(i);
      if (r) {
        later(rtt, [this, kind = *r] {
          if (nts_ && kind == SourceReply::kVerified && refill) ++jar;
          apply(src.reply(now, kind, jar));
        });
      }
    }
    if (a.demobilize) demobilized = true;
    timer = a.timer_ns;
  }

 private:
  void later(int64_t delay, std::function<void()> f) { queue_.emplace(now + delay, std::move(f)); }

  bool nts_;
  std::multimap<int64_t, std::function<void()>> queue_;
};

// start -> resolve -> KE -> iburst (8 packets 2 s apart, one poll) -> polls
// at minpoll -> one step up after 8 answered polls -> maxpoll.
TEST(SourceTest, StartResolveKeIburstThenPollRisesToMaxpoll) {
  auto c = server(true, 4, 6);
  c.iburst = true;
  Sim sim(c);
  sim.rtt = kS / 50;  // 20 ms: replies arrive after their request
  EXPECT_EQ(sim.src.state(), SourceState::kIdle);
  sim.start();
  sim.run_until(at(1000));

  EXPECT_EQ(sim.resolves, times({0}));
  EXPECT_EQ(sim.kes, times({0}));
  std::vector<int64_t> expected = times({0, 2, 4, 6, 8, 10, 12, 14});  // the iburst poll
  for (int64_t t = 16; t <= 128; t += 16)
    expected.push_back(at(t));  // 2^4 s (7 more at 4, then the step)
  for (int64_t t = 160; t <= 384; t += 32) expected.push_back(at(t));   // 2^5 s
  for (int64_t t = 448; t <= 1000; t += 64) expected.push_back(at(t));  // 2^6 s = maxpoll
  EXPECT_EQ(sim.sends, expected);
  EXPECT_EQ(sim.src.poll(), 6);
  EXPECT_EQ(sim.src.reach(), 0xFF);
  EXPECT_EQ(sim.src.next_timer_ns(), at(1024));
  EXPECT_EQ(sim.src.state(), SourceState::kPolling);
  EXPECT_EQ(sim.src.unanswered(), 0u);
  EXPECT_EQ(sim.src.cookies(), 8u);
  EXPECT_EQ(sim.src.last_ke_ns(), at(0));
  EXPECT_EQ(sim.src.ke_failures(), 0u);
  EXPECT_EQ(sim.missed, 0);
  EXPECT_EQ(sim.drops, 0);
  EXPECT_EQ(sim.src.counters().polls_sent, expected.size());
  EXPECT_EQ(sim.src.counters().verified, expected.size());
  EXPECT_EQ(sim.src.counters().key_exchanges, 1u);
  EXPECT_EQ(sim.src.counters().resolves, 1u);
}

TEST(SourceTest, PlainSourceHasNoKeyExchange) {
  Sim sim(server(false, 6, 10));
  sim.start();
  sim.run_until(at(200));
  EXPECT_EQ(sim.resolves, times({0}));
  EXPECT_TRUE(sim.kes.empty());
  EXPECT_EQ(sim.sends, times({0, 64, 128, 192}));
  EXPECT_EQ(sim.src.reach(), 0x0F);
  EXPECT_EQ(sim.src.next_timer_ns(), at(256));
}

// `burst`: while reachable, every poll is 8 packets 2 s apart; reach moves once per poll.
TEST(SourceTest, BurstWhileReachable) {
  auto c = server(false, 6, 6);
  c.burst = true;
  Sim sim(c);
  sim.start();
  sim.run_until(at(100));
  EXPECT_EQ(sim.sends, times({0, 64, 66, 68, 70, 72, 74, 76, 78}));
  EXPECT_EQ(sim.src.reach(), 0x03);
  EXPECT_EQ(sim.src.next_timer_ns(), at(128));
}

// RFC 5905: three unanswered polls in a row while reachable -> a dummy
// sample each poll; once unreachable, the poll falls back to minpoll and the
// host is looked up again after every 8 unreachable polls, without a gap.
TEST(SourceTest, SilenceMissedPollsAndResolveAgain) {
  Sim sim(server(false, 6, 6));
  sim.upstream = [](size_t i) {
    return i < 2 ? std::optional<SourceReply>(SourceReply::kVerified) : std::nullopt;
  };
  sim.start();
  sim.run_until(at(4 * 64));
  EXPECT_EQ(sim.missed, 1);  // the poll at 256 s: reach 0b11000
  EXPECT_EQ(sim.src.reach(), 0x18);
  sim.run_until(at(9 * 64));
  EXPECT_EQ(sim.missed, 5);  // 256 .. 512 s; none once reach is 0
  EXPECT_EQ(sim.src.reach(), 0);
  sim.run_until(at(2000));
  EXPECT_EQ(sim.resolves, times({0, 17 * 64, 25 * 64}));
  std::vector<int64_t> expected;
  for (int64_t t = 0; t <= 2000; t += 64) expected.push_back(at(t));
  EXPECT_EQ(sim.sends, expected);
  EXPECT_EQ(sim.missed, 5);
  EXPECT_EQ(sim.src.next_timer_ns(), at(32 * 64));
}

// A failed re-lookup keeps the old address: polling never stops for DNS.
TEST(SourceTest, FailedResolveAgainKeepsPolling) {
  Sim sim(server(false, 6, 6));
  sim.upstream = [](size_t) { return std::optional<SourceReply>(); };
  sim.dns_ok = [](size_t i) { return i == 0; };
  sim.start();
  sim.run_until(at(640));
  EXPECT_EQ(sim.resolves, times({0, 512}));
  EXPECT_EQ(sim.sends, times({0, 64, 128, 192, 256, 320, 384, 448, 512, 576, 640}));
  EXPECT_EQ(sim.src.dns_failures(), 1u);
  EXPECT_EQ(sim.src.state(), SourceState::kPolling);
}

// A NAK after a verified reply is noise (or a forgery): no re-KE, no answer.
TEST(SourceTest, NakAfterVerifiedDoesNotRekey) {
  Sim sim(server(true, 6, 6));
  sim.upstream = [](size_t i) {
    return std::optional<SourceReply>(i == 1 ? SourceReply::kNak : SourceReply::kVerified);
  };
  sim.start();
  sim.run_until(at(130));
  EXPECT_EQ(sim.kes, times({0}));
  EXPECT_EQ(sim.sends, times({0, 64, 128}));
  EXPECT_EQ(sim.drops, 0);
  EXPECT_EQ(sim.src.reach(), 0b101);
  EXPECT_EQ(sim.src.counters().naks, 1u);
  EXPECT_EQ(sim.src.cookies(), 7u);  // the NAKed request's cookie is gone
  EXPECT_EQ(sim.src.next_timer_ns(), at(192));
}

// chrony's rule: a NAK before any verified reply since the KE re-keys; it
// counts as a failure, so the new KE waits 16 s; polling resumes on schedule.
TEST(SourceTest, NakBeforeVerifiedRekeys) {
  Sim sim(server(true, 6, 6));
  sim.upstream = [](size_t i) {
    return std::optional<SourceReply>(i == 0 ? SourceReply::kNak : SourceReply::kVerified);
  };
  sim.start();
  sim.run_until(at(0));
  EXPECT_EQ(sim.src.state(), SourceState::kKeBackoff);
  EXPECT_EQ(sim.src.next_timer_ns(), at(16));
  EXPECT_EQ(sim.drops, 1);
  EXPECT_EQ(sim.src.ke_failures(), 1u);
  sim.run_until(at(16));
  EXPECT_EQ(sim.kes, times({0, 16}));
  EXPECT_EQ(sim.src.next_timer_ns(), at(64));
  sim.run_until(at(100));
  EXPECT_EQ(sim.sends, times({0, 64}));
  EXPECT_EQ(sim.src.ke_failures(), 0u);  // the new session answered
  EXPECT_EQ(sim.src.reach(), 0b01);
}

// ntpd-rs: a new session whose first 3 requests go unanswered is re-keyed,
// as a failure (backoff 16, 32, 64, 128 s); a burst resumes where it was.
// After 4 failures the host is looked up again.
TEST(SourceTest, StartupSilenceRekeysWithBackoff) {
  auto c = server(true, 6, 6);
  c.iburst = true;
  Sim sim(c);
  sim.upstream = [](size_t) { return std::optional<SourceReply>(); };
  sim.start();
  sim.run_until(at(500));
  EXPECT_EQ(sim.sends, times({0, 2, 4, 22, 24, 26, 60, 62, 64, 192, 256, 320}));
  EXPECT_EQ(sim.kes, times({0, 22, 60, 192}));
  EXPECT_EQ(sim.drops, 4);
  EXPECT_EQ(sim.src.ke_failures(), 4u);
  EXPECT_EQ(sim.src.state(), SourceState::kKeBackoff);
  EXPECT_EQ(sim.src.next_timer_ns(), at(384 + 128));
  sim.run_until(at(512));
  EXPECT_EQ(sim.resolves, times({0, 512}));
  EXPECT_EQ(sim.kes.back(), at(512));
  EXPECT_EQ(sim.sends.back(), at(512));
}

// A session that worked goes silent: dummy samples, then a re-KE when reach
// would fall to 0. The KE server is dead too: 16 s doubling, capped at
// 4096 s, a fresh lookup every 4 failures.
TEST(SourceTest, SteadySilenceRekeysWithCappedBackoff) {
  Sim sim(server(true, 4, 4));
  sim.upstream = [](size_t i) {
    return i < 2 ? std::optional<SourceReply>(SourceReply::kVerified) : std::nullopt;
  };
  sim.ke_ok = [](size_t i) { return i == 0; };
  sim.start();
  sim.run_until(at(143));
  EXPECT_EQ(sim.sends, times({0, 16, 32, 48, 64, 80, 96, 112, 128}));
  EXPECT_EQ(sim.src.reach(), 0x80);
  EXPECT_EQ(sim.missed, 5);
  EXPECT_EQ(sim.kes, times({0}));
  sim.run_until(at(20608));
  EXPECT_EQ(sim.kes,
            times({0, 144, 160, 192, 256, 384, 640, 1152, 2176, 4224, 8320, 12416, 16512, 20608}));
  EXPECT_EQ(sim.resolves, times({0, 384, 4224, 20608}));
  EXPECT_EQ(sim.drops, 1);  // the session, once; failed KEs have nothing to drop
  EXPECT_EQ(sim.sends.size(), 9u);
  EXPECT_EQ(sim.src.ke_failures(), 13u);
  EXPECT_EQ(sim.src.next_timer_ns(), at(20608 + 4096));
  EXPECT_EQ(sim.src.last_ke_ns(), at(0));
}

TEST(SourceTest, BackoffDoublesFrom16sToCap) {
  EXPECT_EQ(retry_backoff_ns(1), 16 * kS);
  EXPECT_EQ(retry_backoff_ns(2), 32 * kS);
  EXPECT_EQ(retry_backoff_ns(8), 2048 * kS);
  EXPECT_EQ(retry_backoff_ns(9), 4096 * kS);
  EXPECT_EQ(retry_backoff_ns(1000), 4096 * kS);
}

// The jar runs dry after a reply: KE at once, the next poll keeps its time.
TEST(SourceTest, EmptyJarAfterReplyRekeysBeforeNextPoll) {
  Sim sim(server(true, 4, 4));
  sim.ke_cookies = 3;
  sim.refill = false;
  sim.start();
  sim.run_until(at(40));
  EXPECT_EQ(sim.kes, times({0, 32}));
  EXPECT_EQ(sim.src.next_timer_ns(), at(48));
  EXPECT_EQ(sim.src.cookies(), 3u);
  sim.run_until(at(90));
  EXPECT_EQ(sim.sends, times({0, 16, 32, 48, 64, 80}));
  EXPECT_EQ(sim.kes, times({0, 32, 80}));
  EXPECT_EQ(sim.drops, 0);
}

// The reply to the last cookie is lost: the poll finds the jar empty and
// re-keys first, then sends.
TEST(SourceTest, EmptyJarAtPollTimeRekeysThenPolls) {
  Sim sim(server(true, 4, 4));
  sim.ke_cookies = 2;
  sim.refill = false;
  sim.upstream = [](size_t i) {
    return i == 1 ? std::nullopt : std::optional<SourceReply>(SourceReply::kVerified);
  };
  sim.start();
  sim.run_until(at(40));
  EXPECT_EQ(sim.sends, times({0, 16, 32}));
  EXPECT_EQ(sim.kes, times({0, 32}));
  EXPECT_EQ(sim.src.next_timer_ns(), at(48));
}

TEST(SourceTest, DnsFailureBacksOffThenResolves) {
  Sim sim(server(false, 6, 6));
  sim.dns_ok = [](size_t i) { return i >= 3; };
  sim.start();
  sim.run_until(at(0));
  EXPECT_EQ(sim.src.state(), SourceState::kResolveBackoff);
  EXPECT_EQ(sim.src.next_timer_ns(), at(16));
  sim.run_until(at(200));
  EXPECT_EQ(sim.resolves, times({0, 16, 48, 112}));
  EXPECT_EQ(sim.sends, times({112, 176}));
  EXPECT_EQ(sim.src.dns_failures(), 0u);
}

TEST(SourceTest, DnsBackoffIsCapped) {
  Sim sim(server(false, 6, 6));
  sim.dns_ok = [](size_t) { return false; };
  sim.start();
  sim.run_until(at(20000));
  EXPECT_EQ(sim.resolves, times({0, 16, 48, 112, 240, 496, 1008, 2032, 4080, 8176, 12272, 16368}));
  EXPECT_EQ(sim.src.next_timer_ns(), at(16368 + 4096));
  EXPECT_TRUE(sim.sends.empty());
}

// The resolver never answers: its deadline (30 s) is a failure, and the late
// answer that finally comes is ignored.
TEST(SourceTest, ResolveDeadlineAndLateAnswer) {
  Sim sim(server(false, 6, 6));
  sim.dns_latency = std::nullopt;
  sim.start();
  sim.run_until(at(46));
  EXPECT_EQ(sim.resolves, times({0, 46}));
  EXPECT_EQ(sim.src.dns_failures(), 1u);
  // The answer to the lookup of 46 s is taken...
  const SourceActions answer = sim.src.resolved(at(47), true);
  EXPECT_TRUE(answer.send_poll);
  sim.apply(answer);
  // ...the one to the lookup of 0 s, given up at 30 s, is not.
  const SourceActions stale = sim.src.resolved(at(48), true);
  EXPECT_EQ(stale, (SourceActions{.timer_ns = at(47 + 64)}));
  EXPECT_EQ(sim.src.counters().stale_events, 1u);
}

TEST(SourceTest, KodRateRaisesPollAndFloor) {
  Sim sim(server(false, 6, 10));
  sim.upstream = [](size_t i) {
    return std::optional<SourceReply>(i == 1 ? SourceReply::kKodRate : SourceReply::kVerified);
  };
  sim.start();
  sim.run_until(at(400));
  EXPECT_EQ(sim.sends, times({0, 64, 192, 320}));
  EXPECT_EQ(sim.src.poll(), 7);
  EXPECT_EQ(sim.src.counters().kods, 1u);
  EXPECT_EQ(sim.src.next_timer_ns(), at(448));
}

TEST(SourceTest, KodDenyDemobilises) {
  Sim sim(server(true, 6, 6));
  sim.upstream = [](size_t i) {
    return std::optional<SourceReply>(i == 2 ? SourceReply::kKodDeny : SourceReply::kVerified);
  };
  sim.start();
  sim.run_until(at(10000));
  EXPECT_TRUE(sim.demobilized);
  EXPECT_EQ(sim.src.state(), SourceState::kDemobilized);
  EXPECT_EQ(sim.sends, times({0, 64, 128}));
  EXPECT_FALSE(sim.timer.has_value());
  EXPECT_EQ(sim.src.timer(at(20000)), SourceActions{});
  EXPECT_EQ(sim.src.reply(at(20000), SourceReply::kVerified, 8), SourceActions{});
}

// Forged plain replies for an NTS source are counted and change nothing.
TEST(SourceTest, UnauthenticatedAndFailedRepliesAreCountedOnly) {
  Sim sim(server(true, 6, 6));
  sim.upstream = [](size_t i) {
    return std::optional<SourceReply>(i == 0 ? SourceReply::kUnauthenticated
                                             : SourceReply::kFailed);
  };
  sim.start();
  sim.run_until(at(64));
  EXPECT_EQ(sim.src.counters().unauthenticated, 1u);
  EXPECT_EQ(sim.src.counters().failed, 1u);
  EXPECT_EQ(sim.src.reach(), 0);
  EXPECT_EQ(sim.src.unanswered(), 2u);
  EXPECT_EQ(sim.kes, times({0}));
  EXPECT_EQ(sim.src.send_failed(at(65)), (SourceActions{.timer_ns = at(128)}));
  EXPECT_EQ(sim.src.counters().send_failures, 1u);
}

// chrony refreshes NTS keys every 4 weeks: the first poll at or past
// 28 days after the KE re-keys, then polls at once.
TEST(SourceTest, FourWeekRekey) {
  Sim sim(server(true, 10, 10));
  sim.start();
  const int64_t rekey_at = 2363 * 1024;  // first multiple of 1024 s >= 2419200 s
  sim.run_until(at(rekey_at - 1));
  EXPECT_EQ(sim.kes, times({0}));
  sim.run_until(at(rekey_at));
  EXPECT_EQ(sim.kes, times({0, rekey_at}));
  EXPECT_EQ(sim.drops, 1);
  EXPECT_EQ(sim.sends.back(), at(rekey_at));
  EXPECT_EQ(sim.src.last_ke_ns(), at(rekey_at));
  EXPECT_EQ(sim.src.next_timer_ns(), at(rekey_at + 1024));
  EXPECT_EQ(sim.src.reach(), 0xFF);
}

// A pool member that stays unreachable for 8 polls is given up.
TEST(SourceTest, SilentPoolMemberDemobilises) {
  auto c = server(false, 6, 6);
  c.is_pool = true;
  c.host = "192.0.2.7";
  Sim sim(c);
  sim.upstream = [](size_t) { return std::optional<SourceReply>(); };
  sim.start();
  sim.run_until(at(10000));
  EXPECT_TRUE(sim.demobilized);
  EXPECT_EQ(sim.sends, times({0, 64, 128, 192, 256, 320, 384, 448}));
  EXPECT_EQ(sim.resolves, times({0}));
}

// An NTS pool member whose KE fails 4 times in a row is given up.
TEST(SourceTest, PoolMemberKeFailuresDemobilise) {
  auto c = server(true, 6, 6);
  c.is_pool = true;
  Sim sim(c);
  sim.ke_ok = [](size_t) { return false; };
  sim.start();
  sim.run_until(at(10000));
  EXPECT_TRUE(sim.demobilized);
  EXPECT_EQ(sim.kes, times({0, 16, 48, 112}));
  EXPECT_TRUE(sim.sends.empty());
}

TEST(SourceTest, ConfigIsPassedThrough) {
  auto c = server(true, 8, 5);  // maxpoll below minpoll: raised to minpoll
  c.prefer = true;
  c.noselect = true;
  Source src(c);
  EXPECT_TRUE(src.flags().prefer);
  EXPECT_TRUE(src.flags().noselect);
  EXPECT_TRUE(src.nts());
  EXPECT_FALSE(src.pool_member());
  EXPECT_EQ(src.poll(), 8);
  EXPECT_EQ(src.next_timer_ns(), std::nullopt);
  // Events before start() are ignored.
  EXPECT_EQ(src.reply(at(0), SourceReply::kVerified, 8), SourceActions{});
  EXPECT_EQ(src.start(at(0)), (SourceActions{.resolve = true, .timer_ns = at(30)}));
  EXPECT_EQ(src.start(at(1)), (SourceActions{.timer_ns = at(30)}));
}

}  // namespace
}  // namespace ntsd::clock
