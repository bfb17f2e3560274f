#pragma once
// Start-up, shutdown and operator-facing lines on stderr ("ntsd: ..."), one
// write per line. Never used per packet.
namespace ntsd::daemon {

void log_line(const char* format, ...) __attribute__((format(printf, 1, 2)));

}  // namespace ntsd::daemon
