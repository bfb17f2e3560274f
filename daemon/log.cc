#include "daemon/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <algorithm>

namespace ntsd::daemon {
namespace {

// Opened once at start-up (before any thread), read-only afterwards; each
// line is one write(2) with O_APPEND, so lines from threads never interleave.
int log_fd = -1;

}  // namespace

bool set_log_file(const std::string& path, std::string* error) {
  // O_NOFOLLOW: opened as root, in a folder another user may write to (say
  // /var/log/ntpsec); a symlink planted there must not redirect our lines.
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) {
    *error = path + ": " + std::strerror(errno);
    return false;
  }
  log_fd = fd;
  return true;
}

void log_line(const char* format, ...) {
  char line[2048];
  va_list args;
  va_start(args, format);
  const int n = std::vsnprintf(line, sizeof(line), format, args);
  va_end(args);
  if (n < 0) return;
  std::fprintf(stderr, "ntsd: %s\n", line);
  std::fflush(stderr);
  if (log_fd >= 0) {
    char stamped[2200];
    const time_t now = std::time(nullptr);
    tm utc;
    gmtime_r(&now, &utc);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &utc);
    const int m = std::snprintf(stamped, sizeof stamped, "%s ntsd[%d]: %s\n", when, static_cast<int>(getpid()), line);
    if (m > 0) {
      const ssize_t ignored = ::write(log_fd, stamped, static_cast<size_t>(std::min<int>(m, sizeof stamped - 1)));
      (void)ignored;
    }
  }
}

}  // namespace ntsd::daemon
