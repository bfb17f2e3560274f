#include "server/client_key.h"

#include <netinet/in.h>

#include <cstring>

namespace ntsd::server {
namespace {

constexpr std::array<uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

}  // namespace

ClientKey ClientKey::ipv4(uint32_t address_host_order) {
  ClientKey key;
  std::memcpy(key.bytes.data(), kMappedPrefix.data(), kMappedPrefix.size());
  key.bytes[12] = static_cast<uint8_t>(address_host_order >> 24);
  key.bytes[13] = static_cast<uint8_t>(address_host_order >> 16);
  key.bytes[14] = static_cast<uint8_t>(address_host_order >> 8);
  key.bytes[15] = static_cast<uint8_t>(address_host_order);
  return key;
}

ClientKey ClientKey::ipv6(const std::array<uint8_t, 16>& address) {
  ClientKey key;
  key.bytes = address;
  return key;
}

bool ClientKey::is_ipv4() const {
  return std::memcmp(bytes.data(), kMappedPrefix.data(), kMappedPrefix.size()) == 0;
}

ClientKey ClientKey::prefix64() const {
  if (is_ipv4()) return *this;
  ClientKey key = *this;
  std::memset(key.bytes.data() + 8, 0, 8);
  return key;
}

uint32_t ClientKey::ipv4_address() const {
  return uint32_t{bytes[12]} << 24 | uint32_t{bytes[13]} << 16 | uint32_t{bytes[14]} << 8 |
         uint32_t{bytes[15]};
}

// The sockaddr is copied out with memcpy: callers hand in a sockaddr_storage
// or a msghdr name buffer, and neither promises the alignment of the family's
// own struct.
std::optional<ClientKey> client_key(const sockaddr* peer) {
  if (peer == nullptr) return std::nullopt;
  if (peer->sa_family == AF_INET) {
    sockaddr_in sin;
    std::memcpy(&sin, peer, sizeof sin);
    return ClientKey::ipv4(ntohl(sin.sin_addr.s_addr));
  }
  if (peer->sa_family == AF_INET6) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, peer, sizeof sin6);
    ClientKey key;
    std::memcpy(key.bytes.data(), &sin6.sin6_addr, 16);
    return key;
  }
  return std::nullopt;
}

uint16_t client_port(const sockaddr* peer) {
  if (peer == nullptr) return 0;
  if (peer->sa_family == AF_INET) {
    sockaddr_in sin;
    std::memcpy(&sin, peer, sizeof sin);
    return ntohs(sin.sin_port);
  }
  if (peer->sa_family == AF_INET6) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, peer, sizeof sin6);
    return ntohs(sin6.sin6_port);
  }
  return 0;
}

}  // namespace ntsd::server
