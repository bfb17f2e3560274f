// Reads another NTP server's clock against this host's, once per interval:
// what time a server would hand its clients, measured over loopback where the
// path is a few tens of microseconds. bench/clock_quality.sh points it at
// chronyd -x, whose corrections go to a virtual clock that its NTP replies
// carry: on one host (true offset 0) each line is chronyd's served-time error.
//   offset_probe --server 127.0.0.1:PORT [--interval-ms 1000] [--duration S]
// One line per answered query on stdout:
//   UNIX_SECONDS OFFSET_S DELAY_S LEAP
// offset: server minus host (RFC 5905 theta, ((T2-T1) + (T3-T4)) / 2);
// unsynchronised replies (leap 3, stratum 0 or 16) are left out. T1 is read
// just before send(), T4 is the kernel's receive stamp.
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <ctime>
#include <random>
#include <string>
#include <thread>

#include "clock/exchange.h"
#include "clock/nts_codec.h"
#include "clock/upstream_socket.h"
#include "config/address.h"
#include "proto/ntp_packet.h"

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true, std::memory_order_relaxed); }

int64_t host_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// "127.0.0.1:123" or "[::1]:123": ntp.conf's own host[:port] parsing, numeric only.
bool parse_server(const std::string& text, sockaddr_storage* address, socklen_t* length) {
  const auto hp = ntsd::config::split_host_port(text);
  if (!hp || !hp->port) return false;
  const auto ip = ntsd::config::parse_ip(hp->host);
  if (!ip) return false;
  *address = {};
  if (ip->family == ntsd::config::IpFamily::kIPv4) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(address);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(*hp->port);
    std::memcpy(&v4->sin_addr, ip->bytes.data(), 4);
    *length = sizeof(sockaddr_in);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(address);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(*hp->port);
    std::memcpy(&v6->sin6_addr, ip->bytes.data(), 16);
    *length = sizeof(sockaddr_in6);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string server;
  int interval_ms = 1000;
  double duration_s = 0;
  CLI::App app{"offset_probe: a plain NTP query per interval; prints the server's clock minus this host's."};
  app.add_option("--server", server, "ADDRESS:PORT ([v6]:PORT)")->required();
  app.add_option("--interval-ms", interval_ms, "between queries (default 1000)")->check(CLI::Range(10, 600'000));
  app.add_option("--duration", duration_s, "stop after this many seconds (default 0: until SIGTERM/SIGINT)")
      ->check(CLI::Range(0.0, 86400.0));
  CLI11_PARSE(app, argc, argv);

  sockaddr_storage address{};
  socklen_t length = 0;
  if (!parse_server(server, &address, &length)) {
    std::fprintf(stderr, "offset_probe: --server %s: expected ADDRESS:PORT\n", server.c_str());
    return 2;
  }
  ntsd::clock::UpstreamSocket socket;
  std::string error;
  if (!socket.open(address, length, &error)) {
    std::fprintf(stderr, "offset_probe: %s\n", error.c_str());
    return 1;
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);

  std::mt19937_64 random(std::random_device{}());
  const auto start = std::chrono::steady_clock::now();
  auto next = start;
  while (!g_stop.load(std::memory_order_relaxed)) {
    if (duration_s > 0 && std::chrono::steady_clock::now() - start >= std::chrono::duration<double>(duration_s)) break;
    std::this_thread::sleep_until(next);
    next += std::chrono::milliseconds(interval_ms);
    std::array<uint8_t, 48> request{};
    const uint64_t transmit = random();
    if (ntsd::clock::build_plain_request(transmit, request) != request.size()) return 1;
    const int64_t t1 = host_ns();
    if (!socket.send(request)) continue;  // the server is not up yet: try again next interval
    // One reply, matched by its origin stamp, within half an interval.
    const int64_t deadline = t1 + static_cast<int64_t>(interval_ms) * 500'000;
    while (!g_stop.load(std::memory_order_relaxed)) {
      const int64_t left_ms = (deadline - host_ns()) / 1'000'000;
      if (left_ms <= 0) break;
      pollfd p{socket.fd(), POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left_ms)) <= 0) continue;
      std::array<uint8_t, 1024> reply;
      int64_t t4 = 0;
      const long n = socket.receive(reply, host_ns(), &t4);
      if (n < static_cast<long>(ntsd::proto::kNtpHeaderSize)) continue;
      const std::span<const uint8_t> bytes(reply.data(), static_cast<size_t>(n));
      if (ntsd::proto::load_timestamp(bytes, ntsd::proto::kOffsetOrigin).raw != transmit) continue;
      const auto result = ntsd::clock::sample_from_reply(bytes, t1, t4, 1e-9);
      if (result.reject == ntsd::clock::SampleReject::kNone) {
        std::printf("%.6f %.9f %.9f %d\n", static_cast<double>(t4) * 1e-9, result.sample.offset,
                    result.sample.delay, static_cast<int>(result.sample.header.leap));
        std::fflush(stdout);
      }
      break;
    }
  }
  return 0;
}
