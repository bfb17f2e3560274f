#pragma once
// One ntsbench load thread: its own connected UDP socket, requests batched
// with sendmmsg (runs of equal-length requests as one UDP GSO write each) and
// replies with recvmmsg, closed loop (a window of requests outstanding) or
// open loop (paced to a rate), every reply verified. NTS requests are sealed
// and replies opened a batch per crypto::NtsCrypto call (clock/nts_codec.h's
// seal_nts_requests / verify_nts_replies). Bounded by a deadline and
// optionally a request count; after the deadline it waits up to one timeout
// for the replies still outstanding.
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/latency_histogram.h"
#include "clock/nts_codec.h"
#include "crypto/nts_crypto.h"
#include "server/udp_socket.h"

namespace ntsd::bench {

struct LoadConfig {
  server::Endpoint server;              // address and port
  std::optional<server::Endpoint> bind;  // local address (spreads source addresses over workers)
  bool plain = false;                 // plain NTP; else NTS with the thread's sessions
  size_t plain_size = 48;             // plain: request length (> 48: one padding extension field)
  uint32_t window = 256;              // closed loop: requests outstanding (used when rate == 0)
  double rate = 0;                    // open loop: requests per second for this thread
  int64_t duration_ns = 10'000'000'000;
  int64_t timeout_ns = 1'000'000'000;
  uint64_t max_requests = 0;          // 0: bounded by the duration only
  const crypto::NtsCrypto* crypto = nullptr;  // NTS seals and opens, a batch per call (null: auto)
  bool gso = true;  // equal-length requests in one UDP GSO write (UDP_SEGMENT), when the kernel can
};

// Written by the load thread only, read by the progress reporter at any time.
struct LoadCounters {
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> verified{0};
  std::atomic<uint64_t> failed{0};        // a reply to our request that did not verify
  std::atomic<uint64_t> naks{0};
  std::atomic<uint64_t> kods{0};
  std::atomic<uint64_t> timeouts{0};      // no reply within the timeout (lost)
  std::atomic<uint64_t> late{0};          // a reply after its request timed out, or unmatched
  std::atomic<uint64_t> reused_cookies{0};
  std::atomic<uint64_t> send_errors{0};   // sendmmsg failed, or a request could not be sealed
  std::atomic<uint64_t> slots_exhausted{0};  // open loop: could not keep the rate (too many outstanding)
};

class LoadThread {
 public:
  LoadThread(const LoadConfig& config, std::vector<clock::NtsSession> sessions);
  ~LoadThread();
  LoadThread(const LoadThread&) = delete;
  LoadThread& operator=(const LoadThread&) = delete;

  // Creates and connects the socket; false with *error on failure.
  bool open(std::string* error);
  // Runs the load until the deadline (measured from the call) and the drain.
  void run();
  // Asks run() to stop sending now (then it drains); safe from any thread.
  void stop() { stop_.store(true, std::memory_order_relaxed); }

  const LoadCounters& counters() const { return counters_; }
  const LatencyHistogram& latency() const { return latency_; }  // read after run() returns

 private:
  struct Slot;
  struct Client;
  struct Batch;
  size_t send_some(int64_t now_ns, size_t count);
  int send_built(size_t built);
  size_t receive_some(int64_t& now_ns);
  void expire(int64_t now_ns);
  uint32_t match(std::span<const uint8_t> reply) const;
  void settle(uint32_t slot_index, clock::ReplyVerdict verdict, int64_t now_ns);
  void release(uint32_t slot_index);
  void grow_fifo(size_t needed);  // to at least `needed` entries, keeping their order
  size_t sendable(int64_t now_ns, int64_t start_ns) const;

  LoadConfig config_;
  const crypto::NtsCrypto& crypto_;
  int64_t realtime_offset_ns_ = 0;  // CLOCK_REALTIME - CLOCK_MONOTONIC, read once per run
  int fd_ = -1;
  bool gso_ = false;  // config_.gso, and the kernel takes UDP_SEGMENT
  size_t plain_padded_ = 0;  // plain request length with --plain-size padding (0: none)
  std::vector<Client> clients_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  std::vector<uint64_t> fifo_;  // (slot << 16 | generation) in send order, for timeouts
  size_t fifo_head_ = 0, fifo_size_ = 0;
  size_t next_client_ = 0;
  uint64_t outstanding_ = 0;
  std::unique_ptr<Batch> batch_;
  LoadCounters counters_;
  LatencyHistogram latency_;
  std::atomic<bool> stop_{false};
};

}  // namespace ntsd::bench
