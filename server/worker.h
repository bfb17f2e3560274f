#pragma once
// One worker: a thin shell around the request path. Receive a batch, answer
// it with BatchResponder (plain and NTS), stamp the transmit time as late as
// possible, send the batch.
#include <array>
#include <atomic>
#include <memory>
#include <vector>

#include "clock/clock.h"
#include "crypto/key_snapshot.h"
#include "crypto/nts_crypto.h"
#include "server/admission.h"
#include "server/batch_responder.h"
#include "server/counters.h"
#include "server/mode6_gate.h"
#include "server/mode6_queue.h"
#include "server/packet_io.h"
#include "server/server_state.h"

namespace ntsd::server {

constexpr size_t kBatchSize = kMaxBatch;

struct WorkerShared {
  const ServerStateCell* state = nullptr;
  const clock::Clock* clock = nullptr;
  crypto::KeyPublisher* keys = nullptr;  // null: NTS off
  const crypto::NtsCrypto* crypto = nullptr;  // the NTS crypto implementation (Server::start's choice)
  bool require_nts = false;
  std::shared_ptr<const AccessTable> access;  // `restrict` lines; null: none
  RateLimitParams rate_limit;                 // `discard`
  Mode6Inbox* mode6 = nullptr;  // this worker's queue to the ntpq responder; null: mode 6 is dropped
};

class Worker {
 public:
  Worker(std::unique_ptr<PacketIo> io, const WorkerShared& shared, WorkerCounters& counters);
  ~Worker();
  // Serves until `stop` becomes true (checked at least every 100 ms).
  void run(const std::atomic<bool>& stop);
  // One receive → respond → send round; returns the number of datagrams handled.
  size_t run_once(int timeout_ms);
  // False when NTS is on but every key-reader slot was taken (the server refuses to start).
  bool has_key_reader() const {
    return shared_.keys == nullptr || reader_ != crypto::SnapshotPublisherBase::kNoReader;
  }
  // The worker's `limited` table (null without one), for RateLimiter::busiest() from other threads.
  const RateLimiter* rate_limiter() const { return gate_.rate_limiter(); }

 private:
  std::unique_ptr<PacketIo> io_;
  WorkerShared shared_;
  WorkerCounters& counters_;
  crypto::SnapshotPublisherBase::ReaderId reader_ = crypto::SnapshotPublisherBase::kNoReader;
  BatchResponder responder_;
  Gate gate_;
  std::unique_ptr<Mode6Gate> mode6_gate_;  // only with shared_.mode6
  std::vector<RxPacket> rx_;
  std::vector<Request> requests_;
  std::vector<Reply> replies_;
  std::vector<size_t> rx_index_;  // replies_[k] answers rx_[rx_index_[k]]
  std::vector<TxPacket> tx_;
  std::vector<std::array<uint8_t, kMaxDatagram>> reply_buffers_;
};

}  // namespace ntsd::server
