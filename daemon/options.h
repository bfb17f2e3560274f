#pragma once
// ntsd's command line.
#include <optional>
#include <string>

#include "crypto/nts_crypto.h"
#include "server/packet_io.h"

namespace ntsd::daemon {

struct DaemonOptions {
  std::string config_path;           // --config/-c; empty: the embedded default
  bool check_only = false;           // --check: validate the config and exit
  bool syntax_only = false;          // --syntax-only: --check reads the file only, not what it names
  std::optional<int> workers;        // --workers N (overrides `workers`)
  server::IoBackend io_backend = server::IoBackend::kAuto;  // --io-backend
  uint32_t coalesce_us = server::kDefaultCoalesceUs;          // --coalesce-us
  crypto::NtsCryptoChoice crypto = crypto::NtsCryptoChoice::kAuto;  // --crypto evp|fast|auto
  std::optional<int> ntp_port;       // --port N (overrides `ntpport`; 0 = any free port)
  std::optional<int> ke_port;        // --ke-port N (overrides `nts port`; 0 = any free port)
  std::string state_dir;             // --state-dir DIR (seed, demo certificate)
  bool no_adjust = false;            // --no-adjust: measure upstreams, never adjust the host clock
  std::string user;                  // -u/--user USER[:GROUP]: switch to it after start-up
  bool no_seccomp = false;           // --no-seccomp: no syscall allow-list (debugging)
};

// What `ntsd --version` prints: version, build date and compiler, the
// OpenSSL in use, the kernel, and which fast paths this machine gets
// (io_uring, probed with a real ring; the AES code path for cookies and the
// NTS crypto implementation --crypto auto picks).
std::string version_text();
// Whether an io_uring ring of the kind the workers use can be made here; `why` when not.
bool probe_io_uring(std::string* why);

// Parses argv. Returns nullopt when the program should exit with *exit_code
// (after --help, --version, or a usage error, which has been printed).
std::optional<DaemonOptions> parse_command_line(int argc, char** argv, int* exit_code);

}  // namespace ntsd::daemon
