#pragma once
// Internal to ke/: KeServer::Impl, shared by ke_server.cc (start, listen,
// reload, stop, counters), accept_loop.cc (admission) and session.cc (one
// connection). Not part of the API.

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ke/conn_table.h"
#include "ke/ke_server.h"
#include "ke/negotiate.h"
#include "ke/rate_limit.h"
#include "third_party/asio.h"

namespace ntsd::ke {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

enum Counter : size_t {
  kAccepted,
  kRefusedCap,
  kRefusedRate,
  kRefusedRateTableFull,
  kRefusedPerAddress,
  kEvicted,
  kAcceptErrors,
  kFirstByteTimeout,
  kHandshakesOk,
  kHandshakeTls,
  kHandshakeTimeout,
  kHandshakeAlpn,
  kTls13,
  kTls12,
  kRequestTimeout,
  kRequestTruncated,
  kRespCookies,
  kRespNoProtocol,
  kRespNoAead,
  kRespInternal,
  kCookiesIssued,
  kAead15,
  kAead16,
  kAead17,
  kAead30,
  kReloadsOk,
  kReloadsFailed,
  kCounterCount,
};

constexpr size_t kRequestErrorKinds = 10;

class KeServer::Impl {
 public:
  Impl(const KeOptions& options, crypto::KeyPublisher& keys)
      : opts(options), keys(keys), limiter(options.rate_limit), table(connection_limits(options)) {}

  void count(Counter c, uint64_t n = 1) { counters[c].fetch_add(n, std::memory_order_relaxed); }
  uint64_t get(Counter c) const { return counters[c].load(std::memory_order_relaxed); }
  void log(LogLevel level, const std::string& line) const {
    if (opts.log) opts.log(level, line);
  }
  std::shared_ptr<ssl::context> context() const {
    std::lock_guard lock(ctx_mu);
    return ctx;
  }
  static ConnectionLimits connection_limits(const KeOptions& o) {
    return {.max_total = o.max_connections > 0 ? o.max_connections
                                               : default_max_connections(open_file_limit()),
            .max_per_address = o.max_per_address};
  }

  // ke_server.cc
  bool init(std::string* error);
  bool listen(std::string* error);
  void schedule_poll();
  bool do_reload(std::string* error);
  void shutdown();
  // accept_loop.cc
  void accept(size_t a);
  void on_accept(size_t a, size_t k, const error_code& ec, tcp::socket socket);
  void on_accept_error(size_t a, const error_code& ec);
  void schedule_pressure_report();

  KeOptions opts;
  crypto::KeyPublisher& keys;
  NegotiationPolicy policy;
  KeRateLimiter limiter;
  ConnectionTable table;
  std::vector<std::string> warnings;
  uint16_t bound_port = 0;

  std::vector<std::unique_ptr<asio::io_context>> ios;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  std::vector<crypto::SnapshotPublisherBase::ReaderId>
      readers;                                            // one per io_context (one thread each)
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;  // on ios[0]
  std::vector<std::unique_ptr<asio::steady_timer>>
      retry_timers;                                     // per acceptor, after accept errors
  std::unique_ptr<asio::steady_timer> poll_timer;       // on ios[0]
  std::unique_ptr<asio::steady_timer> pressure_timer;   // on ios[0]
  std::array<uint64_t, kCounterCount> pressure_seen{};  // counters at the last pressure report
  std::string last_accept_error;                        // for the pressure report (ios[0] only)

  mutable std::mutex ctx_mu;
  std::shared_ptr<ssl::context> ctx;  // what new connections get
  std::mutex reload_mu;               // one reload at a time
  FileStamp cert_stamp, key_stamp;    // of the files ctx was built from (or last tried)

  std::atomic<size_t> next_io{0};
  std::atomic<size_t> next_server{0};
  std::array<std::atomic<uint64_t>, kCounterCount> counters{};
  std::array<std::atomic<uint64_t>, kRequestErrorKinds> request_errors{};
  bool stopped = false;
};

}  // namespace ntsd::ke
