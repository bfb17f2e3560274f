#include "clock/stats_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/parser.h"
#include "testing/test_files.h"

namespace ntsd::clock {
namespace {

using config::FileGenType;
using config::StatsFile;

constexpr int64_t kNs = 1'000'000'000;
constexpr int64_t kDec1 = 1'764'547'200;  // 2025-12-01 00:00:00 UTC, MJD 61010

using testing::temp_dir;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

config::Config parse(const std::string& text) {
  const config::ParseResult r = config::parse_config_text(text, "ntp.conf");
  EXPECT_TRUE(r.errors.empty()) << r.errors.front();
  return r.config.value_or(config::Config{});
}

TEST(PeerStatusWord, known_values) {
  // monopt.html's peerstats example: configured, reachable PPS peer, 1 event, last "reachable".
  EXPECT_EQ(peer_status_word({.configured = true,
                              .reachable = true,
                              .select = PeerSelect::kPpsPeer,
                              .event_count = 1,
                              .last_event = PeerEvent::kReachable}),
            0x9714);
  // An NTS system peer: NTPsec sets authenb for every `nts` source, auth once replies verify.
  EXPECT_EQ(peer_status_word({.configured = true,
                              .auth_enabled = true,
                              .authentic = true,
                              .reachable = true,
                              .select = PeerSelect::kSysPeer,
                              .event_count = 1,
                              .last_event = PeerEvent::kReachable}),
            0xf614);
  // ntpd's peer.awk example "f414": an authenticated candidate.
  EXPECT_EQ(peer_status_word({.auth_enabled = true,
                              .authentic = true,
                              .reachable = true,
                              .select = PeerSelect::kCandidate,
                              .event_count = 1,
                              .last_event = PeerEvent::kReachable}),
            0xf414);
  // Just mobilized NTS source, nothing heard yet.
  EXPECT_EQ(peer_status_word(
                {.auth_enabled = true, .event_count = 1, .last_event = PeerEvent::kMobilize}),
            0xc011);
  // A pool spawn (not configured), an outlier, 2 events, last "sys_peer".
  EXPECT_EQ(peer_status_word({.configured = false,
                              .reachable = true,
                              .select = PeerSelect::kOutlier,
                              .event_count = 2,
                              .last_event = PeerEvent::kSysPeer}),
            0x132a);
  // Every select code lands in the low 3 bits of the high byte.
  for (int sel = 0; sel < 8; ++sel) {
    EXPECT_EQ(peer_status_word({.configured = false, .select = static_cast<PeerSelect>(sel)}),
              sel << 8);
  }
  // The count saturates at 15.
  EXPECT_EQ(peer_status_word({.configured = false, .event_count = 40}), 0x00f0);
}

TEST(StatsLine, time_is_mjd_and_truncated_milliseconds) {
  EXPECT_EQ(stats_time_text(kDec1 * kNs), "61010 0.000");
  EXPECT_EQ(stats_time_text(kDec1 * kNs + 75440 * kNs + 31'999'999), "61010 75440.031");
  EXPECT_EQ(stats_time_text(kDec1 * kNs + 86399 * kNs + 999'999'999), "61010 86399.999");
  EXPECT_EQ(stats_time_text(0), "40587 0.000");
  EXPECT_EQ(stats_time_text(-1), "40586 86399.999");
}

TEST(StatsLine, peerstats_as_ntpsec_writes_it) {
  // monopt.html: "48773 10847.650 SPECTRACOM(4) 9714 -0.001605376 0.000000000 0.001424877
  // 0.000958674".
  const int64_t t = ((48773 - 40587) * 86400 + 10847) * kNs + 650'000'000;
  const PeerStatsRecord r{.source = "SPECTRACOM(4)",
                          .status = 0x9714,
                          .offset = -0.001605376,
                          .delay = 0,
                          .dispersion = 0.001424877,
                          .jitter = 0.000958674};
  EXPECT_EQ(peerstats_line(t, r),
            "48773 10847.650 SPECTRACOM(4) 9714 -0.001605376 0.000000000 0.001424877 "
            "0.000958674\n");
  const PeerStatsRecord v6{.source = "2001:db8::1",
                           .status = 0xf614,
                           .offset = 0.000123456789,
                           .delay = 0.0105,
                           .dispersion = 0.002,
                           .jitter = 0.00003};
  EXPECT_EQ(peerstats_line(kDec1 * kNs + kNs / 2, v6),
            "61010 0.500 2001:db8::1 f614 0.000123457 0.010500000 0.002000000 0.000030000\n");
  // A source text that would break the columns is made a single token.
  EXPECT_EQ(peerstats_line(kDec1 * kNs, {.source = "bad name\n", .status = 0x8011}),
            "61010 0.000 bad_name_ 8011 0.000000000 0.000000000 0.000000000 0.000000000\n");
}

TEST(StatsLine, loopstats_as_ntpsec_writes_it) {
  // monopt.html's example, in NTPsec 1.2's precision (%.6f for both ppm columns).
  const int64_t t = ((50935 - 40587) * 86400 + 75440) * kNs + 31'000'000;
  const LoopStatsRecord r{.offset = 0.000006019,
                          .drift_ppm = 13.778190,
                          .jitter = 0.000351733,
                          .wander_ppm = 0.0133806,
                          .time_constant = 6};
  EXPECT_EQ(loopstats_line(t, r), "50935 75440.031 0.000006019 13.778190 0.000351733 0.013381 6\n");
}

TEST(StatsLine, rawstats_as_ntpsec_writes_it) {
  // monopt.html's example; the last three fields are lost/dropped/BOGON
  // flags, always 0 here (only accepted replies are recorded).
  constexpr int64_t kNtpUnix = 2'208'988'800;
  const auto ntp = [](uint64_t seconds, uint64_t nanos) {  // rounded up: prints back exactly
    return (seconds << 32) | (((nanos << 32) + 999'999'999) / 1'000'000'000);
  };
  RawStatsRecord r;
  r.source = "2610:20:6f15:15::27";
  r.destination = "2604:a880:1:20::17:5001";
  r.t1_ns = (3867818701 - kNtpUnix) * kNs + 119'346'355;
  r.t2 = ntp(3867818701, 152'009'264);
  r.t3 = ntp(3867818701, 152'010'426);
  r.t4_ns = (3867818702 - kNtpUnix) * kNs + 768'490'825;
  r.leap = 0;
  r.version = 3;
  r.mode = 4;
  r.stratum = 1;
  r.poll = 13;
  r.precision = -29;
  r.root_delay = 0.000244;
  r.root_dispersion = 0.000488;
  r.reference_id = 0x4e495354;  // "NIST"
  const int64_t t = ((59786 - 40587) * int64_t{86400} + 36302) * kNs + 768'000'000;
  EXPECT_EQ(rawstats_line(t, r),
            "59786 36302.768 2610:20:6f15:15::27 2604:a880:1:20::17:5001 3867818701.119346355 "
            "3867818701.152009264 3867818701.152010426 3867818702.768490825 0 3 4 1 13 -29 0.000244 "
            "0.000488 .NIST. 0 0 0\n");
  r.stratum = 2;
  r.reference_id = 0xc0000201;
  EXPECT_NE(rawstats_line(t, r).find(" 0.000488 192.0.2.1 0 0 0\n"), std::string::npos);
}

TEST(FileGen, suffix_per_type) {
  FileGenSettings s;
  s.base = "/var/log/ntpsec/peerstats";
  s.pid = 4242;
  s.start_unix_s = kDec1 - 1000;
  const auto path = [&](FileGenType type, int64_t t) {
    s.type = type;
    return filegen_path(s, t);
  };
  EXPECT_EQ(path(FileGenType::kDay, kDec1), "/var/log/ntpsec/peerstats.20251201");
  EXPECT_EQ(path(FileGenType::kDay, kDec1 + 86399), "/var/log/ntpsec/peerstats.20251201");
  EXPECT_EQ(path(FileGenType::kDay, kDec1 + 86400), "/var/log/ntpsec/peerstats.20251202");
  EXPECT_EQ(path(FileGenType::kDay, kDec1 - 1), "/var/log/ntpsec/peerstats.20251130");
  EXPECT_EQ(path(FileGenType::kNone, kDec1), "/var/log/ntpsec/peerstats");
  EXPECT_EQ(path(FileGenType::kPid, kDec1), "/var/log/ntpsec/peerstats.#4242");
  EXPECT_EQ(path(FileGenType::kMonth, kDec1), "/var/log/ntpsec/peerstats.202512");
  EXPECT_EQ(path(FileGenType::kYear, kDec1), "/var/log/ntpsec/peerstats.2025");
  // 2025-01-10 is day-of-year 9: week 1.
  EXPECT_EQ(path(FileGenType::kWeek, 1'736'467'200), "/var/log/ntpsec/peerstats.2025w01");
  EXPECT_EQ(path(FileGenType::kAge, kDec1), "/var/log/ntpsec/peerstats.a00000000");
  EXPECT_EQ(path(FileGenType::kAge, kDec1 - 1000 + 2 * 86400 + 5),
            "/var/log/ntpsec/peerstats.a00172800");
  // 2000-02-29, a leap day.
  EXPECT_EQ(path(FileGenType::kDay, 951'782'400), "/var/log/ntpsec/peerstats.20000229");
}

TEST(FileGen, settings_from_ntp_conf) {
  FileGenSettings s;
  std::string error;
  config::Config c = parse(
      "statsdir /var/log/ntpsec\nstatistics loopstats peerstats\n"
      "filegen peerstats file peers type day enable nolink\n");
  ASSERT_TRUE(filegen_settings(c, StatsFile::kPeerstats, 1, 0, s, error)) << error;
  EXPECT_EQ(s.base, "/var/log/ntpsec/peers");
  EXPECT_EQ(s.type, FileGenType::kDay);
  EXPECT_TRUE(s.enabled);
  EXPECT_FALSE(s.link);
  ASSERT_TRUE(filegen_settings(c, StatsFile::kLoopstats, 1, 0, s, error)) << error;
  EXPECT_EQ(s.base, "/var/log/ntpsec/loopstats");
  EXPECT_TRUE(s.enabled);
  EXPECT_TRUE(s.link);  // NTPsec's default
  ASSERT_TRUE(filegen_settings(c, StatsFile::kRawstats, 1, 0, s, error)) << error;
  EXPECT_FALSE(s.enabled);

  c = parse("statistics peerstats\nfilegen peerstats type month disable\n");
  ASSERT_TRUE(filegen_settings(c, StatsFile::kPeerstats, 1, 0, s, error)) << error;
  EXPECT_EQ(s.base, "/var/NTP/peerstats");
  EXPECT_EQ(s.type, FileGenType::kMonth);
  EXPECT_FALSE(s.enabled);

  c = parse("statsdir /var/log/ntpsec/\nfilegen loopstats file ../../etc/passwd enable\n");
  EXPECT_FALSE(filegen_settings(c, StatsFile::kLoopstats, 1, 0, s, error));
  EXPECT_NE(error.find("leaves statsdir"), std::string::npos) << error;
  EXPECT_FALSE(s.enabled);
  c = parse("filegen loopstats file sub/..x enable\n");
  EXPECT_TRUE(filegen_settings(c, StatsFile::kLoopstats, 1, 0, s, error)) << error;
}

TEST(StatsFileWriter, rotates_at_utc_midnight_and_keeps_the_link) {
  const std::string dir = temp_dir("rotate");
  FileGenSettings s;
  s.base = dir + "/peerstats";
  s.enabled = true;
  s.pid = 77;
  StatsFileWriter w(s);
  const std::string a = peerstats_line((kDec1 + 86399) * kNs, {.source = "192.0.2.1"});
  const std::string b = peerstats_line((kDec1 + 86400) * kNs, {.source = "192.0.2.1"});
  EXPECT_EQ(w.append((kDec1 + 86399) * kNs, a), StatsWrite::kWritten);
  EXPECT_EQ(w.append((kDec1 + 86399) * kNs, a), StatsWrite::kWritten);
  EXPECT_EQ(w.current_path(), dir + "/peerstats.20251201");
  EXPECT_EQ(read_file(dir + "/peerstats"), a + a);
  EXPECT_EQ(w.append((kDec1 + 86400) * kNs, b), StatsWrite::kWritten);
  EXPECT_EQ(w.current_path(), dir + "/peerstats.20251202");
  EXPECT_EQ(read_file(dir + "/peerstats.20251201"), a + a);
  EXPECT_EQ(read_file(dir + "/peerstats.20251202"), b);
  EXPECT_EQ(read_file(dir + "/peerstats"), b);
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/peerstats").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u);
  EXPECT_EQ(w.take_error(), "");
}

TEST(StatsFileWriter, lone_file_at_the_link_name_is_moved_aside) {
  const std::string dir = temp_dir("aside");
  std::ofstream(dir + "/loopstats") << "operator's data\n";
  FileGenSettings s;
  s.base = dir + "/loopstats";
  s.enabled = true;
  s.pid = 77;
  StatsFileWriter w(s);
  const std::string line = loopstats_line(kDec1 * kNs, {});
  EXPECT_EQ(w.append(kDec1 * kNs, line), StatsWrite::kWritten);
  EXPECT_EQ(read_file(dir + "/loopstats.77C0"), "operator's data\n");
  EXPECT_EQ(read_file(dir + "/loopstats"), line);
}

TEST(StatsFileWriter, open_failure_is_one_error_then_recovers) {
  const std::string dir = temp_dir("fail");
  FileGenSettings s;
  s.base = dir + "/missing/peerstats";
  s.type = FileGenType::kDay;
  s.enabled = true;
  StatsFileWriter w(s);
  const std::string line = peerstats_line(kDec1 * kNs, {.source = "192.0.2.1"});
  EXPECT_EQ(w.append(kDec1 * kNs, line), StatsWrite::kFailed);
  const std::string error = w.take_error();
  EXPECT_NE(error.find(dir + "/missing/peerstats.20251201"), std::string::npos) << error;
  EXPECT_NE(error.find("No such file or directory"), std::string::npos) << error;
  EXPECT_EQ(w.append(kDec1 * kNs + kNs, line), StatsWrite::kFailed);
  EXPECT_EQ(w.take_error(), "");  // same episode: already reported

  std::filesystem::create_directories(dir + "/missing");
  EXPECT_EQ(w.append(kDec1 * kNs + 2 * kNs, line), StatsWrite::kWritten);
  EXPECT_EQ(w.take_error(), "");
  EXPECT_EQ(read_file(dir + "/missing/peerstats.20251201"), line);

  // A new episode is reported again (a directory where the next day's file
  // goes fails even for root); the old element keeps getting the lines meanwhile.
  std::filesystem::create_directories(dir + "/missing/peerstats.20251202");
  EXPECT_EQ(w.append((kDec1 + 86400) * kNs, line), StatsWrite::kWritten);
  EXPECT_NE(w.take_error().find("peerstats.20251202"), std::string::npos);
  EXPECT_EQ(w.append((kDec1 + 86401) * kNs, line), StatsWrite::kWritten);
  EXPECT_EQ(w.take_error(), "");
  EXPECT_EQ(read_file(dir + "/missing/peerstats.20251201"), line + line + line);
}

TEST(StatsFileWriter, disabled_writes_nothing) {
  const std::string dir = temp_dir("disabled");
  FileGenSettings s;
  s.base = dir + "/peerstats";
  s.enabled = false;
  StatsFileWriter w(s);
  EXPECT_EQ(w.append(kDec1 * kNs, "x\n"), StatsWrite::kDisabled);
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

}  // namespace
}  // namespace ntsd::clock
