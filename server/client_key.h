#pragma once
// A client's address as the ACL and the rate limiter key it: 16 bytes, an
// IPv4 address as IPv4-mapped IPv6 (::ffff:a.b.c.d), so one client is one key
// whichever socket family received it. The source port is never part of it.
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>

namespace ntsd::server {

struct ClientKey {
  std::array<uint8_t, 16> bytes{};  // network order

  static ClientKey ipv4(uint32_t address_host_order);
  static ClientKey ipv6(const std::array<uint8_t, 16>& address);
  bool is_ipv4() const;           // in ::ffff:0:0/96
  // An IPv6 key with the interface identifier (low 64 bits) zeroed: one key per /64. An IPv4
  // (mapped) key is returned unchanged — masking it would lump every IPv4 client together.
  ClientKey prefix64() const;
  uint32_t ipv4_address() const;  // host order; meaningful when is_ipv4()
  bool operator==(const ClientKey&) const = default;
};

// The key of an AF_INET or AF_INET6 peer; nullopt for any other family.
std::optional<ClientKey> client_key(const sockaddr* peer);
// The peer's UDP source port (host order); 0 for an unknown family.
uint16_t client_port(const sockaddr* peer);

}  // namespace ntsd::server
