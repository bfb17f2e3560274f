#pragma once
// Per-client-address NTS-KE rate limit: a token bucket per IPv4 address or
// IPv6 /64, in a bounded table kept in least-recently-used order. Time is
// passed in. Thread-safe (one mutex; taken once per accepted connection,
// never on the NTP path). Every address is tracked: when the table is full it
// fails closed (see rate_limit.cc).

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <unordered_map>

#include "ke/address_key.h"

namespace ntsd::ke {

struct RateLimitSettings {
  double per_second = 5.0;       // sustained KE sessions per address; <= 0 disables the limit
  double burst = 50.0;           // bucket size
  size_t max_addresses = 65536;  // table bound (least recently used bucket evicted when full)
};

enum class RateVerdict : uint8_t {
  kAllowed,
  kLimited,    // the address's bucket is empty
  kTableFull,  // a new address while every tracked one still carries state: refused (fail closed)
};

class KeRateLimiter {
 public:
  explicit KeRateLimiter(const RateLimitSettings& settings) : settings_(settings) {}
  // One more session from this address (16 bytes, IPv4 in the first 4, is_v6 set for IPv6)?
  RateVerdict check(const std::array<uint8_t, 16>& address, bool is_v6, int64_t now_ns);
  bool allow(const std::array<uint8_t, 16>& address, bool is_v6, int64_t now_ns) {
    return check(address, is_v6, now_ns) == RateVerdict::kAllowed;
  }
  size_t tracked() const;
  uint64_t evicted() const;  // buckets dropped while they still carried state

 private:
  struct Bucket {
    AddressKey key;
    double tokens;
    int64_t last_ns;
  };
  using Lru = std::list<Bucket>;  // front: least recently used
  bool refilled(const Bucket& b, int64_t now_ns) const;
  RateLimitSettings settings_;
  mutable std::mutex mu_;
  Lru lru_;
  std::unordered_map<AddressKey, Lru::iterator, AddressKeyHash> table_;
  uint64_t evicted_ = 0;
};

}  // namespace ntsd::ke
