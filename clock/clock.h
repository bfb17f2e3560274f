#pragma once
// Time is injected: protocol code never reads a clock itself. The real clock
// reads CLOCK_REALTIME; the simulated clock is set and advanced by tests.
#include <atomic>
#include <cstdint>

namespace ntsd::clock {

class Clock {
 public:
  virtual ~Clock() = default;
  // Current time as nanoseconds since the Unix epoch.
  virtual int64_t now_unix_ns() const = 0;
};

// CLOCK_REALTIME (vDSO; no syscall on x86-64 Linux).
class RealClock final : public Clock {
 public:
  int64_t now_unix_ns() const override;
};

// A clock that only moves when told to; safe to read from any thread.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(int64_t start_unix_ns) : now_ns_(start_unix_ns) {}
  int64_t now_unix_ns() const override { return now_ns_.load(std::memory_order_relaxed); }
  void set(int64_t unix_ns) { now_ns_.store(unix_ns, std::memory_order_relaxed); }
  void advance(int64_t delta_ns) { now_ns_.fetch_add(delta_ns, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_ns_;
};

}  // namespace ntsd::clock
