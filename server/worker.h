#pragma once
// One worker: a thin shell around respond(). Receive a batch, answer each
// packet with the pure request path, stamp the transmit time, send the batch.
#include <atomic>
#include <memory>
#include <vector>

#include "clock/clock.h"
#include "server/counters.h"
#include "server/packet_io.h"
#include "server/server_state.h"

namespace ntsd::server {

constexpr size_t kBatchSize = 64;

class Worker {
 public:
  Worker(std::unique_ptr<PacketIo> io, const ServerStateCell& state, const clock::Clock& clock,
         WorkerCounters& counters);
  // Serves until `stop` becomes true (checked at least every 100 ms).
  void run(const std::atomic<bool>& stop);
  // One receive → respond → send round; returns the number of datagrams handled.
  size_t run_once(int timeout_ms);

 private:
  std::unique_ptr<PacketIo> io_;
  const ServerStateCell& state_;
  const clock::Clock& clock_;
  WorkerCounters& counters_;
  std::vector<RxPacket> rx_;
  std::vector<TxPacket> tx_;
  std::vector<std::array<uint8_t, kMaxDatagram>> reply_buffers_;
};

}  // namespace ntsd::server
