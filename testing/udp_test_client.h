#pragma once
// Test-only: a blocking IPv4 UDP client on loopback, bound to a chosen source
// address (ntsd steers by source address), with a receive timeout so a missing
// reply fails a test instead of hanging it.
#include <cstdint>
#include <vector>

namespace ntsd::testing {

class UdpTestClient {
 public:
  explicit UdpTestClient(const char* source_address = "127.0.0.1");
  ~UdpTestClient();
  UdpTestClient(const UdpTestClient&) = delete;
  UdpTestClient& operator=(const UdpTestClient&) = delete;

  // Sends one datagram to 127.0.0.1:port; false if the kernel did not take it whole.
  bool send_to(uint16_t port, const std::vector<uint8_t>& datagram);
  // The next datagram within timeout_ms, or empty.
  std::vector<uint8_t> receive(int timeout_ms = 2000);

 private:
  int fd_;
};

}  // namespace ntsd::testing
