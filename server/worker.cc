#include "server/worker.h"

#include "proto/mode6.h"
#include "proto/ntp_time.h"

namespace ntsd::server {

Worker::Worker(std::unique_ptr<PacketIo> io, const WorkerShared& shared, WorkerCounters& counters)
    : io_(std::move(io)),
      shared_(shared),
      counters_(counters),
      responder_(shared.crypto != nullptr ? *shared.crypto : crypto::auto_nts_crypto()),
      gate_(shared.access, shared.rate_limit),
      rx_(kBatchSize),
      requests_(kBatchSize),
      replies_(kBatchSize),
      rx_index_(kBatchSize),
      tx_(kBatchSize),
      reply_buffers_(kBatchSize) {
  if (shared_.keys != nullptr) reader_ = shared_.keys->register_reader();
  if (shared_.mode6 != nullptr) mode6_gate_ = std::make_unique<Mode6Gate>(shared_.access);
}

Worker::~Worker() {
  if (reader_ != crypto::SnapshotPublisherBase::kNoReader) shared_.keys->unregister_reader(reader_);
}

void Worker::run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) run_once(100);
}

size_t Worker::run_once(int timeout_ms) {
  const bool has_keys = reader_ != crypto::SnapshotPublisherBase::kNoReader;
  // One relaxed store per round, not per packet; a worker stuck anywhere in
  // its loop stops counting, and systemd's watchdog stops being fed (daemon/systemd.cc).
  counters_.heartbeats.add();
  const size_t received = io_->receive_batch(rx_, timeout_ms);
  if (received == 0) {
    if (has_keys) shared_.keys->quiescent(reader_);
    return 0;
  }
  // One state snapshot, one key snapshot and one clock read per batch.
  const ServerState state = shared_.state->load();
  const NtsPolicy nts{has_keys ? shared_.keys->load() : nullptr, shared_.require_nts};
  const int64_t batch_time_ns = shared_.clock->now_unix_ns();
  size_t count = 0;
  for (size_t i = 0; i < received; ++i) {
    const RxPacket& packet = rx_[i];
    counters_.received.add();
    counters_.bytes_in.add(packet.payload.size());
    if (packet.truncated) {
      counters_.count_drop(DropReason::kTruncated);
      continue;
    }
    const int64_t rx_ns = packet.rx_unix_ns != 0 ? packet.rx_unix_ns : batch_time_ns;
    if (mode6_gate_ != nullptr && !packet.payload.empty() && proto::is_mode6(packet.payload[0])) {
      // ntpq: check and hand over; the ops thread answers off this core.
      auto drop = mode6_gate_->check(packet.peer, packet.payload, rx_ns);
      if (!drop && !shared_.mode6->queue.try_push(packet.payload, packet.peer, packet.peer_len,
                                                   packet.socket_index)) {
        drop = DropReason::kMode6QueueFull;
      }
      if (drop) {
        counters_.count_drop(*drop);
      } else {
        counters_.mode6_queued.add();
      }
      continue;
    }
    const Admission admission = gate_.check(packet.peer, packet.payload, rx_ns);
    if (admission.admit == Admit::kDrop) {
      counters_.count_drop(admission.reason);
      continue;
    }
    requests_[count] = {packet.payload, proto::ntp_from_unix_ns(rx_ns),
                        admission.admit == Admit::kServeNtsOnly,
                        admission.admit == Admit::kKissRate};
    replies_[count] = {std::span<uint8_t>(reply_buffers_[count].data(), packet.payload.size()), {}};
    rx_index_[count] = i;
    ++count;
  }
  responder_.prepare(std::span(requests_.data(), count), state, nts, std::span(replies_.data(), count));
  // The transmit timestamp is taken as late as possible: after parsing and
  // authenticating, just before sealing (NTS authenticates it) and sending.
  responder_.finish(proto::ntp_from_unix_ns(shared_.clock->now_unix_ns()),
                    std::span(replies_.data(), count));
  size_t sends = 0;
  for (size_t k = 0; k < count; ++k) {
    const Verdict& verdict = replies_[k].verdict;
    if (!verdict.is_reply()) {
      counters_.count_drop(verdict.reason);
      continue;
    }
    counters_.count_reply(verdict);
    const RxPacket& packet = rx_[rx_index_[k]];
    tx_[sends++] = {replies_[k].buffer.first(verdict.reply_size), packet.peer, packet.peer_len,
                    packet.socket_index};
    counters_.bytes_out.add(verdict.reply_size);
  }
  io_->send_batch(std::span<const TxPacket>(tx_.data(), sends));
  io_->release_batch();
  // The key snapshot is not used past this point: let the writer reclaim.
  if (has_keys) shared_.keys->quiescent(reader_);
  counters_.replied.add(sends);
  counters_.send_errors.add(io_->take_send_errors());
  counters_.batches.add();
  return received;
}

}  // namespace ntsd::server
