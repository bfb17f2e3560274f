#pragma once
// The per-source clock filter (RFC 5905 §10): the last eight samples of one
// source in a shift register; its estimate rests on the lowest-delay sample
// that is not too old, and only ever moves forward in time. Pure: time comes
// in with the samples (host Unix ns), nothing is read or logged here.
#include <array>
#include <cstdint>

#include "clock/sample.h"

namespace ntsd::clock {

inline constexpr int kFilterStages = 8;  // NTP_SHIFT

struct FilterParams {
  double precision = 1e-6;        // host clock precision, s: the floor of the jitter
  double allan_intercept = 2048;  // s: older samples are ranked by delay + dispersion (NTPsec 2^11)
  double popcorn_gate = 3;        // SGATE: a jump above this many jitters is a spike
  double maxdist = kMaxDistance;  // s: samples ranked beyond this are left out of the jitter
};

// What add() did with a sample; kUsed means selection should run again.
enum class FilterOutcome : uint8_t {
  kUsed,      // the estimate now rests on a newer sample
  kOld,       // the best sample is not newer than the one last used: estimate kept
  kPopcorn,   // the best sample jumps from the estimate: held back until a second one confirms it
  kNoSample,  // nothing in the register is usable (all dummies or older than MAXDISP)
};

const char* filter_outcome_name(FilterOutcome outcome);

class ClockFilter {
 public:
  explicit ClockFilter(FilterParams params = {});

  // Shifts in one verified exchange.
  FilterOutcome add(const Sample& sample);
  // Shifts in a dummy sample (dispersion MAXDISP) for a poll that went unanswered at now_ns.
  void add_missed_poll(int64_t now_ns);
  // Empties the register (a new association); the estimate becomes invalid.
  void reset();

  // The current estimate; valid once a sample was used and while the register holds a usable one.
  const SourceEstimate& estimate() const { return estimate_; }
  // Reachability register: bit 0 is the latest poll (1 answered, 0 missed).
  uint8_t reach() const { return reach_; }

 private:
  struct Stage {
    int64_t time_ns = 0;
    double offset = 0;
    double delay = 0;
    double dispersion = kMaxDispersion;
    UpstreamHeader header;
    bool held = false;  // a popcorn spike: never chosen
  };

  FilterOutcome shift_in(const Stage& stage, int64_t now_ns);

  FilterParams params_;
  std::array<Stage, kFilterStages> stages_{};  // ring: next_ is the oldest, overwritten next
  int next_ = 0;
  uint8_t reach_ = 0;
  int64_t last_used_ns_ = 0;    // time of the sample the estimate rests on (RFC 5905 peer epoch)
  bool spike_pending_ = false;  // the last candidate was held back as a spike
  bool spike_up_ = false;       // and jumped upwards
  SourceEstimate estimate_;
};

// RFC 5905 root distance of a source at now_ns, s: max(MINDISP, root delay +
// delay) / 2 + root dispersion + dispersion + PHI * (now - update) + jitter.
// MAXDISP for an invalid estimate.
double root_distance(const SourceEstimate& estimate, int64_t now_ns);

}  // namespace ntsd::clock
