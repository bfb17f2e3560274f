#pragma once
// Who gets served: `restrict` decisions and `limited` rate limiting, per
// worker, before the request path runs. Pure (time is an argument); one per
// worker, since the rate-limit table is per worker (exact, because the
// reuseport program steers each client address to one worker).
#include <cstdint>
#include <memory>
#include <span>

#include <sys/socket.h>

#include "server/access_control.h"
#include "server/rate_limiter.h"
#include "server/verdict.h"

namespace ntsd::server {

enum class Admit : uint8_t {
  kServe,         // answer normally
  kServeNtsOnly,  // `notrust`: answer only if NTS-authenticated
  kKissRate,      // over the `limited` rate with `kod`: answer with KoD RATE
  kDrop,          // see the reason
};

struct Admission {
  Admit admit = Admit::kServe;
  DropReason reason = DropReason::kRestricted;
};

class Gate {
 public:
  // `table` may be null (no restrictions); it is shared by all workers.
  Gate(std::shared_ptr<const AccessTable> table, const RateLimitParams& params,
       size_t rate_limit_capacity = RateLimiter::kDefaultCapacity);
  Admission check(const sockaddr* peer, std::span<const uint8_t> request, int64_t now_ns);
  const RateLimiter* rate_limiter() const { return limiter_.get(); }

 private:
  std::shared_ptr<const AccessTable> table_;
  std::unique_ptr<RateLimiter> limiter_;  // only when some entry has `limited`
  uint64_t flake_state_ = 0x9e3779b97f4a7c15ull;
};

}  // namespace ntsd::server
