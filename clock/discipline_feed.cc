#include "clock/discipline_feed.h"

#include <algorithm>

namespace ntsd::clock {

namespace {
constexpr double kFloor = 1e-6;  // s: no sample is better than a microsecond
constexpr double kGateSlack = 1e-4;  // s: loopback-short round trips vary by more than 1.5x
}  // namespace

// Every verified sample may steer (when its source survives selection), not
// only the clock filter's picks: the pick changes every few polls, too rarely
// for the regression (measured: 10 picks in 30 min at poll 2^4..2^6 against
// chronyd's 43 updates; bench/README.md). A sample whose round trip is well
// above the source's best carries path asymmetry of up to the excess (a
// delayed reply, a queue): past the gate it is left out, below it the excess
// lowers its weight, so a burst of one-way delay cannot pull the regression.
std::optional<OffsetMeasurement> discipline_measurement(const Sample& sample, const SourceEstimate& filter,
                                                        const FeedParams& params) {
  const double min_delay = filter.valid ? std::min(filter.delay, sample.delay) : sample.delay;
  if (sample.delay > params.max_delay_ratio * min_delay + kGateSlack) return std::nullopt;
  const double base = params.base_share * (min_delay + sample.header.root_delay) / 2 +
                      params.jitter_share * (filter.valid ? filter.jitter : 0.0);
  const double error = base + params.excess_share * (sample.delay - min_delay);
  return OffsetMeasurement{sample.time_ns, sample.offset, std::max(kFloor, error)};
}

}  // namespace ntsd::clock
