#include "testing/udp_test_client.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace ntsd::testing {

UdpTestClient::UdpTestClient(const char* source_address) {
  fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, source_address, &local.sin_addr);
  bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local));
}

UdpTestClient::~UdpTestClient() { close(fd_); }

bool UdpTestClient::send_to(uint16_t port, const std::vector<uint8_t>& datagram) {
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &server.sin_addr);
  return sendto(fd_, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&server),
                sizeof(server)) == static_cast<ssize_t>(datagram.size());
}

std::vector<uint8_t> UdpTestClient::receive(int timeout_ms) {
  pollfd pfd{fd_, POLLIN, 0};
  if (poll(&pfd, 1, timeout_ms) != 1) return {};
  std::vector<uint8_t> buffer(2048);
  const ssize_t n = recv(fd_, buffer.data(), buffer.size(), 0);
  buffer.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return buffer;
}

}  // namespace ntsd::testing
