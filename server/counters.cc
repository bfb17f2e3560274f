#include "server/counters.h"

#include <numeric>

namespace ntsd::server {

uint64_t CounterTotals::dropped_total() const {
  return std::accumulate(dropped.begin(), dropped.end(), uint64_t{0});
}

void CounterTotals::add(const WorkerCounters& counters) {
  received += counters.received.get();
  replied += counters.replied.get();
  send_errors += counters.send_errors.get();
  bytes_in += counters.bytes_in.get();
  bytes_out += counters.bytes_out.get();
  batches += counters.batches.get();
  for (size_t i = 0; i < dropped.size(); ++i) dropped[i] += counters.dropped[i].get();
}

std::string CounterTotals::to_line() const {
  std::string line = "received=" + std::to_string(received) + " replied=" + std::to_string(replied) +
                     " dropped=" + std::to_string(dropped_total()) +
                     " send_errors=" + std::to_string(send_errors) +
                     " bytes_in=" + std::to_string(bytes_in) +
                     " bytes_out=" + std::to_string(bytes_out) + " batches=" + std::to_string(batches);
  for (size_t i = 0; i < dropped.size(); ++i) {
    line += std::string(" drop_") + drop_reason_name(static_cast<DropReason>(i)) + "=" +
            std::to_string(dropped[i]);
  }
  return line;
}

CounterTotals sum_counters(std::span<const WorkerCounters* const> workers) {
  CounterTotals totals;
  for (const WorkerCounters* counters : workers) totals.add(*counters);
  return totals;
}

}  // namespace ntsd::server
