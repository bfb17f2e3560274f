#pragma once
// CPU time of a process (all its threads) from /proc/PID/stat, for
// "replies per server CPU-second" figures.
#include <optional>

namespace ntsd::bench {

// utime + stime in seconds; nullopt if the process does not exist or cannot be read.
std::optional<double> process_cpu_seconds(int pid);

}  // namespace ntsd::bench
