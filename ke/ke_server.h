#pragma once
// The NTS-KE server (RFC 8915 §4): TLS 1.3 + ALPN ntske/1 on Boost.Asio, a
// pool of K threads, one acceptor per listen address, 8 cookies per session
// sealed with the current master key. Operations: first-byte, handshake and
// session deadlines; a global connection cap (evicting the oldest connection
// without finished TLS when reached), a per-address connection cap and rate
// limit; certificate reload (explicit and by polling the files). No exception
// leaves this API.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "crypto/key_snapshot.h"
#include "ke/rate_limit.h"
#include "ke/tls_context.h"

namespace ntsd::ke {

enum class LogLevel : uint8_t { kInfo, kWarning, kError };
using LogFn = std::function<void(LogLevel, const std::string&)>;

struct KeOptions {
  TlsSettings tls;                                   // nts cert / key / mintls / maxtls / tlsciphers
  std::vector<std::string> listen = {"0.0.0.0", "::"};  // address literals; "::" is IPv6-only
  uint16_t port = 4460;                              // nts port; 0 = any free port (tests)
  int threads = 0;                                   // nts kethreads; 0 = max(1, CPUs / 4)
  std::vector<uint16_t> aeads;                       // nts aead; empty = every implemented one
  uint16_t ntp_port = 123;                           // NTP port sent in a Port record when != 123
  std::vector<std::string> ntp_servers;              // nts ntpserver HOST[:PORT], round robin
  std::chrono::milliseconds deadline{5000};          // handshake + request + response, per connection
  std::chrono::milliseconds first_byte_deadline{1000};  // from accept to the first byte of the ClientHello
  std::chrono::milliseconds handshake_deadline{2000};   // from accept to a finished TLS handshake
  size_t max_connections = 0;                        // nts kemaxconn; 0 = default_max_connections(fd limit)
  size_t max_per_address = 16;                       // nts keperaddr: open per IPv4 address / IPv6 /64; 0 = no cap
  RateLimitSettings rate_limit;                      // per client address (IPv6: per /64)
  std::chrono::milliseconds reload_poll{5000};       // cert/key mtime polling; 0 = off
  LogFn log;                                         // operator log lines (start-up, reload); may be empty
};

// What the KE server has done since start; a plain copy.
struct KeCounters {
  uint64_t accepted = 0;              // TCP connections accepted and served
  uint64_t refused_connection_cap = 0;  // at the cap, and every connection there had finished TLS
  uint64_t refused_rate_limit = 0;
  uint64_t refused_rate_table_full = 0;  // new address while the rate table was full (fails closed)
  uint64_t refused_per_address = 0;      // its address already had max_per_address open
  uint64_t evicted = 0;               // oldest connection without finished TLS, closed to make room
  uint64_t accept_errors = 0;         // accept() failed (EMFILE and the like); retried after a pause
  uint64_t first_byte_timeout = 0;    // nothing sent before the first-byte deadline
  uint64_t active = 0;                // connections open now
  uint64_t max_connections = 0;       // the global cap in force (not a counter)
  uint64_t handshakes_ok = 0;
  uint64_t handshake_failed_tls = 0;      // TLS alert / protocol error / peer closed
  uint64_t handshake_failed_timeout = 0;  // deadline passed during the handshake
  uint64_t handshake_failed_alpn = 0;     // no ntske/1 offered (other protocols: alert; none: dropped)
  uint64_t tls13 = 0, tls12 = 0;          // completed handshakes by version
  uint64_t request_timeout = 0;           // deadline passed after the handshake
  uint64_t request_truncated = 0;         // peer closed before End of Message
  std::array<uint64_t, 10> request_errors{};  // by proto::KeRequestStatus (index = enum value)
  uint64_t responses_cookies = 0;
  uint64_t responses_no_protocol = 0;
  uint64_t responses_no_aead = 0;
  uint64_t responses_internal_error = 0;
  uint64_t cookies_issued = 0;
  uint64_t aead_siv256 = 0, aead_siv384 = 0, aead_siv512 = 0, aead_gcm_siv = 0;  // AEAD chosen
  uint64_t reloads_ok = 0, reloads_failed = 0;
};

class KeServer {
 public:
  // Binds, loads the certificate and starts the threads; null with `error` set if anything fails.
  static std::unique_ptr<KeServer> start(const KeOptions& options, crypto::KeyPublisher& keys, std::string* error);
  ~KeServer();  // stop()
  KeServer(const KeServer&) = delete;
  KeServer& operator=(const KeServer&) = delete;

  // Closes the acceptors and every connection, joins the threads. Idempotent.
  void stop();
  // Rebuilds the TLS context from the cert/key files; on failure the old one stays and `error` says why.
  bool reload(std::string* error);
  KeCounters counters() const;
  // Start-up warnings for the operator (TLS 1.2 allowed, world-readable key, IPv6 unavailable, ...).
  const std::vector<std::string>& warnings() const;
  // The bound port (useful with port 0).
  uint16_t port() const;
  int threads() const;
  // Subject and expiry of the certificate new connections get.
  std::string certificate_subject() const;

  class Impl;

 private:
  explicit KeServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// KeOptions from a parsed ntp.conf (nts cert/key/aead/mintls/maxtls/port/kethreads/ntpserver, ntpport,
// interface listen); `error` set and false if a value cannot be used (e.g. a bad ntpserver entry).
bool ke_options_from_config(const config::Config& config, KeOptions& out, std::string* error);
// Stable name of a request error index of KeCounters::request_errors.
const char* ke_request_error_name(size_t index);
// The admission and failure counters as "name=value ..." (for the daemon's counters line).
std::string ke_counters_text(const KeCounters& c);
// The process's soft RLIMIT_NOFILE (RLIM_INFINITY as a large number).
size_t open_file_limit();
// The default global connection cap for an fd limit: what is left after a
// reserve for the rest of the daemon, at most 10000 (see accept_loop.cc).
size_t default_max_connections(size_t open_file_limit);

}  // namespace ntsd::ke
