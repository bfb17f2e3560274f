#include "daemon/status_collector.h"

#include <arpa/inet.h>
#include <time.h>

#include <algorithm>

namespace ntsd::daemon {
namespace {

int64_t unix_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::string client_address(const server::ClientKey& key) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (key.is_ipv4()) {
    inet_ntop(AF_INET, key.bytes.data() + 12, text, sizeof(text));
  } else {
    inet_ntop(AF_INET6, key.bytes.data(), text, sizeof(text));
  }
  return text;
}

}  // namespace

StatusCollector::StatusCollector(const server::Server& server, const server::ServerStateCell& served,
                                 NtsService* nts, const clock::UpstreamClient* upstream)
    : server_(server), served_(served), nts_(nts), upstream_(upstream), started_unix_ns_(unix_now_ns()),
      build_(ops::build_info()) {}

ops::DaemonStatus StatusCollector::collect() const {
  ops::DaemonStatus status;
  status.now_unix_ns = unix_now_ns();
  status.started_unix_ns = started_unix_ns_;
  status.build = build_;
  status.served = served_.load();

  ops::ServerSection& s = status.server;
  for (int w = 0; w < server_.worker_count(); ++w) {
    server::CounterTotals one;
    one.add(server_.worker_counters(w));
    s.total.add(server_.worker_counters(w));
    s.workers.push_back(one);
  }
  for (const auto& endpoint : server_.endpoints()) s.endpoints.push_back(endpoint.to_string());
  s.io_backend = server_.backend_name();
  s.port = server_.port();

  if (nts_ != nullptr) {
    ops::NtsSection n;
    n.ke = nts_->ke().counters();
    n.ke_port = nts_->ke().port();
    n.ke_threads = nts_->ke().threads();
    n.certificate = nts_->ke().certificate_subject();
    const crypto::KeyRing& ring = nts_->ring();
    n.keys.current_epoch = nts_->current_key_epoch();
    n.keys.rotate_seconds = ring.rotation_seconds();
    n.keys.next_rotation_unix = (n.keys.current_epoch + 1) * ring.rotation_seconds();
    n.keys.retention_epochs = ring.retention_epochs();
    status.nts = std::move(n);
  }
  if (upstream_ != nullptr) {
    ops::ClockSection c;
    c.sources = upstream_->sources();
    c.system = upstream_->system();
    c.discipline = upstream_->discipline();
    status.clock = std::move(c);
  }
  return status;
}

// Each worker's table gives its own top `limit`; a client lives in exactly
// one worker's table (steering by source address), so the merged top is exact.
ops::ClientsSection StatusCollector::clients(size_t limit) const {
  ops::ClientsSection out;
  for (int w = 0; w < server_.worker_count(); ++w) {
    const server::RateLimiter* table = server_.rate_limiter(w);
    if (table == nullptr) continue;
    out.tracked = true;
    const server::RateLimiterStats stats = table->stats();
    out.entries += stats.entries;
    out.capacity += stats.capacity;
    out.evictions += stats.evictions;
    for (const server::ClientActivity& c : table->busiest(limit)) {
      out.busiest.push_back({client_address(c.key), w, c.requests, c.limited, c.kod, c.first_ns, c.last_ns, c.leak,
                             table->limit_s()});
    }
  }
  std::stable_sort(out.busiest.begin(), out.busiest.end(),
                   [](const ops::ClientRow& a, const ops::ClientRow& b) { return a.requests > b.requests; });
  if (out.busiest.size() > limit) out.busiest.resize(limit);
  return out;
}

}  // namespace ntsd::daemon
