#include "clock/driftfile.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <utility>

#include "crypto/secret_file.h"

namespace ntsd::clock {
namespace {

// A driftfile is one short line; anything this large is not one.
constexpr size_t kMaxFileBytes = 4096;
// The kernel's frequency limit (MAXFREQ); NTPsec clamps to the same.
constexpr double kMaxPpm = 500.0;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

DriftRead bad(std::string_view name, const std::string& what) {
  DriftRead r;
  r.warning = std::string(name) + ": " + what + "; starting from frequency 0";
  return r;
}

}  // namespace

// NTPsec writes "%.6f\n" and reads with fscanf("%lf"), which takes the first
// number and ignores whatever follows. ntsd is stricter: exactly one finite
// decimal number, surrounded by white space, so that a truncated or foreign
// file (chrony's driftfile holds two numbers, with the opposite sign
// convention) is reported instead of half-read. A bad file is never fatal:
// the discipline starts from 0 ppm, as NTPsec does, and the warning says why.
DriftRead parse_driftfile(std::string_view text, std::string_view name) {
  if (text.size() > kMaxFileBytes) return bad(name, "not a driftfile (larger than 4096 bytes)");
  size_t i = 0;
  while (i < text.size() && is_space(text[i])) ++i;
  size_t end = i;
  while (end < text.size() && !is_space(text[end])) ++end;
  if (i == end) return bad(name, "empty");
  std::string_view token = text.substr(i, end - i);
  for (size_t rest = end; rest < text.size(); ++rest) {
    if (!is_space(text[rest]))
      return bad(name, "more than one value (a driftfile holds one number, ppm)");
  }
  std::string_view digits = token;
  const bool plus = digits.front() == '+';
  if (plus) digits.remove_prefix(1);  // from_chars takes '-' but not '+'
  double ppm = 0.0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), ppm,
                                         std::chars_format::general);
  const bool number = !digits.empty() && !(plus && digits.front() == '-') && ec == std::errc() &&
                      ptr == digits.data() + digits.size() && std::isfinite(ppm);
  if (!number) return bad(name, "not a number: \"" + std::string(token.substr(0, 32)) + "\"");
  if (std::fabs(ppm) > kMaxPpm) {
    char text_ppm[64];
    std::snprintf(text_ppm, sizeof text_ppm, "%g", ppm);
    return bad(name,
               std::string("frequency ") + text_ppm + " ppm is outside the kernel's +-500 ppm");
  }
  DriftRead r;
  r.ppm = ppm == 0.0 ? 0.0 : ppm;  // no "-0"
  return r;
}

DriftRead read_driftfile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    // No file yet is the normal first start: NTPsec starts at 0 and creates it at the first write.
    if (errno == ENOENT) return {};
    return bad(path, std::string("cannot open: ") + std::strerror(errno));
  }
  std::string text;
  char buf[kMaxFileBytes + 1];
  bool ok = true;
  while (text.size() <= kMaxFileBytes) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ok = false;
      break;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  const int read_errno = errno;
  ::close(fd);
  if (!ok) return bad(path, std::string("cannot read: ") + std::strerror(read_errno));
  return parse_driftfile(text, path);
}

std::string format_driftfile(double ppm) {
  char text[64];
  std::snprintf(text, sizeof text, "%.6f\n", ppm == 0.0 ? 0.0 : ppm);
  return text;
}

bool write_driftfile(const std::string& path, double ppm, std::string& error) {
  if (!std::isfinite(ppm) || std::fabs(ppm) > kMaxPpm) {
    error =
        "not writing frequency " + std::to_string(ppm) + " ppm to " + path + ": outside +-500 ppm";
    return false;
  }
  // 0644: the frequency is no secret (adjtimex(8) shows it to anyone), and
  // NTPsec's drift_write() comment notes that AppArmor kept root from reading
  // a 0600 driftfile owned by the ntp user at start (NTPsec issue #409).
  return crypto::write_file_atomically(path, format_driftfile(ppm), 0644, error);
}

DriftfileWriter::DriftfileWriter(std::string path, std::optional<double> on_disk, int64_t now_ns)
    : path_(std::move(path)), on_disk_(on_disk), last_check_ns_(now_ns) {}

// NTPsec's write_stats() (ntpd/ntp_util.c), run hourly: write when the
// frequency moved by at least wander_resid since the value last written;
// otherwise halve wander_resid. After a write wander_resid goes back to
// wander_threshold = 1e-7 (0.1 ppm). So a big change is written within the
// hour, and a slow creep of any size eventually is, while a steady clock
// costs no writes to flash storage.
DriftWrite DriftfileWriter::maybe_write(int64_t now_ns, double ppm, std::string* error) {
  if (now_ns < last_check_ns_) {
    // The time went backwards (a step): restart the hour rather than write early.
    last_check_ns_ = now_ns;
    return DriftWrite::kNotDue;
  }
  if (now_ns - last_check_ns_ < kIntervalNs) return DriftWrite::kNotDue;
  last_check_ns_ = now_ns;
  const DriftWrite result = write_if_moved(ppm, error);
  if (result == DriftWrite::kUnchanged) threshold_ppm_ *= 0.5;
  return result;
}

// NTPsec writes only hourly; chrony also writes its driftfile when it exits
// (REF_Finalise), so a daemon stopped after 50 minutes of learning keeps it.
// Same threshold as the hourly check, without halving it.
DriftWrite DriftfileWriter::write_at_stop(double ppm, std::string* error) {
  return write_if_moved(ppm, error);
}

DriftWrite DriftfileWriter::write_if_moved(double ppm, std::string* error) {
  if (on_disk_ && std::fabs(ppm - *on_disk_) < threshold_ppm_) return DriftWrite::kUnchanged;
  std::string e;
  if (!write_driftfile(path_, ppm, e)) {
    if (error) *error = e;
    return DriftWrite::kFailed;
  }
  on_disk_ = ppm;
  threshold_ppm_ = kThresholdPpm;
  return DriftWrite::kWritten;
}

}  // namespace ntsd::clock
