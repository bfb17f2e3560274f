#include "server/rate_limiter.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <algorithm>
#include <map>
#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "config/parser.h"

namespace ntsd::server {
namespace {

constexpr int64_t kS = 1'000'000'000;
constexpr int64_t kMs = 1'000'000;
constexpr int64_t kT0 = 1'000'000 * kS;  // an arbitrary monotonic epoch

RateLimitParams params(int average = 3, int minimum = 2) {
  RateLimitParams p;
  p.average_log2 = average;
  p.minimum_s = minimum;
  p.kod_per_second = 0;  // no per-worker cap unless a test sets one
  p.hash_seed = 42;
  return p;
}

ClientKey key(uint32_t n) { return ClientKey::ipv4(0x0a000000u + n); }

TEST(ClientKey, OneAddressFromManyPortsIsOneKey) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, "192.0.2.7", &a.sin_addr);
  sockaddr_in6 mapped{};
  mapped.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "::ffff:192.0.2.7", &mapped.sin6_addr);
  a.sin_port = htons(123);
  const auto k0 = client_key(reinterpret_cast<const sockaddr*>(&a));
  ASSERT_TRUE(k0.has_value());
  EXPECT_TRUE(k0->is_ipv4());
  EXPECT_EQ(k0->ipv4_address(), 0xc0000207u);
  for (int port = 1024; port < 65536; port += 997) {
    a.sin_port = htons(static_cast<uint16_t>(port));
    mapped.sin6_port = htons(static_cast<uint16_t>(port));
    EXPECT_EQ(client_key(reinterpret_cast<const sockaddr*>(&a)), k0);
    EXPECT_EQ(client_key(reinterpret_cast<const sockaddr*>(&mapped)), k0);
    EXPECT_EQ(client_port(reinterpret_cast<const sockaddr*>(&a)), port);
  }
  sockaddr_in6 other{};
  other.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "2001:db8::7", &other.sin6_addr);
  const auto k6 = client_key(reinterpret_cast<const sockaddr*>(&other));
  ASSERT_TRUE(k6.has_value());
  EXPECT_FALSE(k6->is_ipv4());
  EXPECT_NE(k6, k0);
  sockaddr unix_peer{};
  unix_peer.sa_family = AF_UNIX;
  EXPECT_FALSE(client_key(&unix_peer).has_value());
}

// The reuseport program steers by source address, so a client that uses a
// fresh source port per request reaches one worker; its table must see one
// client, not one per port.
TEST(RateLimiter, ManySourcePortsAreOneClient) {
  RateLimiter limiter(1024, params());
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, "198.51.100.9", &a.sin_addr);
  std::vector<RateVerdict> verdicts;
  for (int i = 0; i < 50; ++i) {
    a.sin_port = htons(static_cast<uint16_t>(30000 + i * 7));
    const auto k = client_key(reinterpret_cast<const sockaddr*>(&a));
    verdicts.push_back(limiter.check(*k, kT0 + i * 100 * kMs));
  }
  EXPECT_EQ(limiter.size(), 1u);
  EXPECT_EQ(verdicts[0], RateVerdict::kAllow);
  EXPECT_EQ(verdicts[1], RateVerdict::kLimitedKod);  // 0.1 s later: under the minimum
  EXPECT_EQ(std::count(verdicts.begin(), verdicts.end(), RateVerdict::kAllow), 1);
}

// Worked by hand from NTPsec's ntp_monitor() with the defaults (average 3:
// head 8, limit 64; minimum 2): at one request per second the bucket gains
// 8 - 2 - 1 = 5 per request after the first two, so requests 1..13 pass, 14
// is refused with a KoD (bucket set to 72), 15..22 are dropped silently while
// the bucket drains to 64, and 23 gets the next KoD.
TEST(RateLimiter, BurstThenLimitedAtOnePerSecond) {
  RateLimiter limiter(16, params());
  std::vector<RateVerdict> v;
  for (int i = 0; i < 40; ++i) v.push_back(limiter.check(key(1), kT0 + i * kS));
  for (int i = 0; i < 13; ++i) EXPECT_EQ(v[i], RateVerdict::kAllow) << "request " << i + 1;
  EXPECT_EQ(v[13], RateVerdict::kLimitedKod);
  for (int i = 14; i < 22; ++i) EXPECT_EQ(v[i], RateVerdict::kLimitedDrop) << "request " << i + 1;
  EXPECT_EQ(v[22], RateVerdict::kLimitedKod);
  EXPECT_EQ(v[31], RateVerdict::kLimitedKod);
  const RateLimiterStats s = limiter.stats();
  EXPECT_EQ(s.limited, 27u);
  EXPECT_EQ(s.kod, 3u);
}

// The average rule: 2^average - 2 s (NTPsec's 2 s grace) is sustainable
// forever; anything faster eventually fills the bucket.
TEST(RateLimiter, AverageIntervalRule) {
  for (int average : {3, 4, 6}) {
    const int64_t head = int64_t{1} << average;
    RateLimiter ok(16, params(average));
    for (int i = 0; i < 2000; ++i) {
      ASSERT_EQ(ok.check(key(1), kT0 + i * (head - 2) * kS), RateVerdict::kAllow)
          << "average " << average << " request " << i;
    }
    RateLimiter fast(16, params(average));
    int allowed = 0;
    for (int i = 0; i < 2000; ++i) {
      if (fast.check(key(1), kT0 + i * (head - 3) * kS) == RateVerdict::kAllow) ++allowed;
    }
    // The bucket (8 * head) fills at 1 s per request.
    EXPECT_GT(allowed, 6 * head - 2) << "average " << average;
    EXPECT_LT(allowed, 8 * head + 2) << "average " << average;
  }
}

// The minimum rule: the interval is rounded to whole seconds and gets a 1 s
// grace (interval + 1 >= minimum), as in NTPsec.
TEST(RateLimiter, MinimumRule) {
  {
    RateLimiter limiter(16, params(3, 2));
    EXPECT_EQ(limiter.check(key(1), kT0), RateVerdict::kAllow);
    EXPECT_EQ(limiter.check(key(1), kT0 + 499 * kMs), RateVerdict::kLimitedKod);  // rounds to 0
    EXPECT_EQ(limiter.check(key(2), kT0), RateVerdict::kAllow);
    EXPECT_EQ(limiter.check(key(2), kT0 + 500 * kMs), RateVerdict::kAllow);  // rounds to 1
  }
  {
    RateLimiter limiter(16, params(6, 5));  // head 64: only the minimum can bite
    EXPECT_EQ(limiter.check(key(1), kT0), RateVerdict::kAllow);
    EXPECT_EQ(limiter.check(key(1), kT0 + 4 * kS), RateVerdict::kAllow);       // 4 + 1 >= 5
    EXPECT_EQ(limiter.check(key(1), kT0 + 7 * kS), RateVerdict::kLimitedKod);  // 3 + 1 < 5
  }
  {
    RateLimiter limiter(16, params(3, 0));  // minimum 0: back-to-back passes until the bucket fills
    int allowed = 0;
    for (int i = 0; i < 20; ++i) allowed += limiter.check(key(1), kT0) == RateVerdict::kAllow;
    EXPECT_EQ(allowed, 11);  // 0, then +6 per request while bucket + 8 < 64
  }
}

TEST(RateLimiter, KodIsItselfRateLimitedPerClient) {
  RateLimiter limiter(16, params());
  int kods = 0, drops = 0;
  // A flood at 10 requests per second for 60 s.
  for (int i = 0; i < 600; ++i) {
    const RateVerdict v = limiter.check(key(1), kT0 + i * 100 * kMs);
    kods += v == RateVerdict::kLimitedKod;
    drops += v == RateVerdict::kLimitedDrop;
  }
  // Requests 0.1 s apart have a rounded interval of 0, so the bucket never
  // drains (as in NTPsec): one KoD, then silence until the client pauses.
  EXPECT_EQ(kods, 1);
  EXPECT_EQ(kods + drops, 599);
  EXPECT_EQ(limiter.check(key(1), kT0 + 599 * 100 * kMs + 16 * kS), RateVerdict::kLimitedKod);
  EXPECT_EQ(limiter.check(key(1), kT0 + 599 * 100 * kMs + 33 * kS), RateVerdict::kAllow);

  // At one request per second: one KoD per 9 requests, i.e. never more
  // often than one per average headway (8 s).
  RateLimiter second(16, params());
  kods = 0;
  for (int i = 0; i < 600; ++i)
    kods += second.check(key(1), kT0 + i * kS) == RateVerdict::kLimitedKod;
  EXPECT_EQ(kods, (600 - 14) / 9 + 1);
  EXPECT_LE(kods, 600 / 8);
}

TEST(RateLimiter, NoKodWithoutTheKodFlag) {
  RateLimiter limiter(16, params());
  for (int i = 0; i < 100; ++i) {
    EXPECT_NE(limiter.check(key(1), kT0 + i * 100 * kMs, /*kod=*/false), RateVerdict::kLimitedKod);
  }
  EXPECT_EQ(limiter.stats().kod, 0u);
  EXPECT_GT(limiter.stats().limited, 90u);
}

TEST(RateLimiter, PerWorkerKodCap) {
  RateLimitParams p = params();
  p.kod_per_second = 2;
  p.kod_burst = 3;
  RateLimiter limiter(1024, p);
  // 100 clients each earn a KoD at the same instant: only the burst goes out.
  for (uint32_t c = 0; c < 100; ++c) limiter.check(key(c), kT0);
  int kods = 0;
  for (uint32_t c = 0; c < 100; ++c) {
    kods += limiter.check(key(c), kT0 + 100 * kMs) == RateVerdict::kLimitedKod;
  }
  EXPECT_EQ(kods, 3);
  EXPECT_EQ(limiter.stats().kod_capped, 97u);
  // One second later the cap has refilled by kod_per_second.
  for (uint32_t c = 100; c < 200; ++c) limiter.check(key(c), kT0 + kS);
  kods = 0;
  for (uint32_t c = 100; c < 200; ++c) {
    kods += limiter.check(key(c), kT0 + kS + 100 * kMs) == RateVerdict::kLimitedKod;
  }
  EXPECT_EQ(kods, 2);
  EXPECT_EQ(limiter.stats().kod, 5u);
}

TEST(RateLimiter, EvictionKeepsTheMemoryBound) {
  const size_t capacity = 1000;  // not a power of two on purpose
  RateLimiter limiter(capacity, params(3, 5));
  for (uint32_t c = 0; c < capacity * 4; ++c) {
    EXPECT_EQ(limiter.check(key(c), kT0 + c * kMs), RateVerdict::kAllow);
    ASSERT_LE(limiter.size(), capacity);
  }
  EXPECT_EQ(limiter.size(), capacity);
  RateLimiterStats s = limiter.stats();
  EXPECT_EQ(s.entries, capacity);
  EXPECT_EQ(s.inserts, capacity * 4);
  EXPECT_EQ(s.evictions, capacity * 3);
  // The most recent `capacity` clients are still tracked: a quick second
  // request is refused.
  const int64_t later = kT0 + 4 * capacity * kMs + 100 * kMs;
  for (uint32_t c = capacity * 3; c < capacity * 4; ++c) {
    EXPECT_NE(limiter.check(key(c), later), RateVerdict::kAllow) << c;
  }
  EXPECT_EQ(limiter.stats().inserts, capacity * 4);  // no new entry for them
  // An evicted client starts over as new.
  EXPECT_EQ(limiter.check(key(0), later), RateVerdict::kAllow);
  EXPECT_EQ(limiter.stats().inserts, capacity * 4 + 1);
  EXPECT_EQ(limiter.size(), capacity);
}

TEST(RateLimiter, EvictsAClientNotSeenLately) {
  RateLimiter limiter(3, params(3, 0));
  limiter.check(key(1), kT0);
  limiter.check(key(2), kT0 + kS);
  limiter.check(key(3), kT0 + 2 * kS);
  limiter.check(key(1), kT0 + 3 * kS);  // 1 came back; 2 and 3 did not
  limiter.check(key(4), kT0 + 4 * kS);  // the hand spares 1 and takes 2
  EXPECT_EQ(limiter.stats().evictions, 1u);
  const uint64_t inserts = limiter.stats().inserts;
  limiter.check(key(1), kT0 + 5 * kS);
  limiter.check(key(3), kT0 + 5 * kS);
  limiter.check(key(4), kT0 + 5 * kS);
  EXPECT_EQ(limiter.stats().inserts, inserts);  // 1, 3, 4 were still there
  limiter.check(key(2), kT0 + 5 * kS);
  EXPECT_EQ(limiter.stats().inserts, inserts + 1);  // 2 was not
}

TEST(RateLimiter, MemoryBoundIsFixedAtConstruction) {
  // 64-byte entries (one cache line) plus a 4-byte bucket per entry (power of two).
  EXPECT_EQ(RateLimiter::memory_bytes(65536) - sizeof(RateLimiter), 65536u * 68u);
  EXPECT_EQ(RateLimiter::memory_bytes(1000) - sizeof(RateLimiter), 1000u * 64u + 1024u * 4u);
  RateLimiter tiny(0, params());
  EXPECT_EQ(tiny.capacity(), 1u);
  EXPECT_EQ(tiny.check(key(1), kT0), RateVerdict::kAllow);
  EXPECT_EQ(tiny.check(key(2), kT0), RateVerdict::kAllow);
  EXPECT_EQ(tiny.size(), 1u);
}

TEST(RateLimiter, BusiestListsTheClientsWithTheMostRequests) {
  RateLimiter limiter(16, params(3, 2));
  for (uint32_t c = 1; c <= 5; ++c) {
    for (uint32_t r = 0; r < c * 3; ++r) limiter.check(key(c), kT0 + r * 10 * kMs);
  }
  const auto top = limiter.busiest(3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].key, key(5));
  EXPECT_EQ(top[0].requests, 15u);
  EXPECT_EQ(top[1].key, key(4));
  EXPECT_EQ(top[2].key, key(3));
  EXPECT_EQ(top[0].first_ns, kT0);
  EXPECT_EQ(top[0].last_ns, kT0 + 14 * 10 * kMs);
  // All but the first came faster than `discard minimum`: refused, one KoD.
  EXPECT_EQ(top[0].limited, 14u);
  EXPECT_EQ(top[0].kod, 1u);
  EXPECT_GE(top[0].leak, limiter.limit_s());
  EXPECT_EQ(limiter.limit_s(), 64);
  EXPECT_EQ(limiter.busiest(100).size(), 5u);
  EXPECT_TRUE(limiter.busiest(0).empty());
  EXPECT_TRUE(RateLimiter(4, params()).busiest(10).empty());
}

TEST(RateLimiter, BusiestIsSafeWhileTheWorkerWrites) {
  // Run under TSan (--config=tsan) too: the walk races the writer by design.
  RateLimiter limiter(64, params(3, 0));
  std::atomic<bool> stop{false};
  std::thread worker([&] {
    for (uint32_t r = 0; !stop.load(std::memory_order_relaxed); ++r) {
      limiter.check(key(r % 200), kT0 + int64_t{r} * kMs);  // 200 clients in 64 entries: constant evictions
    }
  });
  for (int walk = 0; walk < 2000; ++walk) {
    for (const ClientActivity& row : limiter.busiest(10)) {
      ASSERT_GE(row.requests, 1u);
      ASSERT_LE(row.first_ns, row.last_ns + 1000 * kMs);
      ASSERT_TRUE(row.key.is_ipv4());
    }
  }
  stop.store(true);
  worker.join();
}

TEST(RateLimiter, ParamsFromConfig) {
  const auto parsed = config::parse_config_text("discard average 5 minimum 1\n", "t.conf");
  ASSERT_TRUE(parsed.config.has_value());
  const RateLimitParams p = rate_limit_params(*parsed.config);
  EXPECT_EQ(p.average_log2, 5);
  EXPECT_EQ(p.minimum_s, 1);
  const RateLimitParams d = rate_limit_params(config::Config{});
  EXPECT_EQ(d.average_log2, 3);  // NTPsec defaults
  EXPECT_EQ(d.minimum_s, 2);
}

TEST(RateLimiter, ClockSteppingBackIsNotAnAttack) {
  RateLimiter limiter(16, params());
  EXPECT_EQ(limiter.check(key(1), kT0), RateVerdict::kAllow);
  EXPECT_EQ(limiter.check(key(1), kT0 + 64 * kS), RateVerdict::kAllow);
  // A non-monotonic timestamp counts as interval 0 (fails the minimum) but
  // never as a negative interval that would overfill the bucket.
  EXPECT_EQ(limiter.check(key(1), kT0 + 10 * kS), RateVerdict::kLimitedKod);
  EXPECT_EQ(limiter.check(key(1), kT0 + 10 * kS + 17 * kS), RateVerdict::kAllow);
}

// One simulated hour on one worker: 200 clients polling every 64 s (with an
// iburst of four requests 2 s apart at start), and one abuser at 1 request/s.
TEST(RateLimiter, SimulatedHour) {
  RateLimiter limiter(4096, params());
  std::mt19937_64 rng(7);
  struct Client {
    uint32_t id;
    int64_t next_ns;
    int burst_left;
  };
  std::vector<Client> clients;
  for (uint32_t c = 0; c < 200; ++c) {
    clients.push_back({c, kT0 + static_cast<int64_t>(rng() % (64 * kS)), 3});
  }
  int abuser_allowed = 0, abuser_kod = 0, polite_refused = 0;
  int64_t abuser_next = kT0;
  const int64_t end = kT0 + 3600 * kS;
  for (int64_t now = kT0; now < end; now += 100 * kMs) {
    for (Client& c : clients) {
      if (c.next_ns > now) continue;
      if (limiter.check(key(c.id), now) != RateVerdict::kAllow) ++polite_refused;
      if (c.burst_left > 0) {
        --c.burst_left;
        c.next_ns = now + 2 * kS;
      } else {
        c.next_ns = now + 64 * kS + static_cast<int64_t>(rng() % (2 * kS)) - kS;
      }
    }
    if (abuser_next <= now) {
      const RateVerdict v = limiter.check(key(9999), now);
      abuser_allowed += v == RateVerdict::kAllow;
      abuser_kod += v == RateVerdict::kLimitedKod;
      abuser_next = now + kS;
    }
  }
  EXPECT_EQ(polite_refused, 0);
  // 13 requests pass, then the abuser never drains below the accept line and
  // gets one KoD per 9 requests: requests 14, 23, ..., 3599 of 3600.
  EXPECT_EQ(abuser_allowed, 13);
  EXPECT_EQ(abuser_kod, 399);
  EXPECT_EQ(limiter.size(), 201u);
}

// A reference model: NTPsec's algorithm over a std::map, and CLOCK over a
// plain vector of slots, with none of the table's hashing or chaining.
// Random traffic from a small client population through a small table must
// give identical verdicts.
class ReferenceLimiter {
 public:
  ReferenceLimiter(size_t capacity, RateLimitParams p) : capacity_(capacity), p_(p) {}
  RateVerdict check(uint32_t client, int64_t now) {
    auto it = entries_.find(client);
    if (it == entries_.end()) {
      size_t slot = slots_.size();
      if (slots_.size() < capacity_) {
        slots_.push_back({client, false});
      } else {
        for (int step = 0;; ++step) {
          slot = hand_;
          hand_ = (hand_ + 1) % capacity_;
          if (!slots_[slot].referenced || step == 256) break;
          slots_[slot].referenced = false;
        }
        entries_.erase(slots_[slot].client);
        slots_[slot] = {client, false};
      }
      entries_[client] = {now, 0, slot};
      return RateVerdict::kAllow;
    }
    Entry& e = it->second;
    slots_[e.slot].referenced = true;
    const int64_t interval = now <= e.last ? 0 : (now - e.last + kS / 2) / kS;
    e.last = now;
    e.leak = std::max<int64_t>(0, e.leak - interval);
    const int64_t head = int64_t{1} << p_.average_log2, limit = 8 * head;
    if (interval + 1 >= p_.minimum_s && e.leak + head < limit) {
      e.leak = e.leak + head - 2;
      return RateVerdict::kAllow;
    }
    if (e.leak < limit) {
      e.leak = limit + head;
      return RateVerdict::kLimitedKod;
    }
    return RateVerdict::kLimitedDrop;
  }

 private:
  struct Entry {
    int64_t last;
    int64_t leak;
    size_t slot;
  };
  struct Slot {
    uint32_t client;
    bool referenced;
  };
  size_t capacity_;
  RateLimitParams p_;
  std::map<uint32_t, Entry> entries_;
  std::vector<Slot> slots_;
  size_t hand_ = 0;
};

TEST(RateLimiter, RandomizedAgainstReferenceModel) {
  std::mt19937_64 rng(12345);
  for (int round = 0; round < 8; ++round) {
    const size_t capacity = 1 + rng() % 64;
    const uint32_t population = 1 + static_cast<uint32_t>(rng() % 128);
    const RateLimitParams p = params(static_cast<int>(rng() % 6), static_cast<int>(rng() % 4));
    RateLimiter limiter(capacity, p);
    ReferenceLimiter reference(capacity, p);
    int64_t now = kT0;
    for (int i = 0; i < 20000; ++i) {
      now += static_cast<int64_t>(rng() % (3 * kS));
      // Skewed choice: a few clients are much busier than the rest.
      const uint32_t c = static_cast<uint32_t>(std::min(rng() % population, rng() % population));
      const ClientKey k =
          (c % 2) ? key(c)
                  : ClientKey::ipv6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                     static_cast<uint8_t>(c >> 8), static_cast<uint8_t>(c)});
      ASSERT_EQ(limiter.check(k, now), reference.check(c, now))
          << "round " << round << " step " << i << " client " << c;
      ASSERT_LE(limiter.size(), capacity);
    }
  }
}

}  // namespace
}  // namespace ntsd::server
