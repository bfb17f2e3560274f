#pragma once
// A no-crypto UDP reflector: answers every NTP request of >= 48 bytes with a
// bare 48-byte mode-4 reply (or, with `echo`, a reply as long as the request:
// the 48-byte answer, then the request's bytes after its header). It is an ntsd server::Worker (same PacketIo
// backends, batch size, coalescing, lent send buffers, admission and
// counters) with a trivial Responder, so ntsbench measures the UDP path's
// ceiling under exactly ntsd's I/O loop.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "clock/clock.h"
#include "server/counters.h"
#include "server/packet_io.h"
#include "server/worker.h"

namespace ntsd::bench {

constexpr size_t kReflectReplySize = 48;

struct ReflectorOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 11125;  // 0: any free port
  server::IoBackend io = server::IoBackend::kUring;
  server::CoalesceOptions coalesce{server::kDefaultCoalesceUs, 32};  // as ntsd's default
  // Replies as long as the requests: the kernel's ceiling for datagrams of
  // NTS's size (ntsbench --plain --plain-size), where an NTS reply is as long
  // as its request, rather than for 48-byte ones.
  bool echo = false;
};

struct ReflectorCounts {
  uint64_t received = 0;
  uint64_t replied = 0;      // handed to the kernel
  uint64_t dropped = 0;      // shorter than 48 bytes or truncated
  uint64_t send_errors = 0;  // replies the kernel refused
  std::string error;         // why the I/O backend did not start (then nothing was served)
};

// Writes the mode-4 answer (receive = transmit = now_ntp); false if the request is < 48 bytes.
bool reflect_packet(std::span<const uint8_t> request, uint64_t now_ntp,
                    std::span<uint8_t, kReflectReplySize> reply);

class Reflector {
 public:
  // Binds the socket; null with `error` on failure.
  static std::unique_ptr<Reflector> open(const ReflectorOptions& options, std::string* error);
  ~Reflector();
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  std::string endpoint() const;  // "127.0.0.1:11125", the port actually bound
  uint16_t port() const;
  const char* io_name() const;  // "io_uring" or "recvmmsg/sendmmsg"
  // Starts the backend and worker on the calling thread and serves until
  // `stop` is set or, if seconds > 0, that many seconds have passed; once per
  // Reflector. A backend that cannot start: nothing served, counts.error says why.
  ReflectorCounts run(const std::atomic<bool>& stop, int seconds);

 private:
  Reflector() = default;

  int fd_ = -1;
  std::string endpoint_;
  uint16_t port_ = 0;
  server::IoBackend backend_ = server::IoBackend::kUring;
  server::CoalesceOptions coalesce_;
  bool echo_ = false;
  clock::RealClock clock_;
  server::WorkerCounters counters_;
  std::unique_ptr<server::Worker> worker_;
};

}  // namespace ntsd::bench
