#include "config/address.h"

#include <gtest/gtest.h>

namespace ntsd::config {
namespace {

TEST(Address, ParsesIpv4AndIpv6) {
  const auto v4 = parse_ip("192.0.2.1");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->family, IpFamily::kIPv4);
  EXPECT_EQ(v4->bytes[0], 192);
  EXPECT_EQ(v4->bytes[3], 1);
  EXPECT_EQ(v4->bytes[4], 0);
  const auto v6 = parse_ip("2001:db8::1");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->family, IpFamily::kIPv6);
  EXPECT_EQ(v6->bytes[0], 0x20);
  EXPECT_EQ(v6->bytes[15], 1);
  EXPECT_EQ(address_text(v6->family, v6->bytes), "2001:db8::1");
  EXPECT_EQ(address_text(v4->family, v4->bytes), "192.0.2.1");
}

TEST(Address, RejectsNonAddresses) {
  for (const char* bad : {"", "10.0.0.300", "10.0.0", "ntp.example.com", "::1%eth0", "[::1]",
                          "1.2.3.4/8", " 1.2.3.4", "0x7f.1"}) {
    EXPECT_FALSE(parse_ip(bad)) << bad;
  }
  EXPECT_FALSE(parse_ip(std::string(100, '1')));
}

TEST(Address, PrefixFromMask) {
  EXPECT_EQ(prefix_from_mask(*parse_ip("255.255.255.0")), 24);
  EXPECT_EQ(prefix_from_mask(*parse_ip("0.0.0.0")), 0);
  EXPECT_EQ(prefix_from_mask(*parse_ip("255.255.255.255")), 32);
  EXPECT_EQ(prefix_from_mask(*parse_ip("255.255.128.0")), 17);
  EXPECT_EQ(prefix_from_mask(*parse_ip("ffff:ffff:ffff:ffff::")), 64);
  EXPECT_EQ(prefix_from_mask(*parse_ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")), 128);
  EXPECT_EQ(prefix_from_mask(*parse_ip("::")), 0);
  EXPECT_FALSE(prefix_from_mask(*parse_ip("255.0.255.0")));
  EXPECT_FALSE(prefix_from_mask(*parse_ip("255.255.255.1")));
  EXPECT_FALSE(prefix_from_mask(*parse_ip("0.255.255.255")));
  EXPECT_FALSE(prefix_from_mask(*parse_ip("ffff:0:ffff::")));
}

TEST(Address, ClearHostBits) {
  auto a = parse_ip("192.168.1.77")->bytes;
  clear_host_bits(a, 20);
  EXPECT_EQ(address_text(IpFamily::kIPv4, a), "192.168.0.0");
  auto b = parse_ip("2001:db8:ffff:ffff::1")->bytes;
  clear_host_bits(b, 36);
  EXPECT_EQ(address_text(IpFamily::kIPv6, b), "2001:db8:f000::");
}

TEST(Address, SplitHostPort) {
  auto hp = split_host_port("time.cloudflare.com");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "time.cloudflare.com");
  EXPECT_FALSE(hp->port);
  hp = split_host_port("nts.ntp.se:4443");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "nts.ntp.se");
  EXPECT_EQ(hp->port, 4443);
  hp = split_host_port("192.0.2.1:123");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "192.0.2.1");
  EXPECT_EQ(hp->port, 123);
  hp = split_host_port("2001:db8::1");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "2001:db8::1");
  EXPECT_FALSE(hp->port);
  hp = split_host_port("[2001:db8::1]:4460");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "2001:db8::1");
  EXPECT_EQ(hp->port, 4460);
  hp = split_host_port("[2001:db8::1]");
  ASSERT_TRUE(hp);
  EXPECT_FALSE(hp->port);
}

TEST(Address, SplitHostPortRejects) {
  for (const char* bad : {"", "host:", "host:0", "host:65536", "host:12a", ":123", "[::1", "[::1]x",
                          "[::1]:", "[1.2.3.4]:1", "bad host", "bad!host", "-lead", ".lead",
                          "a:b:c", "[fe80::1%eth0]:1"}) {
    EXPECT_FALSE(split_host_port(bad)) << bad;
  }
}

}  // namespace
}  // namespace ntsd::config
