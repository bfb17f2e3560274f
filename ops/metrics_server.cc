#include "ops/metrics_server.h"

#include <CivetServer.h>
#include <prometheus/exposer.h>

#include <exception>
#include <mutex>
#include <vector>

#include "config/address.h"
#include "ops/metrics.h"

namespace ntsd::ops {
namespace {

// civetweb reports why a start failed (bind errors, bad port spec) only
// through its log callback; the Exposer then throws a generic "possible
// problem binding to port". The callback has no user pointer before the
// context exists, so start-up messages go to one process-wide slot, guarded,
// and the first one becomes the start-up error.
std::mutex g_log_mutex;
std::string* g_start_log = nullptr;  // non-null only while start() runs

int civetweb_log(const mg_connection*, const char* message) {
  const std::lock_guard<std::mutex> lock(g_log_mutex);
  if (g_start_log != nullptr && g_start_log->empty()) *g_start_log = message;
  // Later messages (a client that hung up mid-request, ...) are dropped: not
  // worth a log line each, and civetweb would write them to stderr itself.
  return 1;
}

}  // namespace

class MetricsServer::Impl {
 public:
  std::unique_ptr<prometheus::Exposer> exposer;
  std::shared_ptr<StatusCollectable> collectable;
  std::string address;
  uint16_t port = 0;
};

std::string metrics_listen_text(const config::MetricsListen& listen) {
  const std::string host = config::address_text(listen.family, listen.address);
  return (listen.family == config::IpFamily::kIPv6 ? "[" + host + "]" : host) + ":" + std::to_string(listen.port);
}

std::unique_ptr<MetricsServer> MetricsServer::start(const config::MetricsListen& listen, std::string* error) {
  const std::string text = metrics_listen_text(listen);
  // Feature 8 is IPv6. Debian 12's civetweb 1.15 is built without it, and
  // would reject "[::1]:9123" as "invalid port spec": say what to do instead.
  if (listen.family == config::IpFamily::kIPv6 && mg_check_feature(8) == 0) {
    *error = "metrics " + text +
             ": the civetweb library serving /metrics was built without IPv6; use an IPv4 address such as "
             "127.0.0.1:" + std::to_string(listen.port);
    return nullptr;
  }
  static const CivetCallbacks callbacks = [] {
    CivetCallbacks c;
    c.log_message = civetweb_log;
    return c;
  }();
  // Two request threads are plenty for a scraper or two; a request that
  // stalls is cut after 10 s (civetweb's default is 30) so a stuck client
  // cannot hold both for long.
  const std::vector<std::string> options = {"listening_ports", text, "num_threads", "2", "request_timeout_ms",
                                            "10000"};
  auto impl = std::make_unique<Impl>();
  std::string start_log;
  {
    const std::lock_guard<std::mutex> lock(g_log_mutex);
    g_start_log = &start_log;
  }
  try {
    impl->exposer = std::make_unique<prometheus::Exposer>(options, &callbacks);
  } catch (const std::exception& e) {
    const std::lock_guard<std::mutex> lock(g_log_mutex);
    g_start_log = nullptr;
    *error = "metrics " + text + ": " + (start_log.empty() ? std::string(e.what()) : start_log);
    return nullptr;
  }
  {
    const std::lock_guard<std::mutex> lock(g_log_mutex);
    g_start_log = nullptr;
  }
  const std::vector<int> ports = impl->exposer->GetListeningPorts();
  impl->port = ports.empty() ? listen.port : static_cast<uint16_t>(ports.front());
  config::MetricsListen bound = listen;
  bound.port = impl->port;
  impl->address = metrics_listen_text(bound);
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() { stop(); }

void MetricsServer::serve(const StatusSource& source) {
  if (!impl_->exposer) return;
  impl_->collectable = std::make_shared<StatusCollectable>(source);
  impl_->exposer->RegisterCollectable(impl_->collectable);
}

void MetricsServer::stop() {
  // The Exposer's destructor joins civetweb's threads, so no Collect() can
  // still be reading the source once the collectable goes.
  impl_->exposer.reset();
  impl_->collectable.reset();
}

std::string MetricsServer::address() const { return impl_->address; }

uint16_t MetricsServer::port() const { return impl_->port; }

}  // namespace ntsd::ops
