#pragma once
// NTPsec's driftfile (`driftfile PATH` in ntp.conf): one line, the clock's
// frequency correction in ppm ("-12.345678\n"). Read at start so the
// discipline begins near the right frequency; written atomically, at most
// hourly and at a clean stop, only when the value has moved.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ntsd::clock {

struct DriftRead {
  std::optional<double> ppm;  // nullopt: no usable value (missing file, or see warning)
  std::string warning;  // "FILE: what" when the file exists but cannot be used; empty otherwise
};

// Parses driftfile text; `name` prefixes the warning.
DriftRead parse_driftfile(std::string_view text, std::string_view name);
// Reads `path`; a missing file is no value and no warning.
DriftRead read_driftfile(const std::string& path);
// The file's text for `ppm`, as NTPsec writes it ("%.6f\n").
std::string format_driftfile(double ppm);
// Writes `ppm` to `path` atomically (temp, fsync, rename, directory fsync), mode 0644.
bool write_driftfile(const std::string& path, double ppm, std::string& error);

enum class DriftWrite : uint8_t {
  kNotDue,     // less than an hour since the last hourly check
  kUnchanged,  // moved less than the threshold since the value on disk
  kWritten,
  kFailed,  // see error
};

// When to write: NTPsec's hourly rule (ntp_util.c write_stats()) plus a write at a clean stop.
class DriftfileWriter {
 public:
  static constexpr int64_t kIntervalNs = 3600 * int64_t{1'000'000'000};
  static constexpr double kThresholdPpm = 0.1;  // NTPsec's wander_threshold, 1e-7

  // `on_disk`: the value read at start (nullopt: none); `now_ns` starts the first hour.
  DriftfileWriter(std::string path, std::optional<double> on_disk, int64_t now_ns);

  // Call as often as convenient: writes at most once an hour, if `ppm` moved enough.
  DriftWrite maybe_write(int64_t now_ns, double ppm, std::string* error);
  // At a clean stop: writes if `ppm` moved enough since the value on disk.
  DriftWrite write_at_stop(double ppm, std::string* error);

  double threshold_ppm() const { return threshold_ppm_; }
  std::optional<double> on_disk() const { return on_disk_; }

 private:
  DriftWrite write_if_moved(double ppm, std::string* error);

  std::string path_;
  std::optional<double> on_disk_;
  int64_t last_check_ns_;
  double threshold_ppm_ = kThresholdPpm;
};

}  // namespace ntsd::clock
