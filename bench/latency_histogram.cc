#include "bench/latency_histogram.h"

#include <bit>
#include <cmath>

namespace ntsd::bench {

// Values below 64 get one bucket each; above, each power of two [2^m, 2^(m+1))
// is split into 64 equal buckets.
int LatencyHistogram::bucket_of(uint64_t value) {
  if (value < kSub) return static_cast<int>(value);
  const int msb = 63 - std::countl_zero(value);
  const int shift = msb - kSubBits;
  const int sub = static_cast<int>(value >> shift) - kSub;
  return kSub + shift * kSub + sub;
}

uint64_t LatencyHistogram::upper_edge(int bucket) {
  if (bucket < kSub) return static_cast<uint64_t>(bucket);
  const int shift = (bucket - kSub) / kSub;
  const uint64_t sub = static_cast<uint64_t>((bucket - kSub) % kSub);
  const uint64_t lower = (kSub + sub) << shift;
  return lower + ((uint64_t{1} << shift) - 1);
}

void LatencyHistogram::record(uint64_t nanoseconds) {
  ++counts_[bucket_of(nanoseconds)];
  ++total_;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  total_ += other.total_;
}

uint64_t LatencyHistogram::quantile_ns(double q) const {
  if (total_ == 0) return 0;
  // The rank of the sample wanted, 1-based: ceil(q * n), at least 1.
  const double wanted = std::ceil(q * static_cast<double>(total_));
  const uint64_t rank = wanted < 1 ? 1 : static_cast<uint64_t>(wanted);
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return upper_edge(i);
  }
  return upper_edge(kBuckets - 1);
}

}  // namespace ntsd::bench
