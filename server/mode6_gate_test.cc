#include "server/mode6_gate.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <vector>

#include "config/parser.h"
#include "server/mode6_queue.h"

namespace ntsd::server {
namespace {

const std::vector<uint8_t> kRv = {0xd6, 0x02, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0};
constexpr int64_t kSecond = 1'000'000'000;

sockaddr_in v4(const char* address, uint16_t port = 40000) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, address, &a.sin_addr);
  return a;
}
const sockaddr* sa(const sockaddr_in& a) { return reinterpret_cast<const sockaddr*>(&a); }

std::shared_ptr<const AccessTable> table(const char* lines) {
  const auto parsed = config::parse_config_text(lines, "test.conf");
  EXPECT_TRUE(parsed.config.has_value());
  return std::make_shared<const AccessTable>(parsed.config->restricts);
}

Mode6Limits no_limits() {
  Mode6Limits l;
  l.per_address_per_second = l.per_worker_per_second = 1'000'000;
  l.per_address_burst = l.per_worker_burst = 1'000'000;
  l.hash_seed = 1;
  return l;
}

TEST(Mode6Gate, without_restrict_lines_only_loopback_may_query) {
  Mode6Gate gate(nullptr, no_limits());
  EXPECT_EQ(gate.check(sa(v4("127.0.0.1")), kRv, 0), std::nullopt);
  EXPECT_EQ(gate.check(sa(v4("127.5.6.7")), kRv, 0), std::nullopt);
  EXPECT_EQ(gate.check(sa(v4("192.0.2.1")), kRv, 0), DropReason::kMode6Denied);
  sockaddr_in6 six{};
  six.sin6_family = AF_INET6;
  six.sin6_addr = in6addr_loopback;
  EXPECT_EQ(gate.check(reinterpret_cast<const sockaddr*>(&six), kRv, 0), std::nullopt);
}

TEST(Mode6Gate, gate_reject_noquery_and_ignore) {
  // The NTS guide's lines: everyone noquery, loopback without restrictions.
  Mode6Gate gate(table("restrict default kod limited nomodify noquery\n"
                       "restrict 127.0.0.1\n"
                       "restrict ::1\n"
                       "restrict 198.51.100.7 ignore\n"
                       "restrict 198.51.100.8 noserve\n"),
                 no_limits());
  EXPECT_EQ(gate.check(sa(v4("127.0.0.1")), kRv, 0), std::nullopt);
  EXPECT_EQ(gate.check(sa(v4("192.0.2.1")), kRv, 0), DropReason::kMode6Denied);
  EXPECT_EQ(gate.check(sa(v4("198.51.100.7")), kRv, 0), DropReason::kMode6Denied);
  // `noserve` denies time, not queries (NTPsec).
  EXPECT_EQ(gate.check(sa(v4("198.51.100.8")), kRv, 0), std::nullopt);
}

TEST(Mode6Gate, gate_reject_malformed) {
  Mode6Gate gate(nullptr, no_limits());
  auto response = kRv;
  response[1] |= 0x80;
  EXPECT_EQ(gate.check(sa(v4("127.0.0.1")), response, 0), DropReason::kMode6Malformed);
  EXPECT_EQ(gate.check(sa(v4("127.0.0.1")), std::span(kRv).first(5), 0), DropReason::kMode6Malformed);
}

TEST(Mode6Gate, gate_reject_over_the_per_address_rate) {
  Mode6Limits limits = no_limits();
  limits.per_address_per_second = 8;
  limits.per_address_burst = 32;
  Mode6Gate gate(nullptr, limits);
  const auto a = v4("127.0.0.1"), b = v4("127.0.0.2");
  const int64_t t0 = 100 * kSecond;
  for (int i = 0; i < 32; ++i) ASSERT_EQ(gate.check(sa(a), kRv, t0), std::nullopt) << i;
  EXPECT_EQ(gate.check(sa(a), kRv, t0), DropReason::kMode6RateLimited);
  EXPECT_EQ(gate.check(sa(b), kRv, t0), std::nullopt);  // another address has its own bucket
  // 8 per second after the burst.
  EXPECT_EQ(gate.check(sa(a), kRv, t0 + kSecond / 8), std::nullopt);
  EXPECT_EQ(gate.check(sa(a), kRv, t0 + kSecond / 8), DropReason::kMode6RateLimited);
  // A pause refills the bucket.
  for (int i = 0; i < 32; ++i) ASSERT_EQ(gate.check(sa(a), kRv, t0 + 10 * kSecond), std::nullopt) << i;
}

TEST(Mode6Gate, gate_reject_over_the_per_worker_rate) {
  Mode6Limits limits = no_limits();
  limits.per_worker_per_second = 64;
  limits.per_worker_burst = 128;
  Mode6Gate gate(nullptr, limits);
  const int64_t t0 = 100 * kSecond;
  int passed = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto a = v4(("127.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1)).c_str());
    if (!gate.check(sa(a), kRv, t0)) ++passed;
  }
  EXPECT_EQ(passed, 128);  // many addresses together get the worker's burst, no more
}

TEST(Mode6Queue, bounded_fifo) {
  Mode6Queue queue(4);
  const auto a = v4("127.0.0.1", 123);
  for (int i = 0; i < 4; ++i) {
    auto p = kRv;
    p[3] = static_cast<uint8_t>(i);
    ASSERT_TRUE(queue.try_push(p, sa(a), sizeof a, 0));
  }
  EXPECT_FALSE(queue.try_push(kRv, sa(a), sizeof a, 0));  // full: the worker drops, never waits
  Mode6Datagram d;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(queue.try_pop(&d));
    EXPECT_EQ(d.size, 12);
    EXPECT_EQ(d.bytes[3], i);
    EXPECT_EQ(reinterpret_cast<const sockaddr_in*>(&d.peer)->sin_port, htons(123));
  }
  EXPECT_FALSE(queue.try_pop(&d));
  std::vector<uint8_t> too_big(proto::kMode6MaxRequest + 1);
  EXPECT_FALSE(queue.try_push(too_big, sa(a), sizeof a, 0));
}

}  // namespace
}  // namespace ntsd::server
