#include "ops/metrics.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <prometheus/check_names.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <string>

#include "ops/metrics_server.h"

namespace ntsd::ops {
namespace {

using server::DropReason;
using server::KeyAge;
using server::NakReason;

// Two workers with distinct counts, NTS on, one upstream source: every
// section of the rendering has something to show.
DaemonStatus sample_status() {
  DaemonStatus s;
  s.now_unix_ns = 1'700'000'100'000'000'000;
  s.started_unix_ns = 1'700'000'000'500'000'000;
  s.build = {"0.1.0", "Jan  1 2025", "g++ 12.2.0", "OpenSSL 3.0.19", "AES-NI"};
  s.served.stratum = 2;
  s.served.leap = proto::Leap::kNone;
  s.served.root_delay = proto::NtpShort{0x00008000};       // 0.5 s
  s.served.root_dispersion = proto::NtpShort{0x00000800};  // 1/32 s
  s.served.precision = -20;
  for (int w = 0; w < 2; ++w) {
    server::CounterTotals t;
    t.received = 100 * (w + 1);
    t.dropped[static_cast<size_t>(DropReason::kTooShort)] = 3;
    t.dropped[static_cast<size_t>(DropReason::kRestricted)] = 2;
    t.dropped[static_cast<size_t>(DropReason::kRateLimited)] = 1;
    t.dropped[static_cast<size_t>(DropReason::kNtsMalformed)] = 4;
    t.naks[static_cast<size_t>(NakReason::kExpiredKey)] = 5;
    t.kod_rate = 1;
    t.nts_replied = 50;
    t.cookie_key_age[static_cast<size_t>(KeyAge::kCurrent)] = 40;
    t.cookie_key_age[static_cast<size_t>(KeyAge::kPrevious)] = 10;
    t.replied = t.received - t.dropped_total();
    t.bytes_in = 48 * t.received;
    s.server.workers.push_back(t);
    s.server.total.received += t.received;
    s.server.total.replied += t.replied;
    s.server.total.kod_rate += t.kod_rate;
    s.server.total.nts_replied += t.nts_replied;
    for (size_t i = 0; i < t.dropped.size(); ++i) s.server.total.dropped[i] += t.dropped[i];
    for (size_t i = 0; i < t.naks.size(); ++i) s.server.total.naks[i] += t.naks[i];
    for (size_t i = 0; i < t.cookie_key_age.size(); ++i) s.server.total.cookie_key_age[i] += t.cookie_key_age[i];
  }
  s.server.io_backend = "io_uring";
  NtsSection n;
  n.ke.accepted = 7;
  n.ke.handshakes_ok = 6;
  n.ke.handshake_failed_tls = 1;
  n.ke.tls13 = 6;
  n.ke.active = 2;
  n.ke.refused_rate_limit = 3;
  n.ke.aead_siv256 = 4;
  n.ke.aead_gcm_siv = 2;
  n.ke.responses_cookies = 6;
  n.keys.current_epoch = 19675;
  n.keys.rotate_seconds = 86400;
  n.keys.next_rotation_unix = 19676LL * 86400;
  n.keys.retention_epochs = 14;
  s.nts = n;
  ClockSection c;
  clock::SourceReport r;
  r.name = "nts.example:4460";
  r.address = "192.0.2.1:123";
  r.valid = true;
  r.offset = -0.001;
  r.delay = 0.02;
  r.reach = 0b11111100;  // the last two polls unanswered
  r.poll = 6;
  r.cookies = 8;
  r.status = clock::SourceStatus::kSystemPeer;
  c.sources.push_back(r);
  c.system.sync = clock::SyncStatus::kSynchronized;
  c.discipline.stats.valid = true;
  c.discipline.stats.drift_ppm = -12.5;
  s.clock = c;
  return s;
}

std::string render(const DaemonStatus& s) { return prometheus::TextSerializer().Serialize(metric_families(s)); }

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(Metrics, NamesFollowPrometheusConventions) {
  std::set<std::string> seen;
  for (const prometheus::MetricFamily& f : metric_families(sample_status())) {
    EXPECT_TRUE(prometheus::CheckMetricName(f.name)) << f.name;
    EXPECT_TRUE(seen.insert(f.name).second) << "duplicate family " << f.name;
    EXPECT_FALSE(f.help.empty()) << f.name;
    const bool total = f.name.size() > 6 && f.name.compare(f.name.size() - 6, 6, "_total") == 0;
    EXPECT_EQ(f.type == prometheus::MetricType::Counter, total) << f.name << ": counters and only counters end in _total";
    // Base units: seconds, never milliseconds or ppm.
    EXPECT_EQ(f.name.find("_ms"), std::string::npos) << f.name;
    EXPECT_EQ(f.name.find("ppm"), std::string::npos) << f.name;
    for (const prometheus::ClientMetric& m : f.metric) {
      for (const auto& label : m.label) {
        EXPECT_TRUE(prometheus::CheckLabelName(label.name)) << f.name << " " << label.name;
        // Bounded cardinality: never a client address.
        EXPECT_NE(label.name, "client") << f.name;
      }
    }
  }
  EXPECT_TRUE(seen.count("ntsd_build_info"));
}

TEST(Metrics, NtpdRsServerCountersAddUp) {
  const std::string text = render(sample_status());
  // 300 received = 255 accepted + 4 denied (restricted) + 14 ignored (too
  // short 6, bad authenticator 8) + 4 rate limited (2 dropped, 2 KoD) + 10 NAKs + ... see below.
  EXPECT_TRUE(has_line(text, "ntp_server_received_packets_total 300")) << text;
  EXPECT_TRUE(has_line(text, "ntp_server_denied_packets_total 4")) << text;
  EXPECT_TRUE(has_line(text, "ntp_server_ignored_packets_total 14")) << text;
  EXPECT_TRUE(has_line(text, "ntp_server_rate_limited_packets_total 4")) << text;
  EXPECT_TRUE(has_line(text, "ntp_server_nts_nak_packets_total 10")) << text;
  // replied 280 (300 - 20 dropped) minus 10 NAKs and 2 KoD RATE.
  EXPECT_TRUE(has_line(text, "ntp_server_accepted_packets_total 268")) << text;
  EXPECT_TRUE(has_line(text, "ntp_server_nts_accepted_packets_total 100")) << text;
  EXPECT_TRUE(has_line(text, "ntp_server_nts_denied_packets_total 8")) << text;
  EXPECT_TRUE(has_line(text, "ntp_server_nts_received_packets_total 118")) << text;
  // 268 + 4 + 14 + 4 + 10 = 300.
}

TEST(Metrics, PerWorkerAndByReason) {
  const std::string text = render(sample_status());
  EXPECT_TRUE(has_line(text, "ntsd_worker_received_packets_total{worker=\"0\"} 100")) << text;
  EXPECT_TRUE(has_line(text, "ntsd_worker_received_packets_total{worker=\"1\"} 200")) << text;
  EXPECT_TRUE(has_line(text, "ntsd_worker_dropped_packets_total{worker=\"1\"} 10")) << text;
  EXPECT_TRUE(has_line(text, "ntsd_server_dropped_packets_total{reason=\"too_short\"} 6")) << text;
  EXPECT_TRUE(has_line(text, "ntsd_server_dropped_packets_total{reason=\"nts_malformed\"} 8")) << text;
  EXPECT_TRUE(has_line(text, "ntsd_server_nts_naks_total{reason=\"expired_key\"} 10")) << text;
  EXPECT_TRUE(has_line(text, "ntsd_server_nts_naks_total{reason=\"unknown_key\"} 0")) << text;
  EXPECT_TRUE(has_line(text, "ntsd_server_cookie_opens_total{key_age=\"current\"} 80")) << text;
  EXPECT_TRUE(has_line(text, "ntsd_server_cookie_opens_total{key_age=\"previous\"} 20")) << text;
  EXPECT_TRUE(has_line(text, "ntsd_server_io_info{backend=\"io_uring\"} 1")) << text;
}

TEST(Metrics, SystemNtsClockAndBuild) {
  const std::string text = render(sample_status());
  EXPECT_TRUE(has_line(text, "ntp_system_stratum 2")) << text;
  EXPECT_TRUE(has_line(text, "ntp_system_leap_indicator 0")) << text;
  EXPECT_TRUE(has_line(text, "ntp_system_root_delay_seconds 0.5")) << text;
  EXPECT_TRUE(has_line(text, "ntp_system_root_dispersion_seconds 0.03125")) << text;
  EXPECT_TRUE(has_line(text, "ntsd_start_time_seconds 1700000000.5")) << text;
  EXPECT_TRUE(has_line(text,
                       "ntsd_build_info{version=\"0.1.0\",compiler=\"g++ 12.2.0\",openssl=\"OpenSSL 3.0.19\","
                       "aes_path=\"AES-NI\"} 1"))
      << text;
  EXPECT_TRUE(has_line(text, "ntsd_nts_ke_handshakes_total{result=\"ok\"} 6")) << text;
  EXPECT_TRUE(has_line(text, "ntsd_nts_ke_handshakes_total{result=\"tls_error\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "ntsd_nts_ke_tls_handshakes_total{version=\"TLSv1.3\"} 6")) << text;
  EXPECT_TRUE(has_line(text, "ntsd_nts_ke_connections_refused_total{reason=\"rate_limit\"} 3")) << text;
  EXPECT_TRUE(has_line(text, "ntsd_nts_ke_active_connections 2")) << text;
  EXPECT_TRUE(has_line(text, "ntsd_nts_ke_aead_total{aead=\"AEAD_AES_128_GCM_SIV\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "ntsd_nts_cookie_key_epoch 19675")) << text;
  EXPECT_TRUE(has_line(text, "ntsd_nts_cookie_key_next_rotation_timestamp_seconds 1700006400")) << text;
  const std::string source = "{name=\"nts.example:4460\",address=\"192.0.2.1:123\"}";
  EXPECT_TRUE(has_line(text, "ntp_source_offset_seconds" + source + " -0.001")) << text;
  EXPECT_TRUE(has_line(text, "ntp_source_unanswered_polls" + source + " 2")) << text;
  EXPECT_TRUE(has_line(text, "ntp_source_poll_interval_seconds" + source + " 64")) << text;
  EXPECT_TRUE(has_line(text, "ntp_source_nts_cookies" + source + " 8")) << text;
  EXPECT_TRUE(has_line(
      text, "ntsd_source_selection{name=\"nts.example:4460\",address=\"192.0.2.1:123\",status=\"sys.peer\"} 1"))
      << text;
  EXPECT_TRUE(has_line(text, "ntsd_clock_synchronized{state=\"synchronized\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "ntsd_discipline_frequency_ratio -1.25e-05")) << text;
}

TEST(Metrics, SectionsThatAreOffAreAbsent) {
  DaemonStatus s = sample_status();
  s.nts.reset();
  s.clock.reset();
  const std::string text = render(s);
  EXPECT_EQ(text.find("ntsd_nts_"), std::string::npos);
  EXPECT_EQ(text.find("ntp_source_"), std::string::npos);
  EXPECT_EQ(text.find("ntsd_discipline_"), std::string::npos);
  EXPECT_TRUE(has_line(text, "ntp_system_stratum 2"));
}

TEST(Metrics, SourceWithoutEstimateHasNoOffset) {
  DaemonStatus s = sample_status();
  s.clock->sources[0].valid = false;
  const std::string text = render(s);
  EXPECT_EQ(text.find("ntp_source_offset_seconds{"), std::string::npos);
  EXPECT_NE(text.find("ntp_source_unanswered_polls{"), std::string::npos);
}

class FixedSource final : public StatusSource {
 public:
  DaemonStatus collect() const override {
    ++calls;
    return sample_status();
  }
  mutable int calls = 0;
};

// A bare HTTP/1.0 GET on loopback; the whole response, or "" on failure.
std::string http_get(uint16_t port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      pollfd p{fd, POLLIN, 0};
      while (::poll(&p, 1, 5000) > 0) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        out.append(buffer, static_cast<size_t>(n));
      }
    }
  }
  ::close(fd);
  return out;
}

config::MetricsListen loopback(uint16_t port) {
  config::MetricsListen l;
  l.family = config::IpFamily::kIPv4;
  l.address = {127, 0, 0, 1};
  l.port = port;
  return l;
}

TEST(MetricsServer, ServesTheSourceAtEachScrape) {
  std::string error;
  auto server = MetricsServer::start(loopback(0), &error);
  ASSERT_TRUE(server) << error;
  ASSERT_NE(server->port(), 0);
  EXPECT_EQ(server->address(), "127.0.0.1:" + std::to_string(server->port()));
  FixedSource source;
  server->serve(source);
  const std::string first = http_get(server->port(), "/metrics");
  EXPECT_NE(first.find("200 OK"), std::string::npos) << first;
  EXPECT_NE(first.find("\nntp_server_received_packets_total 300\n"), std::string::npos) << first;
  http_get(server->port(), "/metrics");
  EXPECT_EQ(source.calls, 2);  // collected per scrape, never cached
  server->stop();
  EXPECT_EQ(http_get(server->port(), "/metrics"), "");
}

TEST(MetricsServer, BindFailureSaysWhy) {
  std::string error;
  auto first = MetricsServer::start(loopback(0), &error);
  ASSERT_TRUE(first) << error;
  auto second = MetricsServer::start(loopback(first->port()), &error);
  EXPECT_FALSE(second);
  EXPECT_NE(error.find("metrics 127.0.0.1:" + std::to_string(first->port()) + ": "), std::string::npos) << error;
  EXPECT_NE(error.find("Address already in use"), std::string::npos) << error;
}

TEST(MetricsServer, Ipv6WithoutCivetwebSupportIsAClearError) {
  config::MetricsListen l;
  l.family = config::IpFamily::kIPv6;
  l.address[15] = 1;
  l.port = 0;
  std::string error;
  auto server = MetricsServer::start(l, &error);
  if (server) {
    EXPECT_EQ(server->address().rfind("[::1]:", 0), 0u);  // a civetweb built with IPv6
  } else {
    EXPECT_NE(error.find("without IPv6; use an IPv4 address"), std::string::npos) << error;
  }
}

}  // namespace
}  // namespace ntsd::ops
