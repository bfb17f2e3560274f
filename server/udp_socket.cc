#include "server/udp_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace ntsd::server {
namespace {

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

constexpr uint32_t kHashMultiplier = 0x45d9f3b;

// A classic-BPF absolute load offset relative to the network (IP) header.
constexpr uint32_t net_offset(uint32_t offset) { return static_cast<uint32_t>(SKF_NET_OFF) + offset; }

}  // namespace

bool Endpoint::parse(const std::string& text, Endpoint* out) {
  Endpoint endpoint;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&endpoint.address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&endpoint.address);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    endpoint.length = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    endpoint.length = sizeof(sockaddr_in6);
  } else {
    return false;
  }
  *out = endpoint;
  return true;
}

std::string Endpoint::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&address)->sin_addr, text, sizeof(text));
    return std::string(text) + ":" + std::to_string(port());
  }
  inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&address)->sin6_addr, text, sizeof(text));
  return "[" + std::string(text) + "]:" + std::to_string(port());
}

uint16_t Endpoint::port() const {
  return family() == AF_INET ? ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port)
                             : ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
}

void Endpoint::set_port(uint16_t port) {
  if (family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&address)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(&address)->sin6_port = htons(port);
  }
}

int open_reuseport_socket(const Endpoint& endpoint, std::string* error) {
  const int fd = socket(endpoint.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = errno_text("socket");
    return -1;
  }
  const int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    *error = errno_text("SO_REUSEPORT");
  } else if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) != 0) {
    *error = errno_text("SO_TIMESTAMPNS");
  } else if (endpoint.family() == AF_INET6 &&
             setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) {
    *error = errno_text("IPV6_V6ONLY");
  } else {
    // A deeper receive queue absorbs bursts between batches; the kernel caps
    // it at net.core.rmem_max, which is fine.
    const int rcvbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (bind(fd, reinterpret_cast<const sockaddr*>(&endpoint.address), endpoint.length) == 0) {
      return fd;
    }
    *error = errno_text(("bind " + endpoint.to_string()).c_str());
  }
  close(fd);
  return -1;
}

uint16_t bound_port(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
  Endpoint endpoint;
  endpoint.address = address;
  endpoint.length = length;
  return endpoint.port();
}

uint32_t steering_index(uint32_t address_word, uint32_t group_size) {
  uint32_t hash = address_word;
  hash ^= hash >> 16;
  hash *= kHashMultiplier;
  hash ^= hash >> 16;
  return hash % group_size;
}

bool attach_source_address_steering(int fd, int family, uint32_t group_size, std::string* error) {
  // A = source address word (IPv6: XOR of its four words), then the same
  // mixing as steering_index(). Offsets are relative to the IP header.
  std::vector<sock_filter> program;
  if (family == AF_INET) {
    program.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, net_offset(12)));
  } else {
    program.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, net_offset(8)));
    for (uint32_t offset : {12u, 16u, 20u}) {
      program.push_back(BPF_STMT(BPF_MISC | BPF_TAX, 0));
      program.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, net_offset(offset)));
      program.push_back(BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0));
    }
  }
  for (int round = 0; round < 2; ++round) {
    program.push_back(BPF_STMT(BPF_MISC | BPF_TAX, 0));             // X = A
    program.push_back(BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16));     // A >>= 16
    program.push_back(BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0));      // A ^= X
    if (round == 0) program.push_back(BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, kHashMultiplier));
  }
  program.push_back(BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, group_size));
  program.push_back(BPF_STMT(BPF_RET | BPF_A, 0));
  sock_fprog fprog{static_cast<unsigned short>(program.size()), program.data()};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog, sizeof(fprog)) != 0) {
    *error = errno_text("SO_ATTACH_REUSEPORT_CBPF");
    return false;
  }
  return true;
}

}  // namespace ntsd::server
