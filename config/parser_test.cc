#include "config/parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/address.h"

namespace ntsd::config {
namespace {

using Strings = std::vector<std::string>;

Config parse_ok(std::string_view text) {
  const ParseResult r = parse_config_text(text, "ntp.conf");
  EXPECT_TRUE(r.errors.empty()) << ::testing::PrintToString(r.errors);
  EXPECT_TRUE(r.config.has_value());
  return r.config.value_or(Config{});
}

Strings errors_of(std::string_view text) {
  const ParseResult r = parse_config_text(text, "ntp.conf");
  EXPECT_FALSE(r.config.has_value());
  return r.errors;
}

TEST(Parser, EmptyFileIsAllDefaults) {
  const Config c = parse_ok("");
  EXPECT_EQ(c, Config{});
  EXPECT_EQ(parse_ok("# only a comment\n\n   \n"), Config{});
  EXPECT_FALSE(c.ntp_port);
  EXPECT_EQ(c.nts.ke_port, 4460);
  EXPECT_EQ(c.nts.rotate_seconds, 86400);
  EXPECT_EQ(c.nts.keep_days, 14);
  EXPECT_EQ(c.discard_average, 3);
  EXPECT_EQ(c.discard_minimum, 2);
  EXPECT_EQ(c.nts.mintls, TlsVersion::kTls13);
}

TEST(Parser, ServerOptions) {
  const Config c = parse_ok(
      "server time.cloudflare.com nts iburst minpoll 4 maxpoll 9 noval prefer port 4461\n"
      "pool -6 pool.example.net burst noselect version 3\n"
      "server [2001:db8::1]:4443 nts ca /etc/ca aead aes_siv_cmac_512\n"
      "server nts.ntp.se:4443 nts\n");
  ASSERT_EQ(c.servers.size(), 4u);
  const UpstreamServer& a = c.servers[0];
  EXPECT_EQ(a.host, "time.cloudflare.com");
  EXPECT_FALSE(a.is_pool);
  EXPECT_TRUE(a.nts && a.iburst && a.noval && a.prefer);
  EXPECT_FALSE(a.burst || a.noselect);
  EXPECT_EQ(a.minpoll, 4);
  EXPECT_EQ(a.maxpoll, 9);
  EXPECT_EQ(a.port, 4461);
  const UpstreamServer& b = c.servers[1];
  EXPECT_TRUE(b.is_pool && b.burst && b.noselect);
  EXPECT_EQ(b.family, IpFamily::kIPv6);
  EXPECT_EQ(b.version, 3);
  EXPECT_EQ(b.minpoll, 6);
  EXPECT_EQ(b.maxpoll, 10);
  EXPECT_FALSE(b.port);
  EXPECT_EQ(c.servers[2].host, "2001:db8::1");
  EXPECT_EQ(c.servers[2].port, 4443);
  EXPECT_EQ(c.servers[2].ca, "/etc/ca");
  EXPECT_EQ(c.servers[2].aead, kAeadAesSivCmac512);
  EXPECT_EQ(c.servers[3].host, "nts.ntp.se");
  EXPECT_EQ(c.servers[3].port, 4443);
}

TEST(Parser, PollDefaultsFollowTheOtherBound) {
  const Config c = parse_ok("server a maxpoll 4\nserver b minpoll 12\n");
  EXPECT_EQ(c.servers[0].minpoll, 4);
  EXPECT_EQ(c.servers[0].maxpoll, 4);
  EXPECT_EQ(c.servers[1].minpoll, 12);
  EXPECT_EQ(c.servers[1].maxpoll, 12);
}

TEST(Parser, ServerErrors) {
  EXPECT_EQ(errors_of("server a minpoll 99\n"),
            Strings{"ntp.conf:1: 'minpoll 99', expected a poll exponent 0..17"});
  EXPECT_EQ(errors_of("server a:1 port 2\n"),
            Strings{"ntp.conf:1: 'port 2' after a port was already given, expected the port "
                    "once, either as HOST:PORT or as 'port N'"});
  EXPECT_EQ(errors_of("server -4 ::1\n"),
            Strings{"ntp.conf:1: 'server -4 ::1', expected an IPv4 address after -4"});
  EXPECT_EQ(errors_of("\n\nserver a ibrust\n"),
            Strings{"ntp.conf:3: unknown server option 'ibrust', expected a server option: nts, "
                    "iburst, burst, minpoll N, maxpoll N, noval, prefer, noselect, port N, "
                    "version N, ca FILE, aead NAME"});
  EXPECT_EQ(errors_of("pool a version 5\n"),
            Strings{"ntp.conf:1: 'version 5', expected an NTP version 1..4"});
}

TEST(Parser, NtsSubcommands) {
  const Config c = parse_ok(
      "nts enable\n"
      "nts cert /c.pem key /k.pem\n"
      "nts ca /etc/ssl/certs\n"
      "nts cookie /var/lib/ntp/nts-keys\n"
      "nts aead AES_128_GCM_SIV AES_SIV_CMAC_384 mintls TLS1.3 maxtls tlsv1.3\n"
      "nts tlsciphers HIGH tlsciphersuites TLS_AES_256_GCM_SHA384\n"
      "nts port 4461 keyseed /seed rotate 60 keepkeys 365 kethreads 2 kerate 0 keburst 9\n"
      "nts ntpserver a.example ntpserver [::1]:123 require\n");
  const NtsSettings& n = c.nts;
  EXPECT_EQ(n.enabled, true);
  EXPECT_EQ(n.cert, "/c.pem");
  EXPECT_EQ(n.key, "/k.pem");
  EXPECT_EQ(n.ca, "/etc/ssl/certs");
  EXPECT_EQ(n.cookie_file, "/var/lib/ntp/nts-keys");
  EXPECT_EQ(n.aead_ids, (std::vector<uint16_t>{30, 16}));
  EXPECT_EQ(n.maxtls, TlsVersion::kTls13);
  EXPECT_EQ(n.tls_ciphers, "HIGH");
  EXPECT_EQ(n.tls_ciphersuites, "TLS_AES_256_GCM_SHA384");
  EXPECT_EQ(n.ke_port, 4461);
  EXPECT_EQ(n.ke_rate, 0);
  EXPECT_EQ(n.ke_burst, 9);
  EXPECT_EQ(n.keyseed, "/seed");
  EXPECT_EQ(n.rotate_seconds, 60);
  EXPECT_EQ(n.keep_days, 365);
  EXPECT_EQ(n.ke_threads, 2);
  EXPECT_EQ(n.ntp_servers, (Strings{"a.example", "[::1]:123"}));
  EXPECT_TRUE(n.require_nts);
}

// Seed rotation: a second seed for the epochs starting at or after a UTC time.
TEST(Parser, KeyseedFromAddsASecondSeed) {
  const NtsSettings n = parse_ok(
      "nts keyseed /var/lib/ntsd/seed\n"
      "nts keyseed /etc/ntsd/seed-2027 from 2027-01-15T00:00:00Z rotate 3600\n").nts;
  EXPECT_EQ(n.keyseed, "/var/lib/ntsd/seed");
  EXPECT_EQ(n.keyseed_new, "/etc/ntsd/seed-2027");
  EXPECT_EQ(n.keyseed_from, 1'799'971'200);  // date -d 2027-01-15Z +%s
  EXPECT_EQ(n.rotate_seconds, 3600);  // subcommands go on after the time
  // Either order in the file.
  const NtsSettings m =
      parse_ok("nts keyseed /new from 2000-02-29T23:59:59Z\nnts keyseed /old\n").nts;
  EXPECT_EQ(m.keyseed, "/old");
  EXPECT_EQ(m.keyseed_new, "/new");
  EXPECT_EQ(m.keyseed_from, 951'868'799);
  EXPECT_FALSE(parse_ok("nts keyseed /old\n").nts.keyseed_from);
}

TEST(Parser, KeyseedFromErrors) {
  const std::string time_expected =
      ", expected a UTC time such as 2027-01-15T00:00:00Z (YYYY-MM-DDTHH:MM:SSZ)";
  for (const char* bad : {"2027-01-15", "2027-01-15T00:00:00", "2027-01-15T00:00:00+01:00",
                          "2027-02-29T00:00:00Z", "2027-13-01T00:00:00Z",
                          "2027-01-15T24:00:00Z", "1969-12-31T23:59:59Z", "2027-01-15T00:00:00.5Z",
                          "tomorrow"}) {
    EXPECT_EQ(errors_of("nts keyseed /old\nnts keyseed /new from " + std::string(bad) + "\n"),
              Strings{"ntp.conf:2: 'nts keyseed /new from " + std::string(bad) + "'" + time_expected})
        << bad;
  }
  EXPECT_EQ(errors_of("nts keyseed /old\nnts keyseed /new from\n"),
            Strings{"ntp.conf:2: 'nts from' without a value" + time_expected});
  EXPECT_EQ(errors_of("nts keyseed /old\n"
                      "nts keyseed /a from 2027-01-15T00:00:00Z\n"
                      "nts keyseed /b from 2028-01-15T00:00:00Z\n"),
            Strings{"ntp.conf:3: second 'nts keyseed from' (first on line 2), expected each setting "
                    "at most once"});
  EXPECT_EQ(errors_of("nts keyseed /a\nnts keyseed /b\n"),
            Strings{"ntp.conf:2: second 'nts keyseed' (first on line 1), expected each setting at "
                    "most once"});
  EXPECT_EQ(errors_of("\nnts keyseed /new from 2027-01-15T00:00:00Z\n"),
            Strings{"ntp.conf:2: 'nts keyseed FILE from TIME' without a plain 'nts keyseed FILE' "
                    "line, expected the seed in use until TIME on its own 'nts keyseed FILE' line"});
  EXPECT_EQ(errors_of("nts keyseed /s\nnts keyseed /s from 2027-01-15T00:00:00Z\n"),
            Strings{"ntp.conf:2: 'nts keyseed /s from' names the seed already in use, expected a "
                    "new seed file (openssl rand -hex 32) for the epochs from that time"});
}

// ntsd extensions for NTS-KE under attack (ke/README.md): the global and per-address connection
// caps.
TEST(Parser, NtsKeConnectionCaps) {
  const NtsSettings defaults = parse_ok("").nts;
  EXPECT_FALSE(defaults.ke_max_connections) << "unset: sized from the fd limit at start";
  EXPECT_EQ(defaults.ke_per_address, 16);
  const NtsSettings n = parse_ok("nts kemaxconn 5000 keperaddr 4\n").nts;
  EXPECT_EQ(n.ke_max_connections, 5000);
  EXPECT_EQ(n.ke_per_address, 4);
  EXPECT_EQ(parse_ok("nts keperaddr 0\n").nts.ke_per_address, 0);
  EXPECT_EQ(
      errors_of("nts kemaxconn 15\n"),
      Strings{"ntp.conf:1: 'nts kemaxconn 15', expected an NTS-KE connection cap 16..1000000"});
  EXPECT_EQ(
      errors_of("server a\nnts keperaddr -1\n"),
      Strings{"ntp.conf:2: 'nts keperaddr -1', expected NTS-KE connections per client address "
              "0..100000 (0: no per-address cap)"});
  EXPECT_EQ(
      errors_of("nts kemaxconn\n"),
      Strings{"ntp.conf:1: 'nts kemaxconn' without a value, expected an NTS-KE connection cap "
              "16..1000000"});
}

TEST(Parser, NtsDisableAfterEnableWins) {
  EXPECT_EQ(parse_ok("nts enable\nnts disable\n").nts.enabled, false);
}

// NTPsec's Quick Start (`nts enable`) and the NTS guide (`nts cert` + `nts key`
// only) both turn the NTS server on; `nts disable` wins over a cert and key.
TEST(Parser, NtsServerMode) {
  EXPECT_EQ(nts_server_mode(parse_ok("").nts), NtsServerMode::kOffNoCertKey);
  EXPECT_EQ(nts_server_mode(parse_ok("nts enable\n").nts), NtsServerMode::kOnEnabled);
  EXPECT_EQ(nts_server_mode(parse_ok("nts cert /c.pem\nnts key /k.pem\n").nts), NtsServerMode::kOnCertAndKey);
  EXPECT_EQ(nts_server_mode(parse_ok("nts cert /c.pem\nnts key /k.pem\nnts disable\n").nts),
            NtsServerMode::kOffDisabled);
  EXPECT_EQ(nts_server_mode(parse_ok("nts disable\nnts enable cert /c.pem key /k.pem\n").nts),
            NtsServerMode::kOnEnabled);
  EXPECT_FALSE(nts_server_on(parse_ok("nts disable cert /c.pem key /k.pem\n").nts));
  EXPECT_TRUE(nts_server_on(parse_ok("nts cert /c.pem key /k.pem\n").nts));
}

// Half a pair without `nts enable` is a warning: it looks like a server but is not one.
TEST(Parser, NtsCertWithoutKeyWarns) {
  const ParseResult r = parse_config_text("nts cert /c.pem\n", "f");
  ASSERT_TRUE(r.config);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0], "f: 'nts cert' without 'nts key': the NTS server stays off");
  EXPECT_FALSE(nts_server_on(r.config->nts));
  EXPECT_TRUE(parse_config_text("nts enable\nnts cert /c.pem\n", "f").warnings.empty());
}

TEST(Parser, AeadNamesMapToIds) {
  const Config c = parse_ok(
      "nts aead AES_SIV_CMAC_256 aes_siv_cmac_384 AEAD_AES_SIV_CMAC_512 AES-128-GCM-SIV\n");
  EXPECT_EQ(c.nts.aead_ids, (std::vector<uint16_t>{15, 16, 17, 30}));
}

TEST(Parser, MinTls12IsAcceptedWithAWarning) {
  const ParseResult r = parse_config_text("nts mintls TLS1.2\n", "f");
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->nts.mintls, TlsVersion::kTls12);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].rfind("f:1: 'nts mintls TLS1.2'", 0), 0u) << r.warnings[0];
}

TEST(Parser, RestrictForms) {
  const Config c = parse_ok(
      "restrict default kod limited nomodify nopeer noquery\n"
      "restrict -6 default ignore\n"
      "restrict 192.168.1.77 mask 255.255.255.0 noserve notrap\n"
      "restrict 2001:db8:: mask ffff:ffff:: nomodify\n"
      "restrict 10.0.0.0/8\n"
      "restrict ::1\n"
      "restrict source nopeer\n");
  ASSERT_EQ(c.restricts.size(), 7u);
  const RestrictEntry& d = c.restricts[0];
  EXPECT_TRUE(d.is_default);
  EXPECT_EQ(d.family, IpFamily::kAny);
  EXPECT_EQ(d.flags, bit(RestrictFlag::kKod) | bit(RestrictFlag::kLimited) |
                         bit(RestrictFlag::kNomodify) | bit(RestrictFlag::kNopeer) |
                         bit(RestrictFlag::kNoquery));
  EXPECT_TRUE(c.restricts[1].is_default);
  EXPECT_EQ(c.restricts[1].family, IpFamily::kIPv6);
  EXPECT_TRUE(c.restricts[1].has(RestrictFlag::kIgnore));
  const RestrictEntry& m = c.restricts[2];
  EXPECT_FALSE(m.is_default);
  EXPECT_EQ(m.family, IpFamily::kIPv4);
  EXPECT_EQ(m.prefix_len, 24);
  EXPECT_EQ(address_text(m.family, m.address), "192.168.1.0");  // host bits cleared
  EXPECT_TRUE(m.has(RestrictFlag::kNoserve) && m.has(RestrictFlag::kNotrap));
  EXPECT_EQ(c.restricts[3].prefix_len, 32);
  EXPECT_EQ(c.restricts[3].family, IpFamily::kIPv6);
  EXPECT_EQ(c.restricts[4].prefix_len, 8);
  EXPECT_EQ(c.restricts[4].flags, 0u);
  EXPECT_EQ(c.restricts[5].prefix_len, 128);
  EXPECT_TRUE(c.restricts[6].is_source);
}

// ntsd extension: `limited64` rate-limits IPv6 clients per /64 (server/README-access.md).
TEST(Parser, RestrictLimited64) {
  const Config c = parse_ok(
      "restrict -6 default kod limited64\n"
      "restrict default limited64\n"
      "restrict 2001:db8::/32 limited limited64\n");
  ASSERT_EQ(c.restricts.size(), 3u);
  EXPECT_EQ(c.restricts[0].flags, bit(RestrictFlag::kKod) | bit(RestrictFlag::kLimited64));
  EXPECT_TRUE(c.restricts[1].has(RestrictFlag::kLimited64));
  EXPECT_TRUE(c.restricts[2].has(RestrictFlag::kLimited) &&
              c.restricts[2].has(RestrictFlag::kLimited64));
  // On an entry that only IPv4 clients can match it would silently mean `limited`.
  const std::string expected =
      "'limited64' on an IPv4 entry, expected 'limited' (limited64 keys IPv6 clients per /64; "
      "IPv4 clients are keyed per address either way)";
  EXPECT_EQ(errors_of("restrict 10.0.0.0/8 kod limited64\n"), Strings{"ntp.conf:1: " + expected});
  EXPECT_EQ(errors_of("server a\nrestrict -4 default limited64\n"),
            Strings{"ntp.conf:2: " + expected});
}

TEST(Parser, RestrictMaskErrors) {
  EXPECT_EQ(errors_of("restrict 10.0.0.0 mask 255.0.255.0\n"),
            Strings{"ntp.conf:1: 'mask 255.0.255.0' has non-contiguous bits, expected a netmask "
                    "whose one-bits are contiguous from the left, such as 255.255.0.0"});
  EXPECT_EQ(errors_of("restrict default mask 0.0.0.0\n"),
            Strings{"ntp.conf:1: 'restrict default mask 0.0.0.0', expected no mask after "
                    "'default' (it needs none; give an address to mask)"});
  EXPECT_EQ(errors_of("restrict default kod mask 0.0.0.0\n"),
            Strings{"ntp.conf:1: 'mask' after the flags, expected 'mask M' right after the "
                    "address"});
}

TEST(Parser, InterfaceListen) {
  const Config c = parse_ok(
      "interface listen 192.0.2.1\nnic listen ::1\ninterface listen all\ninterface listen ipv6\n");
  ASSERT_EQ(c.listen.size(), 4u);
  EXPECT_FALSE(c.listen[0].all);
  EXPECT_EQ(address_text(c.listen[0].family, c.listen[0].address), "192.0.2.1");
  EXPECT_EQ(c.listen[1].family, IpFamily::kIPv6);
  EXPECT_TRUE(c.listen[2].all);
  EXPECT_EQ(c.listen[2].family, IpFamily::kAny);
  EXPECT_TRUE(c.listen[3].all);
  EXPECT_EQ(c.listen[3].family, IpFamily::kIPv6);
  EXPECT_EQ(errors_of("interface ignore wildcard\n").size(), 1u);
}

TEST(Parser, FilesStatisticsAndMisc) {
  const Config c = parse_ok(
      "driftfile /var/lib/ntp/ntp.drift\nlogfile /var/log/ntpd.log\n"
      "statsdir /var/log/ntpstats/\nleapfile /usr/share/zoneinfo/leap-seconds.list\n"
      "statistics loopstats peerstats\nstatistics rawstats\n"
      "filegen peerstats file peers type week disable nolink\n"
      "tos minclock 4 minsane 3\ntos maxclock 11\n"
      "logconfig =syncall +clockall\n"
      "discard average 4 minimum 1 monitor 3000\n"
      "ntpport 1123\nworkers 8\n");
  EXPECT_EQ(c.driftfile, "/var/lib/ntp/ntp.drift");
  EXPECT_EQ(c.logfile, "/var/log/ntpd.log");
  EXPECT_EQ(c.statsdir, "/var/log/ntpstats/");
  EXPECT_EQ(c.leapfile, "/usr/share/zoneinfo/leap-seconds.list");
  EXPECT_EQ(c.statistics,
            bit(StatsFile::kLoopstats) | bit(StatsFile::kPeerstats) | bit(StatsFile::kRawstats));
  ASSERT_EQ(c.filegens.size(), 1u);
  EXPECT_EQ(c.filegens[0].stats, StatsFile::kPeerstats);
  EXPECT_EQ(c.filegens[0].file, "peers");
  EXPECT_EQ(c.filegens[0].type, FileGenType::kWeek);
  EXPECT_EQ(c.filegens[0].enable, false);
  EXPECT_EQ(c.filegens[0].link, false);
  EXPECT_EQ(c.tos, (std::vector<TosOption>{{"minclock", 4}, {"minsane", 3}, {"maxclock", 11}}));
  EXPECT_EQ(c.logconfig, (Strings{"=syncall", "+clockall"}));
  EXPECT_EQ(c.discard_average, 4);
  EXPECT_EQ(c.discard_minimum, 1);
  EXPECT_EQ(c.discard_monitor, 3000);
  EXPECT_EQ(c.ntp_port, 1123);
  EXPECT_EQ(c.workers, 8);
}

TEST(Parser, ExtraArgumentsAreErrors) {
  EXPECT_EQ(errors_of("driftfile /a /b\n"),
            Strings{"ntp.conf:1: extra '/b' after 'driftfile /a', expected 'driftfile FILE'"});
  EXPECT_EQ(errors_of("workers 4 5\n"),
            Strings{"ntp.conf:1: extra '5' after 'workers 4', expected 'workers N'"});
}

TEST(Parser, ControlSocket) {
  const Config c = parse_ok("controlsocket /run/ntsd/ntsd.sock group adm\n");
  EXPECT_EQ(c.control_socket, "/run/ntsd/ntsd.sock");
  EXPECT_EQ(c.control_group, "adm");
  EXPECT_EQ(parse_ok("controlsocket none\n").control_socket, "none");
  EXPECT_EQ(errors_of("controlsocket run/x.sock\n"),
            Strings{"ntp.conf:1: controlsocket 'run/x.sock', expected an absolute path of at most 107 bytes, "
                    "or none"});
  EXPECT_EQ(errors_of("controlsocket /x.sock owner root\n"),
            Strings{"ntp.conf:1: 'owner' after 'controlsocket /x.sock', expected group NAME"});
  EXPECT_EQ(errors_of("controlsocket /x.sock group\n").size(), 1u);
  EXPECT_EQ(errors_of("controlsocket /a\ncontrolsocket /b\n").size(), 1u);
  EXPECT_EQ(errors_of("controlsocket /" + std::string(107, 'a') + "\n").size(), 1u);
}

TEST(Parser, UnknownDirectiveMessage) {
  EXPECT_EQ(errors_of("server a\n\n\n\n\n\nnts_cert /x\n"),
            Strings{"ntp.conf:7: unknown directive 'nts_cert', expected a directive such as "
                    "server, pool, restrict, nts, driftfile\u2026"});
}

TEST(Parser, AllOrNothingAndEveryErrorReported) {
  const ParseResult r = parse_config_text(
      "server good.example nts\nbogus\nserver a minpoll 99\nworkers 2\nrestrict 1.2.3.4 mask "
      "1.1.1.1\n",
      "/etc/ntpsec/ntp.conf");
  EXPECT_FALSE(r.config);
  ASSERT_EQ(r.errors.size(), 3u);
  EXPECT_EQ(r.errors[0].rfind("/etc/ntpsec/ntp.conf:2: ", 0), 0u);
  EXPECT_EQ(r.errors[1].rfind("/etc/ntpsec/ntp.conf:3: ", 0), 0u);
  EXPECT_EQ(r.errors[2].rfind("/etc/ntpsec/ntp.conf:5: ", 0), 0u);
}

TEST(Parser, LongTokensAreCutInMessages) {
  const std::string longname(500, 'x');
  const Strings errs = errors_of(longname + "\n");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_LT(errs[0].size(), 250u);
  EXPECT_NE(errs[0].find("...'"), std::string::npos);
}

TEST(Parser, FileThatDoesNotExist) {
  const ParseResult r = parse_config_file("/nonexistent/ntsd/ntp.conf");
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.errors,
            Strings{"/nonexistent/ntsd/ntp.conf: cannot read: No such file or directory"});
}

TEST(Parser, DirectoryIsNotAFile) {
  const ParseResult r = parse_config_file("/");
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.errors, Strings{"/: cannot read: Is a directory"});
}

}  // namespace
}  // namespace ntsd::config

namespace ntsd::config {
namespace {

// NTPsec's `tinker step/panic` set the discipline's thresholds; its PLL knobs are named as unsupported.
TEST(Parser, TinkerStepAndPanic) {
  const Config c = parse_ok("tinker step 0.5 panic 0\n");
  EXPECT_EQ(c.tinker_step, 0.5);
  EXPECT_EQ(c.tinker_panic, 0.0);
  const ParseResult bad = parse_config_text("tinker allan 1500\n", "f");
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0].rfind("f:1: tinker option 'allan' is not supported by ntsd", 0), 0u) << bad.errors[0];
  EXPECT_FALSE(parse_config_text("tinker step -1\n", "f").config);
  EXPECT_FALSE(parse_config_text("tinker step 1\ntinker step 2\n", "f").config);
}

}  // namespace
}  // namespace ntsd::config

namespace ntsd::config {
namespace {

// ntsd's `metrics ADDRESS:PORT`: numeric addresses only, port required, off by default.
TEST(Parser, MetricsListenAddress) {
  EXPECT_FALSE(parse_ok("").metrics);
  const Config v4 = parse_ok("metrics 127.0.0.1:9123\n");
  ASSERT_TRUE(v4.metrics);
  EXPECT_EQ(v4.metrics->family, IpFamily::kIPv4);
  EXPECT_EQ(v4.metrics->port, 9123);
  EXPECT_EQ(address_text(v4.metrics->family, v4.metrics->address), "127.0.0.1");
  const Config v6 = parse_ok("metrics [::1]:9123\n");
  ASSERT_TRUE(v6.metrics);
  EXPECT_EQ(v6.metrics->family, IpFamily::kIPv6);
  EXPECT_EQ(address_text(v6.metrics->family, v6.metrics->address), "::1");
  const std::string expected =
      "expected 'metrics ADDRESS:PORT', e.g. 'metrics 127.0.0.1:9123'";
  EXPECT_EQ(errors_of("\nmetrics 127.0.0.1\n"), Strings{"ntp.conf:2: 'metrics 127.0.0.1', " + expected});
  EXPECT_EQ(errors_of("metrics localhost:9123\n"), Strings{"ntp.conf:1: 'metrics localhost:9123', " + expected});
  EXPECT_EQ(errors_of("metrics 127.0.0.1:0\n"), Strings{"ntp.conf:1: 'metrics 127.0.0.1:0', " + expected});
  EXPECT_EQ(errors_of("metrics ::1\n"), Strings{"ntp.conf:1: 'metrics ::1', " + expected});
  EXPECT_EQ(errors_of("metrics\n"), Strings{"ntp.conf:1: 'metrics' without a value, " + expected});
  EXPECT_EQ(errors_of("metrics 127.0.0.1:1 x\n"),
            Strings{"ntp.conf:1: extra 'x' after 'metrics 127.0.0.1:1', " + expected});
  EXPECT_FALSE(parse_config_text("metrics 127.0.0.1:1\nmetrics 127.0.0.1:2\n", "f").config);
}

}  // namespace
}  // namespace ntsd::config
