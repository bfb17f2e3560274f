#include "clock/discipline.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ntsd::clock {
namespace {

constexpr double kPpm = 1e-6;
// Runs test at 1 % (one-sided, too few runs). chrony uses about 5 %; it
// prunes the rejected points for good, so a false alarm costs it data once.
// ntsd keeps them and tests again at every update, so a false alarm only
// shortens one fit, and 1 % keeps those rare.
constexpr double kRunsZ = 2.326;
// Fewer points than this are fitted as they are: the runs test has no power.
constexpr size_t kMinRunsPoints = 8;
// The windows tried: all points, then dropping the oldest n/8, 2n/8, ...
constexpr int kWindowSteps = 8;
// Frequency history kept to convert late-arriving samples (filters hold
// samples up to 8 polls old; each update or slew end adds one event).
constexpr size_t kMaxEvents = 256;
// Without a driftfile the prior on the frequency is this loose: it only
// keeps the slope defined while the points span no time at all.
constexpr double kNoPriorSigma = 1000 * kPpm;
// After a detected jump the old slope is kept as a prior no tighter than this.
constexpr double kJumpPriorSigma = 0.1 * kPpm;
// Wander: NTPsec's clock_stability averaging (CLOCK_AVG 4).
constexpr double kWanderAverage = 4;
constexpr double kMinError = 1e-6;

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

const char* discipline_outcome_name(DisciplineOutcome outcome) {
  switch (outcome) {
    case DisciplineOutcome::kNoData:
      return "no_data";
    case DisciplineOutcome::kSlew:
      return "slew";
    case DisciplineOutcome::kJumpHeld:
      return "jump_held";
    case DisciplineOutcome::kStartStep:
      return "start_step";
    case DisciplineOutcome::kLateStep:
      return "late_step";
    case DisciplineOutcome::kStepRefused:
      return "step_refused";
    case DisciplineOutcome::kPanic:
      return "panic";
  }
  return "?";
}

OffsetMeasurement measurement_of(const SourceEstimate& estimate) {
  OffsetMeasurement m;
  m.time_ns = estimate.time_ns;
  m.offset = estimate.offset;
  // The offset of one exchange is wrong by at most half the round trip (all
  // of it on one side), and inherits the upstream's own asymmetry bound.
  // Noise grows with queueing, which is what the delay measures, so this is
  // also the natural relative weight; the absolute scale is re-estimated
  // from the residuals.
  m.error = std::max(kMinError, (estimate.delay + estimate.header.root_delay) / 2);
  return m;
}

// The choice of estimator, against the anchors:
//  - RFC 5905's PLL/FLL (NTPsec) feeds the offset back through a loop
//    filter: every estimate depends on the corrections already made, the
//    frequency is learnt through the loop at a time constant of minutes to
//    hours, and measure-only operation estimates nothing (no loop, no
//    frequency). It is the floor.
//  - ntpd-rs runs a Kalman filter on (offset, frequency) per source, with a
//    process noise that must be tuned or estimated.
//  - chrony fits a weighted line through the recent samples of the clock as
//    it would read uncorrected, and a runs test on the residuals decides how
//    far back the line holds (a frequency change shows as long runs of
//    same-sign residuals). No process noise to tune: the data decide the
//    window. Offset and frequency come with standard errors for free.
// ntsd does chrony's: one regression over the offsets of every selected
// source (selection already did the majority vote; a least-squares fit over
// the survivors' samples is their combination, across time too). Points are
// kept in "raw" coordinates: x = host time less the corrections ordered so
// far, y = measured offset plus those corrections. So a slew or a step moves
// no point, the estimate never depends on the control, and measure-only mode
// (corrections never applied, so never added) estimates the same line. The
// control is then open-loop on top of the estimate: base frequency = the
// slope, plus a slew term that removes the predicted offset over the time
// constant, rate-limited. Nothing can oscillate: the offset the controller
// acts on is re-predicted from the fit at each update, not fed back.
Discipline::Discipline(DisciplineParams params) : params_(params) {
  params_.max_points = std::max(params_.max_points, static_cast<int>(2 * kMinRunsPoints));
  params_.min_time_constant = std::clamp(params_.min_time_constant, 0, 20);
  params_.max_time_constant = std::clamp(params_.max_time_constant, params_.min_time_constant, 20);
  points_.reserve(static_cast<size_t>(params_.max_points) + 8);
  events_.reserve(kMaxEvents + 1);
  events_.push_back({0, 0, params_.frequency_in_force_ppm * kPpm});
  virtual_events_ = events_;
  if (params_.have_driftfile) {
    // The driftfile is the best frequency known at start: set it at once
    // (start()) and use it as a prior on the slope, so that the first fits,
    // over a minute or two of points, do not throw it away for a noisier
    // slope. The prior fades by itself: its weight is fixed while the
    // data's grows with the square of the span.
    base_ = params_.driftfile_ppm * kPpm;
    prior_b_ = base_;
    const double sigma = std::max(params_.driftfile_error_ppm, 0.01) * kPpm;
    prior_weight_ = 1 / (sigma * sigma);
  } else {
    base_ = params_.frequency_in_force_ppm * kPpm;
    prior_b_ = base_;
    prior_weight_ = 1 / (kNoPriorSigma * kNoPriorSigma);
  }
}

double Discipline::seconds(int64_t ns) const { return static_cast<double>(ns - epoch_ns_) * 1e-9; }

double Discipline::correction_at(double t) const { return phase_at(events_, t); }

double Discipline::virtual_ahead(double t) const {
  return params_.measure_only ? phase_at(virtual_events_, t) - correction_at(t) : 0;
}

double Discipline::phase_at(const std::vector<Event>& history, double t) {
  // Latest event at or before t; before the first one, its segment is
  // extended backwards (only samples older than the whole history land there).
  size_t i = history.size();
  while (i > 1 && history[i - 1].t > t) --i;
  const Event& e = history[i - 1];
  // A frequency correction f scales the clock's rate (the kernel lengthens
  // each tick by 1 + f), so of dt seconds of host time f / (1 + f) were
  // added by the correction. With that, x is exactly the oscillator's own
  // reading and the slope of y over x is exactly the f that makes the
  // clock's rate true ((1 + e)(1 + f) = 1), at any frequency in force.
  return e.phase + e.freq / (1 + e.freq) * (t - e.t);
}

void Discipline::record(double t, double step_s, double freq) { record_in(events_, t, step_s, freq); }

void Discipline::record_in(std::vector<Event>& history, double t, double step_s, double freq) {
  const double phase = phase_at(history, t) + step_s;
  history.push_back({t, phase, freq});
  if (history.size() > kMaxEvents) history.erase(history.begin());
}

DisciplineAction Discipline::start(int64_t now_ns) {
  if (!have_epoch_) {
    have_epoch_ = true;
    epoch_ns_ = now_ns;
  }
  DisciplineAction action;
  if (!params_.have_driftfile) return action;
  const double f =
      std::clamp(base_, -params_.max_frequency_ppm * kPpm, params_.max_frequency_ppm * kPpm);
  if (params_.measure_only) {  // the virtual clock runs at the driftfile frequency
    record_in(virtual_events_, seconds(now_ns), 0, f);
    return action;
  }
  record(seconds(now_ns), 0, f);
  action.set_frequency = true;
  action.frequency_ppm = f / kPpm;
  return action;
}

Discipline::Fit Discipline::fit_window(size_t first) const {
  Fit f;
  const size_t n = points_.size() - first;
  if (n == 0) return f;
  double sw = 0, sx = 0, sy = 0;
  for (size_t i = first; i < points_.size(); ++i) {
    sw += points_[i].w;
    sx += points_[i].w * points_[i].x;
    sy += points_[i].w * points_[i].y;
  }
  const double xm = sx / sw;
  const double ym = sy / sw;
  double sxx = 0, sxy = 0;
  for (size_t i = first; i < points_.size(); ++i) {
    const double dx = points_[i].x - xm;
    sxx += points_[i].w * dx * dx;
    sxy += points_[i].w * dx * (points_[i].y - ym);
  }
  // Scale of the errors: the weights are relative (error = half the delay
  // overstates the noise many times), so the variance factor comes from the
  // residuals of the unconstrained line. With under 3 degrees of freedom that
  // is too uncertain; the errors are then taken as given, unless the
  // residuals say worse.
  const bool sloped = sxx > 0 && n >= 2;
  const double b_data = sloped ? sxy / sxx : prior_b_;
  double rss = 0;
  for (size_t i = first; i < points_.size(); ++i) {
    const double r = points_[i].y - ym - b_data * (points_[i].x - xm);
    rss += points_[i].w * r * r;
  }
  const double dof = static_cast<double>(n) - (sloped ? 2 : 1);
  double s2 = dof >= 3 ? rss / dof : std::max(1.0, dof > 0 ? rss / dof : 0.0);
  s2 = std::max(s2, 1e-30);

  f.valid = true;
  f.points = static_cast<int>(n);
  f.x_mean = xm;
  f.a = ym;
  f.var_b = 1 / (sxx / s2 + prior_weight_);
  f.b = (sxy / s2 + prior_weight_ * prior_b_) * f.var_b;
  f.var_a = s2 / sw;
  f.span = points_.back().x - points_[first].x;
  double wr2 = 0;
  for (size_t i = first; i < points_.size(); ++i) {
    const double r = points_[i].y - f.a - f.b * (points_[i].x - xm);
    wr2 += points_[i].w * r * r;
  }
  f.jitter = std::sqrt(wr2 / sw);
  return f;
}

void Discipline::refit() {
  const size_t n = points_.size();
  if (n == 0) {
    fit_ = Fit{};
    return;
  }
  // Largest window whose residuals pass the runs test: a line that still
  // describes the data leaves residuals whose signs alternate at random; a
  // frequency change since the oldest points leaves long runs, and the
  // window shrinks until it no longer does (chrony's regress.c).
  Fit chosen;
  for (int k = 0; k < kWindowSteps; ++k) {
    const size_t first = n * static_cast<size_t>(k) / kWindowSteps;
    if (k > 0 && n - first < kMinRunsPoints) break;
    const Fit f = fit_window(first);
    chosen = f;
    if (n - first < kMinRunsPoints) break;
    int positive = 0, negative = 0, runs = 0;
    int last_sign = 0;
    for (size_t i = first; i < n; ++i) {
      const double r = points_[i].y - f.a - f.b * (points_[i].x - f.x_mean);
      const int sign = r >= 0 ? 1 : -1;
      (sign > 0 ? positive : negative)++;
      if (sign != last_sign) ++runs;
      last_sign = sign;
    }
    if (positive == 0 || negative == 0) continue;
    const double m = static_cast<double>(n - first);
    const double mu = 1 + 2.0 * positive * negative / m;
    const double var = (mu - 1) * (mu - 2) / (m - 1);
    if (var <= 0 || (runs - mu) / std::sqrt(var) >= -kRunsZ) break;
  }
  fit_ = chosen;
}

double Discipline::predicted_offset(double t) const {
  if (!fit_.valid) return 0;
  const double c = correction_at(t);
  const double x = t - c;
  return fit_.a + fit_.b * (x - fit_.x_mean) - c;
}

// The slew time scale: a quarter of the time the fit spans, and at most
// three update intervals (chrony's corrtimeratio, 3), as a power of two
// within [2^min, 2^max] s. Early on (few points, a minute of data) offsets
// are removed within 16 s; at poll 2^6 over an hour of points, within
// 2^7 s, so a 50 us estimate error is a 0.4 ppm excursion. Longer would
// smooth nothing: the estimate is already a fit over the whole window,
// and replaying recorded runs (bench/README.md, "Time quality") showed a
// slew over 2^10 s only adding lag — after a one-way delay burst the served
// clock recovered minutes after the estimate had.
double Discipline::time_constant_s() const {
  int tc = params_.min_time_constant;
  if (fit_.valid && fit_.span > 0) {
    tc = static_cast<int>(std::floor(std::log2(std::max(fit_.span / 4, 1.0))));
  }
  if (update_interval_ > 0) {
    tc = std::min(tc, static_cast<int>(std::floor(std::log2(std::max(3 * update_interval_, 1.0)))));
  }
  tc = std::clamp(tc, params_.min_time_constant, params_.max_time_constant);
  return std::ldexp(1.0, tc);
}

DisciplineAction Discipline::update(int64_t now_ns,
                                    std::span<const OffsetMeasurement> measurements) {
  if (!have_epoch_) {
    have_epoch_ = true;
    epoch_ns_ = now_ns;
  }
  const double t_now = seconds(now_ns);
  std::vector<Point> fresh;
  for (const OffsetMeasurement& m : measurements) {
    if (!std::isfinite(m.offset) || !std::isfinite(m.error)) continue;
    const double t = seconds(std::min(m.time_ns, now_ns));
    const double c = correction_at(t);
    const double e = std::max(m.error, kMinError);
    fresh.push_back({t - c, m.offset + c, 1 / (e * e)});
  }
  if (fresh.empty()) return {};

  const std::vector<Point> saved_points = points_;
  const Fit saved_fit = fit_;
  const double saved_prior_b = prior_b_;
  const double saved_prior_weight = prior_weight_;

  // A jump: the new points sit farther from the line than the step
  // threshold. One such update is held back, as the popcorn suppressor
  // holds a spike: early on, while the filters are barely filled, root
  // distances near 1 s let a falseticker 1 s off pass selection once, and
  // one bad update must not throw the line away. If the next update jumps
  // the same way, the change is real (every source moved, or the clock was
  // stepped behind our back): the line no longer describes the clock, and a
  // new one starts from the held and the new points, keeping the old slope
  // as a prior (the oscillator did not change because the phase did).
  if (fit_.valid && started_) {
    std::vector<double> residuals;
    for (const Point& p : fresh) residuals.push_back(p.y - fit_.a - fit_.b * (p.x - fit_.x_mean));
    const double jump = median_of(residuals);
    if (std::fabs(jump) > params_.step_threshold) {
      if (held_.empty() || (jump > 0) != (held_jump_ > 0)) {
        held_ = fresh;
        held_jump_ = jump;
        return {DisciplineOutcome::kJumpHeld};
      }
      points_.clear();
      prior_b_ = fit_.b;
      prior_weight_ = 1 / std::max(fit_.var_b, kJumpPriorSigma * kJumpPriorSigma);
      fresh.insert(fresh.begin(), held_.begin(), held_.end());
    }
    held_.clear();
  }
  for (const Point& p : fresh) {
    const auto at = std::upper_bound(points_.begin(), points_.end(), p.x,
                                     [](double x, const Point& q) { return x < q.x; });
    points_.insert(at, p);
  }
  if (points_.size() > static_cast<size_t>(params_.max_points)) {
    points_.erase(points_.begin(), points_.end() - params_.max_points);
  }
  refit();

  // The offset of the clock being disciplined: the host's, or in measure-only
  // mode the virtual clock's (that far ahead of the host).
  const double offset = predicted_offset(t_now) - virtual_ahead(t_now);
  if (params_.panic_threshold > 0 && std::fabs(offset) > params_.panic_threshold) {
    // Refused outright, as ntpd's panic gate: an offset this large is a
    // broken upstream set or a broken host, not something to follow. The
    // points go too, so that they do not drag later fits.
    points_ = saved_points;
    fit_ = saved_fit;
    prior_b_ = saved_prior_b;
    prior_weight_ = saved_prior_weight;
    return {DisciplineOutcome::kPanic};
  }

  if (saved_fit.valid) {
    const double d = (fit_.b - base_) / kPpm;
    wander2_ = have_wander_ ? wander2_ + (d * d - wander2_) / kWanderAverage : d * d;
    have_wander_ = true;
  }
  base_ = fit_.b;
  // The prior has done its job once the data alone know the slope better.
  if (prior_weight_ > 0 && 1 / fit_.var_b > 2 * prior_weight_) prior_weight_ = 0;

  // Step policy. NTPsec steps whenever the offset stays past `tinker step`;
  // chrony's makestep limits steps to the first updates. ntsd serves time:
  // a step under its clients is worse than a slow slew, so it steps at start
  // only (before anyone was served from this clock), and later only when the
  // operator allowed it, as a loud event; a refused step is slewed and
  // reported once per excursion.
  DisciplineOutcome outcome = DisciplineOutcome::kSlew;
  if (std::fabs(offset) > params_.step_threshold) {
    if (!started_) {
      outcome = DisciplineOutcome::kStartStep;
    } else if (params_.allow_late_steps) {
      outcome = DisciplineOutcome::kLateStep;
    } else if (!refused_) {
      outcome = DisciplineOutcome::kStepRefused;
      refused_ = true;
    }
  } else {
    refused_ = false;
  }
  started_ = true;
  if (last_update_ >= 0 && t_now > last_update_) {
    const double dt = t_now - last_update_;
    update_interval_ = update_interval_ > 0 ? update_interval_ + (dt - update_interval_) / 4 : dt;
  }
  last_update_ = t_now;
  return plan(t_now, outcome, offset);
}

// Measure-only mode plans exactly as active mode does, on a virtual clock
// (chronyd -x's): the host clock plus the corrections an adjusting ntsd would
// have made, kept in virtual_events_ and never applied. The estimate is not
// affected (it works on the host clock, events_); the virtual clock says
// where the served time would be, slews and all (stats().virtual_clock).
DisciplineAction Discipline::plan(double t, DisciplineOutcome outcome, double offset) {
  DisciplineAction action;
  action.outcome = outcome;
  const bool virt = params_.measure_only;
  std::vector<Event>& history = virt ? virtual_events_ : events_;
  if (virt) {
    // A slew's end was recorded ahead of time (below): a new plan replaces it.
    while (history.size() > 1 && history.back().t > t) history.pop_back();
  }
  const double max_f = params_.max_frequency_ppm * kPpm;
  const double base = std::clamp(base_, -max_f, max_f);
  if (outcome == DisciplineOutcome::kStartStep || outcome == DisciplineOutcome::kLateStep) {
    record_in(history, t, offset, base);
    slewing_ = false;
    slew_ = 0;
    if (virt) return action;
    action.step = true;
    action.step_s = offset;
    action.set_frequency = true;
    action.frequency_ppm = base / kPpm;
    return action;
  }
  // Slew: the predicted offset is removed over the time constant, at most
  // max_slew_ppm, and base + correction stays within the kernel's limit.
  // The backend has no ADJ_OFFSET: the correction is a frequency the
  // discipline itself ends (tick()) if no update replans it first.
  const double tau = time_constant_s();
  const double max_slew = params_.max_slew_ppm * kPpm;
  double correction = std::clamp(offset / tau, -max_slew, max_slew);
  const double f = std::clamp(base + correction, -max_f, max_f);
  correction = f - base;
  // Per host second the slew adds f/(1+f) - base/(1+base) to the phase (see correction_at()).
  const double removal = f / (1 + f) - base / (1 + base);
  if (correction != 0 && offset / removal > 0) {
    slewing_ = true;
    slew_ = correction;
    slew_end_ = t + offset / removal;
  } else {
    slewing_ = false;
    slew_ = 0;
  }
  record_in(history, t, 0, base + slew_);
  if (virt) {
    // No tick() ends a virtual slew: its end is recorded now, in the future.
    if (slewing_) record_in(history, slew_end_, 0, base);
    slewing_ = false;
    return action;
  }
  action.set_frequency = true;
  action.frequency_ppm = (base + slew_) / kPpm;
  return action;
}

DisciplineAction Discipline::tick(int64_t now_ns) {
  if (!slewing_ || params_.measure_only || !have_epoch_) return {};
  const double t = seconds(now_ns);
  if (t < slew_end_) return {};
  // The slew has run its course with no new measurement (holdover, or polls
  // further apart than the time constant): back to the base frequency alone.
  // The correction ran until now, not until slew_end_; the event history
  // records the truth, so the estimate is unaffected and the next update
  // removes the small overshoot.
  slewing_ = false;
  slew_ = 0;
  const double max_f = params_.max_frequency_ppm * kPpm;
  const double base = std::clamp(base_, -max_f, max_f);
  record(t, 0, base);
  DisciplineAction action;
  action.outcome = DisciplineOutcome::kSlew;
  action.set_frequency = true;
  action.frequency_ppm = base / kPpm;
  return action;
}

int64_t Discipline::next_tick_ns() const {
  if (!slewing_ || params_.measure_only) return std::numeric_limits<int64_t>::max();
  return epoch_ns_ + static_cast<int64_t>(std::ceil(slew_end_ * 1e9));
}

void Discipline::frequency_applied(int64_t now_ns, double ppm) {
  if (!have_epoch_) {
    have_epoch_ = true;
    epoch_ns_ = now_ns;
  }
  record(seconds(now_ns), 0, ppm * kPpm);
}

DisciplineStats Discipline::stats(int64_t now_ns) const {
  DisciplineStats s;
  const double t = have_epoch_ ? seconds(now_ns) : 0;
  s.valid = fit_.valid;
  s.drift_ppm = base_ / kPpm;
  s.host_frequency_ppm = -base_ / (1 + base_) / kPpm;
  s.frequency_in_force_ppm = events_.back().freq / kPpm;
  s.virtual_clock = virtual_ahead(t);
  s.slew_ppm = slew_ / kPpm;
  s.wander_ppm = std::sqrt(wander2_);
  s.time_constant = static_cast<int>(std::lround(std::log2(time_constant_s())));
  if (!fit_.valid) return s;
  s.offset = predicted_offset(t);
  const double x = t - correction_at(t);
  s.offset_error = std::sqrt(fit_.var_a + fit_.var_b * (x - fit_.x_mean) * (x - fit_.x_mean));
  s.frequency_error_ppm = std::sqrt(fit_.var_b) / kPpm;
  s.jitter = fit_.jitter;
  s.points = fit_.points;
  s.span_s = fit_.span;
  return s;
}

}  // namespace ntsd::clock
