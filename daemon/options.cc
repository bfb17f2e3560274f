#include "daemon/options.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "crypto/cpu.h"
#include "crypto/nts_crypto.h"
#include "ops/status.h"
#include "server/uring_io.h"

namespace ntsd::daemon {

bool probe_io_uring(std::string* why) {
  // The workers' own setup on a throwaway loopback socket: a kernel or a
  // container seccomp profile that refuses any part of it (ring, provided
  // buffers, multishot recvmsg) shows here as it would at start-up.
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *why = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  sockaddr_in loopback{};
  loopback.sin_family = AF_INET;
  loopback.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string error;
  bool ok = false;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&loopback), sizeof loopback) != 0) {
    error = std::string("bind: ") + std::strerror(errno);
  } else {
    const int sockets[] = {fd};
    auto io = server::make_uring_io(sockets, server::CoalesceOptions{}, &error);
    ok = io != nullptr && io->start(&error);
  }
  ::close(fd);
  if (!ok) *why = error;
  return ok;
}

std::string version_text() {
  const ops::BuildInfo build = ops::build_info();
  std::string out = "ntsd " + build.version + "\n";
  out += "built:    " + build.build_date + " with " + build.compiler + "\n";
  out += "OpenSSL:  " + build.openssl + "\n";
  utsname host{};
  if (::uname(&host) == 0) out += std::string("kernel:   ") + host.sysname + " " + host.release + "\n";
  std::string why;
  out += probe_io_uring(&why) ? "io_uring: yes (workers use multishot recvmsg into a provided-buffer ring)\n"
                              : "io_uring: no (" + why + "); workers use recvmmsg/sendmmsg\n";
  out += "AES:      " + build.aes_path + " for cookies and NTS authenticators";
  out += crypto::cpu_features().avx512 ? " (AVX-512 present)\n" : "\n";
  out += "NTS crypto: " + std::string(crypto::auto_nts_crypto().name()) +
         " with --crypto auto (the default); --crypto evp or fast to choose\n";
  return out;
}

std::optional<DaemonOptions> parse_command_line(int argc, char** argv, int* exit_code) {
  DaemonOptions options;
  CLI::App app{
      "ntsd: a multi-core NTP/NTS (RFC 8915) time server.\n"
      "Without --config it serves its embedded default: NTP on 127.0.0.1 and ::1, port 11123,\n"
      "as a local stratum-10 reference, and NTS-KE on port 14460 with a generated demo certificate."};
  bool show_version = false;
  app.add_flag("--version", show_version,
               "print the version, build, OpenSSL and the fast paths this machine gets, and exit");
  app.add_option("-c,--config", options.config_path, "ntp.conf to read (NTPsec syntax)");
  app.add_flag("--check", options.check_only,
               "check the configuration and what it names (certificate, key, CA files, folders the daemon user "
               "writes) and exit: 0 OK, 1 errors, 2 usage");
  app.add_flag("--syntax-only", options.syntax_only, "with --check: the file's syntax only (for configs of another host)");
  app.add_option("--workers", options.workers, "NTP worker threads (default: one per CPU)")
      ->check(CLI::Range(1, 1024));
  std::string backend = "auto";
  app.add_option("--io-backend", backend, "datagram I/O: uring, mmsg or auto (both measured at start, the cheaper serves)")
      ->check(CLI::IsMember({"auto", "uring", "mmsg"}));
  app.add_option("--coalesce-us", options.coalesce_us,
                 "below saturation, once a request is waiting, wait up to this many microseconds for a batch "
                 "before answering (fewer wakeups per reply; clients' delay figures exclude it: the receive "
                 "stamp is the kernel's); 0: answer each at once (default 200)")
      ->check(CLI::Range(0, 10000));
  std::string crypto_choice = "auto";
  app.add_option("--crypto", crypto_choice,
                 "NTS crypto on the NTP workers: fast (ntsd's batched AES-NI/VAES code; needs AES-NI), "
                 "evp (OpenSSL EVP, one operation at a time: the reference) or auto (fast when the CPU "
                 "has AES-NI, else evp); ntsd logs its choice at start")
      ->check(CLI::IsMember({"auto", "evp", "fast"}));
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
  if (show_version) {
    std::fputs(version_text().c_str(), stdout);
    *exit_code = 0;
    return std::nullopt;
  }
  if (options.check_only && options.config_path.empty()) {
    std::fprintf(stderr, "ntsd: --check needs --config FILE\n");
    *exit_code = 2;
    return std::nullopt;
  }
  options.crypto = crypto::parse_nts_crypto_choice(crypto_choice).value_or(crypto::NtsCryptoChoice::kAuto);
  options.io_backend = backend == "uring"  ? server::IoBackend::kUring
                       : backend == "mmsg" ? server::IoBackend::kMmsg
                                           : server::IoBackend::kAuto;
  return options;
}

}  // namespace ntsd::daemon
