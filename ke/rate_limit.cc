#include "ke/rate_limit.h"

#include <algorithm>

namespace ntsd::ke {

// A bucket that has refilled to `burst` carries no information, so it is
// the one to drop when the table is full.
void KeRateLimiter::evict_full(int64_t now_ns) {
  for (auto it = table_.begin(); it != table_.end();) {
    const double refill = static_cast<double>(now_ns - it->second.last_ns) * 1e-9 * settings_.per_second;
    if (it->second.tokens + refill >= settings_.burst) {
      it = table_.erase(it);
    } else {
      ++it;
    }
  }
}

bool KeRateLimiter::allow(const std::array<uint8_t, 16>& address, bool is_v6, int64_t now_ns) {
  if (settings_.per_second <= 0) return true;
  Key key;
  // IPv6 clients usually own a whole /64; limiting single addresses would let one host rotate through 2^64.
  for (size_t i = 0; i < (is_v6 ? 8u : 4u); ++i) key.hi = key.hi << 8 | address[i];
  key.lo = is_v6 ? 0 : 1;
  std::lock_guard lock(mu_);
  auto it = table_.find(key);
  if (it == table_.end()) {
    if (table_.size() >= settings_.max_addresses) {
      evict_full(now_ns);
      // Still full: an address flood. Fail open; the connection cap still bounds the load.
      if (table_.size() >= settings_.max_addresses) return true;
    }
    table_.emplace(key, Bucket{settings_.burst - 1.0, now_ns});
    return true;
  }
  Bucket& b = it->second;
  const double elapsed = static_cast<double>(std::max<int64_t>(0, now_ns - b.last_ns)) * 1e-9;
  b.tokens = std::min(settings_.burst, b.tokens + elapsed * settings_.per_second);
  b.last_ns = now_ns;
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

size_t KeRateLimiter::tracked() const {
  std::lock_guard lock(mu_);
  return table_.size();
}

}  // namespace ntsd::ke
