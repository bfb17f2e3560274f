#pragma once
// Start-up, shutdown and operator-facing lines on stderr ("ntsd: ..."), one
// write per line. Never used per packet.
#include <string>

namespace ntsd::daemon {

void log_line(const char* format, ...) __attribute__((format(printf, 1, 2)));

// Also appends every line, with a UTC time stamp, to `path` (ntp.conf
// `logfile`). False with `error` when it cannot be opened; stderr keeps working.
bool set_log_file(const std::string& path, std::string* error);

}  // namespace ntsd::daemon
