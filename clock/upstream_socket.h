#pragma once
// A UDP socket connected to one upstream NTP server, with kernel receive
// timestamps: the client thread's only packet I/O. Non-blocking; the runner
// waits for readability with Asio and then drains it.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <string>

namespace ntsd::clock {

class UpstreamSocket {
 public:
  UpstreamSocket() = default;
  ~UpstreamSocket();
  UpstreamSocket(UpstreamSocket&& other) noexcept;
  UpstreamSocket& operator=(UpstreamSocket&& other) noexcept;

  // Opens a socket connected to `address` (any local port; connect() makes the
  // kernel drop datagrams from anyone else). False with `error` on failure.
  bool open(const sockaddr_storage& address, socklen_t length, std::string* error);
  void close();
  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Sends one datagram; false (errno kept) if the kernel refused it.
  bool send(std::span<const uint8_t> datagram) const;

  // Receives one datagram into `buffer` without blocking. Returns its length,
  // 0 when nothing is waiting, -1 on an error (e.g. ICMP port unreachable
  // reported as ECONNREFUSED). `rx_ns` gets the kernel's receive stamp, or
  // `fallback_ns` when the kernel gave none.
  long receive(std::span<uint8_t> buffer, int64_t fallback_ns, int64_t* rx_ns) const;

 private:
  int fd_ = -1;
};

// "192.0.2.1:123", "[2001:db8::1]:123".
std::string address_text(const sockaddr_storage& address);

}  // namespace ntsd::clock
