// A no-crypto UDP reflector: the kernel's ceiling for ntsbench. Answers every
// request of >= 48 bytes with a bare mode-4 reply through one ntsd Worker
// (bench/reflector_lib.h), on one thread; --echo makes each reply as long as
// its request.
//   reflector [--address 127.0.0.1] [--port 11125] [--io uring|mmsg] [--coalesce-us N] [--seconds N] [--echo]
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <string>

#include "bench/reflector_lib.h"

namespace {

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");

void on_signal(int) { g_stop.store(true, std::memory_order_relaxed); }

}  // namespace

int main(int argc, char** argv) {
  ntsd::bench::ReflectorOptions options;
  std::string io = "uring";
  int seconds = 0;
  CLI::App app{
      "reflector: answers NTP requests with a bare mode-4 reply, no crypto, to measure "
      "the UDP path alone."};
  app.add_option("--address", options.address, "IP address to listen on (default 127.0.0.1)");
  app.add_option("--port", options.port, "UDP port (default 11125; 0: any free)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--io", io, "datagram I/O: uring or mmsg (default uring)")
      ->check(CLI::IsMember({"uring", "mmsg"}));
  app.add_option("--coalesce-us", options.coalesce.max_wait_us,
                 "bounded coalescing as ntsd's --coalesce-us (default: ntsd's default; 0: off)")
      ->check(CLI::Range(0, 10000));
  app.add_option("--seconds", seconds, "stop after N seconds (default 0: until SIGINT/SIGTERM)")
      ->check(CLI::Range(0, 86400));
  app.add_flag("--echo", options.echo,
               "reply as long as the request (the 48-byte answer, then the request's bytes after "
               "its header): the kernel's work for NTS-sized datagrams");
  CLI11_PARSE(app, argc, argv);
  options.io = io == "mmsg" ? ntsd::server::IoBackend::kMmsg : ntsd::server::IoBackend::kUring;

  // No SA_RESTART: a signal should cut the backend's wait short.
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  std::string error;
  auto reflector = ntsd::bench::Reflector::open(options, &error);
  if (reflector == nullptr) {
    std::fprintf(stderr, "reflector: %s\n", error.c_str());
    return 1;
  }
  // Scripts wait for this line, so it is flushed even when stdout is a pipe.
  std::printf("reflector: serving on %s (%s)\n", reflector->endpoint().c_str(),
              reflector->io_name());
  std::fflush(stdout);
  const ntsd::bench::ReflectorCounts counts = reflector->run(g_stop, seconds);
  if (!counts.error.empty()) {
    std::fprintf(stderr, "reflector: %s\n", counts.error.c_str());
    return 1;
  }
  std::printf("reflector: received=%" PRIu64 " replied=%" PRIu64 " dropped=%" PRIu64,
              counts.received, counts.replied, counts.dropped);
  if (counts.send_errors != 0) std::printf(" send_errors=%" PRIu64, counts.send_errors);
  std::printf("\n");
  return 0;
}
