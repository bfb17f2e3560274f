#include "config/address.h"

#include <arpa/inet.h>

#include <charconv>
#include <string>

namespace ntsd::config {

std::optional<IpAddress> parse_ip(std::string_view text) {
  // inet_pton needs a NUL-terminated string; the longest IPv6 text
  // (IPv4-mapped, fully written) is 45 characters.
  if (text.empty() || text.size() > 45) return std::nullopt;
  const std::string s(text);
  IpAddress out;
  if (inet_pton(AF_INET, s.c_str(), out.bytes.data()) == 1) {
    out.family = IpFamily::kIPv4;
    return out;
  }
  if (inet_pton(AF_INET6, s.c_str(), out.bytes.data()) == 1) {
    out.family = IpFamily::kIPv6;
    return out;
  }
  return std::nullopt;
}

int address_bits(IpFamily family) { return family == IpFamily::kIPv4 ? 32 : 128; }

std::optional<int> prefix_from_mask(const IpAddress& mask) {
  const int bytes = address_bits(mask.family) / 8;
  int prefix = 0;
  bool seen_zero = false;
  for (int i = 0; i < bytes; ++i) {
    for (int b = 7; b >= 0; --b) {
      const bool one = (mask.bytes[i] >> b) & 1;
      if (one && seen_zero) return std::nullopt;  // a one after a zero: 255.0.255.0
      if (one)
        ++prefix;
      else
        seen_zero = true;
    }
  }
  return prefix;
}

void clear_host_bits(AddressBytes& address, int prefix_len) {
  for (int i = 0; i < static_cast<int>(address.size()); ++i) {
    const int keep = prefix_len - 8 * i;
    if (keep >= 8) continue;
    address[i] = keep <= 0 ? 0 : static_cast<uint8_t>(address[i] & (0xff << (8 - keep)));
  }
}

std::string address_text(IpFamily family, const AddressBytes& bytes) {
  char buf[INET6_ADDRSTRLEN] = {};
  const int af = family == IpFamily::kIPv4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes.data(), buf, sizeof buf) == nullptr) return "?";
  return buf;
}

namespace {

// Letters, digits, '-', '.', '_' (some internal names use it); DNS length limits.
bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 253 || name.front() == '-' || name.front() == '.') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::optional<uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  if (text.empty() || text.size() > 5) return std::nullopt;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value == 0 || value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

}  // namespace

std::optional<HostPort> split_host_port(std::string_view text) {
  HostPort out;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = text.substr(1, close - 1);
    const auto ip = parse_ip(out.host);
    if (!ip || ip->family != IpFamily::kIPv6) return std::nullopt;
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty()) return out;
    if (rest.front() != ':') return std::nullopt;
    out.port = parse_port(rest.substr(1));
    if (!out.port) return std::nullopt;
    return out;
  }
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    out.host = text;
    return valid_name(text) ? std::optional<HostPort>(out) : std::nullopt;
  }
  if (text.find(':', colon + 1) != std::string_view::npos) {
    // Two or more colons: a bare IPv6 literal, which cannot carry a port.
    out.host = text;
    const auto ip = parse_ip(text);
    if (!ip || ip->family != IpFamily::kIPv6) return std::nullopt;
    return out;
  }
  out.host = text.substr(0, colon);
  if (!valid_name(out.host)) return std::nullopt;
  out.port = parse_port(text.substr(colon + 1));
  if (!out.port) return std::nullopt;
  return out;
}

}  // namespace ntsd::config
