#pragma once
// The NTP data plane: N workers, each pinned to a CPU with its own sockets
// (one per listen address, in SO_REUSEPORT groups steered by source address)
// and its own I/O ring.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "clock/clock.h"
#include "crypto/key_snapshot.h"
#include "crypto/nts_crypto.h"
#include "server/access_control.h"
#include "server/counters.h"
#include "server/mode6_queue.h"
#include "server/rate_limiter.h"
#include "server/packet_io.h"
#include "server/server_state.h"
#include "server/udp_socket.h"

namespace ntsd::server {

struct ServerOptions {
  std::vector<Endpoint> listen;  // ports ignored; `port` applies to all
  uint16_t port = 123;           // 0: the kernel picks one port, shared by all addresses
  int workers = 0;               // 0: one per CPU of the process's affinity mask
  IoBackend backend = IoBackend::kAuto;
  CoalesceOptions coalesce{kDefaultCoalesceUs, 32};  // bounded coalescing below saturation (packet_io.h)
  bool pin_workers = true;  // worker w on the w-th CPU of the process's affinity mask
  crypto::KeyPublisher* keys = nullptr;  // cookie master keys; null: NTS requests are dropped
  bool require_nts = false;              // `nts require`
  // NTS crypto for every worker (crypto::choose_nts_crypto); null: crypto::auto_nts_crypto().
  const crypto::NtsCrypto* crypto = nullptr;
  std::shared_ptr<const AccessTable> access;  // `restrict`; null: no restrictions
  RateLimitParams rate_limit;                 // `discard average/minimum`
  bool mode6 = false;  // queue ntpq (mode 6) requests for an ops thread (mode6_service.h); else drop them
};

class Worker;

class Server {
 public:
  // Opens every socket and starts the workers; nullptr and `error` on failure.
  static std::unique_ptr<Server> start(const ServerOptions& options, const ServerStateCell& state,
                                       const clock::Clock& clock, std::string* error);
  ~Server();

  void stop();  // joins the workers; idempotent
  uint16_t port() const { return port_; }
  const std::vector<Endpoint>& endpoints() const { return endpoints_; }
  int worker_count() const { return static_cast<int>(counters_.size()); }
  const char* backend_name() const { return backend_name_.c_str(); }
  // Why io_uring was not used when the backend was chosen automatically.
  const std::string& fallback_reason() const { return fallback_reason_; }
  CounterTotals totals() const;
  const WorkerCounters& worker_counters(int worker) const { return *counters_[worker]; }
  // A worker's rate-limit table (null without `restrict … limited`); lives as long as the Server.
  const RateLimiter* rate_limiter(int worker) const { return rate_limiters_[worker]; }
  // A worker's mode-6 queue and sockets (null unless ServerOptions::mode6); lives as long as the Server.
  Mode6Inbox* mode6_inbox(int worker) const { return mode6_ ? mode6_[worker].get() : nullptr; }

 private:
  Server() = default;
  struct Launch;

  uint16_t port_ = 0;
  std::vector<Endpoint> endpoints_;
  std::string backend_name_;
  std::string fallback_reason_;  // written before start() returns, read-only after
  std::vector<std::unique_ptr<WorkerCounters>> counters_;
  std::vector<const RateLimiter*> rate_limiters_;  // owned by the workers, which workers_ keeps alive
  std::vector<std::shared_ptr<Worker>> workers_;
  std::vector<std::vector<int>> worker_sockets_;
  std::unique_ptr<std::unique_ptr<Mode6Inbox>[]> mode6_;  // one per worker, with ServerOptions::mode6
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
};

}  // namespace ntsd::server
