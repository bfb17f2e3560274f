#pragma once
// Numeric addresses, masks and host[:port] forms of ntp.conf, parsed with
// inet_pton; no name resolution.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace ntsd::config {

struct IpAddress {
  IpFamily family = IpFamily::kAny;  // kIPv4 or kIPv6 once parsed
  AddressBytes bytes{};
  bool operator==(const IpAddress&) const = default;
};

// Dotted-quad IPv4 or RFC 4291 IPv6 text (no brackets, no zone) -> address.
std::optional<IpAddress> parse_ip(std::string_view text);
// 32 for IPv4, 128 for IPv6.
int address_bits(IpFamily family);
// Mask -> prefix length; nullopt if its one-bits are not contiguous from the top.
std::optional<int> prefix_from_mask(const IpAddress& mask);
// Zeroes every bit of address beyond prefix_len.
void clear_host_bits(AddressBytes& address, int prefix_len);
// Address -> text (inet_ntop), for messages and to_text().
std::string address_text(IpFamily family, const AddressBytes& bytes);

struct HostPort {
  std::string_view host;         // brackets removed
  std::optional<uint16_t> port;  // when written as HOST:PORT or [V6]:PORT
};

// "name", "name:port", "1.2.3.4[:port]", "v6", "[v6][:port]" -> host and port; nullopt if malformed
// (bad name characters, bad or zero port, unbalanced brackets).
std::optional<HostPort> split_host_port(std::string_view text);

}  // namespace ntsd::config
