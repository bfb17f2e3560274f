#pragma once
// The clock discipline: turns the offsets that selection accepts into
// frequency settings for a ClockBackend, and rarely a step. Pure: host time
// is passed in (Unix ns of the clock being disciplined), nothing is read,
// applied or logged here. The estimator (a weighted linear regression with a
// runs test, as chrony's) works on the clock as it would read without the
// corrections this class ordered, so it estimates the same thing whether
// they are applied (active) or not (measure-only, chronyd -x). Why each rule
// is what it is: discipline.cc and clock/README.md "Discipline".
#include <cstdint>
#include <span>
#include <vector>

#include "clock/sample.h"

namespace ntsd::clock {

// Settings (NTPsec `tinker` names where there is one).
struct DisciplineParams {
  double step_threshold = 0.128;  // tinker step, s: a larger offset is stepped at start
  double panic_threshold = 1000;  // tinker panic, s: never corrected beyond this; 0: no limit
  bool allow_late_steps = false;  // after start, step (kLateStep) instead of slewing (kStepRefused)
  bool measure_only = false;      // estimate only; no action ever asks to change the clock
  double max_frequency_ppm = 500;  // |base + slew correction| (the kernel's limit)
  double max_slew_ppm = 500;       // |slew correction|
  double frequency_in_force_ppm =
      0;  // the backend's frequency at start (it stays so in measure-only mode)
  bool have_driftfile = false;     // driftfile_ppm holds a learned frequency (driftfile)
  double driftfile_ppm = 0;        // frequency to set at start and prior of the estimate
  double driftfile_error_ppm = 1;  // its 1-sigma error (chrony writes one; NTPsec's file has none)
  int max_points = 512;            // regression memory (points; the oldest go first)
  int min_time_constant = 4;       // log2 s: fastest slew time scale (2^4 s)
  int max_time_constant = 10;      // log2 s: slowest (2^10 s)
};

// One offset measurement. Feed each survivor of selection (system peer and
// candidates) whose filter estimate is newer than the one last fed:
// measurement_of() below. A combined system offset also works (its time being
// the system peer's), but repeats stale estimates; see the README.
struct OffsetMeasurement {
  int64_t time_ns = 0;  // host time the offset holds for (the sample's T4)
  double offset = 0;    // s, positive: the host clock is behind
  double error = 0;     // s, its expected error (the regression weight is 1/error^2)
};

// What an update decided. In measure-only mode the outcome says what active
// mode would have done; nothing is to be applied.
enum class DisciplineOutcome : uint8_t {
  // Nothing usable came in (no measurement, all stale or non-finite): the
  // estimate and the clock are left as they were.
  kNoData,
  // The offset is being removed by a frequency correction added to the
  // learned base frequency for a bounded time (or there is nothing to remove).
  kSlew,
  // The measurements jump from the estimate by more than the step threshold:
  // held back, nothing done. A second update that jumps the same way is
  // taken as real (then kSlew, kLateStep or kStepRefused); any other drops them.
  kJumpHeld,
  // First update and |offset| above the step threshold: the clock is stepped
  // once; the caller resets the clock filters (their samples predate it).
  kStartStep,
  // After start, |offset| above the step threshold and allow_late_steps: the
  // clock is stepped. A loud event: the caller logs it and resets the filters.
  kLateStep,
  // After start, |offset| above the step threshold without permission: it is
  // slewed instead (at up to max_slew_ppm, so 1 s takes over half an hour).
  // Loud as well: something moved the clock or every source.
  kStepRefused,
  // |offset| above the panic threshold: no correction at all and the
  // measurements are discarded. The caller logs it (ntpd exits here).
  kPanic,
};

const char* discipline_outcome_name(DisciplineOutcome outcome);

// What to do to the backend now, in this order: step, then set the frequency.
struct DisciplineAction {
  DisciplineOutcome outcome = DisciplineOutcome::kNoData;
  bool step = false;           // ClockBackend::step(step_s); then reset the clock filters
  double step_s = 0;           // s, positive: forward
  bool set_frequency = false;  // ClockBackend::set_frequency(frequency_ppm)
  double frequency_ppm = 0;    // absolute: base + slew correction
};

// The loopstats fields and error estimates (NTPsec names), as of one moment.
struct DisciplineStats {
  bool valid = false;              // at least one measurement was used
  double offset = 0;               // s: estimated offset now (positive: host behind true time)
  double drift_ppm = 0;            // learned base frequency correction (the driftfile value)
  double jitter = 0;               // s: weighted RMS of the measurements about the fit
  double wander_ppm = 0;           // RMS change of drift_ppm between updates
  int time_constant = 0;           // log2 s: the slew time scale
  double offset_error = 0;         // s, 1 sigma of offset: the kernel's esterror
  double frequency_error_ppm = 0;  // 1 sigma of drift_ppm (driftfile error bound)
  double host_frequency_ppm = 0;  // the oscillator's own rate error, no correction (positive: fast)
  double frequency_in_force_ppm = 0;  // what the backend is running at (per the actions)
  double slew_ppm = 0;                // the slew correction in force (frequency in force - drift)
  int points = 0;                     // measurements in the regression window
  double span_s = 0;                  // time the window covers
  // Measure-only mode: the virtual clock (chronyd -x's) minus the host clock,
  // s — where an adjusting ntsd would have put the clock by now, its slews
  // included. 0 in active mode (the host clock is that clock).
  double virtual_clock = 0;
};

class Discipline {
 public:
  explicit Discipline(DisciplineParams params = {});

  // The action at start: set the driftfile frequency if there is one.
  DisciplineAction start(int64_t now_ns);
  // New measurements at host time now_ns; returns what to do.
  DisciplineAction update(int64_t now_ns, std::span<const OffsetMeasurement> measurements);
  // Time passing with no measurement: ends a slew that is due (holdover keeps the base frequency).
  DisciplineAction tick(int64_t now_ns);
  // Host time tick() has something to do at; INT64_MAX if nothing is pending.
  int64_t next_tick_ns() const;
  // The frequency the backend really runs at from now_ns, when it differs
  // from the one asked for (set_frequency failed or clamped).
  void frequency_applied(int64_t now_ns, double ppm);

  DisciplineStats stats(int64_t now_ns) const;
  bool started() const { return started_; }

 private:
  struct Point {
    double x;  // s: host time since epoch, less the corrections (the raw oscillator)
    double y;  // s: offset plus the corrections (offset of the raw oscillator)
    double w;  // 1 / error^2
  };
  struct Event {
    double t;      // s: host time since epoch of the change
    double phase;  // s: correction accumulated up to t (steps + integrated frequency)
    double freq;   // s/s: frequency in force from t
  };
  struct Fit {
    bool valid = false;
    double x_mean = 0, a = 0, b = 0;  // y = a + b (x - x_mean)
    double var_a = 0, var_b = 0;      // s^2, (s/s)^2
    double jitter = 0;
    double span = 0;
    int points = 0;
  };

  double seconds(int64_t ns) const;
  static double phase_at(const std::vector<Event>& history, double t);
  double correction_at(double t) const;
  double virtual_ahead(double t) const;  // measure-only: virtual clock minus host clock, s; else 0
  void record(double t, double step_s, double freq);
  static void record_in(std::vector<Event>& history, double t, double step_s, double freq);
  Fit fit_window(size_t first) const;
  void refit();
  double predicted_offset(double t) const;
  double time_constant_s() const;
  DisciplineAction plan(double t, DisciplineOutcome outcome, double offset);

  DisciplineParams params_;
  bool have_epoch_ = false;
  int64_t epoch_ns_ = 0;
  bool started_ = false;
  bool refused_ = false;  // kStepRefused was reported for the current excursion
  std::vector<Event> events_;          // corrections applied to the host clock
  std::vector<Event> virtual_events_;  // measure-only: the corrections planned (the virtual clock)
  std::vector<Point> points_;  // sorted by x
  std::vector<Point> held_;    // a jump seen once (kJumpHeld)
  double held_jump_ = 0;       // its median distance from the line, s
  Fit fit_;
  // Prior on the slope (driftfile, or the fit before a detected jump).
  double prior_b_ = 0;
  double prior_weight_ = 0;  // 1 / sigma^2, (s/s)^-2; 0: none
  double base_ = 0;          // s/s: learned base frequency correction
  double slew_ = 0;          // s/s: slew correction in force
  bool slewing_ = false;
  double slew_end_ = 0;  // s since epoch
  double last_update_ = -1;     // s since epoch of the last update that planned; < 0: none yet
  double update_interval_ = 0;  // s: smoothed interval between updates (time_constant_s())
  double wander2_ = 0;   // ppm^2
  bool have_wander_ = false;
};

// The measurement of one selected source's filter estimate (error: half its
// round-trip delay plus half the upstream's root delay, the bound of path
// asymmetry, floored at 1 us).
OffsetMeasurement measurement_of(const SourceEstimate& estimate);

}  // namespace ntsd::clock
