#include "server/mode6_gate.h"

#include <algorithm>
#include <random>

#include "proto/mode6.h"

namespace ntsd::server {
namespace {

constexpr int64_t kSecondNs = 1'000'000'000;

uint64_t mix(const ClientKey& key, uint64_t seed) {
  uint64_t h = seed;
  for (size_t i = 0; i < key.bytes.size(); i += 8) {
    uint64_t word = 0;
    for (size_t j = 0; j < 8; ++j) word = word << 8 | key.bytes[i + j];
    h = (h ^ word) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
  }
  return h;
}

size_t round_up_pow2(size_t n) {
  size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

}  // namespace

bool is_loopback(const ClientKey& key) {
  if (key.is_ipv4()) return (key.ipv4_address() >> 24) == 127;
  for (size_t i = 0; i < 15; ++i) {
    if (key.bytes[i] != 0) return false;
  }
  return key.bytes[15] == 1;
}

Mode6Gate::Mode6Gate(std::shared_ptr<const AccessTable> table, const Mode6Limits& limits)
    : table_(std::move(table)),
      limits_(limits),
      address_interval_ns_(kSecondNs / std::max<uint32_t>(1, limits.per_address_per_second)),
      address_burst_ns_(address_interval_ns_ * std::max<uint32_t>(1, limits.per_address_burst)),
      worker_interval_ns_(kSecondNs / std::max<uint32_t>(1, limits.per_worker_per_second)),
      worker_burst_ns_(worker_interval_ns_ * std::max<uint32_t>(1, limits.per_worker_burst)),
      slots_(round_up_pow2(std::max<size_t>(1, limits.address_slots))),
      seed_(limits.hash_seed != 0 ? limits.hash_seed
                                  : (uint64_t{std::random_device{}()} << 32 | std::random_device{}())) {}

bool Mode6Gate::take(int64_t* tat, int64_t now_ns, int64_t interval_ns, int64_t burst_ns) {
  const int64_t start = *tat > now_ns ? *tat : now_ns;
  if (start + interval_ns - now_ns > burst_ns) return false;
  *tat = start + interval_ns;
  return true;
}

std::optional<DropReason> Mode6Gate::check(const sockaddr* peer, std::span<const uint8_t> packet,
                                           int64_t now_ns) {
  proto::Mode6Request request;
  if (proto::parse_mode6_request(packet, &request) != proto::Mode6Parse::kOk) {
    return DropReason::kMode6Malformed;
  }
  const auto key = client_key(peer);
  if (!key) return DropReason::kMode6Denied;
  // NTPsec: `ignore` drops everything, `noquery` drops mode 6 (and 7);
  // `noserve` leaves queries alone. Without any `restrict` line NTPsec
  // answers everyone; ntsd answers loopback only, as the NTS guide's
  // configuration does, since a 12-byte query earns up to 480 bytes.
  if (table_ == nullptr || table_->size() == 0) {
    if (!is_loopback(*key)) return DropReason::kMode6Denied;
  } else {
    const AccessDecision decision = table_->lookup(*key, client_port(peer));
    if (decision.has(config::RestrictFlag::kIgnore) || decision.has(config::RestrictFlag::kNoquery)) {
      return DropReason::kMode6Denied;
    }
  }
  // The per-address bucket first: a client over its own rate must not use
  // up the worker's allowance for everyone else.
  Slot& slot = slots_[mix(*key, seed_) & (slots_.size() - 1)];
  if (!slot.used || !(slot.key == *key)) {
    // A new address (or a colliding one) starts with a full bucket; the
    // per-worker bucket below bounds what many addresses can get together.
    slot = Slot{*key, 0, true};
  }
  int64_t tat = slot.tat;
  if (!take(&tat, now_ns, address_interval_ns_, address_burst_ns_)) return DropReason::kMode6RateLimited;
  if (!take(&worker_tat_, now_ns, worker_interval_ns_, worker_burst_ns_)) {
    return DropReason::kMode6RateLimited;
  }
  slot.tat = tat;
  return std::nullopt;
}

}  // namespace ntsd::server
