#pragma once
// A worker's hand-off of mode-6 (ntpq) requests to the ops thread: a bounded
// single-producer single-consumer ring of fixed slots, allocated once. The
// worker pushes (a copy of at most kMode6MaxRequest bytes, no allocation, no
// lock, no syscall) and never waits: a full ring drops the request. The ops
// thread pops, answers and sends the reply on the worker's socket itself.
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "proto/mode6.h"

namespace ntsd::server {

struct Mode6Datagram {
  std::array<uint8_t, proto::kMode6MaxRequest> bytes;
  uint16_t size = 0;
  uint16_t socket_index = 0;  // which of the worker's sockets it came in on
  socklen_t peer_len = 0;
  sockaddr_storage peer;
  std::span<const uint8_t> payload() const { return {bytes.data(), size}; }
};

class Mode6Queue {
 public:
  explicit Mode6Queue(size_t capacity_pow2 = 64) : slots_(capacity_pow2), mask_(capacity_pow2 - 1) {}

  // Producer (the worker). False when full or the datagram does not fit.
  bool try_push(std::span<const uint8_t> payload, const sockaddr* peer, socklen_t peer_len,
                uint16_t socket_index) {
    if (payload.size() > proto::kMode6MaxRequest || peer_len > sizeof(sockaddr_storage)) return false;
    const size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_.load(std::memory_order_acquire) > mask_) return false;
    Mode6Datagram& slot = slots_[tail & mask_];
    std::memcpy(slot.bytes.data(), payload.data(), payload.size());
    slot.size = static_cast<uint16_t>(payload.size());
    slot.socket_index = socket_index;
    std::memcpy(&slot.peer, peer, peer_len);
    slot.peer_len = peer_len;
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Consumer (the ops thread). Copies the oldest datagram out; false if empty.
  bool try_pop(Mode6Datagram* out) {
    const size_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_.load(std::memory_order_acquire)) return false;
    *out = slots_[head & mask_];
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

 private:
  std::vector<Mode6Datagram> slots_;
  size_t mask_;
  alignas(64) std::atomic<size_t> head_{0};  // next to pop; written by the consumer
  alignas(64) std::atomic<size_t> tail_{0};  // next to fill; written by the producer
};

struct WorkerCounters;

// One worker's queue, the sockets a reply may leave by (index = socket_index)
// and the worker's counters, whose mode6_answered/refused/send_errors the
// ops thread alone writes.
struct Mode6Inbox {
  Mode6Queue queue;
  std::vector<int> sockets;
  WorkerCounters* counters = nullptr;
};

}  // namespace ntsd::server
