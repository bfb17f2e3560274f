#include "config/format.h"

#include <gtest/gtest.h>

#include <string>

#include "config/parser.h"

namespace ntsd::config {
namespace {

// to_text() must read back as the same Config: that is what makes it safe
// to show as "the configuration ntsd will run" in `ntsd --check`.
void expect_round_trip(std::string_view text) {
  const ParseResult first = parse_config_text(text, "in");
  ASSERT_TRUE(first.config) << ::testing::PrintToString(first.errors);
  const std::string canonical = to_text(*first.config);
  const ParseResult second = parse_config_text(canonical, "canonical");
  ASSERT_TRUE(second.config) << canonical << ::testing::PrintToString(second.errors);
  EXPECT_EQ(*first.config, *second.config) << canonical;
  EXPECT_EQ(to_text(*second.config), canonical);
}

TEST(Format, DefaultsRoundTrip) { expect_round_trip(""); }

TEST(Format, ControlSocketRoundTrips) {
  expect_round_trip("controlsocket \"/run/my ntsd/ntsd.sock\" group adm\n");
  expect_round_trip("controlsocket none\n");
}

TEST(Format, EverythingRoundTrips) {
  expect_round_trip(
      "server time.cloudflare.com nts iburst minpoll 4 maxpoll 9 noval prefer port 4461\n"
      "pool -6 pool.example.net burst noselect version 3 maxpoll 4\n"
      "server [2001:db8::1]:4443 nts ca \"/etc/my ca\" aead aes_siv_cmac_512\n"
      "nts enable cert /c.pem key /k.pem ca /ca cookie /cookie\n"
      "nts aead AES_128_GCM_SIV AES_SIV_CMAC_384 mintls TLS1.2\n"
      "nts tlsciphers HIGH tlsciphersuites TLS_AES_256_GCM_SHA384 port 4461\n"
      "nts keyseed /seed rotate 60 keepkeys 365 kethreads 2 kerate 100 keburst 200\n"
      "nts keyseed \"/new seed\" from 2027-01-15T00:00:00Z\n"
      "nts ntpserver [::1]:123 require\n"
      "nts kemaxconn 20000 keperaddr 0\n"
      "restrict default kod limited\nrestrict -4 default ignore\nrestrict source nopeer\n"
      "restrict 192.168.1.77 mask 255.255.255.0 noserve\nrestrict 2001:db8::/32 notrap\n"
      "restrict -6 default kod limited64\n"
      "interface listen all\ninterface listen ipv4\ninterface listen ::1\n"
      "ntpport 1123\nworkers 3\ndriftfile \"\"\nlogfile /l\nstatsdir /s\nleapfile /lf\n"
      "statistics usestats timingstats\nfilegen rawstats file \"raw #1\" type age enable link\n"
      "tos minclock 1.5 maxdist 0.25 cohort 1\nlogconfig all =syncall -clockinfo\n"
      "discard average 0 minimum 0 monitor 7\n");
}

TEST(Format, MetricsRoundTrips) {
  expect_round_trip("metrics 127.0.0.1:9123\n");
  expect_round_trip("metrics [::1]:9123\n");
}

}  // namespace
}  // namespace ntsd::config
