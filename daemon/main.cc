// ntsd: wiring only. Parse the command line and the config, start the data
// plane, then wait for signals: SIGINT/SIGTERM stop, SIGUSR1 dumps counters.
#include <signal.h>

#include <cstdio>
#include <string>

#include "clock/clock.h"
#include "config/parser.h"
#include "daemon/log.h"
#include "daemon/options.h"
#include "daemon/serve_plan.h"
#include "server/server.h"

namespace {

using ntsd::daemon::log_line;

// Signals are handled synchronously by the main thread with sigwait(); they
// are blocked before any thread starts so workers never receive them.
sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGUSR1, SIGHUP}) sigaddset(&set, sig);
  return set;
}

int check_config(const std::string& path) {
  const auto result = ntsd::config::parse_config_file(path);
  if (!result.config) {
    for (const std::string& error : result.errors) std::fprintf(stderr, "%s\n", error.c_str());
    std::fprintf(stderr, "ntsd: %s: %zu error(s); nothing applied\n", path.c_str(),
                 result.errors.size());
    return 1;
  }
  for (const std::string& warning : result.warnings) std::fprintf(stderr, "%s\n", warning.c_str());
  std::printf("%s: OK\n", path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int exit_code = 0;
  const auto options = ntsd::daemon::parse_command_line(argc, argv, &exit_code);
  if (!options) return exit_code;
  if (options->check_only) return check_config(options->config_path);

  std::optional<ntsd::config::Config> config;
  if (!options->config_path.empty()) {
    auto result = ntsd::config::parse_config_file(options->config_path);
    if (!result.config) {
      for (const std::string& error : result.errors) std::fprintf(stderr, "%s\n", error.c_str());
      log_line("not started: %s has %zu error(s)", options->config_path.c_str(),
               result.errors.size());
      return 1;
    }
    for (const std::string& warning : result.warnings) log_line("%s", warning.c_str());
    config = std::move(result.config);
  }
  std::string error;
  const auto plan = ntsd::daemon::make_serve_plan(config, *options, &error);
  if (!plan) {
    log_line("not started: %s", error.c_str());
    return 1;
  }

  const sigset_t signals = handled_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ntsd::clock::RealClock clock;
  ntsd::server::ServerStateCell state(plan->initial_state);
  auto server = ntsd::server::Server::start(plan->server, state, clock, &error);
  if (!server) {
    log_line("not started: %s", error.c_str());
    if (error.find("Permission denied") != std::string::npos) {
      log_line("hint: ports below 1024 need root or CAP_NET_BIND_SERVICE; try --port 11123");
    }
    return 1;
  }
  if (!server->fallback_reason().empty()) {
    log_line("io_uring unavailable (%s); using recvmmsg/sendmmsg", server->fallback_reason().c_str());
  }
  for (const auto& endpoint : server->endpoints()) {
    log_line("serving NTP on %s", endpoint.to_string().c_str());
  }
  log_line("%d workers, %s I/O; %s", server->worker_count(), server->backend_name(),
           plan->description.c_str());
  log_line("ready; Ctrl-C or SIGTERM stops, SIGUSR1 prints counters");

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGUSR1) {
      log_line("counters: %s", server->totals().to_line().c_str());
    } else if (sig == SIGHUP) {
      log_line("SIGHUP: nothing to reload yet (the NTP data plane has no reloadable state)");
    } else {
      log_line("%s received; stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
      break;
    }
  }
  server->stop();
  log_line("stopped; counters: %s", server->totals().to_line().c_str());
  return 0;
}
