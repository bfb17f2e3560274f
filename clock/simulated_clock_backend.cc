#include "clock/simulated_clock_backend.h"

#include <algorithm>
#include <cmath>

namespace ntsd::clock {

SimulatedClockBackend::SimulatedClockBackend(SimulatedClockParams params)
    : true_ns_(params.start_true_ns),
      host_ns_(params.start_true_ns - std::llround(params.initial_offset_s * 1e9)),
      intrinsic_ppm_(params.frequency_error_ppm),
      wander_sigma_(params.wander_ppm_per_sqrt_s),
      max_frequency_ppm_(params.max_frequency_ppm),
      rng_(params.seed) {}

bool SimulatedClockBackend::set_frequency(double ppm, std::string* error) {
  ++frequency_sets_;
  if (!std::isfinite(ppm)) {
    if (error != nullptr) *error = "frequency is not a number";
    return false;
  }
  frequency_ppm_ = std::clamp(ppm, -max_frequency_ppm_, max_frequency_ppm_);
  if (frequency_ppm_ != ppm && error != nullptr) *error = "frequency clamped to the kernel's limit";
  return true;
}

bool SimulatedClockBackend::step(double offset_s, std::string* error) {
  if (!std::isfinite(offset_s)) {
    if (error != nullptr) *error = "step is not a number";
    return false;
  }
  ++steps_;
  last_step_s_ = offset_s;
  const double ns = offset_s * 1e9 + host_frac_ns_;
  const double whole = std::floor(ns);
  host_ns_ += static_cast<int64_t>(whole);
  host_frac_ns_ = ns - whole;
  return true;
}

bool SimulatedClockBackend::set_status(const KernelStatus& status, std::string* /*error*/) {
  status_ = status;
  return true;
}

void SimulatedClockBackend::advance_true_time(int64_t delta_ns) {
  if (delta_ns <= 0) return;
  // The rate is constant over one advance; the wander random walk moves
  // between advances by sigma * sqrt(dt), so its statistics do not depend on
  // how the caller slices time.
  const double rate = rate_error_ppm() * 1e-6;
  const double extra = static_cast<double>(delta_ns) * rate + host_frac_ns_;
  const double whole = std::floor(extra);
  host_ns_ += delta_ns + static_cast<int64_t>(whole);
  host_frac_ns_ = extra - whole;
  true_ns_ += delta_ns;
  if (wander_sigma_ > 0) {
    std::normal_distribution<double> normal(0.0, wander_sigma_ * std::sqrt(delta_ns * 1e-9));
    wander_ppm_ += normal(rng_);
  }
}

double SimulatedClockBackend::offset_to_true_s() const {
  return (static_cast<double>(true_ns_ - host_ns_) - host_frac_ns_) * 1e-9;
}

int64_t SimulatedClockBackend::host_at_true_ns(int64_t true_ns) const {
  const double ahead = static_cast<double>(true_ns - true_ns_);
  return host_ns_ + std::llround(ahead * (1 + rate_error_ppm() * 1e-6) + host_frac_ns_);
}

}  // namespace ntsd::clock
