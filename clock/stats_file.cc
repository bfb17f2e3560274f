#include "clock/stats_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "config/values.h"
#include "proto/ntp_packet.h"

namespace ntsd::clock {
namespace {

constexpr int64_t kSecondsPerDay = 86400;
constexpr int64_t kNsPerSecond = 1'000'000'000;
constexpr int64_t kMjdUnixEpoch = 40587;  // MJD of 1970-01-01

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

struct CivilDate {
  int year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
  int yday;        // 0..365
};

CivilDate civil_date(int64_t unix_s) {
  using namespace std::chrono;
  const sys_days d{days{floor_div(unix_s, kSecondsPerDay)}};
  const year_month_day ymd{d};
  const sys_days jan1{ymd.year() / January / 1};
  return {static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
          static_cast<unsigned>(ymd.day()), static_cast<int>((d - jan1).count())};
}

std::string errno_text() { return std::strerror(errno); }

// NTPsec's valid_fileref(): the file name may not climb out of statsdir.
bool climbs_out(std::string_view file) {
  size_t i = 0;
  for (;;) {
    if (file.substr(i, 2) == ".." && (i + 2 == file.size() || file[i + 2] == '/')) return true;
    const size_t slash = file.find('/', i);
    if (slash == std::string_view::npos) return false;
    i = slash + 1;
  }
}

// A source text with a space or control character would shift every later
// column for ntpviz; NTPsec's socktoa() never produces one, so neither do we.
std::string printable_token(std::string_view s) {
  if (s.empty()) return "-";
  std::string out(s);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '\x7f') c = '_';
  }
  return out;
}

}  // namespace

// NTPsec ntpd/ntp_control.c ctlpeerstatus(): CTL_PEER_STATUS(status, num_events,
// last_event) = status << 8 | (num_events << 4 & 0xf0) | (last_event & 0x0f),
// status = flags (CTL_PST_CONFIG 0x80, _AUTHENABLE 0x40, _AUTHENTIC 0x20,
// _REACH 0x10, _BCAST 0x08; ntsd never broadcasts) | select code (0..7).
// NTPsec sets AUTHENABLE for an `nts` source even before it authenticates.
uint16_t peer_status_word(const PeerStatus& s) {
  unsigned high = static_cast<unsigned>(s.select) & 7u;
  if (s.configured) high |= 0x80;
  if (s.auth_enabled) high |= 0x40;
  if (s.authentic) high |= 0x20;
  if (s.reachable) high |= 0x10;
  const unsigned count = s.event_count > 15 ? 15 : s.event_count;
  const unsigned event = static_cast<unsigned>(s.last_event) & 0x0fu;
  return static_cast<uint16_t>(high << 8 | count << 4 | event);
}

// NTPsec ntpd/ntp_util.c timespec_to_MJDtime(): "%lu %lu.%03lu" of day +
// MJD_1970, seconds of the day, and milliseconds truncated (not rounded).
std::string stats_time_text(int64_t unix_ns) {
  const int64_t s = floor_div(unix_ns, kNsPerSecond);
  const int64_t ms = (unix_ns - s * kNsPerSecond) / 1'000'000;
  const int64_t day = floor_div(s, kSecondsPerDay);
  const int64_t sec = s - day * kSecondsPerDay;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lld %lld.%03lld", static_cast<long long>(day + kMjdUnixEpoch),
                static_cast<long long>(sec), static_cast<long long>(ms));
  return buf;
}

// NTPsec record_peer_stats(): "%s %s %x %.9f %.9f %.9f %.9f\n" of time,
// peer label, status, offset, delay, dispersion, jitter.
std::string peerstats_line(int64_t unix_ns, const PeerStatsRecord& r) {
  char buf[256];
  std::snprintf(buf, sizeof buf, " %x %.9f %.9f %.9f %.9f\n", static_cast<unsigned>(r.status),
                r.offset, r.delay, r.dispersion, r.jitter);
  return stats_time_text(unix_ns) + " " + printable_token(r.source) + buf;
}

namespace {

// An NTP-format time as NTPsec prints it: seconds of the era, 9 decimals.
std::string ntp_text(uint64_t ntp) {
  const uint64_t seconds = ntp >> 32;
  const uint64_t nanos = ((ntp & 0xffff'ffffull) * 1'000'000'000ull) >> 32;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%llu.%09llu", static_cast<unsigned long long>(seconds),
                static_cast<unsigned long long>(nanos));
  return buf;
}

std::string ntp_text_of_unix_ns(int64_t unix_ns) {
  constexpr int64_t kNtpUnixOffset = 2'208'988'800;  // s from 1900 to 1970
  const int64_t s = floor_div(unix_ns, kNsPerSecond);
  const int64_t ns = unix_ns - s * kNsPerSecond;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%lld.%09lld", static_cast<long long>((s + kNtpUnixOffset) & 0xffff'ffff),
                static_cast<long long>(ns));
  return buf;
}

// Stratum 0/1 refids are ASCII (".GPS."), others an address.
std::string refid_text(uint8_t stratum, uint32_t refid) {
  if (stratum > 1) return proto::refid_dotted_quad(refid);
  std::string text = proto::refid_chars(refid);
  for (char& c : text) {
    if (c <= ' ' || c >= 127) c = '?';
  }
  return "." + text + ".";
}

}  // namespace

// NTPsec record_raw_stats() (monopt.html): time, source, destination, the
// four timestamps, leap, version, mode, stratum, poll, precision, root delay,
// root dispersion, refid, then lost/dropped counts and the BOGON flags
// (always 0 0 0 here: only accepted replies are recorded).
std::string rawstats_line(int64_t unix_ns, const RawStatsRecord& r) {
  char buf[160];
  std::snprintf(buf, sizeof buf, " %u %u %u %u %d %d %.6f %.6f ", static_cast<unsigned>(r.leap),
                static_cast<unsigned>(r.version), static_cast<unsigned>(r.mode), static_cast<unsigned>(r.stratum),
                r.poll, r.precision, r.root_delay, r.root_dispersion);
  return stats_time_text(unix_ns) + " " + printable_token(r.source) + " " + printable_token(r.destination) + " " +
         ntp_text_of_unix_ns(r.t1_ns) + " " + ntp_text(r.t2) + " " + ntp_text(r.t3) + " " +
         ntp_text_of_unix_ns(r.t4_ns) + buf + refid_text(r.stratum, r.reference_id) + " 0 0 0\n";
}

// NTPsec record_loop_stats(): "%s %.9f %.6f %.9f %.6f %d\n" of time, offset,
// frequency (ppm), jitter, wander (ppm), time constant.
std::string loopstats_line(int64_t unix_ns, const LoopStatsRecord& r) {
  char buf[256];
  std::snprintf(buf, sizeof buf, " %.9f %.6f %.9f %.6f %d\n", r.offset, r.drift_ppm, r.jitter,
                r.wander_ppm, r.time_constant);
  return stats_time_text(unix_ns) + buf;
}

bool filegen_settings(const config::Config& config, config::StatsFile which, int64_t pid,
                      int64_t start_unix_s, FileGenSettings& out, std::string& error) {
  out = FileGenSettings{};
  out.pid = pid;
  out.start_unix_s = start_unix_s;
  std::string file(config::name_of(config::stats_file_names(), which));
  out.enabled = (config.statistics & config::bit(which)) != 0;
  // Like NTPsec, each `filegen` line changes only what it names; later lines win.
  for (const config::FileGen& fg : config.filegens) {
    if (fg.stats != which) continue;
    if (!fg.file.empty()) file = fg.file;
    out.type = fg.type;
    if (fg.enable) out.enabled = *fg.enable;
    if (fg.link) out.link = *fg.link;
  }
  if (file.empty() || climbs_out(file)) {
    error = "filegen " + std::string(config::name_of(config::stats_file_names(), which)) +
            ": file name \"" + file + "\" leaves statsdir (\"..\" is not allowed)";
    out.enabled = false;
    return false;
  }
  // NTPsec stats_config(STATS_STATSDIR): a '/' is added unless present.
  std::string dir = config.statsdir.empty() ? std::string(kDefaultStatsdir) : config.statsdir;
  if (dir.back() != '/') dir += '/';
  out.base = dir + file;
  return true;
}

// Suffixes as NTPsec ntpd/ntp_filegen.c filegen_open() writes them: '.' and
// none: nothing; pid: "#PID"; day: YYYYMMDD (UTC); month: YYYYMM; year: YYYY;
// age: "a" and the start of the current 24 h of uptime in 8 digits. For week
// NTPsec's code prints "YYYYwNN" with NN = day-of-year % 7, which cycles daily
// through 7 files a year; ntsd keeps the form but uses day-of-year / 7, the
// week monopt.html describes.
std::string filegen_path(const FileGenSettings& settings, int64_t unix_s) {
  using config::FileGenType;
  char suffix[48] = "";
  const CivilDate d = civil_date(unix_s);
  switch (settings.type) {
    case FileGenType::kNone:
      break;
    case FileGenType::kPid:
      std::snprintf(suffix, sizeof suffix, ".#%lld", static_cast<long long>(settings.pid));
      break;
    case FileGenType::kDay:
      std::snprintf(suffix, sizeof suffix, ".%04d%02u%02u", d.year, d.month, d.day);
      break;
    case FileGenType::kWeek:
      std::snprintf(suffix, sizeof suffix, ".%04dw%02d", d.year, d.yday / 7);
      break;
    case FileGenType::kMonth:
      std::snprintf(suffix, sizeof suffix, ".%04d%02u", d.year, d.month);
      break;
    case FileGenType::kYear:
      std::snprintf(suffix, sizeof suffix, ".%04d", d.year);
      break;
    case FileGenType::kAge: {
      int64_t uptime = unix_s - settings.start_unix_s;
      if (uptime < 0) uptime = 0;
      std::snprintf(suffix, sizeof suffix, ".a%08lld",
                    static_cast<long long>(uptime - uptime % kSecondsPerDay));
      break;
    }
  }
  return settings.base + suffix;
}

StatsFileWriter::StatsFileWriter(FileGenSettings settings) : settings_(std::move(settings)) {}

StatsFileWriter::~StatsFileWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void StatsFileWriter::fail(std::string message) {
  if (!failing_) pending_error_ = std::move(message);
  failing_ = true;
}

std::string StatsFileWriter::take_error() {
  std::string e = std::move(pending_error_);
  pending_error_.clear();
  return e;
}

// NTPsec filegen_open(): with `link`, the file set's base name is a hard link
// to the current element. A base name with other links is an old element's
// link and is replaced; a lone regular file there is renamed aside (".<pid>C<n>")
// rather than destroyed.
bool StatsFileWriter::open_element(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) {
    // Like NTPsec, keep writing to the previous element if one is open:
    // lines in the wrong file beat lost lines.
    fail("cannot open statistics file " + path + ": " + errno_text());
    return false;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  path_ = path;
  if (settings_.link && settings_.type != config::FileGenType::kNone) {
    const std::string& base = settings_.base;
    struct stat st {};
    if (::lstat(base.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (st.st_nlink > 1) {
        ::unlink(base.c_str());
      } else {
        for (int n = 0; n < 1000; ++n) {
          const std::string aside =
              base + "." + std::to_string(settings_.pid) + "C" + std::to_string(n);
          if (::access(aside.c_str(), F_OK) != 0) {
            ::rename(base.c_str(), aside.c_str());
            break;
          }
        }
      }
    }
    // A failed link only loses the convenience name; the data is safe.
    if (::link(path.c_str(), base.c_str()) != 0 && errno != EEXIST) {
      fail("cannot link statistics file " + path + " to " + base + ": " + errno_text());
    }
  }
  return true;
}

StatsWrite StatsFileWriter::append(int64_t unix_ns, std::string_view line) {
  if (!settings_.enabled) return StatsWrite::kDisabled;
  const std::string path = filegen_path(settings_, floor_div(unix_ns, kNsPerSecond));
  if ((fd_ < 0 || path != path_) && !open_element(path) && fd_ < 0) return StatsWrite::kFailed;
  // One write() per line with O_APPEND: lines never interleave or tear
  // among writers, and there is no buffer to lose on a crash.
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      fail("cannot write statistics file " + path_ + ": " + errno_text());
      ::close(fd_);
      fd_ = -1;
      path_.clear();
      return StatsWrite::kFailed;
    }
    done += static_cast<size_t>(n);
  }
  // Written where it belongs: the failure episode, if any, is over. (Still
  // in the previous element because the new one would not open: it is not.)
  if (path == path_) failing_ = false;
  return StatsWrite::kWritten;
}

}  // namespace ntsd::clock
