#pragma once
// The narrow I/O interface a worker sees: receive a batch, send a batch,
// release the batch. Two backends: io_uring (uring_io.h) and
// recvmmsg/sendmmsg (mmsg_io.h), for containers whose seccomp blocks io_uring.
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
  std::span<const uint8_t> payload;  // needs to stay valid only during send_batch()
  const sockaddr* peer = nullptr;
  socklen_t peer_len = 0;
  uint16_t socket_index = 0;
};

class PacketIo {
 public:
  virtual ~PacketIo() = default;
  virtual const char* name() const = 0;
  // Waits up to timeout_ms for datagrams and fills `out`; returns how many.
  virtual size_t receive_batch(std::span<RxPacket> out, int timeout_ms) = 0;
  // Hands replies to the kernel; the payloads may be reused on return.
  virtual void send_batch(std::span<const TxPacket> replies) = 0;
  // Gives the buffers of the last received batch back for receiving.
  virtual void release_batch() = 0;
  // Send failures seen since the last call (some backends learn them late).
  virtual uint64_t take_send_errors() = 0;
};

enum class IoBackend { kAuto, kUring, kMmsg };

// Creates a backend over the worker's sockets (the backend does not own them).
// kAuto tries io_uring and falls back to mmsg, saying why in `fallback_reason`;
// `error` says why on failure.
std::unique_ptr<PacketIo> make_packet_io(IoBackend backend, std::span<const int> sockets,
                                         std::string* error, std::string* fallback_reason);

}  // namespace ntsd::server
