#pragma once
// Per-worker counters. Each worker is the only writer of its own block (a
// relaxed load + store, no locked instruction); any thread may read a block at
// any time and sum them. Cache-line aligned so workers never share a line.
#include <array>
#include <atomic>
#include <cstdint>
#include <span>
#include <string>

#include "server/verdict.h"

namespace ntsd::server {

class Counter {
 public:
  void add(uint64_t n = 1) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

struct alignas(64) WorkerCounters {
  Counter received;  // datagrams handed to respond()
  Counter replied;
  Counter send_errors;
  Counter bytes_in;
  Counter bytes_out;
  Counter batches;
  Counter heartbeats;  // receive rounds, idle ones too (every 100 ms at least): the watchdog's proof of life
  Counter nts_replied;  // NTS-authenticated replies
  Counter kod_rate;     // Kiss-o'-Death RATE replies
  Counter mode6_queued;  // mode-6 (ntpq) requests handed to the ops thread
  std::array<Counter, static_cast<size_t>(DropReason::kCount)> dropped;
  std::array<Counter, static_cast<size_t>(NakReason::kCount)> naks;
  std::array<Counter, static_cast<size_t>(KeyAge::kCount)> cookie_key_age;
  // Written by the ops thread, each field by it alone (so still one writer
  // per counter): what became of this worker's queued mode-6 requests. On a
  // cache line of their own, so the ops thread never writes a line the
  // worker writes (they once shared one with kod_rate and dropped[0..2]).
  alignas(64) Counter mode6_answered;  // answered with data
  Counter mode6_refused;      // answered with an error status (writes, unknown association or variable)
  Counter mode6_send_errors;  // the reply's sendto() failed

  void count_drop(DropReason why) { dropped[static_cast<size_t>(why)].add(); }
  // Counts one answered request by what kind of reply it got.
  void count_reply(const Verdict& verdict);
};

// A plain copy of counter values, summed over workers.
struct CounterTotals {
  uint64_t received = 0, replied = 0, send_errors = 0, bytes_in = 0, bytes_out = 0, batches = 0;
  uint64_t nts_replied = 0, kod_rate = 0;
  uint64_t mode6_queued = 0, mode6_answered = 0, mode6_refused = 0, mode6_send_errors = 0;
  std::array<uint64_t, static_cast<size_t>(DropReason::kCount)> dropped{};
  std::array<uint64_t, static_cast<size_t>(NakReason::kCount)> naks{};
  std::array<uint64_t, static_cast<size_t>(KeyAge::kCount)> cookie_key_age{};

  uint64_t naks_total() const;

  uint64_t dropped_total() const;
  void add(const WorkerCounters& counters);
  // One line, "key=value" pairs, for logs and the SIGUSR1 dump.
  std::string to_line() const;
};

CounterTotals sum_counters(std::span<const WorkerCounters* const> workers);

}  // namespace ntsd::server
