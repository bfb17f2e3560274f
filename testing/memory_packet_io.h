#pragma once
// An in-memory server::PacketIo for Worker tests: the test queues datagrams,
// the worker receives them in batches and its replies are recorded instead of
// sent. It checks the PacketIo contract (server/packet_io.h) as the worker
// uses it and records every breach in violations(), which a test expects
// empty:
//  - start() before the first receive_batch();
//  - release_batch() after every batch received, before the next receive;
//  - no more buffers asked of lend_send_buffers() than the backend has, and no
//    second lend before send_batch() took the first back;
//  - every payload handed to send_batch() lies inside the buffer the last
//    lend_send_buffers() lent under its TxPacket::buffer (replies are written
//    in place, never copied), is not empty and has a peer and a known socket.
// Received payloads and peers live in the backend's own buffers, as with the
// real backends, and are overwritten when released; lent buffers are filled
// with a poison byte, so a reply that leaves bytes unwritten shows it.
// Not thread-safe: queue and inspect between rounds.
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "server/packet_io.h"

namespace ntsd::testing {

struct Peer {
  sockaddr_storage address{};
  socklen_t length = 0;
  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&address); }
  std::string to_string() const;
  friend bool operator==(const Peer& a, const Peer& b);
};

// A peer from numeric text ("192.0.2.1", "2001:db8::1"); aborts on anything else.
Peer ipv4_peer(const char* address, uint16_t port);
Peer ipv6_peer(const char* address, uint16_t port);

// One datagram to deliver.
struct Datagram {
  std::vector<uint8_t> payload;  // over kMaxDatagram: cut to it and marked truncated, as MSG_TRUNC
  Peer peer = ipv4_peer("192.0.2.1", 40000);
  int64_t rx_unix_ns = 0;  // the kernel's receive stamp; 0: none
  uint16_t socket_index = 0;
  bool truncated = false;
};

// One reply the worker sent.
struct SentDatagram {
  std::vector<uint8_t> payload;
  Peer peer;
  uint16_t socket_index = 0;
  uint16_t buffer = 0;      // TxPacket::buffer
  const uint8_t* data = nullptr;  // where the payload was (inside that lent buffer)
  size_t offset = 0;        // of the payload in that buffer
};

// How often each method was called, for tests of the worker's loop.
struct PacketIoCalls {
  size_t start = 0;
  size_t receive = 0;
  size_t empty_receive = 0;  // receive_batch() calls that returned 0
  size_t lend = 0;
  size_t send = 0;
  size_t release = 0;
  int last_timeout_ms = -1;
};

class alignas(64) MemoryPacketIo final : public server::PacketIo {
 public:
  static constexpr size_t kDefaultBuffers = 64;
  // `sockets`: how many sockets the worker has (socket_index < sockets);
  // `buffers`: receive slots and send buffers, each kMaxDatagram bytes.
  explicit MemoryPacketIo(size_t sockets = 1, size_t buffers = kDefaultBuffers);
  ~MemoryPacketIo() override;

  // The test's side.
  void queue(Datagram datagram);
  size_t queued() const { return queue_.size(); }
  // start() fails with this error.
  void fail_start(std::string why) { start_error_ = std::move(why); }
  // The next n replies handed to send_batch() are not sent: counted for take_send_errors().
  void fail_next_sends(size_t n) { failing_sends_ += n; }
  // A receive returns at most n datagrams (0: as many as fit in `out` and the receive slots).
  void set_max_per_receive(size_t n) { max_per_receive_ = n; }
  const std::vector<SentDatagram>& sent() const { return sent_; }
  std::vector<SentDatagram> take_sent();
  const std::vector<std::string>& violations() const { return violations_; }
  const PacketIoCalls& calls() const { return calls_; }
  // Whether a pointer lies inside one of the send buffers (lent or not).
  bool in_send_buffers(const uint8_t* p) const;
  // All the memory this backend writes while serving: itself, its receive
  // slots and its send buffers (server/no_shared_lines_test.cc).
  std::vector<std::span<const std::byte>> written_memory() const;

  // server::PacketIo.
  const char* name() const override { return "memory"; }
  bool start(std::string* error) override;
  size_t receive_batch(std::span<server::RxPacket> out, int timeout_ms) override;
  void lend_send_buffers(std::span<std::span<uint8_t>> out) override;
  void send_batch(std::span<const server::TxPacket> replies) override;
  void release_batch() override;
  uint64_t take_send_errors() override;

  static constexpr uint8_t kLentPoison = 0xa5;
  static constexpr uint8_t kReleasedPoison = 0xdd;

 private:
  struct alignas(64) RxSlot {
    uint8_t bytes[server::kMaxDatagram];
    sockaddr_storage peer;
  };
  struct alignas(64) TxBuffer {
    uint8_t bytes[server::kMaxDatagram];
  };
  void violation(std::string what);

  const size_t sockets_;
  const size_t buffers_;
  std::unique_ptr<RxSlot[]> rx_slots_;
  std::unique_ptr<TxBuffer[]> tx_buffers_;
  std::deque<Datagram> queue_;
  std::vector<SentDatagram> sent_;
  std::vector<std::string> violations_;
  PacketIoCalls calls_;
  std::string start_error_;
  bool started_ = false;
  size_t held_ = 0;   // datagrams of the batch not yet released
  size_t lent_ = 0;   // buffers lent and not yet taken back by send_batch()
  bool lent_active_ = false;
  size_t max_per_receive_ = 0;
  size_t failing_sends_ = 0;
  uint64_t send_errors_ = 0;
};

}  // namespace ntsd::testing
