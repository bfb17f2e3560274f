#include "ke/rate_limit.h"

#include <algorithm>

namespace ntsd::ke {

// A bucket that has refilled to `burst` carries no information: dropping it
// changes nothing for its address.
bool KeRateLimiter::refilled(const Bucket& b, int64_t now_ns) const {
  const double refill =
      static_cast<double>(std::max<int64_t>(0, now_ns - b.last_ns)) * 1e-9 * settings_.per_second;
  return b.tokens + refill >= settings_.burst;
}

// When the table is full, a new address costs the least recently used
// bucket. If that bucket had refilled, nothing is lost and the newcomer gets
// a full burst. If not, the table is under an address flood (more addresses
// active within one refill time than it holds): the oldest bucket is still
// evicted, so the table always tracks the most recent addresses, and the
// newcomer is entered with an empty bucket and refused — it fails closed.
// It does not fail open (an untracked address would escape the limit, and a
// flood of fresh addresses would bypass it entirely), and it does not refuse
// without tracking either (then an attacker holding the table full, e.g.
// with the 65536 /64s of one IPv6 /48, would lock every new client out for
// good): a refused newcomer that retries after 1/per_second has a token.
// An address that keeps coming back stays recent and keeps its bucket; if a
// flood evicts it anyway, it comes back as a newcomer to a full table and is
// refused again, so no address gains a fresh burst from a flood. Every step
// is O(1) (the old full-table scan was itself a cost an attacker could pick).
RateVerdict KeRateLimiter::check(const std::array<uint8_t, 16>& address, bool is_v6,
                                 int64_t now_ns) {
  if (settings_.per_second <= 0) return RateVerdict::kAllowed;
  const AddressKey key = address_key(address, is_v6);
  std::lock_guard lock(mu_);
  auto it = table_.find(key);
  if (it == table_.end()) {
    double tokens = settings_.burst - 1.0;
    RateVerdict verdict = RateVerdict::kAllowed;
    if (table_.size() >= std::max<size_t>(1, settings_.max_addresses)) {
      const Bucket& oldest = lru_.front();
      if (!refilled(oldest, now_ns)) {
        ++evicted_;
        tokens = 0;
        verdict = RateVerdict::kTableFull;
      }
      table_.erase(oldest.key);
      lru_.pop_front();
    }
    lru_.push_back(Bucket{key, tokens, now_ns});
    table_.emplace(key, std::prev(lru_.end()));
    return verdict;
  }
  lru_.splice(lru_.end(), lru_, it->second);  // most recent at the back; the iterator stays valid
  Bucket& b = *it->second;
  const double elapsed = static_cast<double>(std::max<int64_t>(0, now_ns - b.last_ns)) * 1e-9;
  b.tokens = std::min(settings_.burst, b.tokens + elapsed * settings_.per_second);
  b.last_ns = now_ns;
  if (b.tokens < 1.0) return RateVerdict::kLimited;
  b.tokens -= 1.0;
  return RateVerdict::kAllowed;
}

size_t KeRateLimiter::tracked() const {
  std::lock_guard lock(mu_);
  return table_.size();
}

uint64_t KeRateLimiter::evicted() const {
  std::lock_guard lock(mu_);
  return evicted_;
}

}  // namespace ntsd::ke
