#include "bench/ke_load.h"

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "ke/client.h"

namespace ntsd::bench {

using Clock = std::chrono::steady_clock;

KeLoadResult run_ke_load(const KeLoadConfig& config, const std::atomic<bool>& stop, KeLoadCounters& counters) {
  const ke::KeClient client(clock::ke_client_options(config.target));
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::nanoseconds(config.duration_ns);
  KeLoadResult result;
  std::mutex merge_mutex;  // taken once per thread at its end
  std::vector<std::thread> threads;
  for (int i = 0; i < config.connections; ++i) {
    threads.emplace_back([&] {
      LatencyHistogram latency;
      uint64_t ok = 0, failed = 0;
      std::string first_error;
      while (Clock::now() < deadline && !stop.load(std::memory_order_relaxed)) {
        const auto begin = Clock::now();
        std::string error;
        if (clock::session_from_ke_result(config.target, client.run(), &error)) {
          ++ok;
          counters.handshakes.fetch_add(1, std::memory_order_relaxed);
          latency.record(static_cast<uint64_t>(std::chrono::nanoseconds(Clock::now() - begin).count()));
        } else {
          ++failed;
          counters.failed.fetch_add(1, std::memory_order_relaxed);
          if (first_error.empty()) first_error = error;
        }
      }
      const std::lock_guard lock(merge_mutex);
      result.handshakes += ok;
      result.failed += failed;
      result.latency.merge(latency);
      if (result.first_error.empty()) result.first_error = first_error;
    });
  }
  for (auto& thread : threads) thread.join();
  result.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace ntsd::bench
