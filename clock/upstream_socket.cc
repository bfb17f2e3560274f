#include "clock/upstream_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <utility>

namespace ntsd::clock {

UpstreamSocket::~UpstreamSocket() { close(); }

UpstreamSocket::UpstreamSocket(UpstreamSocket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

UpstreamSocket& UpstreamSocket::operator=(UpstreamSocket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void UpstreamSocket::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool UpstreamSocket::open(const sockaddr_storage& address, socklen_t length, std::string* error) {
  close();
  const int fd = ::socket(address.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (error) *error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  // The kernel's receive stamp is T4: taken before the thread is scheduled,
  // so the client thread's own latency does not enter the delay.
  const int on = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0 ||
      ::connect(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
    if (error) *error = address_text(address) + ": " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  fd_ = fd;
  return true;
}

bool UpstreamSocket::send(std::span<const uint8_t> datagram) const {
  for (;;) {
    const ssize_t n = ::send(fd_, datagram.data(), datagram.size(), MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(datagram.size())) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

long UpstreamSocket::receive(std::span<uint8_t> buffer, int64_t fallback_ns, int64_t* rx_ns) const {
  iovec iov{buffer.data(), buffer.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(fd_, &msg, MSG_DONTWAIT | MSG_TRUNC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
  *rx_ns = fallback_ns;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      timespec ts;
      std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
      *rx_ns = static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
    }
  }
  // A datagram longer than the buffer is not one we could have asked for.
  if ((msg.msg_flags & MSG_TRUNC) != 0 || static_cast<size_t>(n) > buffer.size()) return -1;
  return static_cast<long>(n);
}

std::string address_text(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (address.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(address);
    inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(a.sin_port));
  }
  if (address.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(address);
    inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof text);
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(a.sin6_port));
  }
  return text;
}

}  // namespace ntsd::clock
