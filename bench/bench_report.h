#pragma once
// ntsbench's results: one JSON object (for scripts such as bench/compare.sh)
// and one human-readable summary line.
#include <cstdint>
#include <optional>
#include <string>

namespace ntsd::bench {

struct BenchReport {
  std::string mode;    // "nts", "plain", "ke"
  std::string target;  // where the load went
  int clients = 0;
  int threads = 0;
  double duration_s = 0;  // wall time of the load, drain included
  uint64_t sent = 0;
  uint64_t verified = 0;  // ke: successful sessions
  uint64_t failed = 0;
  uint64_t naks = 0;
  uint64_t kods = 0;
  uint64_t timeouts = 0;
  uint64_t late = 0;
  uint64_t reused_cookies = 0;
  uint64_t send_errors = 0;
  uint64_t slots_exhausted = 0;
  double p50_us = 0, p99_us = 0, p999_us = 0;
  std::optional<double> server_cpu_s;  // with --server-pid
  double client_cpu_s = 0;             // ntsbench's own CPU time over the run
};

double lost_percent(const BenchReport& report);
double verified_per_second(const BenchReport& report);
std::optional<double> verified_per_server_cpu_second(const BenchReport& report);

std::string report_json(const BenchReport& report);
std::string report_summary(const BenchReport& report);

}  // namespace ntsd::bench
