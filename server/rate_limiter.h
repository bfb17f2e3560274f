#pragma once
// Per-client rate limiting for `restrict ... limited` with NTPsec's
// `discard average/minimum` semantics (the leaky bucket of ntpd's MRU list).
// One table per worker, fixed memory: every entry is allocated at
// construction; a new client past capacity evicts one not seen lately
// (CLOCK, a second-chance approximation of NTPsec's least-recently-used
// recycling). Time is injected. Single writer (the worker); stats() and
// busiest() from any thread.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "config/config.h"
#include "server/client_key.h"

namespace ntsd::server {

struct RateLimitParams {
  int average_log2 = 3;  // `discard average`: minimum average headway, log2 s (0..17)
  int minimum_s = 2;     // `discard minimum`: minimum headway (guard time), s
  // Per-worker cap on KoD RATE replies on top of NTPsec's per-client limit;
  // kod_per_second 0 lifts the cap.
  uint32_t kod_per_second = 100;
  uint32_t kod_burst = 100;
  uint64_t hash_seed = 0;  // 0: a random seed (tests pass a fixed one)
};

// The `discard` settings of a parsed config; the KoD cap stays at its default.
RateLimitParams rate_limit_params(const config::Config& config);

enum class RateVerdict : uint8_t {
  kAllow,        // answer normally
  kLimitedDrop,  // over the limit: drop silently
  kLimitedKod,   // over the limit: answer with KoD RATE
};

struct RateLimiterStats {
  uint64_t entries = 0;  // clients tracked now (<= capacity)
  uint64_t capacity = 0;
  uint64_t inserts = 0;     // new clients
  uint64_t evictions = 0;   // clients forgotten to make room for new ones
  uint64_t limited = 0;     // kLimitedDrop + kLimitedKod verdicts
  uint64_t kod = 0;         // kLimitedKod verdicts
  uint64_t kod_capped = 0;  // KoDs withheld by the per-worker cap
};

// One client entry as busiest() saw it (ntsctl clients, like ntpq's mrulist).
struct ClientActivity {
  ClientKey key;
  uint64_t requests = 0;  // since first_ns (the entry is new again after an eviction)
  uint32_t limited = 0;   // of those, refused by the rate limit
  uint32_t kod = 0;       // of those, answered with KoD RATE
  int64_t first_ns = 0;   // arrival of the first and latest request, as passed to check()
  int64_t last_ns = 0;
  int32_t leak = 0;       // NTPsec's leaky bucket, seconds; at or above limit_s: refused
};

// Cache-line aligned: the worker writes its hand and counters on every check,
// so no other worker's object may share its lines.
class alignas(64) RateLimiter {
 public:
  static constexpr size_t kDefaultCapacity = 65536;
  static constexpr size_t kMaxCapacity = size_t{1} << 30;

  // capacity is clamped to 1..kMaxCapacity; all memory is allocated here.
  explicit RateLimiter(size_t capacity = kDefaultCapacity, RateLimitParams params = {});
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Records one request from key at now_ns (any monotonic epoch) and says
  // what to do with it; kod false (the entry has no `kod`) never gives
  // kLimitedKod. No allocation, no syscall.
  RateVerdict check(const ClientKey& key, int64_t now_ns, bool kod = true);
  // Prefetches key's entry, for a batch: prefetch all, then check all.
  void prefetch(const ClientKey& key) const;

  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  const RateLimitParams& params() const { return params_; }
  RateLimiterStats stats() const;
  // The `limit` entries with the most requests, most first. Safe while the
  // worker writes; a best-effort view (the ordering argument is in the .cc).
  std::vector<ClientActivity> busiest(size_t limit) const;
  // The bucket level at or above which a client's requests are refused, s.
  int64_t limit_s() const;
  // Bytes allocated for a table of this capacity (the memory bound).
  static size_t memory_bytes(size_t capacity);

 private:
  static constexpr uint32_t kNil = 0x7fffffff;
  // One cache line, so a lookup still touches one line; the fields busiest()
  // reads are written with relaxed atomic stores (put()).
  struct alignas(64) Node {
    uint64_t key_hi = 0, key_lo = 0;
    int64_t last_ns = 0;         // arrival of the client's latest request
    int64_t first_ns = 0;        // arrival of its first request in this entry
    uint64_t requests = 0;       // requests since first_ns
    int32_t leak = 0;            // NTPsec's mon->leak, seconds
    uint32_t hash_next = kNil;   // bucket chain
    uint32_t limited = 0;        // requests refused
    uint32_t kod = 0;            // KoD RATE answers
    uint32_t generation = 0;     // odd while insert() rewrites the entry
    uint8_t referenced = 0;      // seen since the clock hand last passed
  };
  static_assert(sizeof(Node) == 64);

  uint64_t hash(uint64_t hi, uint64_t lo) const;
  uint32_t insert(uint64_t hi, uint64_t lo, uint32_t bucket, int64_t now_ns);
  uint32_t victim();
  void unlink_hash(uint32_t i);
  bool take_kod_token(int64_t now_ns);
  static void bump(std::atomic<uint64_t>& c) {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  // A relaxed store of a Node field busiest() may be reading (a plain mov on x86-64 and ARM64).
  template <typename T>
  static void put(T& field, T value) {
    std::atomic_ref<T>(field).store(value, std::memory_order_relaxed);
  }

  RateLimitParams params_;
  size_t capacity_;
  std::vector<Node> nodes_;        // capacity_ entries, the first size_ in use
  std::vector<uint32_t> buckets_;  // power of two >= capacity_, node index or kNil
  uint64_t bucket_mask_;
  uint64_t seed0_, seed1_;
  size_t size_ = 0;
  uint32_t hand_ = 0;             // CLOCK hand over nodes_
  int64_t kod_emission_ns_ = 0;   // GCRA: one KoD per emission interval...
  int64_t kod_tolerance_ns_ = 0;  // ... with a burst of this much credit
  int64_t kod_tat_ns_;            // theoretical arrival time of the next KoD

  std::atomic<uint64_t> entries_{0}, inserts_{0}, evictions_{0}, limited_{0}, kod_{0},
      kod_capped_{0};
};

}  // namespace ntsd::server
