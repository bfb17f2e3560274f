#include "daemon/options.h"

#include <CLI/CLI.hpp>

namespace ntsd::daemon {

std::optional<DaemonOptions> parse_command_line(int argc, char** argv, int* exit_code) {
  DaemonOptions options;
  CLI::App app{
      "ntsd: a multi-core NTP/NTS (RFC 8915) time server.\n"
      "Without --config it serves its embedded default: NTP on 127.0.0.1 and ::1, port 11123,\n"
      "as a local stratum-10 reference, and NTS-KE on port 14460 with a generated demo certificate."};
  app.set_version_flag("--version", "ntsd 0.1.0");
  app.add_option("-c,--config", options.config_path, "ntp.conf to read (NTPsec syntax)");
  app.add_flag("--check", options.check_only, "validate the configuration and exit");
  app.add_option("--workers", options.workers, "NTP worker threads (default: one per CPU)")
      ->check(CLI::Range(1, 1024));
  std::string backend = "auto";
  app.add_option("--io-backend", backend, "datagram I/O: uring, mmsg or auto (uring, else mmsg)")
      ->check(CLI::IsMember({"auto", "uring", "mmsg"}));
  app.add_option("--port", options.ntp_port, "UDP port for NTP (overrides ntpport; 0: any free)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--ke-port", options.ke_port, "TCP port for NTS-KE (overrides `nts port`; 0: any free)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--state-dir", options.state_dir,
                 "folder for the cookie key seed and the demo certificate "
                 "(default: ~/.local/state/ntsd without --config, /var/lib/ntsd with); owned by the "
                 "user ntsd runs as, not writable by group or others");
  app.add_flag("--no-adjust", options.no_adjust,
               "measure-only: poll upstreams, select and serve their time, but never adjust the host "
               "clock (as chronyd -x); implied without CAP_SYS_TIME");
  app.add_option("-u,--user", options.user,
                 "switch to USER[:GROUP] once sockets, certificate, key and state are open, keeping only "
                 "CAP_SYS_TIME (default with --config: user ntsd if it exists)");
  app.add_flag("--no-seccomp", options.no_seccomp, "do not install the syscall allow-list (for debugging)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    *exit_code = app.exit(e);
    return std::nullopt;
  }
  if (options.check_only && options.config_path.empty()) {
    std::fprintf(stderr, "ntsd: --check needs --config FILE\n");
    *exit_code = 2;
    return std::nullopt;
  }
  options.io_backend = backend == "uring"  ? server::IoBackend::kUring
                       : backend == "mmsg" ? server::IoBackend::kMmsg
                                           : server::IoBackend::kAuto;
  return options;
}

}  // namespace ntsd::daemon
