#include "clock/filter.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ntsd::clock {
namespace {

constexpr int64_t kNeverUsed = std::numeric_limits<int64_t>::min();

// Elapsed seconds from -> to; a host clock that went backwards gives 0, never
// a negative age that would shrink a dispersion.
double seconds_since(int64_t from_ns, int64_t to_ns) {
  return to_ns > from_ns ? static_cast<double>(to_ns - from_ns) * 1e-9 : 0.0;
}

}  // namespace

const char* filter_outcome_name(FilterOutcome outcome) {
  switch (outcome) {
    case FilterOutcome::kUsed:
      return "used";
    case FilterOutcome::kOld:
      return "old";
    case FilterOutcome::kPopcorn:
      return "popcorn";
    case FilterOutcome::kNoSample:
      return "no_sample";
  }
  return "?";
}

ClockFilter::ClockFilter(FilterParams params) : params_(params) { reset(); }

void ClockFilter::reset() {
  // Empty stages hold MAXDISP, as NTPsec's peer_clear() does: until four or
  // so real samples have displaced them, the weighted dispersion keeps the
  // root distance above MAXDIST, so one lucky first sample cannot be selected.
  stages_.fill(Stage{});
  next_ = 0;
  reach_ = 0;
  estimate_ = SourceEstimate{};
  last_used_ns_ = kNeverUsed;
  spike_pending_ = false;
}

FilterOutcome ClockFilter::add(const Sample& sample) {
  reach_ = static_cast<uint8_t>(reach_ << 1 | 1);
  Stage stage;
  stage.time_ns = sample.time_ns;
  stage.offset = sample.offset;
  stage.delay = std::max(0.0, sample.delay);
  stage.dispersion = std::clamp(sample.dispersion, 0.0, kMaxDispersion);
  stage.header = sample.header;
  return shift_in(stage, sample.time_ns);
}

void ClockFilter::add_missed_poll(int64_t now_ns) {
  reach_ = static_cast<uint8_t>(reach_ << 1);
  // RFC 5905 §13 (poll): an unanswered poll shifts in (0, 0, MAXDISP). It can
  // never be chosen; it pushes a real sample out, and after eight misses the
  // register is empty and the source unusable.
  Stage dummy;
  dummy.time_ns = now_ns;
  shift_in(dummy, now_ns);
}

// RFC 5905 §10 and NTPsec's clock_filter(), with one deliberate change to
// the popcorn test (see below).
FilterOutcome ClockFilter::shift_in(const Stage& stage, int64_t now_ns) {
  // Age every stage by PHI since the last run, then overwrite the oldest.
  const double aging =
      estimate_.updated_ns == 0 ? 0.0 : kPhi * seconds_since(estimate_.updated_ns, now_ns);
  for (Stage& s : stages_) s.dispersion = std::min(kMaxDispersion, s.dispersion + aging);
  stages_[next_] = stage;
  next_ = (next_ + 1) % kFilterStages;
  estimate_.updated_ns = now_ns;

  // Rank by delay: the lowest-delay sample suffered the least queueing, so
  // its offset is the most trustworthy. Past the Allan intercept, samples are
  // uncorrelated with the present and rank by delay + dispersion, so an old
  // low-delay sample loses to a fresh one; an expired, dummy or held
  // (popcorn) sample ranks last. Ties go to the newer sample.
  struct Ranked {
    int index;
    double distance;
  };
  std::array<Ranked, kFilterStages> order;
  for (int i = 0; i < kFilterStages; ++i) {
    const Stage& s = stages_[i];
    double distance = s.delay;
    if (s.dispersion >= kMaxDispersion || s.held) {
      distance = kMaxDispersion;
    } else if (seconds_since(s.time_ns, now_ns) > params_.allan_intercept) {
      distance = s.delay + s.dispersion;
    }
    order[i] = {i, distance};
  }
  std::sort(order.begin(), order.end(), [this](const Ranked& a, const Ranked& b) {
    if (a.distance != b.distance) return a.distance < b.distance;
    return stages_[a.index].time_ns > stages_[b.index].time_ns;
  });

  // Usable samples: not expired, and (beyond the first two, kept for the
  // jitter) ranked within MAXDIST. Sorted, so they are a prefix of order.
  int m = 0;
  for (const Ranked& r : order) {
    if (r.distance >= kMaxDispersion || (m >= 2 && r.distance >= params_.maxdist)) break;
    ++m;
  }

  // Dispersion: all eight stages weighted 1/2, 1/4, ... in rank order, so a
  // register of dummies sits near MAXDISP and a full one near its best sample.
  double dispersion = 0;
  double weight = 0.5;
  for (const Ranked& r : order) {
    dispersion += weight * stages_[r.index].dispersion;
    weight *= 0.5;
  }
  estimate_.dispersion = dispersion;
  if (m == 0) {
    estimate_.valid = false;
    return FilterOutcome::kNoSample;
  }

  const Stage& best = stages_[order[0].index];
  double sum_squares = 0;
  for (int i = 1; i < m; ++i) {
    const double d = stages_[order[i].index].offset - best.offset;
    sum_squares += d * d;
  }
  const double jitter = std::max(m > 1 ? std::sqrt(sum_squares / (m - 1)) : 0.0, params_.precision);

  const bool was_valid = estimate_.valid;
  // Time ordering (RFC 5905 "use a sample only once and never one older than
  // the last used"): a register whose best is the sample already used, or an
  // older one, leaves the estimate where it is. With no valid estimate there
  // is nothing to protect (first sample, or the source came back after eight
  // misses), and the best sample is taken whatever its time.
  if (was_valid && best.time_ns <= last_used_ns_) {
    estimate_.jitter = jitter;
    return FilterOutcome::kOld;
  }

  // Popcorn spike suppressor. RFC 5905 and NTPsec compare the jump with the
  // jitter computed around the new sample itself (a lone spike then makes
  // the jitter about as large as the jump, so the test almost never fires),
  // and a rejected low-delay spike stays the best sample and is used a poll
  // later anyway. ntsd instead compares the jump with the jitter of the
  // estimate before it and holds the spike back: a held stage is never
  // chosen. If the next candidate jumps the same way, the change is real
  // (an upstream or path change, a stepped host clock): the hold is lifted
  // and the filter follows. As in NTPsec, the test is only armed once the
  // register is well filled (dispersion under MAXDIST, about four samples).
  const double jump = best.offset - estimate_.offset;
  if (was_valid && dispersion < params_.maxdist && best.dispersion < params_.maxdist &&
      std::fabs(jump) > params_.popcorn_gate * estimate_.jitter) {
    const bool up = jump > 0;
    if (!spike_pending_ || spike_up_ != up) {
      stages_[order[0].index].held = true;
      spike_pending_ = true;
      spike_up_ = up;
      return FilterOutcome::kPopcorn;
    }
    for (Stage& s : stages_) s.held = false;
  }
  spike_pending_ = false;

  estimate_.valid = true;
  estimate_.time_ns = best.time_ns;
  estimate_.offset = best.offset;
  estimate_.delay = best.delay;
  estimate_.jitter = jitter;
  estimate_.header = best.header;
  last_used_ns_ = best.time_ns;
  return FilterOutcome::kUsed;
}

double root_distance(const SourceEstimate& e, int64_t now_ns) {
  if (!e.valid) return kMaxDispersion;
  return std::max(kMinDispersion, e.header.root_delay + e.delay) / 2 + e.header.root_dispersion +
         e.dispersion + kPhi * seconds_since(e.updated_ns, now_ns) + e.jitter;
}

}  // namespace ntsd::clock
