#pragma once
// The daemon's ops::StatusSource: reads the running server, NTS service and
// upstream client. Workers are only read through their relaxed counters.
#include <cstdint>

#include "clock/client.h"
#include "daemon/nts_service.h"
#include "ops/status.h"
#include "server/server.h"

namespace ntsd::daemon {

class StatusCollector final : public ops::StatusSource {
 public:
  // Any of nts/upstream may be null (NTS off, no upstream). All must outlive this.
  StatusCollector(const server::Server& server, const server::ServerStateCell& served, NtsService* nts,
                  const clock::UpstreamClient* upstream);
  ops::DaemonStatus collect() const override;
  ops::ClientsSection clients(size_t limit) const override;

 private:
  const server::Server& server_;
  const server::ServerStateCell& served_;
  NtsService* nts_;
  const clock::UpstreamClient* upstream_;
  int64_t started_unix_ns_;
  ops::BuildInfo build_;
};

}  // namespace ntsd::daemon
