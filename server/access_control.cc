#include "server/access_control.h"

#include <netinet/in.h>

#include <algorithm>
#include <bit>
#include <map>
#include <utility>

namespace ntsd::server {
namespace {

using config::bit;
using config::IpFamily;
using config::RestrictFlag;
using U128 = AccessTable::U128;

uint32_t mask_of(uint32_t /*tag*/, int prefix) {
  return prefix <= 0 ? 0 : prefix >= 32 ? ~uint32_t{0} : ~uint32_t{0} << (32 - prefix);
}
U128 mask_of(U128 /*tag*/, int prefix) {
  const auto half = [](int bits) -> uint64_t {
    return bits <= 0 ? 0 : bits >= 64 ? ~uint64_t{0} : ~uint64_t{0} << (64 - bits);
  };
  return {half(prefix), half(prefix - 64)};
}
uint32_t masked(uint32_t a, uint32_t m) { return a & m; }
U128 masked(U128 a, U128 m) { return {a.hi & m.hi, a.lo & m.lo}; }

U128 load_u128(const uint8_t* p) {
  U128 v;
  for (int i = 0; i < 8; ++i) v.hi = v.hi << 8 | p[i];
  for (int i = 8; i < 16; ++i) v.lo = v.lo << 8 | p[i];
  return v;
}
uint32_t load_u32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

bool is_mapped(const config::AddressBytes& a) {
  for (int i = 0; i < 10; ++i) {
    if (a[i] != 0) return false;
  }
  return a[10] == 0xff && a[11] == 0xff;
}

constexpr uint32_t kTimeServiceDenied = bit(RestrictFlag::kIgnore) | bit(RestrictFlag::kNoserve);

}  // namespace

bool AccessDecision::drop() const { return (flags & kTimeServiceDenied) != 0; }
bool AccessDecision::limited() const {
  return has(RestrictFlag::kLimited) || has(RestrictFlag::kLimited64);
}
bool AccessDecision::limited_per_64() const { return has(RestrictFlag::kLimited64); }
// NTPsec acts on `kod` only when `limited` fires (ntp_monitor clears RES_KOD
// otherwise), so kod alone does nothing.
bool AccessDecision::kod() const { return limited() && has(RestrictFlag::kKod); }
bool AccessDecision::nts_only() const { return has(RestrictFlag::kNotrust); }
bool AccessDecision::version4_only() const { return has(RestrictFlag::kVersion); }
bool AccessDecision::flake() const { return has(RestrictFlag::kFlake); }

uint64_t slot_hash(uint32_t network, uint8_t group) {
  uint64_t h = (uint64_t{network} << 8 | group) * 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 29);
}
uint64_t slot_hash(U128 network, uint8_t group) {
  uint64_t h = (network.hi ^ (network.lo * 0xff51afd7ed558ccdull) ^ group) * 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 29);
}

// NTPsec keeps each family's list sorted by descending address, then mask,
// then match flags, and takes the first match; with contiguous masks (the
// parser accepts no others) that is exactly the longest matching prefix, and
// among equal prefixes an `ntpport` entry before a plain one. Here a lookup
// probes one small hash table once per distinct prefix length, longest
// first: a handful of L1 loads, independent of the number of entries, and
// no mispredicted binary-search branches.
AccessTable::AccessTable(std::span<const config::RestrictEntry> entries) {
  // Key: (-prefix, network) so map order is longest prefix first.
  std::map<std::pair<int, uint32_t>, Rule<uint32_t>> v4;
  std::map<std::pair<int, U128>, Rule<U128>> v6;
  const auto add = [](auto& map, int prefix, auto network, const config::RestrictEntry& e) {
    network = masked(network, mask_of(network, prefix));
    auto& rule = map[{-prefix, network}];
    rule.network = network;
    const uint32_t flags = e.flags & ~bit(RestrictFlag::kNtpport);
    if (e.has(RestrictFlag::kNtpport)) {
      rule.has_ntp = true;
      rule.ntp_flags |= flags;
    } else {
      rule.has_any = true;
      rule.any_flags |= flags;
    }
  };
  for (const config::RestrictEntry& e : entries) {
    if (e.is_source) continue;
    if (e.has(RestrictFlag::kLimited) || e.has(RestrictFlag::kLimited64)) any_limited_ = true;
    if (e.is_default) {
      // `restrict default` sets both families' default; `-4`/`-6` one.
      if (e.family != IpFamily::kIPv6) add(v4, 0, uint32_t{0}, e);
      if (e.family != IpFamily::kIPv4) add(v6, 0, U128{}, e);
    } else if (e.family == IpFamily::kIPv4) {
      add(v4, std::min<int>(e.prefix_len, 32), load_u32(e.address.data()), e);
    } else if (e.prefix_len >= 96 && is_mapped(e.address)) {
      // An IPv4-mapped entry (::ffff:a.b.c.d/96+) means the IPv4 clients it
      // names, which are looked up in the IPv4 table.
      add(v4, e.prefix_len - 96, load_u32(e.address.data() + 12), e);
    } else {
      add(v6, std::min<int>(e.prefix_len, 128), load_u128(e.address.data()), e);
    }
  }
  const auto build = [](auto& map, auto& table) {
    table.rules = map.size();
    const size_t slots = std::bit_ceil(std::max<size_t>(4 * map.size(), 8));
    table.slots.resize(slots);
    table.slot_mask = slots - 1;
    for (auto [key, rule] : map) {
      const auto mask = mask_of(rule.network, -key.first);
      if (table.masks.empty() || table.masks.back() != mask) table.masks.push_back(mask);
      rule.group = static_cast<uint8_t>(table.masks.size() - 1);
      rule.used = true;
      uint64_t i = slot_hash(rule.network, rule.group) & table.slot_mask;
      while (table.slots[i].used) i = (i + 1) & table.slot_mask;
      table.slots[i] = rule;
    }
  };
  build(v4, v4_);
  build(v6, v6_);
}

template <typename Addr>
bool AccessTable::match(const Table<Addr>& table, Addr address, bool ntp_port, uint32_t* flags) {
  for (size_t g = 0; g < table.masks.size(); ++g) {
    const Addr network = masked(address, table.masks[g]);
    const auto group = static_cast<uint8_t>(g);
    for (uint64_t i = slot_hash(network, group) & table.slot_mask;; i = (i + 1) & table.slot_mask) {
      const Rule<Addr>& r = table.slots[i];
      if (!r.used) break;
      if (r.group != group || r.network != network) continue;
      if (ntp_port && r.has_ntp) {
        *flags = r.ntp_flags;
        return true;
      }
      if (r.has_any) {
        *flags = r.any_flags;
        return true;
      }
      break;  // only an `ntpport` entry and another source port: a shorter prefix decides
    }
  }
  return false;
}

AccessDecision AccessTable::lookup(const ClientKey& key, uint16_t port) const {
  constexpr uint16_t kNtpPort = 123;
  AccessDecision decision;
  const bool ntp_port = port == kNtpPort;
  if (key.is_ipv4()) {
    const uint32_t address = key.ipv4_address();
    // NTPsec ignores multicast sources before looking at the list.
    if ((address >> 28) == 0xe) return {bit(RestrictFlag::kIgnore)};
    match(v4_, address, ntp_port, &decision.flags);
  } else {
    if (key.bytes[0] == 0xff) return {bit(RestrictFlag::kIgnore)};
    match(v6_, load_u128(key.bytes.data()), ntp_port, &decision.flags);
  }
  return decision;  // no match: no restrictions
}

AccessDecision AccessTable::lookup(const sockaddr* peer) const {
  const std::optional<ClientKey> key = client_key(peer);
  if (!key) return {bit(RestrictFlag::kIgnore)};
  return lookup(*key, client_port(peer));
}

}  // namespace ntsd::server
