// The files under tests/data/config: the NTS guide configurations parse to
// what the guide means, each malformed file gives exactly its errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/address.h"
#include "config/format.h"
#include "config/parser.h"

namespace ntsd::config {
namespace {

using Strings = std::vector<std::string>;

const std::string kDir = "tests/data/config/";

Config good(const std::string& name) {
  const ParseResult r = parse_config_file(kDir + name);
  EXPECT_TRUE(r.errors.empty()) << name << ": " << ::testing::PrintToString(r.errors);
  EXPECT_TRUE(r.warnings.empty()) << name << ": " << ::testing::PrintToString(r.warnings);
  return r.config.value_or(Config{});
}

// Errors of a bad file, with the directory prefix removed for brevity.
Strings bad(const std::string& name) {
  const ParseResult r = parse_config_file(kDir + name);
  EXPECT_FALSE(r.config) << name;
  Strings out;
  for (const auto& e : r.errors) {
    EXPECT_EQ(e.rfind(kDir + name + ":", 0), 0u) << e;
    out.push_back(e.substr(kDir.size()));
  }
  return out;
}

void expect_guide_servers(const Config& c, size_t count) {
  ASSERT_EQ(c.servers.size(), count);
  EXPECT_EQ(c.servers[0].host, "time.cloudflare.com");
  EXPECT_EQ(c.servers[1].host, "nts.ntp.se");
  EXPECT_EQ(c.servers[1].port, 4443);  // the guide's HOST:PORT form: NTS-KE on 4443
  for (const auto& s : c.servers) {
    EXPECT_TRUE(s.nts) << s.host;
    EXPECT_FALSE(s.is_pool);
  }
}

TEST(DataGood, EveryGoodFileRoundTripsThroughToText) {
  for (const char* name :
       {"good_nts_client_debian.conf", "good_nts_server_debian.conf", "good_nts_client_source.conf",
        "good_nts_server_source.conf", "good_ntsd_extensions.conf", "good_restrict_forms.conf",
        "good_crlf.conf", "good_tabs_comments.conf", "good_guide_server_debian.conf"}) {
    const Config c = good(name);
    const ParseResult again = parse_config_text(to_text(c), "canonical");
    ASSERT_TRUE(again.config) << name << ::testing::PrintToString(again.errors);
    EXPECT_EQ(*again.config, c) << name;
  }
}

TEST(DataGood, NtsClientDebian) {
  const Config c = good("good_nts_client_debian.conf");
  expect_guide_servers(c, 5);
  EXPECT_EQ(c.servers[4].host, "ntp2.glypnod.com");
  EXPECT_FALSE(c.nts.enabled.has_value());
  EXPECT_EQ(nts_server_mode(c.nts), NtsServerMode::kOffNoCertKey);
  EXPECT_EQ(c.driftfile, "/var/lib/ntpsec/ntp.drift");
  EXPECT_EQ(c.statsdir, "/var/log/ntpsec/");
  EXPECT_EQ(c.leapfile, "/usr/share/zoneinfo/leap-seconds.list");
  EXPECT_EQ(c.statistics,
            bit(StatsFile::kLoopstats) | bit(StatsFile::kPeerstats) | bit(StatsFile::kClockstats));
  EXPECT_EQ(c.filegens.size(), 3u);
  EXPECT_EQ(c.tos, (std::vector<TosOption>{{"maxclock", 11}, {"minclock", 4}, {"minsane", 3}}));
  ASSERT_EQ(c.restricts.size(), 3u);
  EXPECT_TRUE(c.restricts[0].is_default);
  EXPECT_TRUE(c.restricts[0].has(RestrictFlag::kLimited));
  EXPECT_EQ(c.restricts[1].prefix_len, 32);
  EXPECT_EQ(c.restricts[2].family, IpFamily::kIPv6);
}

TEST(DataGood, NtsServerDebian) {
  const Config c = good("good_nts_server_debian.conf");
  expect_guide_servers(c, 2);
  EXPECT_EQ(c.nts.enabled, true);
  EXPECT_EQ(c.nts.key, "/etc/letsencrypt/live/ntp.example.com/privkey.pem");
  EXPECT_EQ(c.nts.cert, "/etc/letsencrypt/live/ntp.example.com/fullchain.pem");
  EXPECT_EQ(c.nts.cookie_file, "/var/lib/ntpsec/nts-keys");
  EXPECT_EQ(c.driftfile, "/var/lib/ntpsec/ntp.drift");
  EXPECT_EQ(c.statsdir, "/var/log/ntpsec/");
}

// The guide's server form: cert + key and no `nts enable` still serves NTS.
TEST(DataGood, GuideServerWithoutNtsEnable) {
  const Config c = good("good_guide_server_debian.conf");
  EXPECT_FALSE(c.nts.enabled.has_value());
  EXPECT_EQ(nts_server_mode(c.nts), NtsServerMode::kOnCertAndKey);
  EXPECT_TRUE(nts_server_on(c.nts));
  ASSERT_EQ(c.servers.size(), 3u);
  EXPECT_TRUE(c.servers[0].nts);
}

TEST(DataGood, NtsClientSource) {
  const Config c = good("good_nts_client_source.conf");
  expect_guide_servers(c, 5);
  EXPECT_EQ(c.driftfile, "/var/lib/ntp/ntp.drift");
  EXPECT_EQ(c.statsdir, "/var/log/ntpstats/");
  EXPECT_EQ(c.logfile, "/var/log/ntpd.log");
  EXPECT_EQ(c.logconfig, (Strings{"=syncall", "+clockall", "+peerall", "+sysall"}));
  ASSERT_EQ(c.restricts.size(), 4u);
  EXPECT_EQ(c.restricts[1].family, IpFamily::kIPv6);
  EXPECT_TRUE(c.restricts[1].is_default);
  EXPECT_EQ(address_text(c.restricts[3].family, c.restricts[3].address), "::1");
}

TEST(DataGood, NtsServerSource) {
  const Config c = good("good_nts_server_source.conf");
  expect_guide_servers(c, 2);
  EXPECT_EQ(c.nts.enabled, true);
  EXPECT_EQ(c.nts.cookie_file, "/var/lib/ntp/nts-keys");
  EXPECT_EQ(c.driftfile, "/var/lib/ntp/ntp.drift");
  EXPECT_EQ(c.logfile, "/var/log/ntpd.log");
}

TEST(DataGood, NtsdExtensions) {
  const Config c = good("good_ntsd_extensions.conf");
  EXPECT_EQ(c.nts.aead_ids, (std::vector<uint16_t>{30, 15, 17}));
  EXPECT_EQ(c.nts.keyseed, "/run/secrets/ntsd-fleet-seed");
  EXPECT_EQ(c.nts.rotate_seconds, 3600);
  EXPECT_EQ(c.nts.keep_days, 7);
  EXPECT_EQ(c.nts.ke_threads, 4);
  EXPECT_EQ(c.nts.ntp_servers, (Strings{"ntp1.example.net", "[2001:db8::123]:123"}));
  EXPECT_TRUE(c.nts.require_nts);
  EXPECT_EQ(c.ntp_port, 123);
  EXPECT_EQ(c.workers, 16);
  ASSERT_EQ(c.servers.size(), 4u);
  EXPECT_EQ(c.servers[1].host, "2001:db8::1");
  EXPECT_EQ(c.servers[1].port, 4460);
  EXPECT_EQ(c.servers[2].family, IpFamily::kIPv4);
  EXPECT_TRUE(c.servers[3].is_pool);
  EXPECT_EQ(c.listen.size(), 3u);
}

TEST(DataGood, RestrictForms) {
  const Config c = good("good_restrict_forms.conf");
  ASSERT_EQ(c.restricts.size(), 11u);
  EXPECT_EQ(c.restricts[1].family, IpFamily::kIPv4);
  EXPECT_TRUE(c.restricts[3].is_source);
  EXPECT_EQ(c.restricts[5].prefix_len, 24);
  EXPECT_EQ(address_text(IpFamily::kIPv4, c.restricts[5].address), "192.168.1.0");
  EXPECT_EQ(c.restricts[7].prefix_len, 64);
  EXPECT_EQ(c.restricts[8].prefix_len, 48);
}

TEST(DataGood, CrLf) {
  const Config c = good("good_crlf.conf");
  ASSERT_EQ(c.servers.size(), 1u);
  EXPECT_EQ(c.servers[0].host, "time.cloudflare.com");  // no stray '\r'
  EXPECT_EQ(c.nts.key, "/etc/ntsd/privkey.pem");
  EXPECT_EQ(c.driftfile, "/var/lib/ntp/ntp.drift");
}

TEST(DataGood, TabsAndComments) {
  const Config c = good("good_tabs_comments.conf");
  ASSERT_EQ(c.servers.size(), 2u);
  EXPECT_TRUE(c.servers[0].nts && c.servers[0].iburst);
  EXPECT_TRUE(c.servers[1].is_pool);
  EXPECT_EQ(c.nts.cookie_file, "/var/lib/ntp/nts keys");
  EXPECT_EQ(c.leapfile, "/usr/share/zoneinfo/leap-seconds.list");
  EXPECT_EQ(c.driftfile, "/var/lib/ntp/ntp.drift");
  ASSERT_EQ(c.restricts.size(), 1u);
  EXPECT_EQ(c.restricts[0].flags, bit(RestrictFlag::kKod));
}

const std::string kAeadList =
    "expected an AEAD name: AES_SIV_CMAC_256, AES_SIV_CMAC_384, AES_SIV_CMAC_512 or "
    "AES_128_GCM_SIV";
const std::string kHost =
    "expected a host name, IPv4 address or IPv6 address, optionally [bracketed] with :PORT "
    "1..65535";
const std::string kDirective =
    "expected a directive such as server, pool, restrict, nts, driftfile\u2026";
const std::string kNoncontiguous =
    "has non-contiguous bits, expected a netmask whose one-bits are contiguous from the left, "
    "such as 255.255.0.0";
const std::string kFlags =
    "expected a restrict flag: kod, limited, nomodify, nopeer, noquery, notrap, ignore, noserve, "
    "notrust, nomrulist, ntpport, version, flake, mssntp, limited64";
const std::string kNtsSub =
    "expected an nts subcommand: enable, disable, cert FILE, key FILE, ca FILE|DIR, cookie FILE, "
    "aead NAME..., mintls V, maxtls V, tlsciphers LIST, tlsciphersuites LIST, port N, keyseed "
    "FILE [from TIME], rotate SECONDS, keepkeys DAYS, kethreads N, kerate N, keburst N, kemaxconn N, keperaddr N, "
    "ntpserver HOST, require";
const std::string kStats =
    "expected a statistics name: loopstats, peerstats, clockstats, rawstats, sysstats, "
    "protostats, timingstats, usestats";

TEST(DataBad, UnknownDirective) {
  EXPECT_EQ(bad("bad_unknown_directive.conf"),
            (Strings{
                "bad_unknown_directive.conf:3: unknown directive 'nts_cert', " + kDirective,
                "bad_unknown_directive.conf:4: NTPsec directive 'keys' is not supported by ntsd, " +
                    kDirective,
            }));
}

TEST(DataBad, MissingArgument) {
  EXPECT_EQ(bad("bad_missing_argument.conf"),
            (Strings{
                "bad_missing_argument.conf:2: 'server' without a host, expected 'server "
                "HOST[:PORT] [options]'",
                "bad_missing_argument.conf:3: 'minpoll' without a value, expected a poll "
                "exponent 0..17",
                "bad_missing_argument.conf:4: 'driftfile' without a value, expected 'driftfile "
                "FILE'",
                "bad_missing_argument.conf:5: 'nts cert' without a value, expected 'nts cert "
                "FILE'",
                "bad_missing_argument.conf:6: 'restrict' without an address, expected 'restrict "
                "[-4|-6] ADDRESS|default|source [mask M] [flag ...]'",
                "bad_missing_argument.conf:7: 'mask' without a value, expected 'mask M' with a "
                "netmask such as 255.255.255.0",
                "bad_missing_argument.conf:8: 'statistics' without a name, " + kStats,
                "bad_missing_argument.conf:9: 'workers' without a value, expected a worker "
                "count 1..1024",
            }));
}

TEST(DataBad, NonNumeric) {
  EXPECT_EQ(bad("bad_non_numeric.conf"),
            (Strings{
                "bad_non_numeric.conf:2: 'minpoll six', expected a poll exponent 0..17",
                "bad_non_numeric.conf:3: 'workers many', expected a worker count 1..1024",
                "bad_non_numeric.conf:4: 'nts rotate daily', expected a key rotation period "
                "60..31622400 s",
                "bad_non_numeric.conf:5: 'ntpport ntp', expected a UDP port 1..65535",
                "bad_non_numeric.conf:6: 'tos maxclock eleven', expected a number 1..1000",
            }));
}

TEST(DataBad, OutOfRange) {
  EXPECT_EQ(bad("bad_out_of_range.conf"),
            (Strings{
                "bad_out_of_range.conf:2: 'minpoll 99', expected a poll exponent 0..17",
                "bad_out_of_range.conf:3: 'maxpoll -1', expected a poll exponent 0..17",
                "bad_out_of_range.conf:4: 'minpoll 10' above 'maxpoll 6', expected minpoll <= "
                "maxpoll",
                "bad_out_of_range.conf:5: 'workers 0', expected a worker count 1..1024",
                "bad_out_of_range.conf:6: 'nts kethreads 1025', expected an NTS-KE thread count "
                "1..1024",
                "bad_out_of_range.conf:7: 'nts rotate 59', expected a key rotation period "
                "60..31622400 s",
                "bad_out_of_range.conf:8: 'nts keepkeys 366', expected a key retention 1..365 "
                "days",
                "bad_out_of_range.conf:9: 'ntpport 65536', expected a UDP port 1..65535",
                "bad_out_of_range.conf:10: 'server ntp.example.com:0', " + kHost,
                "bad_out_of_range.conf:11: 'discard average 18', expected an average headway "
                "exponent 0..17 (log2 s)",
            }));
}

TEST(DataBad, Address) {
  const std::string target =
      "expected an IPv4 or IPv6 address (optionally /PREFIX), 'default' or 'source'";
  EXPECT_EQ(bad("bad_address.conf"),
            (Strings{
                "bad_address.conf:2: 'restrict 10.0.0.300', " + target,
                "bad_address.conf:3: 'restrict ntp.example.com', " + target,
                "bad_address.conf:4: 'restrict -4 ::1', expected an IPv4 address after -4",
                "bad_address.conf:5: 'restrict -6 127.0.0.1', expected an IPv6 address after -6",
                "bad_address.conf:6: 'restrict 10.0.0.0/33', expected a prefix length 0..32 "
                "after '/'",
                "bad_address.conf:7: 'interface listen eth0', expected an IP address, all, ipv4 "
                "or ipv6",
                "bad_address.conf:8: 'server bad_host!.example.com', " + kHost,
                "bad_address.conf:9: 'server [2001:db8::1', " + kHost,
            }));
}

TEST(DataBad, Mask) {
  EXPECT_EQ(bad("bad_mask.conf"),
            (Strings{
                "bad_mask.conf:2: 'mask 255.255.0', expected a netmask such as 255.255.255.0 or "
                "ffff:ffff:ffff:ffff::",
                "bad_mask.conf:3: 'restrict 10.0.0.0 mask ffff:ffff::', expected an IPv4 netmask "
                "for an IPv4 address",
                "bad_mask.conf:4: 'restrict 2001:db8:: mask 255.255.0.0', expected an IPv6 "
                "netmask for an IPv6 address",
                "bad_mask.conf:5: 'restrict default mask 0.0.0.0', expected no mask after "
                "'default' (it needs none; give an address to mask)",
                "bad_mask.conf:6: 'restrict -6 default mask ::', expected no mask after "
                "'default' (it needs none; give an address to mask)",
                "bad_mask.conf:7: 'restrict 10.0.0.0/8 mask 255.0.0.0', expected either "
                "ADDRESS/PREFIX or 'mask M', not both",
            }));
}

TEST(DataBad, NoncontiguousMask) {
  EXPECT_EQ(bad("bad_mask_noncontiguous.conf"),
            (Strings{
                "bad_mask_noncontiguous.conf:2: 'mask 255.0.255.0' " + kNoncontiguous,
                "bad_mask_noncontiguous.conf:3: 'mask ffff:0:ffff::' " + kNoncontiguous,
                "bad_mask_noncontiguous.conf:4: 'mask 255.255.255.1' " + kNoncontiguous,
            }));
}

TEST(DataBad, RestrictFlag) {
  EXPECT_EQ(bad("bad_restrict_flag.conf"),
            (Strings{
                "bad_restrict_flag.conf:2: unknown restrict flag 'nomodfy', " + kFlags,
                "bad_restrict_flag.conf:2: unknown restrict flag 'noqeury', " + kFlags,
                "bad_restrict_flag.conf:3: unknown restrict flag 'allow', " + kFlags,
            }));
}

TEST(DataBad, NtsSubcommand) {
  EXPECT_EQ(bad("bad_nts_subcommand.conf"),
            (Strings{
                "bad_nts_subcommand.conf:3: unknown nts subcommand 'certificate', " + kNtsSub,
                "bad_nts_subcommand.conf:4: 'nts' without a subcommand, " + kNtsSub,
                "bad_nts_subcommand.conf:5: unknown nts subcommand 'keyfile', " + kNtsSub,
            }));
}

TEST(DataBad, Aead) {
  EXPECT_EQ(bad("bad_aead.conf"),
            (Strings{
                "bad_aead.conf:2: unknown AEAD 'AES_256_GCM', " + kAeadList,
                "bad_aead.conf:2: unknown AEAD 'CHACHA20_POLY1305', " + kAeadList,
                "bad_aead.conf:2: 'nts aead AES_256_GCM AES_SIV_CMAC_256 CHACHA20_POLY1305 "
                "aes_siv_cmac_256' lists 'aes_siv_cmac_256' twice, expected each AEAD once",
                "bad_aead.conf:3: 'aead AES_SIV_CMAC_1024', " + kAeadList,
            }));
}

TEST(DataBad, TlsVersion) {
  EXPECT_EQ(bad("bad_tls_version.conf"),
            (Strings{
                "bad_tls_version.conf:2: 'nts mintls TLS1.1', expected a TLS version: TLS1.2 or "
                "TLS1.3",
                "bad_tls_version.conf:3: 'nts maxtls TLS1.2', expected TLS1.3 (RFC 8915 allows "
                "NTS-KE over TLS 1.3 only)",
            }));
}

TEST(DataBad, Duplicate) {
  // Decision: a single-valued setting given twice is an error naming both
  // lines; switches (nts enable) and list directives may repeat.
  EXPECT_EQ(bad("bad_duplicate.conf"),
            (Strings{
                "bad_duplicate.conf:6: second 'nts cert' (first on line 5), expected each "
                "setting at most once",
                "bad_duplicate.conf:7: second 'driftfile' (first on line 4), expected each "
                "setting at most once",
                "bad_duplicate.conf:9: second 'workers' (first on line 8), expected each setting "
                "at most once",
                "bad_duplicate.conf:12: second 'minpoll' on one line, expected each option once",
            }));
}

TEST(DataBad, ManyErrors) {
  EXPECT_EQ(bad("bad_many_errors.conf"),
            (Strings{
                "bad_many_errors.conf:5: 'minpoll 99', expected a poll exponent 0..17",
                "bad_many_errors.conf:8: unknown directive 'frobnicate', " + kDirective,
                "bad_many_errors.conf:9: unknown AEAD 'AES_999', " + kAeadList,
                "bad_many_errors.conf:11: 'mask 255.0.255.0' " + kNoncontiguous,
                "bad_many_errors.conf:12: 'workers zero', expected a worker count 1..1024",
                "bad_many_errors.conf:14: 'nts mintls TLS9', expected a TLS version: TLS1.2 or "
                "TLS1.3",
                "bad_many_errors.conf:15: 'tos minclock' without a value, expected a number "
                "1..1000",
                "bad_many_errors.conf:16: unknown statistics name 'bogusstats', " + kStats,
                "bad_many_errors.conf:17: unknown log class '+nonsense', expected a log class "
                "such as =syncall or +clockall: an optional +, - or = then all, or one of all, "
                "clock, peer, sys, sync followed by all, info, events, status or statistics",
            }));
}

TEST(DataBad, Lexical) {
  EXPECT_EQ(bad("bad_lexical.conf"),
            (Strings{
                "bad_lexical.conf:2: control byte 0x01, expected printable text",
                "bad_lexical.conf:3: unterminated quoted string, expected a closing '\"' on the "
                "same line",
            }));
}

TEST(DataBad, FileThatDoesNotExist) {
  EXPECT_EQ(parse_config_file(kDir + "no_such_file.conf").errors,
            Strings{kDir + "no_such_file.conf: cannot read: No such file or directory"});
}

}  // namespace
}  // namespace ntsd::config
