#include "server/worker.h"

#include "proto/ntp_time.h"
#include "server/respond.h"

namespace ntsd::server {

Worker::Worker(std::unique_ptr<PacketIo> io, const ServerStateCell& state,
               const clock::Clock& clock, WorkerCounters& counters)
    : io_(std::move(io)),
      state_(state),
      clock_(clock),
      counters_(counters),
      rx_(kBatchSize),
      tx_(kBatchSize),
      reply_buffers_(kBatchSize) {}

void Worker::run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) run_once(100);
}

size_t Worker::run_once(int timeout_ms) {
  const size_t received = io_->receive_batch(rx_, timeout_ms);
  if (received == 0) {
    // A round can end with no datagram but with a finished multishot
    // receive (e.g. the buffer ring ran dry): release re-arms it.
    io_->release_batch();
    return 0;
  }
  // One snapshot and one clock read per batch, not per packet.
  const ServerState state = state_.load();
  const int64_t batch_time_ns = clock_.now_unix_ns();
  size_t replies = 0;
  for (size_t i = 0; i < received; ++i) {
    const RxPacket& packet = rx_[i];
    counters_.received.add();
    counters_.bytes_in.add(packet.payload.size());
    if (packet.truncated) {
      counters_.count_drop(DropReason::kTruncated);
      continue;
    }
    const int64_t rx_ns = packet.rx_unix_ns != 0 ? packet.rx_unix_ns : batch_time_ns;
    std::span<uint8_t> out(reply_buffers_[replies].data(), packet.payload.size());
    const Verdict verdict = respond(packet.payload, proto::ntp_from_unix_ns(rx_ns), state, out);
    if (!verdict.is_reply()) {
      counters_.count_drop(verdict.reason);
      continue;
    }
    tx_[replies] = {out.first(verdict.reply_size), packet.peer, packet.peer_len,
                    packet.socket_index};
    ++replies;
  }
  // The transmit timestamp is taken as late as possible: after all the
  // batch's work, just before the replies go to the kernel.
  const proto::NtpTimestamp tx_time = proto::ntp_from_unix_ns(clock_.now_unix_ns());
  for (size_t i = 0; i < replies; ++i) {
    stamp_transmit(std::span<uint8_t>(reply_buffers_[i].data(), tx_[i].payload.size()), tx_time);
    counters_.bytes_out.add(tx_[i].payload.size());
  }
  io_->send_batch(std::span<const TxPacket>(tx_.data(), replies));
  io_->release_batch();
  counters_.replied.add(replies);
  counters_.send_errors.add(io_->take_send_errors());
  counters_.batches.add();
  return received;
}

}  // namespace ntsd::server
