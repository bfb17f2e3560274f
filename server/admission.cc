#include "server/admission.h"

#include "proto/ntp_packet.h"

namespace ntsd::server {

Gate::Gate(std::shared_ptr<const AccessTable> table, const RateLimitParams& params,
           size_t rate_limit_capacity)
    : table_(std::move(table)) {
  // The table costs 36 bytes per client slot: only pay for it when needed.
  if (table_ != nullptr && table_->any_limited()) {
    limiter_ = std::make_unique<RateLimiter>(rate_limit_capacity, params);
  }
}

Admission Gate::check(const sockaddr* peer, std::span<const uint8_t> request, int64_t now_ns) {
  if (table_ == nullptr || table_->size() == 0) return {};
  const auto key = client_key(peer);
  if (!key) return {Admit::kDrop, DropReason::kRestricted};
  const AccessDecision decision = table_->lookup(*key, client_port(peer));
  if (decision.drop()) return {Admit::kDrop, DropReason::kRestricted};
  if (decision.version4_only() && (request.empty() || proto::version_of(request[0]) != 4)) {
    return {Admit::kDrop, DropReason::kRestricted};
  }
  if (decision.flake()) {
    // NTPsec's `flake`: lose about one request in ten (xorshift, no syscall).
    flake_state_ ^= flake_state_ << 13;
    flake_state_ ^= flake_state_ >> 7;
    flake_state_ ^= flake_state_ << 17;
    if (flake_state_ % 10 == 0) return {Admit::kDrop, DropReason::kRestricted};
  }
  if (decision.limited() && limiter_ != nullptr) {
    // `limited64`: an IPv6 host usually owns a whole /64 and can send from any
    // address in it, so per-address buckets would let it multiply its rate by
    // 2^64; one bucket per /64 keeps it to one client's share.
    const ClientKey limit_key = decision.limited_per_64() ? key->prefix64() : *key;
    switch (limiter_->check(limit_key, now_ns, decision.kod())) {
      case RateVerdict::kAllow: break;
      case RateVerdict::kLimitedDrop: return {Admit::kDrop, DropReason::kRateLimited};
      case RateVerdict::kLimitedKod: return {Admit::kKissRate, DropReason::kRateLimited};
    }
  }
  return {decision.nts_only() ? Admit::kServeNtsOnly : Admit::kServe, DropReason::kRestricted};
}

}  // namespace ntsd::server
