#include "daemon/log.h"

#include <cstdarg>
#include <cstdio>

namespace ntsd::daemon {

void log_line(const char* format, ...) {
  char line[2048];
  va_list args;
  va_start(args, format);
  const int n = std::vsnprintf(line, sizeof(line), format, args);
  va_end(args);
  if (n < 0) return;
  std::fprintf(stderr, "ntsd: %s\n", line);
  std::fflush(stderr);
}

}  // namespace ntsd::daemon
