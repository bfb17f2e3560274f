#pragma once
// The HTTP side of /metrics: prometheus-cpp's Exposer (civetweb threads).
// Bound at start-up, before privileges are dropped; serves nothing until
// serve() hands it the status source.
#include <cstdint>
#include <memory>
#include <string>

#include "config/config.h"
#include "ops/status.h"

namespace ntsd::ops {

class MetricsServer {
 public:
  // Binds `listen` and starts the HTTP threads; null with `error` set (what civetweb said) if not.
  static std::unique_ptr<MetricsServer> start(const config::MetricsListen& listen, std::string* error);
  ~MetricsServer();  // stop()
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // From now on each scrape of /metrics collects `source` (which must outlive stop()).
  void serve(const StatusSource& source);
  // Stops the HTTP threads; no scrape runs after it returns. Idempotent.
  void stop();
  // "127.0.0.1:9123" / "[::1]:9123" as bound (the real port when 0 was asked).
  std::string address() const;
  uint16_t port() const;

  class Impl;

 private:
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The listen address as civetweb's listening_ports text ("127.0.0.1:9123", "[::1]:9123").
std::string metrics_listen_text(const config::MetricsListen& listen);

}  // namespace ntsd::ops
