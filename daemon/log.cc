#include "daemon/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace ntsd::daemon {
namespace {

// The logfile descriptor number never changes once set: a reopen replaces the
// file behind it with dup3(2), atomically, so a thread writing at that moment
// writes whole lines to the old or the new file, never to a closed or reused
// descriptor. The path is set once at start-up, before any thread.
std::atomic<int> log_fd{-1};
std::string log_path;
std::atomic<uint32_t> log_mask{config::kLogAll};

int open_log(const std::string& path) {
  // O_NOFOLLOW: opened as root, in a folder another user may write to (say
  // /var/log/ntpsec); a symlink planted there must not redirect our lines.
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
}

const char* level_word(Level level) {
  switch (level) {
    case Level::kError:
      return "error: ";
    case Level::kWarning:
      return "warning: ";
    default:
      return "";
  }
}

void write_all(int fd, const std::string& line) {
  const ssize_t ignored = ::write(fd, line.data(), line.size());
  (void)ignored;  // nowhere left to report a failed log write
}

void vlog(Level level, uint32_t log_class, const char* format, va_list args) {
  char text[2048];
  const int n = std::vsnprintf(text, sizeof text, format, args);
  if (n < 0) return;
  log_text(level, log_class,
           std::string_view(text, std::min<size_t>(static_cast<size_t>(n), sizeof text - 1)));
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}
bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

}  // namespace

bool stderr_is_journal() {
  // systemd sets JOURNAL_STREAM=DEV:INODE for a service whose stderr it
  // connected to the journal; a child whose stderr was redirected elsewhere
  // inherits the variable, hence the comparison (sd-daemon(3), systemd.exec(5)).
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  uintmax_t dev = 0, ino = 0;
  if (std::sscanf(stream, "%" SCNuMAX ":%" SCNuMAX, &dev, &ino) != 2) return false;
  struct stat st;
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return static_cast<uintmax_t>(st.st_dev) == dev && static_cast<uintmax_t>(st.st_ino) == ino;
}

std::string format_stderr_line(Level level, std::string_view text, bool journal) {
  std::string line;
  if (journal) {
    // "<3>" … "<6>": SD_ERR … SD_INFO; journald strips it and stores PRIORITY.
    line = "<" + std::to_string(static_cast<int>(level)) + ">";
  } else {
    line = "ntsd: ";
  }
  line += level_word(level);
  line += text;
  line += '\n';
  return line;
}

void log_text(Level level, uint32_t log_class, std::string_view text) {
  if (level >= Level::kNotice && log_class != kLogRequested &&
      (log_mask.load(std::memory_order_relaxed) & log_class) == 0) {
    return;
  }
  static const bool journal = stderr_is_journal();
  write_all(STDERR_FILENO, format_stderr_line(level, text, journal));
  const int fd = log_fd.load(std::memory_order_acquire);
  if (fd < 0) return;
  const time_t now = std::time(nullptr);
  tm utc;
  gmtime_r(&now, &utc);
  char when[64];
  const int m = std::snprintf(
      when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02dZ ntsd[%d]: ", utc.tm_year + 1900,
      utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(getpid()));
  std::string line(when, static_cast<size_t>(std::max(m, 0)));
  line += level_word(level);
  line += text;
  line += '\n';
  write_all(fd, line);
}

void log_error(const char* format, ...) {
  va_list args;
  va_start(args, format);
  vlog(Level::kError, kLogRequested, format, args);
  va_end(args);
}

void log_warning(const char* format, ...) {
  va_list args;
  va_start(args, format);
  vlog(Level::kWarning, kLogRequested, format, args);
  va_end(args);
}

void log_notice(uint32_t log_class, const char* format, ...) {
  va_list args;
  va_start(args, format);
  vlog(Level::kNotice, log_class, format, args);
  va_end(args);
}

void log_info(uint32_t log_class, const char* format, ...) {
  va_list args;
  va_start(args, format);
  vlog(Level::kInfo, log_class, format, args);
  va_end(args);
}

void log_report(Level otherwise, uint32_t log_class, std::string_view text) {
  if (starts_with(text, "warning: "))
    return log_text(Level::kWarning, kLogRequested, text.substr(9));
  if (starts_with(text, "error: ")) return log_text(Level::kError, kLogRequested, text.substr(7));
  log_text(otherwise, log_class, text);
}

void log_line(const char* format, ...) {
  va_list args;
  va_start(args, format);
  vlog(Level::kInfo, config::kLogSysInfo, format, args);
  va_end(args);
}

// clock/client.cc reports text only; its lines fall into a few shapes, each
// given the syslog level NTPsec's msyslog.html gives its counterpart (a step
// is LOG_NOTICE, a refused correction LOG_ERR) and the logconfig class an
// NTPsec operator would look for it under. An unknown shape is a notice.
ClockLineClass classify_clock_line(std::string_view line) {
  using namespace config;
  std::string_view body = line;
  if (starts_with(body, "clock: ")) body.remove_prefix(7);
  struct Rule {
    std::string_view match;
    bool prefix;  // match at the start, else anywhere
    Level level;
    uint32_t cls;
  };
  static constexpr Rule kRules[] = {
      {"PANIC", true, Level::kError, kLogClockEvents},
      {"step failed", true, Level::kError, kLogClockEvents},
      {"set frequency failed", true, Level::kError, kLogClockEvents},
      {"kernel status: ", true, Level::kError, kLogClockEvents},
      {"STEPPED THE CLOCK", true, Level::kWarning, kLogClockEvents},
      {"peerstats: ", true, Level::kWarning, kLogPeerStatistics},
      {"loopstats: ", true, Level::kWarning, kLogClockStatistics},
      {": NTS-KE failed", false, Level::kWarning, kLogPeerEvents},
      {": cannot resolve", false, Level::kWarning, kLogPeerEvents},
      {": pool lookup failed", false, Level::kWarning, kLogPeerEvents},
      {": cannot open a socket", false, Level::kWarning, kLogPeerEvents},
      {"synchronised to ", true, Level::kNotice, kLogSyncStatus},
      {"no source selectable", true, Level::kNotice, kLogSyncStatus},
      {"holdover over", true, Level::kNotice, kLogSyncStatus},
      {"stepped the clock", true, Level::kNotice, kLogClockEvents},
      {"measure-only: would step", true, Level::kNotice, kLogClockEvents},
      {"the upstreams' offset jumped", true, Level::kNotice, kLogClockEvents},
      {"driftfile ", true, Level::kInfo, kLogClockInfo},
      {"leapfile ", true, Level::kInfo, kLogClockInfo},
      {": NTS session restored", false, Level::kInfo, kLogPeerInfo},
      {": pool member", false, Level::kInfo, kLogPeerInfo},
      {": reachable", false, Level::kNotice, kLogPeerEvents},
      {": unreachable", false, Level::kNotice, kLogPeerEvents},
      {": NTS-KE ok", false, Level::kNotice, kLogPeerEvents},
      {": NTS session dropped", false, Level::kNotice, kLogPeerEvents},
      {": demobilised", false, Level::kNotice, kLogPeerEvents},
      {": sys.peer", false, Level::kNotice, kLogPeerStatus},
      {": candidate", false, Level::kNotice, kLogPeerStatus},
      {": outlier", false, Level::kNotice, kLogPeerStatus},
      {": falsetick", false, Level::kNotice, kLogPeerStatus},
      {": reject", false, Level::kNotice, kLogPeerStatus},
  };
  for (std::string_view word : {std::string_view("warning: "), std::string_view("WARNING: ")}) {
    // "clock: warning: X" -> "clock: X"; the level word goes in front.
    if (starts_with(body, word)) {
      return {Level::kWarning, kLogRequested,
              std::string(line.substr(0, line.size() - body.size())) +
                  std::string(body.substr(word.size()))};
    }
  }
  for (const Rule& rule : kRules) {
    if (rule.prefix ? starts_with(body, rule.match) : contains(body, rule.match)) {
      return {rule.level, rule.cls, std::string(line)};
    }
  }
  return {Level::kNotice, kLogClockEvents, std::string(line)};
}

void log_clock_line(std::string_view line) {
  const ClockLineClass c = classify_clock_line(line);
  log_text(c.level, c.log_class, c.text);
}

void set_log_mask(uint32_t mask) { log_mask.store(mask, std::memory_order_relaxed); }

bool set_log_file(const std::string& path, std::string* error) {
  const int fd = open_log(path);
  if (fd < 0) {
    *error = path + ": " + std::strerror(errno);
    return false;
  }
  log_path = path;
  log_fd.store(fd, std::memory_order_release);
  return true;
}

bool reopen_log_file(std::string* error) {
  const int old_fd = log_fd.load(std::memory_order_acquire);
  if (old_fd < 0) return true;
  const int fd = open_log(log_path);
  if (fd < 0) {
    *error = log_path + ": " + std::strerror(errno);
    return false;
  }
  const int rc = ::dup3(fd, old_fd, O_CLOEXEC);
  const int saved = errno;
  ::close(fd);
  if (rc < 0) {
    *error = log_path + ": dup3: " + std::strerror(saved);
    return false;
  }
  return true;
}

}  // namespace ntsd::daemon
