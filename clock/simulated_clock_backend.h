#pragma once
// A virtual host clock for tests, driven by simulated true time: its reading
// integrates (1 + intrinsic frequency error + wander) * (1 + frequency
// correction) over true time, plus steps; the correction scales the rate as
// the kernel's tick adjustment does (additive to first order; the cross term
// is 0.01 ppm at 100 ppm). Deterministic (seeded). Nothing real is touched.
#include <cstdint>
#include <random>
#include <string>

#include "clock/clock_backend.h"

namespace ntsd::clock {

struct SimulatedClockParams {
  int64_t start_true_ns = 0;         // true Unix time at the start
  double initial_offset_s = 0;       // true - host at the start (positive: host behind)
  double frequency_error_ppm = 0;    // intrinsic (positive: the host runs fast)
  double wander_ppm_per_sqrt_s = 0;  // random walk of the frequency error: sigma after 1 s
  double max_frequency_ppm = 500;    // set_frequency clamps here, as the kernel does
  uint64_t seed = 1;
};

class SimulatedClockBackend final : public ClockBackend {
 public:
  explicit SimulatedClockBackend(SimulatedClockParams params);

  // ClockBackend.
  int64_t now_unix_ns() const override { return host_ns_; }
  bool set_frequency(double ppm, std::string* error) override;
  double frequency() const override { return frequency_ppm_; }
  bool step(double offset_s, std::string* error) override;
  bool set_status(const KernelStatus& status, std::string* error) override;
  bool adjusts_host_clock() const override { return false; }

  // Moves true time forward; the host clock follows at its current rate.
  void advance_true_time(int64_t delta_ns);
  int64_t true_time_ns() const { return true_ns_; }
  // true - host, s (positive: the host clock is behind).
  double offset_to_true_s() const;
  // The host reading at a true time a little ahead, at the current rate (no wander, no step).
  int64_t host_at_true_ns(int64_t true_ns) const;
  // How fast the host clock runs against true time now, ppm (oscillator and correction).
  double rate_error_ppm() const {
    return ((1 + oscillator_error_ppm() * 1e-6) * (1 + frequency_ppm_ * 1e-6) - 1) * 1e6;
  }
  // The oscillator alone (intrinsic + wander), ppm; a perfect discipline sets -e / (1 + e).
  double oscillator_error_ppm() const { return intrinsic_ppm_ + wander_ppm_; }
  void set_intrinsic_error_ppm(double ppm) { intrinsic_ppm_ = ppm; }
  void set_wander(double ppm_per_sqrt_s) { wander_sigma_ = ppm_per_sqrt_s; }

  // What the discipline did, for the tests.
  int steps() const { return steps_; }
  double last_step_s() const { return last_step_s_; }
  int frequency_sets() const { return frequency_sets_; }
  const KernelStatus& status() const { return status_; }

 private:
  int64_t true_ns_;
  int64_t host_ns_;
  double host_frac_ns_ = 0;  // sub-nanosecond remainder of the host reading
  double intrinsic_ppm_;
  double wander_ppm_ = 0;
  double wander_sigma_;
  double max_frequency_ppm_;
  double frequency_ppm_ = 0;
  std::mt19937_64 rng_;
  int steps_ = 0;
  double last_step_s_ = 0;
  int frequency_sets_ = 0;
  KernelStatus status_;
};

}  // namespace ntsd::clock
