// NTS-KE handshake rate of one KE thread: bazel run -c opt //bench:ke_bench [-- SECONDS CLIENTS]
//
// Starts ke::KeServer with one thread (acceptor and sessions on it) and a
// throwaway ECDSA P-256 or RSA-2048 certificate, then runs full NTS-KE
// sessions (TLS 1.3 handshake, chrony's request, 8 cookies, close_notify)
// from CLIENTS client threads in this process. Clients do not verify the
// certificate, to leave the CPU to the server. Reported: sessions/s seen by
// the clients (wall clock), and the KE thread's CPU per session, measured as
// process CPU minus the client threads' own CPU — its inverse is what one
// KE thread sustains when it has a core to itself.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "crypto/key_ring.h"
#include "ke/client.h"
#include "ke/ke_server.h"
#include "testing/ke_test_options.h"
#include "testing/test_pki.h"

namespace {

using namespace ntsd;

double cpu_seconds(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

struct Result {
  uint64_t sessions = 0;
  uint64_t failures = 0;
  double wall = 0;
  double server_cpu = 0;
  double p50_ms = 0, p99_ms = 0;
};

Result run(const testing::TestPki& pki, double seconds, int clients) {
  const std::vector<uint8_t> seed(32, 1);
  crypto::KeyRing ring(seed);
  crypto::KeyPublisher keys(ring.snapshot_at(std::time(nullptr)));
  ke::KeOptions opts = testing::loopback_options(pki);
  opts.rate_limit.per_second = 0;  // one client address makes every session
  opts.reload_poll = std::chrono::milliseconds(0);
  std::string error;
  auto server = ke::KeServer::start(opts, keys, &error);
  if (!server) {
    std::fprintf(stderr, "ke_bench: %s\n", error.c_str());
    std::exit(1);
  }
  ke::KeClientOptions co;
  co.port = server->port();
  co.request = ke::make_ke_request({15});
  co.export_aead = 0;
  ke::KeClient client(co);
  for (int i = 0; i < 20; ++i) client.run();  // warm-up

  std::atomic<bool> go{false}, stop{false};
  std::vector<double> client_cpu(clients, 0);
  std::vector<std::vector<double>> latencies(clients);
  std::vector<uint64_t> ok(clients, 0), bad(clients, 0);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      while (!go) std::this_thread::yield();
      const double cpu0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
      while (!stop) {
        const auto t0 = std::chrono::steady_clock::now();
        const ke::KeClientResult r = client.run();
        const auto t1 = std::chrono::steady_clock::now();
        if (r.handshake_ok && r.response.size() > 800) {
          ++ok[c];
          latencies[c].push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        } else {
          ++bad[c];
        }
      }
      client_cpu[c] = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    });
  }
  const double proc0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
  const auto w0 = std::chrono::steady_clock::now();
  go = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  Result res;
  res.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  const double proc = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - proc0;
  double clients_cpu = 0;
  std::vector<double> all;
  for (int c = 0; c < clients; ++c) {
    clients_cpu += client_cpu[c];
    res.sessions += ok[c];
    res.failures += bad[c];
    all.insert(all.end(), latencies[c].begin(), latencies[c].end());
  }
  res.server_cpu = proc - clients_cpu;
  std::sort(all.begin(), all.end());
  if (!all.empty()) {
    res.p50_ms = all[all.size() / 2];
    res.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  server->stop();
  return res;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 5.0;
  const int clients = argc > 2 ? std::atoi(argv[2]) : 2;
  const std::string dir = testing::test_tmpdir() + "/ke_bench_" + std::to_string(::getpid());
  std::printf("NTS-KE sessions on one KE thread, %d client thread(s), %.0f s each, %u CPUs\n\n", clients, seconds,
              std::thread::hardware_concurrency());
  std::printf("| certificate | sessions/s (wall) | KE thread CPU per session | one KE thread, CPU-bound | p50 / p99 latency | failures |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: |\n");
  for (const auto kind : {testing::KeyKind::kEcdsaP256, testing::KeyKind::kRsa2048}) {
    testing::TestPki pki;
    std::string error;
    const bool ec = kind == testing::KeyKind::kEcdsaP256;
    if (!testing::make_test_pki(dir + (ec ? "_ec" : "_rsa"), kind, pki, &error)) {
      std::fprintf(stderr, "ke_bench: %s\n", error.c_str());
      return 1;
    }
    const Result r = run(pki, seconds, clients);
    const double per = r.sessions ? r.server_cpu / r.sessions : 0;
    std::printf("| %s | %.0f | %.0f µs | %.0f /s | %.2f / %.2f ms | %llu |\n", ec ? "ECDSA P-256" : "RSA-2048",
                r.sessions / r.wall, per * 1e6, per > 0 ? 1.0 / per : 0.0, r.p50_ms, r.p99_ms,
                static_cast<unsigned long long>(r.failures));
    std::fflush(stdout);
  }
  return 0;
}
