// ntsbench: ntsd's load harness. NTS-KE for C simulated clients, then NTS
// (or plain) NTP load from T threads, every reply verified; or NTS-KE
// handshakes per second. Sends only to the host the operator names.
//   bazel run -c opt //bench:ntsbench -- --help
#include <CLI/CLI.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_report.h"
#include "bench/ke_load.h"
#include "bench/load_generator.h"
#include "bench/process_cpu.h"
#include "clock/nts_ke.h"
#include "crypto/nts_crypto.h"

namespace ntsd::bench {
namespace {

std::atomic<bool> g_interrupted{false};

void on_signal(int) { g_interrupted.store(true); }

struct Options {
  std::string host = "127.0.0.1";
  std::optional<int> port;
  std::string ntp_host;
  std::optional<int> ntp_port;
  std::string ca;
  bool insecure = false;
  std::string verify_name;
  std::vector<int> aeads = {15};
  bool plain = false;
  size_t plain_size = 48;
  bool ke = false;
  int clients = 64;
  std::optional<int> ke_sessions;
  int threads = 1;
  int window = 256;
  double rate = 0;
  double duration = 10;
  int timeout_ms = 1000;
  uint64_t requests = 0;
  std::vector<std::string> bind;
  int server_pid = 0;
  std::string crypto = "auto";
  bool no_gso = false;
  bool json = false;
  bool quiet = false;
};

std::optional<Options> parse_options(int argc, char** argv, int* exit_code) {
  Options o;
  CLI::App app{"ntsbench: NTS / NTP / NTS-KE load generator that verifies every reply"};
  app.add_option("--host", o.host, "server IP address (NTS-KE, and NTP unless --ntp-host)")
      ->capture_default_str();
  app.add_option("--port", o.port, "NTS-KE port (default 4460), or the NTP port with --plain (default 123)")
      ->check(CLI::Range(1, 65535));
  app.add_option("--ntp-host", o.ntp_host, "NTS mode: send NTP here instead of --host");
  app.add_option("--ntp-port", o.ntp_port, "NTS mode: NTP port (default: the NTS-KE Port record, else 123)")
      ->check(CLI::Range(1, 65535));
  auto* ca = app.add_option("--ca", o.ca,
                            "CA certificate(s) (PEM file, or a directory of <hash>.0 files as made by "
                            "openssl rehash) that the NTS-KE server must chain to")
                 ->check(CLI::ExistingPath);
  auto* insecure = app.add_flag("--insecure", o.insecure, "do not verify the NTS-KE server's certificate");
  ca->excludes(insecure);
  app.add_option("--verify-name", o.verify_name,
                 "name or IP the certificate must carry, also sent as SNI (default: --host)");
  app.add_option("--aead", o.aeads, "AEAD ids offered in NTS-KE, preference order")
      ->check(CLI::IsMember({15, 16, 17, 30}))
      ->capture_default_str();
  auto* plain = app.add_flag("--plain", o.plain, "plain (unauthenticated) NTP load");
  auto* ke = app.add_flag("--ke", o.ke, "NTS-KE handshakes per second with --clients concurrent connections");
  plain->excludes(ke);
  app.add_option("--plain-size", o.plain_size,
                 "--plain: request length in bytes, 48 or 64..1024 and a multiple of 4; past 48, one "
                 "extension field of padding (with `reflector --echo`: the kernel's work for NTS-sized "
                 "datagrams; default 48)")
      ->check(CLI::Range(48, 1024))
      ->needs(plain);
  app.add_option("--clients", o.clients, "simulated clients (NTS sessions), or concurrent KE connections")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--ke-sessions", o.ke_sessions, "NTS-KE sessions shared among the clients (default: one each)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--threads", o.threads, "load threads, each with its own UDP socket")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  auto* window = app.add_option("--window", o.window, "closed loop: requests outstanding in total")
                     ->check(CLI::Range(1, 1 << 20))
                     ->capture_default_str();
  auto* rate = app.add_option("--rate", o.rate, "open loop: requests per second in total, paced")
                   ->check(CLI::Range(1.0, 1e8));
  rate->excludes(window);
  app.add_option("--duration", o.duration, "seconds of load (then up to one timeout of draining)")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--timeout-ms", o.timeout_ms, "a request without a reply after this is lost")
      ->check(CLI::Range(1, 60000))
      ->capture_default_str();
  app.add_option("--requests", o.requests, "stop sending after this many requests (0: no limit)")
      ->capture_default_str();
  app.add_option("--bind", o.bind, "local address(es) for the load sockets, thread i takes the i-th (mod n); "
                                   "several loopback sources spread the load over ntsd's workers");
  app.add_option("--server-pid", o.server_pid, "server process: report its CPU time and replies per CPU-second")
      ->check(CLI::PositiveNumber);
  app.add_option("--crypto", o.crypto,
                 "NTS client crypto, a batch of requests or replies per call: fast (ntsd's AES-NI/VAES "
                 "code; needs AES-NI), evp (OpenSSL EVP, one operation at a time) or auto (fast when "
                 "the CPU has AES-NI, else evp)")
      ->check(CLI::IsMember({"auto", "evp", "fast"}))
      ->capture_default_str();
  app.add_flag("--no-gso", o.no_gso,
               "one sendmmsg entry per request, instead of one UDP GSO write (UDP_SEGMENT) per run of "
               "equal-length requests; the server receives the same datagrams either way");
  app.add_flag("--json", o.json, "print one JSON object on stdout (the summary line goes to stderr)");
  app.add_flag("--quiet", o.quiet, "no progress line");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    *exit_code = app.exit(e) == 0 ? 0 : 2;
    return std::nullopt;
  }
  if (!o.plain && !o.insecure && o.ca.empty()) {
    std::fprintf(stderr, "ntsbench: NTS needs --ca FILE|DIR (or --insecure to skip certificate checks)\n");
    *exit_code = 2;
    return std::nullopt;
  }
  if (o.plain_size != 48 && (o.plain_size < 64 || o.plain_size % 4 != 0)) {
    std::fprintf(stderr,
                 "ntsbench: --plain-size must be 48, or 64..1024 and a multiple of 4 (an extension "
                 "field is at least 16 bytes), not %zu\n",
                 o.plain_size);
    *exit_code = 2;
    return std::nullopt;
  }
  if (o.ke_sessions && *o.ke_sessions > o.clients) {
    std::fprintf(stderr, "ntsbench: --ke-sessions (%d) cannot exceed --clients (%d)\n", *o.ke_sessions, o.clients);
    *exit_code = 2;
    return std::nullopt;
  }
  return o;
}

clock::KeTarget ke_target(const Options& o) {
  clock::KeTarget target;
  // --host is the address connected to; --verify-name, when given, the name checked.
  target.host = o.verify_name.empty() ? o.host : o.verify_name;
  target.address = o.host;
  target.port = static_cast<uint16_t>(o.port.value_or(4460));
  target.ca = o.ca;
  target.insecure = o.insecure;
  target.aeads.assign(o.aeads.begin(), o.aeads.end());
  return target;
}

double own_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// K NTS-KE sessions. The first one alone, so that a wrong address or CA
// fails at once; then up to 16 connections at a time, each retried with
// backoff, because servers limit NTS-KE sessions per client address (ntsd:
// a burst of 50, then 5/s; that is why 64 clients take a few seconds).
std::optional<std::vector<clock::NtsSession>> establish_sessions(const clock::KeTarget& target, int count, std::string* error) {
  std::vector<std::optional<clock::NtsSession>> sessions(static_cast<size_t>(count));
  std::vector<std::string> errors(sessions.size());
  sessions[0] = clock::establish_session(target, &errors[0]);
  std::atomic<size_t> next{1};
  std::vector<std::thread> workers;
  for (int w = 0; sessions[0] && w < std::min(count - 1, 16); ++w) {
    workers.emplace_back([&] {
      for (size_t i = next++; i < sessions.size(); i = next++) {
        auto backoff = std::chrono::milliseconds(200);
        for (int attempt = 0; attempt < 8 && !sessions[i] && !g_interrupted.load(); ++attempt) {
          if (attempt > 0) {
            std::this_thread::sleep_for(backoff);
            backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
          }
          sessions[i] = clock::establish_session(target, &errors[i]);
        }
      }
    });
  }
  for (auto& worker : workers) worker.join();
  std::vector<clock::NtsSession> out;
  for (size_t i = 0; i < sessions.size(); ++i) {
    if (!sessions[i]) {
      *error = "NTS-KE session " + std::to_string(i + 1) + " of " + std::to_string(count) + ": " +
               (errors[i].empty() ? "interrupted" : errors[i]);
      return std::nullopt;
    }
    out.push_back(std::move(*sessions[i]));
  }
  return out;
}

// Prints the live rate and loss once per second while `running`.
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled && isatty(STDERR_FILENO)) {}
  void tick(double elapsed_s, uint64_t sent, uint64_t verified, uint64_t lost) {
    if (!enabled_) return;
    const double dt = elapsed_s - last_s_;
    if (dt < 1.0) return;
    std::fprintf(stderr, "ntsbench: %5.1f s  sent %9.0f/s  verified %9.0f/s  lost %.3f%%\n", elapsed_s,
                 static_cast<double>(sent - last_sent_) / dt, static_cast<double>(verified - last_verified_) / dt,
                 sent ? 100.0 * static_cast<double>(lost) / static_cast<double>(sent) : 0.0);
    last_s_ = elapsed_s;
    last_sent_ = sent;
    last_verified_ = verified;
  }

 private:
  bool enabled_;
  double last_s_ = 0;
  uint64_t last_sent_ = 0, last_verified_ = 0;
};

void fill_latency(const LatencyHistogram& latency, BenchReport& report) {
  report.p50_us = static_cast<double>(latency.quantile_ns(0.5)) / 1e3;
  report.p99_us = static_cast<double>(latency.quantile_ns(0.99)) / 1e3;
  report.p999_us = static_cast<double>(latency.quantile_ns(0.999)) / 1e3;
}

int run_ke_mode(const Options& o, BenchReport& report) {
  KeLoadConfig config;
  config.target = ke_target(o);
  config.connections = std::min(o.clients, 1024);
  config.duration_ns = static_cast<int64_t>(o.duration * 1e9);
  report.target = o.host + ":" + std::to_string(config.target.port);
  report.clients = config.connections;
  report.threads = config.connections;
  const std::optional<double> server_cpu_before =
      o.server_pid ? process_cpu_seconds(o.server_pid) : std::nullopt;
  const double own_before = own_cpu_seconds();
  KeLoadCounters counters;
  KeLoadResult result;
  std::atomic<bool> done{false};
  std::thread runner([&] {
    result = run_ke_load(config, g_interrupted, counters);
    done = true;
  });
  Progress progress(!o.quiet);
  const auto start = std::chrono::steady_clock::now();
  while (!done) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const uint64_t ok = counters.handshakes.load(), bad = counters.failed.load();
    progress.tick(elapsed, ok + bad, ok, bad);
  }
  runner.join();
  report.client_cpu_s = own_cpu_seconds() - own_before;
  if (server_cpu_before) {
    if (const auto after = process_cpu_seconds(o.server_pid)) report.server_cpu_s = *after - *server_cpu_before;
  }
  report.duration_s = result.elapsed_s;
  report.sent = result.handshakes + result.failed;
  report.verified = result.handshakes;
  report.failed = result.failed;
  fill_latency(result.latency, report);
  if (!result.first_error.empty()) std::fprintf(stderr, "ntsbench: first KE failure: %s\n", result.first_error.c_str());
  return 0;
}

int run_ntp_mode(const Options& o, BenchReport& report) {
  std::string crypto_error;
  const crypto::NtsCrypto* crypto =
      crypto::choose_nts_crypto(*crypto::parse_nts_crypto_choice(o.crypto), &crypto_error);
  if (crypto == nullptr) {
    std::fprintf(stderr, "ntsbench: %s\n", crypto_error.c_str());
    return 1;
  }
  std::vector<clock::NtsSession> sessions;
  uint16_t ntp_port = static_cast<uint16_t>(o.plain ? o.port.value_or(123) : 123);
  if (!o.plain) {
    std::string error;
    auto established = establish_sessions(ke_target(o), o.ke_sessions.value_or(o.clients), &error);
    if (!established) {
      std::fprintf(stderr, "ntsbench: %s\n", error.c_str());
      return 1;
    }
    sessions = std::move(*established);
    ntp_port = static_cast<uint16_t>(o.ntp_port.value_or(sessions.front().ntp_port));
  }
  // NTP goes only to the host the operator named (a Server record is not followed).
  const std::string ntp_host = o.plain || o.ntp_host.empty() ? o.host : o.ntp_host;
  server::Endpoint server;
  if (!server::Endpoint::parse(ntp_host, &server)) {
    std::fprintf(stderr, "ntsbench: %s is not an IP address\n", ntp_host.c_str());
    return 2;
  }
  server.set_port(ntp_port);
  report.target = server.to_string();
  report.clients = o.plain ? 0 : o.clients;
  report.threads = o.threads;

  std::vector<std::unique_ptr<LoadThread>> threads;
  for (int t = 0; t < o.threads; ++t) {
    LoadConfig config;
    config.server = server;
    config.plain = o.plain;
    config.plain_size = o.plain_size;
    config.crypto = crypto;
    config.gso = !o.no_gso;
    // The window and the rate are totals: each thread takes its share.
    config.window = static_cast<uint32_t>(std::max(1, o.window / o.threads + (t < o.window % o.threads ? 1 : 0)));
    config.rate = o.rate / o.threads;
    config.duration_ns = static_cast<int64_t>(o.duration * 1e9);
    config.timeout_ns = int64_t{o.timeout_ms} * 1'000'000;
    config.max_requests = o.requests == 0 ? 0 : std::max<uint64_t>(1, o.requests / static_cast<uint64_t>(o.threads));
    if (!o.bind.empty()) {
      server::Endpoint local;
      const std::string& address = o.bind[static_cast<size_t>(t) % o.bind.size()];
      if (!server::Endpoint::parse(address, &local)) {
        std::fprintf(stderr, "ntsbench: --bind %s is not an IP address\n", address.c_str());
        return 2;
      }
      config.bind = local;
    }
    // Client i belongs to thread i mod T; a client shares session i mod K and has its own jar.
    std::vector<clock::NtsSession> mine;
    for (int c = t; !o.plain && c < o.clients; c += o.threads) mine.push_back(sessions[static_cast<size_t>(c) % sessions.size()]);
    if (!o.plain && mine.empty()) {
      std::fprintf(stderr, "ntsbench: --threads (%d) exceeds --clients (%d)\n", o.threads, o.clients);
      return 2;
    }
    auto thread = std::make_unique<LoadThread>(config, std::move(mine));
    std::string error;
    if (!thread->open(&error)) {
      std::fprintf(stderr, "ntsbench: %s\n", error.c_str());
      return 1;
    }
    threads.push_back(std::move(thread));
  }

  const std::optional<double> server_cpu_before =
      o.server_pid ? process_cpu_seconds(o.server_pid) : std::nullopt;
  if (o.server_pid && !server_cpu_before) {
    std::fprintf(stderr, "ntsbench: cannot read /proc/%d/stat\n", o.server_pid);
    return 1;
  }
  const double own_before = own_cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  std::atomic<int> running{o.threads};
  std::vector<std::thread> workers;
  for (auto& thread : threads) {
    workers.emplace_back([&thread, &running] {
      thread->run();
      --running;
    });
  }
  Progress progress(!o.quiet);
  bool stopped = false;
  while (running > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (g_interrupted && !stopped) {
      for (auto& thread : threads) thread->stop();
      stopped = true;
    }
    uint64_t sent = 0, verified = 0, lost = 0;
    for (const auto& thread : threads) {
      sent += thread->counters().sent.load(std::memory_order_relaxed);
      verified += thread->counters().verified.load(std::memory_order_relaxed);
      lost += thread->counters().timeouts.load(std::memory_order_relaxed);
    }
    progress.tick(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), sent, verified,
                  lost);
  }
  for (auto& worker : workers) worker.join();
  report.duration_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.client_cpu_s = own_cpu_seconds() - own_before;
  if (server_cpu_before) {
    if (const auto after = process_cpu_seconds(o.server_pid)) report.server_cpu_s = *after - *server_cpu_before;
  }
  LatencyHistogram latency;
  for (const auto& thread : threads) {
    const LoadCounters& c = thread->counters();
    report.sent += c.sent;
    report.verified += c.verified;
    report.failed += c.failed;
    report.naks += c.naks;
    report.kods += c.kods;
    report.timeouts += c.timeouts;
    report.late += c.late;
    report.reused_cookies += c.reused_cookies;
    report.send_errors += c.send_errors;
    report.slots_exhausted += c.slots_exhausted;
    latency.merge(thread->latency());
  }
  fill_latency(latency, report);
  return 0;
}

int run(int argc, char** argv) {
  int exit_code = 0;
  const auto options = parse_options(argc, argv, &exit_code);
  if (!options) return exit_code;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  BenchReport report;
  report.mode = options->ke ? "ke" : options->plain ? "plain" : "nts";
  const int status = options->ke ? run_ke_mode(*options, report) : run_ntp_mode(*options, report);
  if (status != 0) return status;
  if (options->json) {
    std::printf("%s\n", report_json(report).c_str());
    std::fprintf(stderr, "%s\n", report_summary(report).c_str());
  } else {
    std::printf("%s\n", report_summary(report).c_str());
  }
  return 0;
}

}  // namespace
}  // namespace ntsd::bench

int main(int argc, char** argv) { return ntsd::bench::run(argc, argv); }
