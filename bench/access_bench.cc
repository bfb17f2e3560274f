// restrict lookup and per-client rate limiting, per request.
// bazel run -c opt //bench:access_bench
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>

#include <random>
#include <vector>

#include "config/config.h"
#include "server/access_control.h"
#include "server/rate_limiter.h"

namespace {

using namespace ntsd;
using config::bit;
using config::RestrictFlag;

// 100 entries over a spread of prefix lengths per family, as an ISP's
// ntp.conf might list customer networks, plus the two defaults.
std::vector<config::RestrictEntry> hundred_entries(config::IpFamily family, std::mt19937_64& rng) {
  std::vector<config::RestrictEntry> entries;
  config::RestrictEntry def;
  def.is_default = true;
  def.flags = bit(RestrictFlag::kLimited) | bit(RestrictFlag::kKod) | bit(RestrictFlag::kNoquery);
  entries.push_back(def);
  const bool v4 = family == config::IpFamily::kIPv4;
  const int prefixes4[] = {8, 12, 16, 20, 22, 24, 28, 32};
  const int prefixes6[] = {16, 32, 48, 56, 64, 96, 112, 128};
  while (entries.size() < 100) {
    config::RestrictEntry e;
    e.family = family;
    const int prefix = (v4 ? prefixes4 : prefixes6)[rng() % 8];
    e.prefix_len = static_cast<uint8_t>(prefix);
    const int bytes = v4 ? 4 : 16;
    for (int b = 0; b < bytes; ++b) e.address[b] = static_cast<uint8_t>(rng());
    if (v4) e.address[0] = static_cast<uint8_t>(10 + rng() % 4);  // overlap with the probes
    if (!v4) e.address[0] = 0x20, e.address[1] = 0x01;
    for (int b = prefix; b < bytes * 8; ++b)
      e.address[b / 8] &= static_cast<uint8_t>(~(0x80 >> (b % 8)));
    e.flags = bit(RestrictFlag::kNomodify) << (rng() % 4);
    bool duplicate = false;
    for (const auto& other : entries) {
      duplicate |= other.address == e.address && other.prefix_len == e.prefix_len;
    }
    if (!duplicate) entries.push_back(e);  // 100 distinct entries
  }
  return entries;
}

std::vector<sockaddr_storage> probes(bool v4, std::mt19937_64& rng, size_t n) {
  std::vector<sockaddr_storage> out(n);
  for (auto& ss : out) {
    if (v4) {
      auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
      sin->sin_family = AF_INET;
      sin->sin_port = htons(static_cast<uint16_t>(1024 + rng() % 60000));
      sin->sin_addr.s_addr =
          htonl((10u + rng() % 4) << 24 | (static_cast<uint32_t>(rng()) & 0xffffff));
    } else {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = htons(static_cast<uint16_t>(1024 + rng() % 60000));
      for (int b = 0; b < 16; ++b) sin6->sin6_addr.s6_addr[b] = static_cast<uint8_t>(rng());
      sin6->sin6_addr.s6_addr[0] = 0x20;
      sin6->sin6_addr.s6_addr[1] = 0x01;
    }
  }
  return out;
}

void BM_AccessLookup(benchmark::State& state, bool v4) {
  std::mt19937_64 rng(1);
  const auto entries = hundred_entries(v4 ? config::IpFamily::kIPv4 : config::IpFamily::kIPv6, rng);
  const server::AccessTable table(entries);
  const auto peers = probes(v4, rng, 4096);
  size_t i = 0;
  for (auto _ : state) {
    const auto& ss = peers[i++ & 4095];
    benchmark::DoNotOptimize(table.lookup(reinterpret_cast<const sockaddr*>(&ss)));
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["entries"] = static_cast<double>(table.size());
}
void BM_AccessLookupV4_100(benchmark::State& state) { BM_AccessLookup(state, true); }
void BM_AccessLookupV6_100(benchmark::State& state) { BM_AccessLookup(state, false); }
BENCHMARK(BM_AccessLookupV4_100);
BENCHMARK(BM_AccessLookupV6_100);

std::vector<server::ClientKey> client_keys(size_t n, std::mt19937_64& rng) {
  std::vector<server::ClientKey> keys;
  for (size_t i = 0; i < n; ++i)
    keys.push_back(server::ClientKey::ipv4(static_cast<uint32_t>(rng())));
  return keys;
}

// 64k known clients in a 64k table (the default per-worker capacity), hit in
// random order at a polite rate, so every check is a hit with an LRU move.
struct WarmLimiter {
  std::mt19937_64 rng{2};
  server::RateLimiter limiter{65536, {.hash_seed = 99}};
  std::vector<server::ClientKey> keys = client_keys(65536, rng);
  std::vector<uint32_t> order = std::vector<uint32_t>(1 << 20);  // random client order
  int64_t now = 1'000'000'000'000;
  WarmLimiter() {
    for (const auto& k : keys) limiter.check(k, now);
    for (auto& o : order) o = static_cast<uint32_t>(rng() % keys.size());
  }
};

void BM_RateLimitCheck64k(benchmark::State& state) {
  WarmLimiter w;
  auto& [rng, limiter, keys, order, now] = w;
  size_t i = 0;
  for (auto _ : state) {
    now += 1'000'000;  // 1 ms per request across all clients: each one ~65 s apart
    benchmark::DoNotOptimize(limiter.check(keys[order[i++ & (order.size() - 1)]], now));
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["table_bytes"] = static_cast<double>(server::RateLimiter::memory_bytes(65536));
}
BENCHMARK(BM_RateLimitCheck64k);

// The same, a batch of 32 at a time with prefetch() first, as a worker would.
void BM_RateLimitCheck64kBatch32Prefetch(benchmark::State& state) {
  WarmLimiter w;
  auto& [rng, limiter, keys, order, now] = w;
  size_t i = 0;
  for (auto _ : state) {
    now += 32'000'000;
    for (size_t j = 0; j < 32; ++j) limiter.prefetch(keys[order[(i + j) & (order.size() - 1)]]);
    for (size_t j = 0; j < 32; ++j) {
      benchmark::DoNotOptimize(limiter.check(keys[order[(i + j) & (order.size() - 1)]], now));
    }
    i += 32;
  }
  state.SetItemsProcessed(state.iterations() * 32);
}
BENCHMARK(BM_RateLimitCheck64kBatch32Prefetch);

// Every request from a never-seen client: insert and evict the LRU tail.
void BM_RateLimitCheckNewClientEvicts(benchmark::State& state) {
  std::mt19937_64 rng(3);
  server::RateLimiter limiter(65536, {.hash_seed = 99});
  int64_t now = 1'000'000'000'000;
  uint32_t next = 0;
  for (int i = 0; i < 65536; ++i) limiter.check(server::ClientKey::ipv4(next++ * 2654435761u), now);
  for (auto _ : state) {
    now += 1000;
    benchmark::DoNotOptimize(limiter.check(server::ClientKey::ipv4(next++ * 2654435761u), now));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RateLimitCheckNewClientEvicts);

// One client hammering: always the LRU head, always limited.
void BM_RateLimitCheckOneAbuser(benchmark::State& state) {
  server::RateLimiter limiter(65536, {.hash_seed = 99});
  const auto k = server::ClientKey::ipv4(0xc0000201);
  int64_t now = 1'000'000'000'000;
  for (auto _ : state) {
    now += 1000;
    benchmark::DoNotOptimize(limiter.check(k, now));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RateLimitCheckOneAbuser);

}  // namespace
