// Gate: restrict decisions and rate limiting per worker, with `limited64`
// keying IPv6 clients per /64.
#include "server/admission.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>
#include <vector>

#include "config/parser.h"

namespace ntsd::server {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

std::shared_ptr<const AccessTable> table(const std::string& text) {
  const config::ParseResult result = config::parse_config_text(text, "test.conf");
  EXPECT_TRUE(result.errors.empty()) << (result.errors.empty() ? "" : result.errors[0]);
  return std::make_shared<const AccessTable>(result.config->restricts);
}

sockaddr_storage peer(const char* text) {
  sockaddr_storage ss{};
  if (std::string(text).find(':') == std::string::npos) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(40000);
    EXPECT_EQ(inet_pton(AF_INET, text, &sin->sin_addr), 1) << text;
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(40000);
    EXPECT_EQ(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1) << text;
  }
  return ss;
}

const std::vector<uint8_t> kRequest = [] {
  std::vector<uint8_t> r(48, 0);
  r[0] = 0x23;
  r[47] = 1;
  return r;
}();

// One request from each address in turn, all at the same instant: the first
// request of a key is always served, a second one within `discard minimum`
// is refused. Returns how many were refused.
int refused(Gate& gate, const std::vector<const char*>& addresses, int64_t now) {
  int n = 0;
  for (const char* a : addresses) {
    const sockaddr_storage ss = peer(a);
    if (gate.check(reinterpret_cast<const sockaddr*>(&ss), kRequest, now).admit != Admit::kServe)
      ++n;
  }
  return n;
}

TEST(Gate, limited_keys_ipv6_clients_per_address) {
  Gate gate(table("restrict default limited\n"), RateLimitParams{.hash_seed = 1});
  // Four addresses of one /64: four clients, each on its first request.
  EXPECT_EQ(refused(gate,
                    {"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3",
                     "2001:db8:1:2:1234:5678:9abc:def0"},
                    10 * kSecond),
            0);
}

TEST(Gate, limited64_keys_ipv6_clients_per_64) {
  Gate gate(table("restrict default limited64\n"), RateLimitParams{.hash_seed = 1});
  // One /64: one client; every request after the first comes too soon.
  EXPECT_EQ(refused(gate,
                    {"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3",
                     "2001:db8:1:2:1234:5678:9abc:def0"},
                    10 * kSecond),
            3);
  // Other /64s, even next door, are other clients.
  EXPECT_EQ(refused(gate, {"2001:db8:1:3::1", "2001:db8:1:4::1", "2001:db8:2:2::1"}, 10 * kSecond),
            0);
}

// IPv4 clients (also when they arrive as ::ffff:a.b.c.d) stay one key per
// address: masking a mapped address to /64 would make every IPv4 client one.
TEST(Gate, limited64_keeps_ipv4_clients_per_address) {
  Gate gate(table("restrict default limited64\n"), RateLimitParams{.hash_seed = 1});
  EXPECT_EQ(refused(gate, {"192.0.2.1", "192.0.2.2", "::ffff:192.0.2.3", "::ffff:198.51.100.7"},
                    10 * kSecond),
            0);
  EXPECT_EQ(refused(gate, {"192.0.2.1"}, 10 * kSecond), 1);
}

// Only entries with limited64 key per /64: a more specific plain `limited` entry wins.
TEST(Gate, limited64_applies_per_entry) {
  Gate gate(table("restrict -6 default limited64\nrestrict 2001:db8:9::/48 limited\n"),
            RateLimitParams{.hash_seed = 1});
  EXPECT_EQ(refused(gate, {"2001:db8:9:1::1", "2001:db8:9:1::2"}, 10 * kSecond), 0);
  EXPECT_EQ(refused(gate, {"2001:db8:8:1::1", "2001:db8:8:1::2"}, 10 * kSecond), 1);
}

TEST(Gate, limited64_with_kod_answers_kod_rate) {
  Gate gate(table("restrict -6 default kod limited64\n"), RateLimitParams{.hash_seed = 1});
  const sockaddr_storage a = peer("2001:db8::1"), b = peer("2001:db8::2");
  EXPECT_EQ(gate.check(reinterpret_cast<const sockaddr*>(&a), kRequest, kSecond).admit,
            Admit::kServe);
  EXPECT_EQ(gate.check(reinterpret_cast<const sockaddr*>(&b), kRequest, kSecond).admit,
            Admit::kKissRate);
}

}  // namespace
}  // namespace ntsd::server
