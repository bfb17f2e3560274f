#include "server/rate_limiter.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <random>
#include <type_traits>

namespace ntsd::server {
namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;
// Intervals longer than this (34 years) all look alike to the bucket.
constexpr int64_t kMaxIntervalS = int64_t{1} << 30;
// NTPsec's NTP_SHIFT: the bucket holds eight average headways.
constexpr int64_t kShift = 8;

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t mum(uint64_t a, uint64_t b) {
  const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

size_t clamp_capacity(size_t capacity) {
  return std::clamp<size_t>(capacity, 1, RateLimiter::kMaxCapacity);
}

size_t bucket_count(size_t capacity) { return std::bit_ceil(clamp_capacity(capacity)); }

// NTPsec measures the interval in whole seconds, rounded to nearest ("add
// one-half second to round up", ntp_monitor.c); the thresholds below are
// calibrated for that, so ntsd rounds the same way. A clock that stepped
// back gives 0, never a negative interval that would fill the bucket.
int64_t interval_seconds(int64_t last_ns, int64_t now_ns) {
  if (now_ns <= last_ns) return 0;
  const uint64_t elapsed = static_cast<uint64_t>(now_ns) - static_cast<uint64_t>(last_ns);
  if (elapsed >= static_cast<uint64_t>(kMaxIntervalS * kNsPerSecond)) return kMaxIntervalS;
  return static_cast<int64_t>((elapsed + kNsPerSecond / 2) / kNsPerSecond);
}

}  // namespace

RateLimitParams rate_limit_params(const config::Config& config) {
  RateLimitParams params;
  params.average_log2 = config.discard_average;
  params.minimum_s = config.discard_minimum;
  return params;
}

RateLimiter::RateLimiter(size_t capacity, RateLimitParams params)
    : params_(params),
      capacity_(clamp_capacity(capacity)),
      nodes_(capacity_),
      buckets_(bucket_count(capacity_), kNil),
      bucket_mask_(buckets_.size() - 1),
      kod_tat_ns_(std::numeric_limits<int64_t>::min()) {
  // The parser allows 0..17; the clamp only keeps the arithmetic in range.
  params_.average_log2 = std::clamp(params_.average_log2, 0, 24);
  params_.minimum_s = std::clamp<int>(params_.minimum_s, 0, static_cast<int>(kMaxIntervalS));
  // The hash is keyed so that a flood of chosen source addresses cannot
  // pile into one bucket chain (the addresses are attacker-controlled).
  uint64_t state = params_.hash_seed;
  if (state == 0) {
    std::random_device rd;
    state = (uint64_t{rd()} << 32) ^ rd();
  }
  seed0_ = splitmix64(state);
  seed1_ = splitmix64(state);
  if (params_.kod_per_second != 0) {
    kod_emission_ns_ = std::max<int64_t>(1, kNsPerSecond / params_.kod_per_second);
    kod_tolerance_ns_ = (std::max<int64_t>(1, params_.kod_burst) - 1) * kod_emission_ns_;
  }
  entries_.store(0, std::memory_order_relaxed);
}

size_t RateLimiter::memory_bytes(size_t capacity) {
  return sizeof(RateLimiter) + clamp_capacity(capacity) * sizeof(Node) +
         bucket_count(capacity) * sizeof(uint32_t);
}

uint64_t RateLimiter::hash(uint64_t hi, uint64_t lo) const { return mum(hi ^ seed0_, lo ^ seed1_); }

void RateLimiter::prefetch(const ClientKey& key) const {
  uint64_t hi, lo;
  std::memcpy(&hi, key.bytes.data(), 8);
  std::memcpy(&lo, key.bytes.data() + 8, 8);
  // The bucket array (4 bytes per entry) mostly stays in L2; the entry it
  // points to is the likely cache miss, so read the bucket now and prefetch
  // the first entry of its chain, letting a batch's misses overlap.
  const uint32_t i = buckets_[hash(hi, lo) & bucket_mask_];
  if (i != kNil) __builtin_prefetch(&nodes_[i]);
}

void RateLimiter::unlink_hash(uint32_t i) {
  const Node& n = nodes_[i];
  const auto b = static_cast<uint32_t>(hash(n.key_hi, n.key_lo) & bucket_mask_);
  if (buckets_[b] == i) {
    buckets_[b] = n.hash_next;
    return;
  }
  uint32_t p = buckets_[b];
  while (nodes_[p].hash_next != i) p = nodes_[p].hash_next;
  nodes_[p].hash_next = n.hash_next;
}

// NTPsec recycles the least recently used entry of its MRU list (and
// refuses to recycle one younger than `mru minage`, 64 s, leaving the
// newcomer untracked). An exact LRU list costs two extra random cache-line
// writes per request (unlinking from both neighbours), so this table uses
// CLOCK instead: a hit only sets the entry's referenced bit, and a newcomer
// past capacity takes the first entry under the sweeping hand that has not
// been seen since the hand last passed, clearing bits on the way. New
// entries start unreferenced, so a flood of one-shot (spoofed) sources
// mostly recycles its own entries before those of clients that come back.
// The sweep is cut at kMaxSweep steps so that no single request pays for a
// whole pass over the table.
uint32_t RateLimiter::victim() {
  constexpr int kMaxSweep = 256;
  for (int step = 0;; ++step) {
    const uint32_t i = hand_;
    hand_ = hand_ + 1 == capacity_ ? 0 : hand_ + 1;
    Node& n = nodes_[i];
    if (!n.referenced || step == kMaxSweep) return i;
    n.referenced = 0;
  }
}

uint32_t RateLimiter::insert(uint64_t hi, uint64_t lo, uint32_t bucket, int64_t now_ns) {
  uint32_t i;
  if (size_ < capacity_) {
    i = static_cast<uint32_t>(size_++);
    entries_.store(size_, std::memory_order_relaxed);
  } else {
    i = victim();
    unlink_hash(i);
    bump(evictions_);
  }
  Node& n = nodes_[i];
  // A new occupant: odd generation while the fields change (busiest()).
  put(n.generation, n.generation + 1);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  put(n.key_hi, hi);
  put(n.key_lo, lo);
  put(n.last_ns, now_ns);
  put(n.first_ns, now_ns);
  put(n.requests, uint64_t{1});
  put(n.leak, 0);
  put(n.limited, 0u);
  put(n.kod, 0u);
  n.referenced = 0;
  n.hash_next = buckets_[bucket];
  std::atomic_signal_fence(std::memory_order_seq_cst);
  put(n.generation, n.generation + 1);
  buckets_[bucket] = i;
  bump(inserts_);
  return i;
}

bool RateLimiter::take_kod_token(int64_t now_ns) {
  if (kod_emission_ns_ == 0) return true;
  const int64_t tat = std::max(kod_tat_ns_, now_ns);
  if (tat - now_ns > kod_tolerance_ns_) return false;
  kod_tat_ns_ = tat + kod_emission_ns_;
  return true;
}

// NTPsec's ntp_monitor() (ntpd/ntp_monitor.c), step for step. `leak` is a
// leaky bucket in seconds that drains one per second of headway. Each
// accepted request adds the increment head = 2^average less a 2 s grace;
// a request is accepted when its interval (rounded, with a 1 s grace) is at
// least `minimum` and the bucket plus one increment stays below
// limit = 8 * head. So a client keeps up one request per (2^average - 2) s
// indefinitely and can burst above that until the bucket fills. When a
// request is refused while the bucket is below the limit, the bucket is set
// to limit + head and a KoD may go out; further refusals with the bucket at
// or above the limit are silent. That is NTPsec's KoD limiter: at most one
// KoD per client per head seconds of excess traffic.
RateVerdict RateLimiter::check(const ClientKey& key, int64_t now_ns, bool kod) {
  uint64_t hi, lo;
  std::memcpy(&hi, key.bytes.data(), 8);
  std::memcpy(&lo, key.bytes.data() + 8, 8);
  const auto bucket = static_cast<uint32_t>(hash(hi, lo) & bucket_mask_);
  uint32_t i = buckets_[bucket];
  while (i != kNil && (nodes_[i].key_hi != hi || nodes_[i].key_lo != lo)) i = nodes_[i].hash_next;
  if (i == kNil) {
    // First request of a client (or first since it was evicted): accepted
    // with an empty bucket, as in NTPsec.
    insert(hi, lo, bucket, now_ns);
    return RateVerdict::kAllow;
  }

  Node& n = nodes_[i];
  const int64_t interval = interval_seconds(n.last_ns, now_ns);
  put(n.last_ns, now_ns);
  put(n.requests, n.requests + 1);
  n.referenced = 1;
  const int64_t leak = std::max<int64_t>(0, int64_t{n.leak} - interval);
  const int64_t head = int64_t{1} << params_.average_log2;
  const int64_t limit = kShift * head;
  if (interval + 1 >= params_.minimum_s && leak + head < limit) {
    put(n.leak, static_cast<int32_t>(leak + head - 2));
    return RateVerdict::kAllow;
  }
  bump(limited_);
  put(n.limited, n.limited + 1);
  if (leak >= limit) {
    put(n.leak, static_cast<int32_t>(leak));
    return RateVerdict::kLimitedDrop;
  }
  put(n.leak, static_cast<int32_t>(limit + head));
  if (!kod) return RateVerdict::kLimitedDrop;
  if (!take_kod_token(now_ns)) {
    bump(kod_capped_);
    return RateVerdict::kLimitedDrop;
  }
  bump(kod_);
  put(n.kod, n.kod + 1);
  return RateVerdict::kLimitedKod;
}

RateLimiterStats RateLimiter::stats() const {
  RateLimiterStats s;
  s.entries = entries_.load(std::memory_order_relaxed);
  s.capacity = capacity_;
  s.inserts = inserts_.load(std::memory_order_relaxed);
  s.evictions = evictions_.load(std::memory_order_relaxed);
  s.limited = limited_.load(std::memory_order_relaxed);
  s.kod = kod_.load(std::memory_order_relaxed);
  s.kod_capped = kod_capped_.load(std::memory_order_relaxed);
  return s;
}

int64_t RateLimiter::limit_s() const { return kShift * (int64_t{1} << params_.average_log2); }

// Memory ordering of the walk. busiest() runs on the control thread while the
// worker keeps writing the table, and the worker must not pay for it: no lock,
// no fence instruction, no read-modify-write. Every Node field the walk reads
// is written by the worker with a relaxed atomic store (put()) and read here
// with a relaxed load, so there is no data race (no undefined behaviour, clean
// under TSan) and each field is read whole. Relaxed gives no consistent row,
// though: insert() may hand an entry to a new client while the walk reads it.
// So insert() makes the entry's generation odd before rewriting it and even
// after, with compiler-only fences (atomic_signal_fence, no instruction) that
// keep those stores in program order, and the walk reads the generation, the
// fields, then the generation again (again between compiler-only fences),
// dropping the row when the two differ or are odd. On x86-64 (TSO: stores
// become visible in program order, loads are not reordered with loads) that is
// a seqlock. On weakly ordered CPUs it is best effort: a rare row may pair one
// client's address with its predecessor's counts — making that exact would
// cost a release fence per insert, i.e. per packet of a spoofed-source flood.
// A hit's own updates (last_ns, requests, leak) are not fenced: a row may show
// a count from just before a request and a time from just after. Both are
// acceptable for an operator's list, and nothing the worker decides depends on
// the walk, which writes nothing.
std::vector<ClientActivity> RateLimiter::busiest(size_t limit) const {
  std::vector<ClientActivity> top;
  if (limit == 0) return top;
  const auto get = [](const auto& field) {
    using T = std::remove_cvref_t<decltype(field)>;
    return std::atomic_ref<T>(const_cast<T&>(field)).load(std::memory_order_relaxed);
  };
  // A min-heap on requests of the best `limit` rows seen so far.
  const auto more = [](const ClientActivity& a, const ClientActivity& b) { return a.requests > b.requests; };
  const size_t used = std::min<size_t>(entries_.load(std::memory_order_relaxed), capacity_);
  top.reserve(std::min(limit, used) + 1);
  for (size_t i = 0; i < used; ++i) {
    const Node& n = nodes_[i];
    const uint32_t before = get(n.generation);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    ClientActivity row;
    const uint64_t hi = get(n.key_hi), lo = get(n.key_lo);
    std::memcpy(row.key.bytes.data(), &hi, 8);
    std::memcpy(row.key.bytes.data() + 8, &lo, 8);
    row.requests = get(n.requests);
    row.limited = get(n.limited);
    row.kod = get(n.kod);
    row.first_ns = get(n.first_ns);
    row.last_ns = get(n.last_ns);
    row.leak = get(n.leak);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if ((before & 1) != 0 || get(n.generation) != before || row.requests == 0) continue;
    if (top.size() == limit) {
      if (row.requests <= top.front().requests) continue;
      std::pop_heap(top.begin(), top.end(), more);
      top.pop_back();
    }
    top.push_back(row);
    std::push_heap(top.begin(), top.end(), more);
  }
  std::sort_heap(top.begin(), top.end(), more);  // most requests first
  return top;
}

}  // namespace ntsd::server
