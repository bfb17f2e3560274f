#pragma once
// ntsbench --ke: NTS-KE handshakes per second with C concurrent connections,
// each a full session (TLS 1.3 handshake, request, response with cookies).
#include <atomic>
#include <cstdint>
#include <string>

#include "bench/latency_histogram.h"
#include "clock/nts_ke.h"

namespace ntsd::bench {

struct KeLoadConfig {
  clock::KeTarget target;
  int connections = 64;  // concurrent connections, one thread each
  int64_t duration_ns = 10'000'000'000;
};

struct KeLoadCounters {
  std::atomic<uint64_t> handshakes{0};  // sessions that ended with a valid response holding cookies
  std::atomic<uint64_t> failed{0};
};

struct KeLoadResult {
  uint64_t handshakes = 0;
  uint64_t failed = 0;
  double elapsed_s = 0;
  LatencyHistogram latency;  // per successful session, connect to last byte
  std::string first_error;
};

// Runs until the deadline or until `stop` is set; `counters` are updated live.
KeLoadResult run_ke_load(const KeLoadConfig& config, const std::atomic<bool>& stop, KeLoadCounters& counters);

}  // namespace ntsd::bench
