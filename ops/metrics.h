#pragma once
// Prometheus metrics: one DaemonStatus rendered as metric families at scrape
// time. ntpd-rs's names where they overlap (ntp_system_*, ntp_source_*,
// ntp_server_*_packets_total), ntsd_* for the rest (per-worker counters, drops
// and NAKs by reason, cookie opens by key age, NTS-KE, cookie keys, discipline,
// build info).
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "ops/status.h"

namespace ntsd::ops {

// Every metric family of one snapshot, in a stable order.
std::vector<prometheus::MetricFamily> metric_families(const DaemonStatus& status);

// Collects `source` on every Collect() (each scrape); `source` must outlive it.
class StatusCollectable final : public prometheus::Collectable {
 public:
  explicit StatusCollectable(const StatusSource& source) : source_(source) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const StatusSource& source_;
};

}  // namespace ntsd::ops
