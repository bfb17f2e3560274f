#pragma once
// `restrict` with NTPsec's semantics: the flags of the most specific entry
// that matches a client's address. Built once from the parsed config and then
// immutable, so every worker reads one table with no lock. Operator notes:
// server/README-access.md.
#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <vector>

#include "config/config.h"
#include "server/client_key.h"

namespace ntsd::server {

// What the ACL says about one client.
struct AccessDecision {
  uint32_t flags = 0;  // config::RestrictFlag bits of the matching entry (kNtpport cleared)

  bool has(config::RestrictFlag f) const { return (flags & config::bit(f)) != 0; }
  bool drop() const;           // ignore or noserve: no reply at all
  bool limited() const;        // limited or limited64: pass through the RateLimiter
  bool limited_per_64() const;  // limited64: an IPv6 client's rate-limit key is its /64
  bool kod() const;            // limited and kod: a limited request may get KoD RATE
  bool nts_only() const;       // notrust: serve NTS-authenticated requests only
  bool version4_only() const;  // version: serve NTPv4 requests only
  bool flake() const;          // flake: drop one request in ten (testing)
};

class AccessTable {
 public:
  AccessTable() = default;  // no entries: no restrictions
  // `restrict source` entries are skipped (see README-access.md); the flags of
  // entries with the same address, prefix and ntpport merge (OR), as in NTPsec.
  explicit AccessTable(std::span<const config::RestrictEntry> entries);

  // Flags for a peer sockaddr (AF_INET or AF_INET6); allocation-free.
  AccessDecision lookup(const sockaddr* peer) const;
  // Same for a decoded key and UDP source port.
  AccessDecision lookup(const ClientKey& key, uint16_t port) const;

  bool any_limited() const { return any_limited_; }      // some entry has `limited`/`limited64`
  size_t size() const { return v4_.rules + v6_.rules; }  // distinct address/prefix entries

  struct U128 {
    uint64_t hi = 0, lo = 0;
    auto operator<=>(const U128&) const = default;
  };

 private:
  template <typename Addr>
  struct Rule {
    Addr network{};          // masked
    uint32_t any_flags = 0;  // entry without ntpport
    uint32_t ntp_flags = 0;  // entry with ntpport (matches source port 123 only)
    uint8_t group = 0;       // index into Table::masks
    bool used = false;       // slot holds a rule
    bool has_any = false;
    bool has_ntp = false;
  };
  template <typename Addr>
  struct Table {
    std::vector<Addr> masks;        // one per distinct prefix length, longest first
    std::vector<Rule<Addr>> slots;  // open addressing on (group, network), <= 1/4 full
    uint64_t slot_mask = 0;
    size_t rules = 0;
  };
  template <typename Addr>
  static bool match(const Table<Addr>& table, Addr address, bool ntp_port, uint32_t* flags);

  Table<uint32_t> v4_;
  Table<U128> v6_;
  bool any_limited_ = false;
};

}  // namespace ntsd::server
