#pragma once
// Bookkeeping for one `pool HOST` line, sans-I/O: which of the pool's
// resolved addresses to mobilise as sources (each a clock::Source built from
// member_config()), within `tos maxclock`, and when to look the pool up
// again. The runner does the lookups and owns the sources.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"

namespace ntsd::clock {

inline constexpr size_t kDefaultMaxClock = 10;  // NTPsec's `tos maxclock` default

// `tos maxclock` (the last one given), else kDefaultMaxClock.
size_t max_clock(std::span<const config::TosOption> tos);

// From `resolved`, in order: addresses in neither `in_use` nor `exclude`, each once,
// at most maxclock - associations of them.
std::vector<std::string> pool_pick(std::span<const std::string> resolved,
                                   std::span<const std::string> in_use,
                                   std::span<const std::string> exclude, size_t associations,
                                   size_t maxclock);

enum class PoolState : uint8_t {
  kIdle,       // built, or full: waits for start() or a member to demobilise; no timer
  kResolving,  // waiting for the runner's lookup (resolved())
  kWaiting,    // short of maxclock (or the lookup failed): looks up again when the timer fires
};

struct PoolActions {
  bool resolve = false;               // look the pool's host up; answer with resolved()
  std::vector<std::string> mobilise;  // new members: one Source each, from member_config()
  std::optional<int64_t> timer_ns;    // when to call timer(); unset: no timer
  bool operator==(const PoolActions&) const = default;
};

class Pool {
 public:
  Pool(const config::UpstreamServer& line, size_t maxclock);

  PoolActions start(int64_t now_ns);
  PoolActions timer(int64_t now_ns);
  // The lookup finished. in_use: the addresses of every live association (any source);
  // associations: how many there are, pool lines included (NTPsec counts them towards maxclock).
  PoolActions resolved(int64_t now_ns, bool ok, std::span<const std::string> addresses,
                       std::span<const std::string> in_use, size_t associations);
  // A member of this pool demobilised: look the pool up again to replace it.
  PoolActions member_demobilised(int64_t now_ns, const std::string& address);
  // A member's configuration: this pool line, host = the address (the runner keeps the pool
  // name for the NTS-KE certificate check).
  config::UpstreamServer member_config(const std::string& address) const;

  PoolState state() const { return state_; }
  size_t members() const { return members_; }        // mobilised and not yet demobilised
  uint32_t short_lookups() const { return short_; }  // lookups in a row that left the pool short
  std::optional<int64_t> next_timer_ns() const { return timer_ns_; }

 private:
  PoolActions result(PoolActions a) const;
  void begin_resolve(int64_t now_ns, PoolActions& a);
  void retry_later(int64_t now_ns);

  config::UpstreamServer line_;
  size_t maxclock_;
  PoolState state_ = PoolState::kIdle;
  std::optional<int64_t> timer_ns_;
  size_t members_ = 0;
  uint32_t short_ = 0;
  std::vector<std::pair<std::string, int64_t>> dead_;  // demobilised members and when
};

}  // namespace ntsd::clock
