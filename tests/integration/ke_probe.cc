// Test-only legitimate NTS-KE client for the slowloris test: --attempts full
// NTS-KE sessions (ke::KeClient: TLS 1.3, certificate verified, request,
// response with cookies) from --bind ADDRESS, started at --rate per second
// over --threads threads, each with a --limit-ms budget from connect() to the
// last byte. Prints one "probe:" summary line; exits 0 if it ran.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ke/client.h"
#include "proto/ke_record.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  uint16_t port = 0;
  std::string ca;
  std::string bind = "127.0.0.1";
  int attempts = 100;
  double rate = 4;
  int threads = 4;
  int limit_ms = 3000;
};

// Non-blocking connect from `bind` with a deadline; the socket is blocking again on return.
int connect_from(const Options& o, int timeout_ms, std::string* error) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return *error = std::strerror(errno), -1;
  sockaddr_in src{};
  src.sin_family = AF_INET;
  inet_pton(AF_INET, o.bind.c_str(), &src.sin_addr);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(o.port);
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
    *error = std::string("bind: ") + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0 && errno != EINPROGRESS) {
    *error = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof err;
  if (::poll(&p, 1, timeout_ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
      err != 0) {
    *error = std::string("connect: ") + (err ? std::strerror(err) : "timed out");
    ::close(fd);
    return -1;
  }
  ::fcntl(fd, F_SETFL, 0);
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--port")
      o.port = static_cast<uint16_t>(std::atoi(v.c_str()));
    else if (a == "--ca")
      o.ca = v;
    else if (a == "--bind")
      o.bind = v;
    else if (a == "--attempts")
      o.attempts = std::atoi(v.c_str());
    else if (a == "--rate")
      o.rate = std::atof(v.c_str());
    else if (a == "--threads")
      o.threads = std::atoi(v.c_str());
    else if (a == "--limit-ms")
      o.limit_ms = std::atoi(v.c_str());
    else
      return std::fprintf(stderr, "ke_probe: unknown option %s\n", a.c_str()), 2;
  }
  if (o.port == 0 || o.ca.empty() || o.attempts < 1 || o.attempts > 10000 || o.rate <= 0 ||
      o.threads < 1 || o.limit_ms < 100) {
    std::fprintf(stderr,
                 "usage: ke_probe --port N --ca FILE [--bind ADDR] [--attempts N] [--rate PER_S] "
                 "[--threads N] "
                 "[--limit-ms MS]\n");
    return 2;
  }
  ntsd::ke::KeClientOptions co;
  co.port = o.port;
  co.ca_file = o.ca;
  co.verify_host = "127.0.0.1";
  co.request = ntsd::ke::make_ke_request({15});
  co.timeout_ms = o.limit_ms;
  const ntsd::ke::KeClient client(co);

  std::atomic<int> next{0};
  std::mutex mu;
  std::vector<double> ok_ms;
  std::vector<std::string> errors;
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&] {
      for (;;) {
        const int i = next.fetch_add(1);
        if (i >= o.attempts) return;
        // Attempt i starts at i / rate seconds: the client stays within the per-address rate limit.
        std::this_thread::sleep_until(
            start + std::chrono::microseconds(static_cast<int64_t>(i * 1e6 / o.rate)));
        const auto t0 = Clock::now();
        std::string error;
        bool ok = false;
        const int fd = connect_from(o, o.limit_ms, &error);
        if (fd >= 0) {
          const int left =
              o.limit_ms -
              static_cast<int>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
          timeval tv{std::max(left, 1) / 1000, (std::max(left, 1) % 1000) * 1000};
          setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
          setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
          const ntsd::ke::KeClientResult r = client.run(fd);
          ntsd::proto::KeResponse response;
          if (!r.handshake_ok) {
            error = r.error;
          } else if (ntsd::proto::parse_ke_response(r.response, response) !=
                         ntsd::proto::KeResponseStatus::kOk ||
                     response.cookies.empty()) {
            error = "no cookies in the response";
          } else {
            ok = true;
          }
        }
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (ok && ms > o.limit_ms) ok = false, error = "over the time limit";
        std::lock_guard lock(mu);
        if (ok)
          ok_ms.push_back(ms);
        else
          errors.push_back(error);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::sort(ok_ms.begin(), ok_ms.end());
  auto pct = [&](double p) {
    return ok_ms.empty() ? 0.0
                         : ok_ms[std::min(ok_ms.size() - 1, static_cast<size_t>(p * ok_ms.size()))];
  };
  std::printf(
      "probe: attempts=%d ok=%zu success_pct=%.1f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f "
      "first_error=\"%s\"\n",
      o.attempts, ok_ms.size(), 100.0 * ok_ms.size() / o.attempts, pct(0.5), pct(0.99),
      ok_ms.empty() ? 0.0 : ok_ms.back(), errors.empty() ? "" : errors.front().c_str());
  return 0;
}
