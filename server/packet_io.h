#pragma once
// The narrow I/O interface a worker sees: receive a batch, borrow reply
// buffers, send the batch, release it. Two backends: io_uring (uring_io.h)
// and recvmmsg/sendmmsg (mmsg_io.h), for containers whose seccomp blocks
// io_uring; tests use an in-memory one (testing/memory_packet_io.h).
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ntsd::server {

// Largest datagram a worker accepts; longer ones arrive truncated and are dropped.
constexpr size_t kMaxDatagram = 1472;

struct RxPacket {
  std::span<const uint8_t> payload;  // valid until release_batch()
  const sockaddr* peer = nullptr;
  socklen_t peer_len = 0;
  int64_t rx_unix_ns = 0;  // kernel receive stamp (SO_TIMESTAMPNS); 0 if absent
  uint16_t socket_index = 0;
  bool truncated = false;
};

struct TxPacket {
  std::span<const uint8_t> payload;  // inside the lent buffer number `buffer`
  const sockaddr* peer = nullptr;
  socklen_t peer_len = 0;
  uint16_t socket_index = 0;
  uint16_t buffer = 0;  // index into the last lend_send_buffers() call's buffers
};

// Bounded coalescing below saturation. NTP's delay calculation subtracts the
// server's own time between its receive stamp (the kernel's, SO_TIMESTAMPNS)
// and its transmit stamp (taken just before sending), so holding a datagram
// in the socket for a few tens of microseconds while more arrive costs a
// client no accuracy, and turns one wakeup per datagram into one per batch.
struct CoalesceOptions {
  // Once a datagram is waiting, wait at most this long for `batch` of them
  // before answering what is there; 0: answer at once (no coalescing).
  uint32_t max_wait_us = 0;
  size_t batch = 32;  // a batch this size is answered at once
};

// ntsd's default bound: at 40,000 requests/s about 8 datagrams per wakeup
// instead of one, well inside a client's 1 ms p99 budget.
constexpr uint32_t kDefaultCoalesceUs = 200;

class PacketIo {
 public:
  virtual ~PacketIo() = default;
  virtual const char* name() const = 0;
  // Called on the worker's own thread before the first receive (open_packet_io
  // does; a second call does nothing): what the backend does per thread
  // (io_uring: enable the ring, arm the receives). False with `error` when
  // the backend cannot run.
  virtual bool start(std::string* error) = 0;
  // Waits up to timeout_ms for datagrams (then up to the coalescing bound for
  // more) and fills `out`; returns how many.
  virtual size_t receive_batch(std::span<RxPacket> out, int timeout_ms) = 0;
  // Lends out.size() reply buffers of kMaxDatagram bytes, which the caller
  // writes replies into; they are the caller's until the next send_batch(),
  // which sends from them without a copy and takes every one of them back.
  virtual void lend_send_buffers(std::span<std::span<uint8_t>> out) = 0;
  // Sends the replies (payloads inside the lent buffers): they reach the
  // kernel at the latest with the next receive_batch() call (io_uring
  // submits them with its wait, one system call for both).
  virtual void send_batch(std::span<const TxPacket> replies) = 0;
  // Gives the buffers of the last received batch back for receiving.
  virtual void release_batch() = 0;
  // Send failures seen since the last call (some backends learn them late).
  virtual uint64_t take_send_errors() = 0;
};

enum class IoBackend { kAuto, kUring, kMmsg };

// Creates a backend over the worker's sockets (the backend does not own
// them) and starts it on the calling thread, which must be the thread that
// will use it (io_uring's deferred task running allows one submitting
// thread). kAuto serves with io_uring when a ring can be made and entered,
// else with recvmmsg/sendmmsg, saying why in `fallback_reason`: old kernels,
// and seccomp profiles that block io_uring_setup (Docker's default) or only
// io_uring_enter. `error` says why on failure.
std::unique_ptr<PacketIo> open_packet_io(IoBackend backend, std::span<const int> sockets,
                                         const CoalesceOptions& coalesce, std::string* error,
                                         std::string* fallback_reason);

}  // namespace ntsd::server
