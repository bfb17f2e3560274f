#pragma once
// The unit NTS-KE limits count by: one IPv4 address, or one IPv6 /64 (a
// customer usually owns a whole /64, so single IPv6 addresses would let one
// host rotate through 2^64 of them).

#include <array>
#include <cstddef>
#include <cstdint>

namespace ntsd::ke {

struct AddressKey {
  uint64_t hi = 0;  // the IPv4 address or the /64 prefix
  uint64_t lo = 0;  // 1 for IPv4, 0 for IPv6
  bool operator==(const AddressKey&) const = default;
};

struct AddressKeyHash {
  size_t operator()(const AddressKey& k) const {
    return static_cast<size_t>(k.hi * 0x9e3779b97f4a7c15ull ^ k.lo);
  }
};

// 16 address bytes (IPv4 in the first 4), is_v6 set for IPv6.
inline AddressKey address_key(const std::array<uint8_t, 16>& address, bool is_v6) {
  AddressKey key;
  for (size_t i = 0; i < (is_v6 ? 8u : 4u); ++i) key.hi = key.hi << 8 | address[i];
  key.lo = is_v6 ? 0 : 1;
  return key;
}

}  // namespace ntsd::ke
