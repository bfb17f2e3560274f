// ntsd: wiring only. Parse the command line and the config, start the data
// plane, then wait for signals: SIGINT/SIGTERM stop, SIGUSR1 dumps counters.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <string>

#include "clock/client.h"
#include "clock/real_clock_backend.h"
#include "clock/clock.h"
#include "config/parser.h"
#include "crypto/key_ring.h"
#include "crypto/nts_crypto.h"
#include "daemon/control_actions.h"
#include "daemon/check.h"
#include "daemon/log.h"
#include "daemon/nts_service.h"
#include "daemon/options.h"
#include "daemon/privileges.h"
#include "daemon/serve_plan.h"
#include "daemon/state_dir.h"
#include "daemon/status_collector.h"
#include "daemon/systemd.h"
#include "ops/metrics_server.h"
#include "server/backend_probe.h"
#include "server/mode6_service.h"
#include "server/server.h"

namespace {

using ntsd::daemon::Level;
using ntsd::daemon::log_error;
using ntsd::daemon::log_info;
using ntsd::daemon::log_notice;
using ntsd::daemon::log_warning;
using namespace ntsd::config;  // the logconfig classes: kLogSysInfo, …

// Signals are handled synchronously by the main thread with sigwait(); they
// are blocked before any thread starts so workers never receive them.
sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGUSR1, SIGHUP}) sigaddset(&set, sig);
  return set;
}

// Errors and warnings of a parse, one `FILE:LINE: …` line each, on stderr.
void print_parse_problems(const ntsd::config::ParseResult& result) {
  for (const std::string& line : result.errors) std::fprintf(stderr, "%s\n", line.c_str());
  for (const std::string& line : result.warnings) std::fprintf(stderr, "%s\n", line.c_str());
}

// Whether this process may set the clock (CAP_SYS_TIME, bit 25, in CapEff).
bool has_cap_sys_time() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) == 0) {
      const unsigned long long caps = std::stoull(line.substr(7), nullptr, 16);
      return (caps >> 25) & 1;
    }
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread: a write to a closed pipe or socket (a log file that is
  // a pipe, the upstream NTS-KE client's TLS writes) returns EPIPE instead of
  // killing the daemon.
  signal(SIGPIPE, SIG_IGN);
  int exit_code = 0;
  const auto options = ntsd::daemon::parse_command_line(argc, argv, &exit_code);
  if (!options) return exit_code;
  if (options->check_only) return ntsd::daemon::check_config(*options);

  std::optional<ntsd::config::Config> config;
  if (!options->config_path.empty()) {
    auto result = ntsd::config::parse_config_file(options->config_path);
    print_parse_problems(result);
    if (!result.config) {
      log_error("not started: %s has %zu error(s)", options->config_path.c_str(),
               result.errors.size());
      return 1;
    }
    config = std::move(result.config);
    ntsd::daemon::set_log_mask(config->log_mask);
    if (!config->logfile.empty()) {
      std::string log_error;
      if (!ntsd::daemon::set_log_file(config->logfile, &log_error)) {
        log_warning("logfile %s; logging to stderr only", log_error.c_str());
      }
    }
  }
  std::string error;
  ntsd::daemon::log_report(Level::kInfo, kLogSysInfo, ntsd::daemon::raise_open_file_limit());
  // Who ntsd becomes once everything is open; its state belongs to that user.
  std::optional<ntsd::daemon::RunAs> run_as;
  std::string run_as_note;
  if (!ntsd::daemon::resolve_run_as(options->user, config.has_value(), &run_as, &run_as_note, &error)) {
    log_error("not started: %s", error.c_str());
    return 1;
  }
  if (!run_as_note.empty()) ntsd::daemon::log_report(Level::kInfo, kLogSysInfo, run_as_note);
  const ntsd::daemon::StateOwner owner =
      run_as ? ntsd::daemon::StateOwner{run_as->uid, run_as->gid, run_as->user}
             : ntsd::daemon::StateOwner{::geteuid(), ::getegid(), ""};
  const auto plan = ntsd::daemon::make_serve_plan(config, *options, &error);
  if (!plan) {
    log_error("not started: %s", error.c_str());
    return 1;
  }

  const sigset_t signals = handled_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // NTS: on in the embedded default; with a config file after `nts enable`
  // (NTPsec's Quick Start) or `nts cert` + `nts key` (the NTS guide's form).
  std::unique_ptr<ntsd::daemon::NtsService> nts;
  const bool nts_enabled = !config || ntsd::config::nts_server_on(config->nts);
  if (nts_enabled) {
    nts = ntsd::daemon::NtsService::start(config ? &*config : nullptr, *options, owner, &error);
    if (!nts) {
      log_error("not started: %s", error.c_str());
      return 1;
    }
  }
  ntsd::server::ServerOptions server_options = plan->server;
  // The NTS crypto implementation, chosen once for every worker (--crypto).
  server_options.crypto = ntsd::crypto::choose_nts_crypto(options->crypto, &error);
  if (server_options.crypto == nullptr) {
    log_error("not started: %s", error.c_str());
    return 1;
  }
  server_options.mode6 = true;  // ntpq: workers check and queue mode-6 requests (server/mode6_gate.h)
  if (nts) {
    server_options.keys = &nts->keys();
    server_options.require_nts = config && config->nts.require_nts;
  }

  ntsd::clock::RealClock clock;
  ntsd::server::ServerStateCell state(plan->initial_state);

  // Upstream synchronisation: the client thread publishes into `state`.
  // Steering the host clock is not implemented yet (issue 11): the client
  // measures, selects and serves its upstreams' figures whatever the
  // capabilities, and says so once.
  std::unique_ptr<ntsd::clock::RealClockBackend> clock_backend;  // declared first: outlives the client
  std::unique_ptr<ntsd::clock::UpstreamClient> upstream;
  std::optional<ntsd::clock::ClientOptions> upstream_options;  // started once privileges are dropped
  std::string cookie_file;
  if (config && !config->servers.empty()) {
    const std::string state_dir = ntsd::daemon::state_directory(*options, false, &error);
    if (config->nts.cookie_file.empty() && !ntsd::daemon::make_state_directory(state_dir, owner, &error)) {
      log_error("not started: %s", error.c_str());
      return 1;
    }
    auto client_options = ntsd::clock::client_options_from_config(*config, state_dir, std::time(nullptr), &error);
    if (!client_options) {
      log_error("not started: %s", error.c_str());
      return 1;
    }
    client_options->precision = plan->initial_state.precision;
    client_options->log = [](const std::string& line) { ntsd::daemon::log_clock_line(line); };
    ntsd::clock::KernelClockState kernel;
    std::string kernel_error;
    if (ntsd::clock::read_kernel_clock_state(kernel, &kernel_error)) {
      log_info(kLogClockInfo, "clock: %s", ntsd::clock::describe_kernel_clock_state(kernel).c_str());
    }
    if (options->no_adjust) {
      log_notice(kLogClockInfo, "clock: --no-adjust: measure-only, the host clock is never adjusted");
    } else if (!has_cap_sys_time()) {
      log_notice(kLogClockInfo, "clock: no CAP_SYS_TIME: measure-only, the host clock is never adjusted");
    } else {
      // Only here does anything touch the host clock.
      clock_backend = std::make_unique<ntsd::clock::RealClockBackend>(ntsd::clock::RealClockBackend::Mode::kAdjust);
      client_options->backend = clock_backend.get();
      log_notice(kLogClockInfo, "clock: disciplining the host clock (CAP_SYS_TIME; --no-adjust to only measure)");
    }
    upstream_options = std::move(client_options);
    cookie_file = config->nts.cookie_file.empty() ? state_dir + "/nts-client-cookies" : config->nts.cookie_file;
  }
  // --io-backend auto: both backends measured on this kernel, the cheaper
  // one serves (server/backend_probe.h); a probe that cannot run leaves the
  // choice to Server::start (io_uring if it runs).
  if (server_options.backend == ntsd::server::IoBackend::kAuto) {
    ntsd::server::BackendProbeOptions probe;
    probe.coalesce = server_options.coalesce;
    const ntsd::server::BackendMeasurement measured = ntsd::server::measure_backends(probe);
    if (measured.uring_unavailable.empty()) {
      log_info(kLogSysInfo, "I/O backend auto: %s", measured.summary().c_str());
    } else {
      log_warning("I/O backend auto: %s", measured.summary().c_str());
    }
    if (measured.chosen != ntsd::server::IoBackend::kAuto) server_options.backend = measured.chosen;
  }
  auto server = ntsd::server::Server::start(server_options, state, clock, &error);
  if (!server) {
    log_error("not started: %s", error.c_str());
    if (error.find("Permission denied") != std::string::npos) {
      log_error("hint: ports below 1024 need root or CAP_NET_BIND_SERVICE; try --port 11123");
    }
    return 1;
  }
  if (!server->fallback_reason().empty()) {
    log_warning("io_uring unavailable (%s); using recvmmsg/sendmmsg", server->fallback_reason().c_str());
  }
  if (nts && !nts->start_ke(server->port(), &error)) {
    // ke/ names itself in most of its errors; the demo certificate and config steps do not.
    if (error.rfind("NTS-KE: ", 0) != 0) error = "NTS-KE: " + error;
    log_error("not started: %s", error.c_str());
    return 1;
  }
  for (const auto& endpoint : server->endpoints()) {
    log_info(kLogSysInfo, "serving NTP on %s", endpoint.to_string().c_str());
  }
  if (nts) {
    for (const std::string& warning : nts->ke().warnings()) log_warning("%s", warning.c_str());
    log_info(kLogSysInfo, "serving NTS-KE on port %u (%d threads); certificate %s", nts->ke().port(),
             nts->ke().threads(), nts->ke().certificate_subject().c_str());
    log_info(kLogSysInfo, "cookie keys from %s (epoch %lld)", nts->seed_file().c_str(),
             static_cast<long long>(nts->current_key_epoch()));
    if (const auto& demo = nts->demo_certificate()) {
      log_notice(kLogSysInfo, "demo certificate%s: clients must trust %s", demo->created ? " created" : "",
               demo->ca_file.c_str());
      log_notice(kLogSysInfo, "try it: chronyd -Q -u root -f /ABSOLUTE/chrony.conf, the file holding these lines:");
      std::string lines = ntsd::ke::chrony_demo_line(*demo, "127.0.0.1", nts->ke().port(), server->port());
      for (size_t start = 0; start < lines.size();) {
        const size_t end = std::min(lines.find('\n', start), lines.size());
        if (end > start) log_notice(kLogSysInfo, "    %s", lines.substr(start, end - start).c_str());
        start = end + 1;
      }
    }
  } else {
    log_info(kLogSysInfo, "%s", ntsd::config::nts_server_mode_text(ntsd::config::nts_server_mode(config->nts)));
  }
  log_info(kLogSysInfo, "%d workers, %s I/O; %s", server->worker_count(), server->backend_name(),
           plan->description.c_str());
  log_info(kLogSysInfo, "NTS crypto: %s", std::string(server_options.crypto->name()).c_str());

  // Prometheus /metrics (`metrics ADDRESS:PORT`): bound now, while ntsd may
  // still bind any port; its HTTP threads then drop privileges and take the
  // syscall filter with every other thread. It serves once `status` exists.
  std::unique_ptr<ntsd::ops::MetricsServer> metrics;
  if (config && config->metrics) {
    metrics = ntsd::ops::MetricsServer::start(*config->metrics, &error);
    if (!metrics) {
      log_error("not started: %s", error.c_str());
      return 1;
    }
    log_info(kLogSysInfo, "serving Prometheus metrics on http://%s/metrics", metrics->address().c_str());
  }

  // The ntsctl control socket: bound now (it may create /run/ntsd and hand
  // it to the daemon user), served once `status` exists. A default path that
  // cannot be had costs a warning; one named by `controlsocket` stops the start.
  std::unique_ptr<ntsd::ops::ControlServer> control;
  {
    bool named = false;
    std::string state_dir_error;
    const std::string control_state_dir = config ? "" : ntsd::daemon::state_directory(*options, true, &state_dir_error);
    const auto control_options = ntsd::daemon::control_socket_options(config ? &*config : nullptr, control_state_dir,
                                                                      owner.uid, owner.gid, &named, &error);
    if (control_options) control = ntsd::ops::ControlServer::bind(*control_options, &error);
    if (!control && !error.empty()) {
      ntsd::daemon::log_line("%s: control socket: %s", named ? "not started" : "warning", error.c_str());
      if (named) return 1;
    }
  }

  // Everything is open: sockets bound, certificate, key and state read, rings
  // made. Now become the daemon user, then lock the syscall set.
  if (!ntsd::daemon::lock_down(config ? &*config : nullptr, *options, run_as, owner, &error)) {
    log_error("not started: %s", error.c_str());
    return 1;
  }
  // The clock thread starts as the daemon user, under the filter: every file
  // it writes (cookie jar, driftfile, statistics) is that user's from the
  // first write, and its first NTS-KE already runs unprivileged.
  if (upstream_options) {
    upstream = ntsd::clock::UpstreamClient::start(std::move(*upstream_options), clock, state, &error);
    if (!upstream) {
      log_error("not started: upstream client: %s", error.c_str());
      return 1;
    }
    log_info(kLogSysInfo, "clock: %zu upstream source(s); NTS sessions persist in %s", config->servers.size(),
             cookie_file.c_str());
  }
  // What every operator interface reads (ntsctl, /metrics, ntpq).
  const ntsd::daemon::StatusCollector status(*server, state, nts.get(), upstream.get());
  std::unique_ptr<ntsd::daemon::ControlActions> control_actions;
  if (control) {
    if (nts) control_actions = std::make_unique<ntsd::daemon::ControlActions>(*nts);
    control->start(status, control_actions.get(), [](const std::string& line) { ntsd::daemon::log_line("%s", line.c_str()); });
    ntsd::daemon::log_line("control socket for ntsctl: %s", control->path().c_str());
  }
  if (metrics) metrics->serve(status);
  // ntpq (mode 6) is answered by its own thread, off the workers' loops.
  auto ntpq = ntsd::server::Mode6Service::start(*server, status);
  log_notice(kLogSysEvents, "ready; Ctrl-C or SIGTERM stops, SIGUSR1 prints counters, SIGHUP reloads the certificate");
  // systemd Type=notify (only with NOTIFY_SOCKET): every socket is bound and
  // the keys and certificate are loaded, so READY=1 now; then STATUS= and,
  // while every worker goes round its loop, WATCHDOG=1 (daemon/systemd.h).
  const auto systemd = ntsd::daemon::SystemdNotifier::from_environment();
  auto serving_figures = [&] {
    ntsd::daemon::ServingFigures f{server->worker_count(), nts != nullptr, state.load().stratum,
                                   server->totals().received, {}};
    for (int w = 0; w < server->worker_count(); ++w) {
      f.heartbeats.push_back(server->worker_counters(w).heartbeats.get());
    }
    return f;
  };
  if (systemd) systemd->ready(serving_figures());

  auto print_counters = [&](const char* prefix, uint32_t what) {
    log_notice(what, "%scounters: %s", prefix, server->totals().to_line().c_str());
    if (upstream) {
      for (const std::string& line :
           ntsd::clock::report_lines(upstream->sources(), upstream->system(), upstream->discipline())) {
        log_notice(what, "%sclock: %s", prefix, line.c_str());
      }
    }
    if (nts) {
      log_notice(what, "%snts-ke: %s", prefix, ntsd::ke::ke_counters_text(nts->ke().counters()).c_str());
    }
  };
  for (;;) {
    int sig = 0;
    if (systemd) {
      sig = ntsd::daemon::wait_for_signal(signals, systemd->tick_ms());
      systemd->tick(serving_figures());
      if (sig == 0) continue;
    } else if (sigwait(&signals, &sig) != 0) {
      continue;
    }
    if (sig == SIGUSR1) {
      print_counters("", ntsd::daemon::kLogRequested);
    } else if (sig == SIGHUP) {
      // logrotate's `create` mode moved the logfile away and made a new one:
      // write there from now on (the reopen runs as the daemon user).
      if (!ntsd::daemon::reopen_log_file(&error)) {
        log_error("SIGHUP: logfile not reopened, still writing to the old file: %s", error.c_str());
      }
      if (!nts) {
        log_notice(kLogSysEvents, "SIGHUP: nothing to reload (NTS is off)");
      } else if (nts->ke().reload(&error)) {
        log_notice(kLogSysEvents, "SIGHUP: certificate reloaded: %s", nts->ke().certificate_subject().c_str());
      } else {
        log_error("SIGHUP: certificate reload failed, the old one keeps serving: %s", error.c_str());
      }
    } else {
      log_notice(kLogSysEvents, "%s received; stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
      break;
    }
  }
  if (systemd) systemd->stopping();
  if (ntpq) ntpq->stop();
  if (metrics) metrics->stop();  // no scrape may read `status` while the pieces stop
  if (control) control->stop();  // nor a control request
  if (upstream) upstream->stop();
  if (nts) nts->stop();
  server->stop();
  print_counters("stopped; ", kLogSysStatistics);
  return 0;
}
