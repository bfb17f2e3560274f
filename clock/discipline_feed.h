#pragma once
// Which verified samples reach the discipline, and with what weight. Pure:
// the runner (client.cc) and the offline replay (bench/discipline_replay)
// call the same function, so what is tuned offline is what runs.
#include <optional>

#include "clock/discipline.h"
#include "clock/sample.h"

namespace ntsd::clock {

struct FeedParams {
  // A sample whose round trip exceeds the source's best by more than this
  // ratio is left out (chrony's maxdelayratio idea). 1.3, not the 1.5 used
  // before: replaying one recorded 10-minute run (bench/discipline_replay,
  // bench/README.md) gave steady/burst RMS 394/454 us at 1.5, 312/334 at
  // 1.3, 325/334 at 1.25, 330/263 at 1.2 — on a loaded host the slow
  // exchanges are slow on one side, and 1.25-1.3 is where both improve.
  double max_delay_ratio = 1.3;
  // A sample's error, for its weight:
  //   base_share * (best round trip + upstream root delay) / 2   (the path's asymmetry bound)
  // + jitter_share * the filter's jitter                            (the path's noise)
  // + excess_share * (round trip - best round trip)               (queueing on one side)
  double base_share = 1.0;
  double jitter_share = 0.0;
  double excess_share = 1.0;
};

// `sample` has just been added to its source's filter, whose estimate is
// `filter`. Nothing when the sample is out (delay gate); else its offset with
// an error for the regression's weight (1/error^2).
std::optional<OffsetMeasurement> discipline_measurement(const Sample& sample, const SourceEstimate& filter,
                                                        const FeedParams& params = {});

}  // namespace ntsd::clock
