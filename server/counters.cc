#include "server/counters.h"

#include <numeric>

namespace ntsd::server {

void WorkerCounters::count_reply(const Verdict& verdict) {
  switch (verdict.kind) {
    case ReplyKind::kPlain: break;
    case ReplyKind::kNts:
      nts_replied.add();
      cookie_key_age[static_cast<size_t>(verdict.key_age)].add();
      break;
    case ReplyKind::kNak: naks[static_cast<size_t>(verdict.nak)].add(); break;
    case ReplyKind::kKissRate: kod_rate.add(); break;
  }
}

uint64_t CounterTotals::naks_total() const {
  return std::accumulate(naks.begin(), naks.end(), uint64_t{0});
}

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
  nts_replied += counters.nts_replied.get();
  kod_rate += counters.kod_rate.get();
  mode6_queued += counters.mode6_queued.get();
  mode6_answered += counters.mode6_answered.get();
  mode6_refused += counters.mode6_refused.get();
  mode6_send_errors += counters.mode6_send_errors.get();
  for (size_t i = 0; i < dropped.size(); ++i) dropped[i] += counters.dropped[i].get();
  for (size_t i = 0; i < naks.size(); ++i) naks[i] += counters.naks[i].get();
  for (size_t i = 0; i < cookie_key_age.size(); ++i) {
    cookie_key_age[i] += counters.cookie_key_age[i].get();
  }
}

std::string CounterTotals::to_line() const {
  std::string line = "received=" + std::to_string(received) + " replied=" + std::to_string(replied) +
                     " dropped=" + std::to_string(dropped_total()) +
                     " send_errors=" + std::to_string(send_errors) +
                     " bytes_in=" + std::to_string(bytes_in) +
                     " bytes_out=" + std::to_string(bytes_out) + " batches=" + std::to_string(batches) +
                     " nts_replied=" + std::to_string(nts_replied) +
                     " nts_naks=" + std::to_string(naks_total()) +
                     " kod_rate=" + std::to_string(kod_rate) +
                     " mode6_queued=" + std::to_string(mode6_queued) +
                     " mode6_answered=" + std::to_string(mode6_answered) +
                     " mode6_refused=" + std::to_string(mode6_refused) +
                     " mode6_send_errors=" + std::to_string(mode6_send_errors);
  for (size_t i = 0; i < naks.size(); ++i) {
    line += std::string(" nak_") + nak_reason_name(static_cast<NakReason>(i)) + "=" +
            std::to_string(naks[i]);
  }
  for (size_t i = 0; i < cookie_key_age.size(); ++i) {
    line += std::string(" cookie_key_") + key_age_name(static_cast<KeyAge>(i)) + "=" +
            std::to_string(cookie_key_age[i]);
  }
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
