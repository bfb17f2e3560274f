// A delaying UDP relay for NTP on loopback: clients send to it, it forwards to
// one upstream and each reply back to its client, every datagram delayed by
// its own random draw; optionally a burst of extra delay in one direction.
//   delay_relay --upstream 127.0.0.1:123 [--listen 127.0.0.1] [--port 0]
//               [--delay-ms 5] [--jitter-ms 1] [--distribution uniform|normal]
//               [--burst-start S --burst-seconds N --burst-extra-ms X
//                [--burst-direction to-client|to-upstream]] [--duration S]
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <string>

#include "bench/delay_relay_lib.h"

namespace {

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");

void on_signal(int) { g_stop.store(true, std::memory_order_relaxed); }

// Scripts line the burst up with the clients' logs by these lines' wall-clock times.
void on_burst(bool started) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  std::printf("delay_relay: burst %s at %lld.%03ld\n", started ? "started" : "ended",
              static_cast<long long>(ts.tv_sec), ts.tv_nsec / 1'000'000);
  std::fflush(stdout);
}

// "127.0.0.1:123" or "[::1]:123" into address and port; false if malformed.
bool split_host_port(const std::string& text, std::string* address, uint16_t* port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 >= text.size()) return false;
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned long value = 0;
  try {
    size_t used = 0;
    value = std::stoul(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1) return false;
  } catch (const std::exception&) {
    return false;
  }
  if (value == 0 || value > 65535 || host.empty()) return false;
  *address = host;
  *port = static_cast<uint16_t>(value);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using ntsd::bench::DelayDistribution;
  using ntsd::bench::RelayDirection;
  ntsd::bench::DelayRelayOptions options;
  std::string upstream, distribution = "uniform", burst_direction = "to-client";
  double duration = 0;
  CLI::App app{
      "delay_relay: relays NTP over UDP to one upstream, delaying every datagram by a random "
      "amount drawn per datagram (the same distribution both ways), with an optional burst of "
      "extra delay in one direction."};
  app.add_option("--upstream", upstream, "where requests go, ADDRESS:PORT ([v6]:PORT)")->required();
  app.add_option("--listen", options.listen_address, "address to listen on (default 127.0.0.1)");
  app.add_option("--port", options.listen_port, "UDP port to listen on (default 0: any free)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--delay-ms", options.delay.delay_ms, "mean one-way delay, ms (default 5)")
      ->check(CLI::Range(0.0, 10000.0));
  app.add_option("--jitter-ms", options.delay.jitter_ms,
                 "uniform: ± this, normal: standard deviation, ms (default 1)")
      ->check(CLI::Range(0.0, 10000.0));
  app.add_option("--distribution", distribution, "uniform or normal (default uniform)")
      ->check(CLI::IsMember({"uniform", "normal"}));
  app.add_option("--burst-start", options.delay.burst_start_s,
                 "burst begins S seconds after start (default: no burst)")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--burst-seconds", options.delay.burst_seconds, "burst length, s")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--burst-extra-ms", options.delay.burst_extra_ms,
                 "during the burst, extra delay uniform in [0, 2X] ms (mean X) in one direction")
      ->check(CLI::Range(0.0, 10000.0));
  app.add_option("--burst-direction", burst_direction,
                 "to-client (upstream->client, default) or to-upstream")
      ->check(CLI::IsMember({"to-client", "to-upstream"}));
  app.add_option("--duration", duration, "exit after S seconds (default 0: until SIGINT/SIGTERM)")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--queue", options.queue_capacity,
                 "datagrams held at most; more are dropped and counted (default 4096)")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--max-clients", options.max_clients,
                 "client address:port pairs relayed at once (default 256)")
      ->check(CLI::Range(1, 65536));
  app.add_option("--seed", options.delay.seed, "random seed (default 0: random)");
  CLI11_PARSE(app, argc, argv);
  if (!split_host_port(upstream, &options.upstream_address, &options.upstream_port)) {
    std::fprintf(stderr, "delay_relay: --upstream wants ADDRESS:PORT, got '%s'\n",
                 upstream.c_str());
    return 2;
  }
  options.delay.distribution =
      distribution == "normal" ? DelayDistribution::kNormal : DelayDistribution::kUniform;
  options.delay.burst_direction =
      burst_direction == "to-upstream" ? RelayDirection::kToUpstream : RelayDirection::kToClient;

  // No SA_RESTART: a signal should cut the wait short.
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  std::string error;
  auto relay = ntsd::bench::DelayRelay::open(options, &error);
  if (relay == nullptr) {
    std::fprintf(stderr, "delay_relay: %s\n", error.c_str());
    return 1;
  }
  // Scripts wait for this line, so it is flushed even when stdout is a pipe.
  std::printf("delay_relay: relaying %s -> %s, delay %.3f ms %s %.3f ms", relay->endpoint().c_str(),
              relay->upstream().c_str(), options.delay.delay_ms,
              distribution == "normal" ? "sd" : "±", options.delay.jitter_ms);
  if (options.delay.burst_start_s >= 0 && options.delay.burst_seconds > 0) {
    std::printf(", burst +[0, %.3f] ms %s from %.1f s for %.1f s", 2 * options.delay.burst_extra_ms,
                burst_direction.c_str(), options.delay.burst_start_s, options.delay.burst_seconds);
  }
  std::printf("\n");
  std::fflush(stdout);
  const ntsd::bench::DelayRelayCounts c = relay->run(g_stop, duration, on_burst);
  std::printf("delay_relay: from_clients=%" PRIu64 " sent_upstream=%" PRIu64
              " from_upstream=%" PRIu64 " sent_to_clients=%" PRIu64 " clients=%" PRIu64
              " burst_delayed=%" PRIu64 " dropped_queue_full=%" PRIu64
              " dropped_clients_full=%" PRIu64 " dropped_expired=%" PRIu64 " send_errors=%" PRIu64
              "\n",
              c.from_clients, c.sent_upstream, c.from_upstream, c.sent_to_clients, c.clients,
              c.burst_delayed, c.dropped_queue_full, c.dropped_clients_full, c.dropped_expired,
              c.send_errors);
  return 0;
}
