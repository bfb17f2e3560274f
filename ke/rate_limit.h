#pragma once
// Per-client-address NTS-KE rate limit: a token bucket per IPv4 address or
// IPv6 /64, in a bounded table. Time is passed in. Thread-safe (one mutex;
// taken once per accepted connection, never on the NTP path).

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace ntsd::ke {

struct RateLimitSettings {
  double per_second = 5.0;     // sustained KE sessions per address; <= 0 disables the limit
  double burst = 50.0;         // bucket size
  size_t max_addresses = 65536;  // table bound; beyond it untracked addresses are allowed
};

class KeRateLimiter {
 public:
  explicit KeRateLimiter(const RateLimitSettings& settings) : settings_(settings) {}
  // True if one more session from this address (16 bytes, IPv4 in the first 4, is_v6 set for IPv6) is allowed.
  bool allow(const std::array<uint8_t, 16>& address, bool is_v6, int64_t now_ns);
  size_t tracked() const;

 private:
  struct Key {
    uint64_t hi = 0, lo = 0;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return static_cast<size_t>(k.hi * 0x9e3779b97f4a7c15ull ^ k.lo); }
  };
  struct Bucket {
    double tokens;
    int64_t last_ns;
  };
  void evict_full(int64_t now_ns);
  RateLimitSettings settings_;
  mutable std::mutex mu_;
  std::unordered_map<Key, Bucket, KeyHash> table_;
};

}  // namespace ntsd::ke
