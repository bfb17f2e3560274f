#pragma once
// One snapshot of everything an operator may ask the running daemon: what it
// serves, what its workers counted, what NTS-KE and the cookie keys are doing,
// and the upstream/discipline view. A plain value, collected off the worker
// path (from the workers' relaxed counters, the KE server's counters and the
// clock thread's reports) and rendered by every operator interface: the
// control socket behind ntsctl, Prometheus /metrics and the mode-6 (ntpq)
// responder. Collecting never blocks a worker.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "clock/client.h"
#include "ke/ke_server.h"
#include "server/counters.h"
#include "server/server_state.h"

namespace ntsd::ops {

// What was built and what this CPU/kernel gets (`ntsd --version`, build info metric).
struct BuildInfo {
  std::string version;     // "0.1.0"
  std::string build_date;  // the compiler's __DATE__ __TIME__ of the build
  std::string compiler;    // "g++ 12.2.0", "clang 14.0.6"
  std::string openssl;     // OpenSSL_version(OPENSSL_VERSION) at run time
  std::string aes_path;    // the cookie crypto this CPU gets: "VAES", "AES-NI", "OpenSSL EVP"
};

BuildInfo build_info();

struct ServerSection {
  std::vector<server::CounterTotals> workers;  // index = worker
  server::CounterTotals total;                 // sum over workers
  std::vector<std::string> endpoints;          // "127.0.0.1:123"
  std::string io_backend;                      // "io_uring" / "recvmmsg"
  uint16_t port = 0;
};

struct KeyStatus {
  int64_t current_epoch = 0;
  int64_t rotate_seconds = 0;          // rotation period
  int64_t next_rotation_unix = 0;      // when the next epoch's key becomes current
  int64_t retention_epochs = 0;        // epochs whose cookies still open
};

struct NtsSection {
  ke::KeCounters ke;
  KeyStatus keys;
  uint16_t ke_port = 0;
  int ke_threads = 0;
  std::string certificate;  // subject and expiry, as ke::KeServer::certificate_subject()
};

struct ClockSection {
  std::vector<clock::SourceReport> sources;
  clock::SystemStatus system;
  clock::DisciplineReport discipline;
};

// One client address from a worker's `limited` rate table (ntsctl clients).
struct ClientRow {
  std::string address;  // "192.0.2.7", "2001:db8::1"
  int worker = 0;
  uint64_t requests = 0;       // since first_unix_ns (an evicted client starts over)
  uint64_t limited = 0;        // of those, refused by the rate limit
  uint64_t kod = 0;            // of those, answered with KoD RATE
  int64_t first_unix_ns = 0;
  int64_t last_unix_ns = 0;
  int64_t leak_s = 0;          // the leaky bucket; at or above limit_s its requests are refused
  int64_t limit_s = 0;
};

struct ClientsSection {
  bool tracked = false;  // false: no `restrict … limited`, so no worker keeps a table
  std::vector<ClientRow> busiest;  // most requests first
  uint64_t entries = 0, capacity = 0, evictions = 0;  // summed over workers
};

struct DaemonStatus {
  int64_t now_unix_ns = 0;
  int64_t started_unix_ns = 0;
  BuildInfo build;
  server::ServerState served;            // what clients are told right now
  ServerSection server;
  std::optional<NtsSection> nts;         // absent when NTS is off
  std::optional<ClockSection> clock;     // absent without `server`/`pool` lines
};

// Implemented by the daemon over its running pieces. collect() may take the
// clock thread's report lock; it never touches a worker's loop.
class StatusSource {
 public:
  virtual ~StatusSource() = default;
  virtual DaemonStatus collect() const = 0;
  // The `limit` clients with the most requests over every worker's rate table
  // (a walk of the tables, so only on demand: ntsctl clients).
  virtual ClientsSection clients(size_t /*limit*/) const { return {}; }
};

// The privileged operations (the control socket's group only).
class Actions {
 public:
  virtual ~Actions() = default;
  // Rebuilds the NTS-KE TLS context from the certificate/key files.
  virtual bool reload_certificate(std::string* message) = 0;
  // Seals new cookies with the next epoch's key now (see daemon/control_actions.h).
  virtual bool rotate_key(std::string* message) = 0;
};

}  // namespace ntsd::ops
