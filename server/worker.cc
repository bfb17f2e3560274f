#include "server/worker.h"

#include "proto/mode6.h"
#include "proto/ntp_time.h"

namespace ntsd::server {

NtpResponder::NtpResponder(const ServerStateCell& state, crypto::KeyPublisher* keys,
                           const crypto::NtsCrypto& crypto, bool require_nts)
    : state_(state), keys_(keys), require_nts_(require_nts), responder_(crypto) {
  if (keys_ != nullptr) reader_ = keys_->register_reader();
}

NtpResponder::~NtpResponder() {
  if (reader_ != crypto::SnapshotPublisherBase::kNoReader) keys_->unregister_reader(reader_);
}

void NtpResponder::prepare(std::span<const Request> requests, std::span<Reply> replies) {
  // One state snapshot and one key snapshot per batch.
  const bool has_keys = reader_ != crypto::SnapshotPublisherBase::kNoReader;
  const NtsPolicy nts{has_keys ? keys_->load() : nullptr, require_nts_};
  responder_.prepare(requests, state_.load(), nts, replies);
}

void NtpResponder::finish(proto::NtpTimestamp tx_time, std::span<Reply> replies) {
  responder_.finish(tx_time, replies);
}

void NtpResponder::idle() {
  // The key snapshot is not used past this point: let the writer reclaim.
  if (reader_ != crypto::SnapshotPublisherBase::kNoReader) keys_->quiescent(reader_);
}

Worker::Worker(std::unique_ptr<PacketIo> io, std::unique_ptr<Responder> responder, const WorkerOptions& options,
               WorkerCounters& counters)
    : io_(std::move(io)),
      responder_(std::move(responder)),
      options_(options),
      counters_(counters),
      gate_(options.access, options.rate_limit) {
  if (options_.mode6 != nullptr) mode6_gate_ = std::make_unique<Mode6Gate>(options_.access);
}

Worker::~Worker() = default;

void Worker::run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) run_once(100);
}

size_t Worker::run_once(int timeout_ms) {
  // One relaxed store per round, not per packet; a worker stuck anywhere in
  // its loop stops counting, and systemd's watchdog stops being fed (daemon/systemd.cc).
  counters_.heartbeats.add();
  const size_t received = io_->receive_batch(rx_, timeout_ms);
  if (received == 0) {
    responder_->idle();
    return 0;
  }
  // One clock read for the batch: the receive stamp of a datagram the kernel did not stamp.
  const int64_t batch_time_ns = options_.clock->now_unix_ns();
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
      if (!drop && !options_.mode6->queue.try_push(packet.payload, packet.peer, packet.peer_len,
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
    requests_[count] = {packet.payload, proto::ntp_from_unix_ns(rx_ns), admission.admit == Admit::kServeNtsOnly,
                        admission.admit == Admit::kKissRate};
    rx_index_[count] = static_cast<uint16_t>(i);
    ++count;
  }
  // Replies are written straight into the backend's send buffers (a reply is
  // never longer than its request, and no request is longer than kMaxDatagram).
  io_->lend_send_buffers(std::span(lent_.data(), count));
  for (size_t k = 0; k < count; ++k) {
    replies_[k] = {lent_[k].first(requests_[k].bytes.size()), {}};
  }
  responder_->prepare(std::span(requests_.data(), count), std::span(replies_.data(), count));
  // The transmit timestamp is taken as late as possible: after parsing and
  // authenticating, just before sealing (NTS authenticates it) and sending.
  responder_->finish(proto::ntp_from_unix_ns(options_.clock->now_unix_ns()), std::span(replies_.data(), count));
  size_t sends = 0;
  for (size_t k = 0; k < count; ++k) {
    const Verdict& verdict = replies_[k].verdict;
    if (!verdict.is_reply()) {
      counters_.count_drop(verdict.reason);
      continue;
    }
    counters_.count_reply(verdict);
    const RxPacket& packet = rx_[rx_index_[k]];
    tx_[sends++] = {replies_[k].buffer.first(verdict.reply_size), packet.peer, packet.peer_len, packet.socket_index,
                    static_cast<uint16_t>(k)};
    counters_.bytes_out.add(verdict.reply_size);
  }
  io_->send_batch(std::span<const TxPacket>(tx_.data(), sends));
  io_->release_batch();
  responder_->idle();
  counters_.replied.add(sends);
  counters_.send_errors.add(io_->take_send_errors());
  counters_.batches.add();
  return received;
}

}  // namespace ntsd::server
