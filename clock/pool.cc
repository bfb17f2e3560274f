#include "clock/pool.h"

#include <algorithm>
#include <cmath>

#include "clock/source.h"

namespace ntsd::clock {
namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;
constexpr int64_t kResolveTimeoutNs = 30 * kNsPerSecond;

// Why remember dead members for an hour: a pool name rotates its answers
// (pool.ntp.org's TTL is minutes), so the replacement lookup would often
// hand the dead server straight back. An hour keeps it out across many
// lookups and still lets a rebooted server return the same day. The list is
// capped so that a pool of dying servers cannot grow it without bound.
constexpr int64_t kDeadHoldNs = 3600 * kNsPerSecond;
constexpr size_t kMaxDead = 32;

bool contains(std::span<const std::string> list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

}  // namespace

size_t max_clock(std::span<const config::TosOption> tos) {
  size_t value = kDefaultMaxClock;
  // File order: a later `tos maxclock` overrides an earlier one. The parser
  // allows 1..1000; anything below 1 would stop every pool, so it is 1.
  for (const auto& option : tos) {
    if (option.name == "maxclock")
      value = static_cast<size_t>(std::max(1.0, std::floor(option.value)));
  }
  return value;
}

std::vector<std::string> pool_pick(std::span<const std::string> resolved,
                                   std::span<const std::string> in_use,
                                   std::span<const std::string> exclude, size_t associations,
                                   size_t maxclock) {
  std::vector<std::string> picked;
  if (associations >= maxclock) return picked;
  const size_t room = maxclock - associations;
  // DNS order: the pool's servers already shuffle their answers, and keeping
  // the order makes the choice exact in tests.
  for (const auto& address : resolved) {
    if (picked.size() == room) break;
    // Two associations to one address would double its weight in selection
    // (and its load from us): never.
    if (contains(in_use, address) || contains(exclude, address) || contains(picked, address)) {
      continue;
    }
    picked.push_back(address);
  }
  return picked;
}

Pool::Pool(const config::UpstreamServer& line, size_t maxclock)
    : line_(line), maxclock_(std::max<size_t>(1, maxclock)) {
  line_.is_pool = true;
}

PoolActions Pool::result(PoolActions a) const {
  a.timer_ns = timer_ns_;
  return a;
}

PoolActions Pool::start(int64_t now_ns) {
  PoolActions a;
  if (state_ == PoolState::kIdle && members_ == 0) begin_resolve(now_ns, a);
  return result(a);
}

PoolActions Pool::timer(int64_t now_ns) {
  PoolActions a;
  if (!timer_ns_ || now_ns < *timer_ns_) return result(a);
  if (state_ == PoolState::kResolving) {
    // The lookup overran its deadline: as if it failed; a late answer is ignored.
    return resolved(now_ns, false, {}, {}, 0);
  }
  if (state_ == PoolState::kWaiting) begin_resolve(now_ns, a);
  return result(a);
}

PoolActions Pool::resolved(int64_t now_ns, bool ok, std::span<const std::string> addresses,
                           std::span<const std::string> in_use, size_t associations) {
  PoolActions a;
  if (state_ != PoolState::kResolving) return result(a);
  if (!ok) {
    retry_later(now_ns);
    return result(a);
  }
  // Forget members dead for longer than kDeadHoldNs.
  std::erase_if(dead_, [&](const auto& d) { return now_ns - d.second >= kDeadHoldNs; });
  std::vector<std::string> exclude;
  exclude.reserve(dead_.size());
  for (const auto& d : dead_) exclude.push_back(d.first);
  a.mobilise = pool_pick(addresses, in_use, exclude, associations, maxclock_);
  members_ += a.mobilise.size();
  if (associations + a.mobilise.size() >= maxclock_) {
    // Full: nothing to do until a member demobilises.
    state_ = PoolState::kIdle;
    timer_ns_.reset();
    short_ = 0;
  } else {
    // NTPsec keeps looking the pool up while it is short of maxclock (the
    // name may answer with other servers next time). With the shared
    // backoff, a small pool settles at one lookup per 2^12 s.
    retry_later(now_ns);
  }
  return result(a);
}

PoolActions Pool::member_demobilised(int64_t now_ns, const std::string& address) {
  PoolActions a;
  if (members_ > 0) --members_;
  if (dead_.size() == kMaxDead) dead_.erase(dead_.begin());
  dead_.emplace_back(address, now_ns);
  // Replace it now: a fresh lookup (the old answer is likely stale). A new
  // reason to look, so the short-pool backoff starts over.
  short_ = 0;
  if (state_ != PoolState::kResolving) begin_resolve(now_ns, a);
  return result(a);
}

config::UpstreamServer Pool::member_config(const std::string& address) const {
  config::UpstreamServer member = line_;
  member.host = address;
  return member;
}

void Pool::begin_resolve(int64_t now_ns, PoolActions& a) {
  state_ = PoolState::kResolving;
  a.resolve = true;
  timer_ns_ = now_ns + kResolveTimeoutNs;
}

void Pool::retry_later(int64_t now_ns) {
  ++short_;
  state_ = PoolState::kWaiting;
  timer_ns_ = now_ns + retry_backoff_ns(short_);
}

}  // namespace ntsd::clock
