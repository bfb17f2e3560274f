#pragma once
// Operator-facing log lines: one line per event (start-up, shutdown, state
// changes), never one per packet. Each line has a level, syslog's priority,
// and notice/info lines an NTPsec `logconfig` class (config/logconfig.h) that
// the config can silence; errors and warnings always pass, as in NTPsec.
//
// Destinations: stderr, as "ntsd: [error: |warning: ]TEXT" — or, when stderr
// is the systemd journal (JOURNAL_STREAM names it), "<N>TEXT" with
// sd-daemon(3)'s priority prefix and no name or time, which the journal adds —
// and the `logfile`, if set, with a UTC time stamp. Each destination gets
// one write(2) per line, so lines from threads never interleave.
#include <cstdint>
#include <string>
#include <string_view>

#include "config/logconfig.h"

namespace ntsd::daemon {

// syslog(3) priorities, the values systemd's sd-daemon.h SD_ERR … SD_INFO prefix.
enum class Level : uint8_t { kError = 3, kWarning = 4, kNotice = 5, kInfo = 6 };

// The class of a line the operator asked for (SIGUSR1's counters): never masked.
constexpr uint32_t kLogRequested = 0;

void log_error(const char* format, ...) __attribute__((format(printf, 1, 2)));
void log_warning(const char* format, ...) __attribute__((format(printf, 1, 2)));
// `log_class`: one of config::LogClass, or kLogRequested.
void log_notice(uint32_t log_class, const char* format, ...) __attribute__((format(printf, 2, 3)));
void log_info(uint32_t log_class, const char* format, ...) __attribute__((format(printf, 2, 3)));
void log_text(Level level, uint32_t log_class, std::string_view text);
// A report text from elsewhere (privileges, limits): a leading "warning: "
// or "error: " becomes its level, else it is a notice/info line of `log_class`.
void log_report(Level otherwise, uint32_t log_class, std::string_view text);
// The older unlevelled form: info, class sysinfo. Prefer the calls above.
void log_line(const char* format, ...) __attribute__((format(printf, 1, 2)));

// Lines from clock/'s log callback ("clock: …"), levelled and classed by
// what they say (clock/ reports text only).
void log_clock_line(std::string_view line);
struct ClockLineClass {
  Level level;
  uint32_t log_class;
  std::string text;  // the line without a "warning: " the level now says
};
ClockLineClass classify_clock_line(std::string_view line);

// The `logconfig` mask (Config::log_mask); everything until set.
void set_log_mask(uint32_t mask);

// Also appends every line, with a UTC time stamp, to `path` (ntp.conf
// `logfile`). False with `error` when it cannot be opened; stderr keeps working.
bool set_log_file(const std::string& path, std::string* error);
// Opens the `logfile` path again and writes there from now on (SIGHUP after
// logrotate moved the file away). True when no logfile is set. On failure the
// old file keeps receiving lines.
bool reopen_log_file(std::string* error);

// One line as written to stderr (journal: whether stderr is the journal).
std::string format_stderr_line(Level level, std::string_view text, bool journal);
// Whether JOURNAL_STREAM ("DEV:INODE") names the file open as stderr.
bool stderr_is_journal();

}  // namespace ntsd::daemon
