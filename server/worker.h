#pragma once
// One worker: a thin shell around a Responder. Receive a batch, admit it
// (restrict, rate limits, mode 6 hand-over), answer it into buffers the I/O
// backend lends, stamp the transmit time as late as possible, send the batch.
// A Worker is built on the thread that runs it (Server::start), so its rings,
// buffers, scratch and rate table are first touched on its own core.
#include <array>
#include <atomic>
#include <memory>
#include <span>
#include <string>
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

// What a worker answers with, a batch at a time: NtpResponder (ntsd), or the
// reflector's bare echo (bench/reflector_lib.h), the kernel's ceiling.
class Responder {
 public:
  virtual ~Responder() = default;
  // Phase 1: replies[i] answers requests[i]; each reply buffer is a lent
  // send buffer at least as long as its request.
  virtual void prepare(std::span<const Request> requests, std::span<Reply> replies) = 0;
  // Phase 2, just before sending: stamp the transmit time (and seal).
  virtual void finish(proto::NtpTimestamp tx_time, std::span<Reply> replies) = 0;
  // The batch is sent, or none came: let go of what the batch held.
  virtual void idle() {}
};

// ntsd's responder: BatchResponder with one ServerState snapshot and one
// cookie-key snapshot per batch (the key snapshot released in idle()).
// Cache-line aligned: its nonce source is written every NTS batch, so no other
// worker's object may share its lines, whichever thread allocated them.
class alignas(64) NtpResponder final : public Responder {
 public:
  // `keys` null: NTS off. `crypto` must outlive the responder.
  NtpResponder(const ServerStateCell& state, crypto::KeyPublisher* keys, const crypto::NtsCrypto& crypto,
               bool require_nts);
  ~NtpResponder() override;
  // False when NTS is on but every key-reader slot was taken (the server refuses to start).
  bool has_key_reader() const { return keys_ == nullptr || reader_ != crypto::SnapshotPublisherBase::kNoReader; }
  // Its key-reader slot (kNoReader without NTS).
  crypto::SnapshotPublisherBase::ReaderId key_reader() const { return reader_; }

  void prepare(std::span<const Request> requests, std::span<Reply> replies) override;
  void finish(proto::NtpTimestamp tx_time, std::span<Reply> replies) override;
  void idle() override;

 private:
  const ServerStateCell& state_;
  crypto::KeyPublisher* keys_;
  bool require_nts_;
  crypto::SnapshotPublisherBase::ReaderId reader_ = crypto::SnapshotPublisherBase::kNoReader;
  BatchResponder responder_;
};

struct WorkerOptions {
  const clock::Clock* clock = nullptr;
  std::shared_ptr<const AccessTable> access;  // `restrict` lines; null: none
  RateLimitParams rate_limit;                 // `discard`
  Mode6Inbox* mode6 = nullptr;  // this worker's queue to the ntpq responder; null: mode 6 is dropped
};

// Cache-line aligned: its batch arrays are written every round, so no other
// worker's object may share its lines, whichever thread allocated them.
class alignas(64) Worker {
 public:
  // `io` is started already, on this thread (open_packet_io).
  Worker(std::unique_ptr<PacketIo> io, std::unique_ptr<Responder> responder, const WorkerOptions& options,
         WorkerCounters& counters);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  // Serves until `stop` becomes true (checked at least every 100 ms).
  void run(const std::atomic<bool>& stop);
  // One receive → respond → send round; returns the number of datagrams handled.
  size_t run_once(int timeout_ms);
  // The worker's `limited` table (null without one), for RateLimiter::busiest() from other threads.
  const RateLimiter* rate_limiter() const { return gate_.rate_limiter(); }
  const char* backend_name() const { return io_->name(); }

 private:
  std::unique_ptr<PacketIo> io_;
  std::unique_ptr<Responder> responder_;
  WorkerOptions options_;
  WorkerCounters& counters_;
  Gate gate_;
  std::unique_ptr<Mode6Gate> mode6_gate_;  // only with options_.mode6
  std::array<RxPacket, kBatchSize> rx_{};
  std::array<Request, kBatchSize> requests_{};
  std::array<Reply, kBatchSize> replies_{};
  std::array<uint16_t, kBatchSize> rx_index_{};  // replies_[k] answers rx_[rx_index_[k]]
  std::array<std::span<uint8_t>, kBatchSize> lent_{};
  std::array<TxPacket, kBatchSize> tx_{};
};

}  // namespace ntsd::server
