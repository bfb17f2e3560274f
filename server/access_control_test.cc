#include "server/access_control.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <random>
#include <string>
#include <vector>

#include "config/parser.h"

namespace ntsd::server {
namespace {

using config::bit;
using config::RestrictEntry;
using config::RestrictFlag;

constexpr uint32_t kIgnore = bit(RestrictFlag::kIgnore);
constexpr uint32_t kNoserve = bit(RestrictFlag::kNoserve);
constexpr uint32_t kLimited = bit(RestrictFlag::kLimited);
constexpr uint32_t kKod = bit(RestrictFlag::kKod);
constexpr uint32_t kNomodify = bit(RestrictFlag::kNomodify);
constexpr uint32_t kNoquery = bit(RestrictFlag::kNoquery);
constexpr uint32_t kNopeer = bit(RestrictFlag::kNopeer);
constexpr uint32_t kNotrap = bit(RestrictFlag::kNotrap);

std::vector<RestrictEntry> parse(const std::string& text) {
  const config::ParseResult result = config::parse_config_text(text, "test.conf");
  EXPECT_TRUE(result.errors.empty()) << (result.errors.empty() ? "" : result.errors[0]);
  return result.config ? result.config->restricts : std::vector<RestrictEntry>{};
}

sockaddr_storage v4(const char* text, uint16_t port = 40000) {
  sockaddr_storage ss{};
  auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET, text, &sin->sin_addr), 1) << text;
  return ss;
}

sockaddr_storage v6(const char* text, uint16_t port = 40000) {
  sockaddr_storage ss{};
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1) << text;
  return ss;
}

uint32_t flags_v4(const AccessTable& t, const char* a, uint16_t port = 40000) {
  const sockaddr_storage ss = v4(a, port);
  return t.lookup(reinterpret_cast<const sockaddr*>(&ss)).flags;
}

uint32_t flags_v6(const AccessTable& t, const char* a, uint16_t port = 40000) {
  const sockaddr_storage ss = v6(a, port);
  return t.lookup(reinterpret_cast<const sockaddr*>(&ss)).flags;
}

TEST(AccessTable, EmptyTableRestrictsNothing) {
  const AccessTable table;
  EXPECT_EQ(flags_v4(table, "192.0.2.1"), 0u);
  EXPECT_EQ(flags_v6(table, "2001:db8::1"), 0u);
  EXPECT_FALSE(table.any_limited());
  EXPECT_EQ(table.size(), 0u);
}

TEST(AccessTable, MulticastSourcesAreIgnoredAsInNtpsec) {
  const AccessTable table;
  EXPECT_EQ(flags_v4(table, "224.0.1.1"), kIgnore);
  EXPECT_EQ(flags_v4(table, "239.255.255.255"), kIgnore);
  EXPECT_EQ(flags_v6(table, "ff02::101"), kIgnore);
  EXPECT_EQ(flags_v6(table, "::ffff:224.0.1.1"), kIgnore);
  EXPECT_EQ(flags_v4(table, "223.255.255.255"), 0u);
}

TEST(AccessTable, UnknownFamilyIsIgnored) {
  const AccessTable table;
  sockaddr_storage ss{};
  ss.ss_family = AF_UNIX;
  EXPECT_EQ(table.lookup(reinterpret_cast<const sockaddr*>(&ss)).flags, kIgnore);
}

TEST(AccessTable, MostSpecificIpv4EntryWins) {
  const AccessTable table(
      parse("restrict default kod limited nomodify nopeer noquery notrap\n"
            "restrict 10.0.0.0 mask 255.0.0.0 nomodify\n"
            "restrict 10.1.0.0/16 ignore\n"
            "restrict 10.1.2.0 mask 255.255.255.0 noserve\n"
            "restrict 10.1.2.3\n"));
  EXPECT_EQ(flags_v4(table, "10.1.2.3"), 0u);  // host entry without flags: unrestricted
  EXPECT_EQ(flags_v4(table, "10.1.2.4"), kNoserve);
  EXPECT_EQ(flags_v4(table, "10.1.3.1"), kIgnore);
  EXPECT_EQ(flags_v4(table, "10.200.0.1"), kNomodify);
  EXPECT_EQ(flags_v4(table, "11.0.0.1"),
            kKod | kLimited | kNomodify | kNopeer | kNoquery | kNotrap);
  EXPECT_TRUE(table.any_limited());
  // The order of lines does not matter, only specificity.
  const AccessTable reversed(
      parse("restrict 10.1.2.3\n"
            "restrict 10.1.2.0 mask 255.255.255.0 noserve\n"
            "restrict 10.1.0.0/16 ignore\n"
            "restrict 10.0.0.0 mask 255.0.0.0 nomodify\n"
            "restrict default kod limited nomodify nopeer noquery notrap\n"));
  for (const char* a : {"10.1.2.3", "10.1.2.4", "10.1.3.1", "10.200.0.1", "11.0.0.1"}) {
    EXPECT_EQ(flags_v4(table, a), flags_v4(reversed, a)) << a;
  }
}

TEST(AccessTable, MostSpecificIpv6EntryWins) {
  const AccessTable table(
      parse("restrict default limited\n"
            "restrict 2001:db8::/32 nomodify\n"
            "restrict 2001:db8:1::/48 ignore\n"
            "restrict 2001:db8:1:2:: mask ffff:ffff:ffff:ffff:: noserve\n"
            "restrict 2001:db8:1:2::7\n"));
  EXPECT_EQ(flags_v6(table, "2001:db8:1:2::7"), 0u);
  EXPECT_EQ(flags_v6(table, "2001:db8:1:2::8"), kNoserve);
  EXPECT_EQ(flags_v6(table, "2001:db8:1:3::1"), kIgnore);
  EXPECT_EQ(flags_v6(table, "2001:db8:ffff::1"), kNomodify);
  EXPECT_EQ(flags_v6(table, "2001:db9::1"), kLimited);
  EXPECT_EQ(flags_v4(table, "192.0.2.1"), kLimited);  // plain `default` covers both families
}

// One entry per prefix length, each with its own flag value: a probe that
// agrees with the entry address in exactly q leading bits must get entry q's.
TEST(AccessTable, EveryIpv4PrefixLength) {
  const uint32_t base = 0x0aa80101;  // 10.168.1.1: no single bit flip makes it multicast
  std::vector<RestrictEntry> entries;
  for (int p = 0; p <= 32; ++p) {
    RestrictEntry e;
    e.family = config::IpFamily::kIPv4;
    e.prefix_len = static_cast<uint8_t>(p);
    const uint32_t net = p == 0 ? 0 : base & (~uint32_t{0} << (32 - p));
    e.address = {static_cast<uint8_t>(net >> 24), static_cast<uint8_t>(net >> 16),
                 static_cast<uint8_t>(net >> 8), static_cast<uint8_t>(net)};
    e.flags = static_cast<uint32_t>(p + 1) << 16;  // distinct, clear of kNtpport
    entries.push_back(e);
  }
  const AccessTable table(entries);
  for (int q = 0; q <= 32; ++q) {
    const uint32_t probe = q == 32 ? base : base ^ (uint32_t{1} << (31 - q));
    EXPECT_EQ(table.lookup(ClientKey::ipv4(probe), 40000).flags, static_cast<uint32_t>(q + 1) << 16)
        << "q=" << q;
  }
}

TEST(AccessTable, EveryIpv6PrefixLength) {
  std::array<uint8_t, 16> base{};
  for (int i = 0; i < 16; ++i) base[i] = static_cast<uint8_t>(0x20 + 17 * i);
  std::vector<RestrictEntry> entries;
  for (int p = 0; p <= 128; ++p) {
    RestrictEntry e;
    e.family = config::IpFamily::kIPv6;
    e.prefix_len = static_cast<uint8_t>(p);
    e.address = base;
    for (int b = p; b < 128; ++b) e.address[b / 8] &= static_cast<uint8_t>(~(0x80 >> (b % 8)));
    e.flags = static_cast<uint32_t>(p + 1) << 16;
    entries.push_back(e);
  }
  const AccessTable table(entries);
  for (int q = 0; q <= 128; ++q) {
    std::array<uint8_t, 16> probe = base;
    if (q < 128) probe[q / 8] ^= static_cast<uint8_t>(0x80 >> (q % 8));
    EXPECT_EQ(table.lookup(ClientKey::ipv6(probe), 40000).flags, static_cast<uint32_t>(q + 1) << 16)
        << "q=" << q;
  }
}

TEST(AccessTable, FamilyDefaults) {
  const AccessTable table(
      parse("restrict default kod limited\n"
            "restrict -4 default noquery\n"
            "restrict -6 default ignore\n"));
  EXPECT_EQ(flags_v4(table, "198.51.100.1"), kKod | kLimited | kNoquery);
  EXPECT_EQ(flags_v6(table, "2001:db8::1"), kKod | kLimited | kIgnore);

  const AccessTable v6_only(parse("restrict -6 default noserve\n"));
  EXPECT_EQ(flags_v4(v6_only, "198.51.100.1"), 0u);
  EXPECT_EQ(flags_v6(v6_only, "2001:db8::1"), kNoserve);

  // An explicit 0.0.0.0/0 is the IPv4 default entry, merged as in NTPsec.
  const AccessTable explicit_zero(parse("restrict -4 default kod\nrestrict 0.0.0.0/0 limited\n"));
  EXPECT_EQ(flags_v4(explicit_zero, "198.51.100.1"), kKod | kLimited);
  EXPECT_EQ(explicit_zero.size(), 1u);
}

TEST(AccessTable, SameAddressAndMaskMerge) {
  const AccessTable table(
      parse("restrict 192.0.2.0/24 kod\nrestrict 192.0.2.0 mask 255.255.255.0 limited\n"));
  EXPECT_EQ(flags_v4(table, "192.0.2.9"), kKod | kLimited);
  EXPECT_EQ(table.size(), 1u);
}

TEST(AccessTable, Ipv4MappedAddressesMatchIpv4Entries) {
  const AccessTable table(
      parse("restrict -6 default ignore\n"
            "restrict -4 default limited\n"
            "restrict 192.0.2.0/24 noserve\n"
            "restrict ::ffff:198.51.100.0/120 kod limited\n"));
  // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d.
  EXPECT_EQ(flags_v6(table, "::ffff:192.0.2.5"), kNoserve);
  EXPECT_EQ(flags_v6(table, "::ffff:203.0.113.1"), kLimited);  // the v4 default, not the v6 one
  EXPECT_EQ(flags_v4(table, "192.0.2.5"), kNoserve);
  // An entry written as a mapped IPv6 prefix names IPv4 clients.
  EXPECT_EQ(flags_v4(table, "198.51.100.77"), kKod | kLimited);
  EXPECT_EQ(flags_v6(table, "::ffff:198.51.100.77"), kKod | kLimited);
  EXPECT_EQ(flags_v6(table, "2001:db8::1"), kIgnore);
}

TEST(AccessTable, NtpportEntriesMatchOnlySourcePort123) {
  const AccessTable table(
      parse("restrict default limited\n"
            "restrict 192.0.2.0/24 ntpport ignore\n"
            "restrict 192.0.2.0/24 nomodify\n"
            "restrict 198.51.100.0/24 ntpport noserve\n"));
  EXPECT_EQ(flags_v4(table, "192.0.2.1", 123), kIgnore);
  EXPECT_EQ(flags_v4(table, "192.0.2.1", 50123), kNomodify);
  EXPECT_EQ(flags_v4(table, "198.51.100.1", 123), kNoserve);
  EXPECT_EQ(flags_v4(table, "198.51.100.1", 50123), kLimited);  // falls through to default
}

TEST(AccessTable, SourceEntriesAreNotAppliedToClients) {
  const AccessTable table(parse("restrict source ignore\n"));
  EXPECT_EQ(flags_v4(table, "192.0.2.1"), 0u);
  EXPECT_EQ(table.size(), 0u);
}

TEST(AccessDecision, WhatATimeServerDoesWithTheFlags) {
  const AccessTable table(
      parse("restrict default nomodify nopeer noquery notrap\n"
            "restrict 192.0.2.1 ignore\n"
            "restrict 192.0.2.2 noserve\n"
            "restrict 192.0.2.3 limited\n"
            "restrict 192.0.2.4 limited kod\n"
            "restrict 192.0.2.5 kod\n"
            "restrict 192.0.2.6 notrust version\n"));
  const auto decide = [&](const char* a) {
    const sockaddr_storage ss = v4(a);
    return table.lookup(reinterpret_cast<const sockaddr*>(&ss));
  };
  // nomodify/nopeer/noquery/notrap only concern modes ntsd never serves.
  const AccessDecision plain = decide("203.0.113.1");
  EXPECT_FALSE(plain.drop());
  EXPECT_FALSE(plain.limited());
  EXPECT_FALSE(plain.kod());
  EXPECT_TRUE(decide("192.0.2.1").drop());
  EXPECT_TRUE(decide("192.0.2.2").drop());
  EXPECT_TRUE(decide("192.0.2.3").limited());
  EXPECT_FALSE(decide("192.0.2.3").kod());
  EXPECT_TRUE(decide("192.0.2.4").limited());
  EXPECT_TRUE(decide("192.0.2.4").kod());
  EXPECT_FALSE(decide("192.0.2.5").limited());
  EXPECT_FALSE(decide("192.0.2.5").kod());  // kod without limited does nothing
  EXPECT_TRUE(decide("192.0.2.6").nts_only());
  EXPECT_TRUE(decide("192.0.2.6").version4_only());
  EXPECT_FALSE(decide("192.0.2.6").drop());
}

// Brute force reference: scan every entry, keep the longest matching prefix
// (an ntpport entry beats a plain one of the same prefix on port 123).
struct Ref {
  int prefix;
  uint32_t network;
  bool ntpport;
  uint32_t flags;
};

TEST(AccessTable, RandomizedAgainstBruteForce) {
  std::mt19937_64 rng(20240917);
  for (int round = 0; round < 20; ++round) {
    std::vector<RestrictEntry> entries;
    std::vector<Ref> refs;
    const int n = 1 + static_cast<int>(rng() % 100);
    for (int i = 0; i < n; ++i) {
      RestrictEntry e;
      e.family = config::IpFamily::kIPv4;
      // Few distinct top bits so that entries overlap often.
      const uint32_t addr = static_cast<uint32_t>(rng()) & 0xc3ff00ffu;
      const int p = static_cast<int>(rng() % 33);
      const uint32_t net = p == 0 ? 0 : addr & (~uint32_t{0} << (32 - p));
      e.prefix_len = static_cast<uint8_t>(p);
      e.address = {static_cast<uint8_t>(net >> 24), static_cast<uint8_t>(net >> 16),
                   static_cast<uint8_t>(net >> 8), static_cast<uint8_t>(net)};
      e.flags = (uint32_t{1} << (rng() % 10)) | (uint32_t{1} << (16 + rng() % 10));
      const bool ntpport = rng() % 8 == 0;
      if (ntpport) e.flags |= bit(RestrictFlag::kNtpport);
      entries.push_back(e);
      refs.push_back({p, net, ntpport, e.flags & ~bit(RestrictFlag::kNtpport)});
    }
    const AccessTable table(entries);
    for (int probe = 0; probe < 2000; ++probe) {
      const uint32_t a = static_cast<uint32_t>(rng()) & 0xc3ff00ffu;
      if ((a >> 28) == 0xe) continue;
      const uint16_t port = rng() % 4 == 0 ? 123 : 40000;
      int best = -1;
      bool best_ntp = false;
      uint32_t expected = 0;
      for (const Ref& r : refs) {
        const uint32_t m = r.prefix == 0 ? 0 : ~uint32_t{0} << (32 - r.prefix);
        if ((a & m) != r.network || (r.ntpport && port != 123)) continue;
        if (r.prefix > best || (r.prefix == best && r.ntpport && !best_ntp)) {
          best = r.prefix;
          best_ntp = r.ntpport;
          expected = r.flags;
        } else if (r.prefix == best && r.ntpport == best_ntp) {
          expected |= r.flags;  // duplicates merge
        }
      }
      ASSERT_EQ(table.lookup(ClientKey::ipv4(a), port).flags, expected)
          << "round " << round << " probe " << std::hex << a;
    }
  }
}

}  // namespace
}  // namespace ntsd::server
