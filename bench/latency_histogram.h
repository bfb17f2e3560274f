#pragma once
// A fixed-size log-linear latency histogram (64 sub-buckets per power of two,
// so a reported percentile is within 1.6 % of the true value). Recording is a
// few instructions and never allocates; one per load thread, merged at the end.
#include <array>
#include <cstdint>

namespace ntsd::bench {

class LatencyHistogram {
 public:
  void record(uint64_t nanoseconds);
  void merge(const LatencyHistogram& other);
  uint64_t count() const { return total_; }
  // The value (ns) below or at which fraction q (0..1) of the samples lie: the
  // upper edge of that sample's bucket; 0 when empty.
  uint64_t quantile_ns(double q) const;

 private:
  static constexpr int kSubBits = 6;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = kSub + (64 - kSubBits) * kSub;
  static int bucket_of(uint64_t value);
  static uint64_t upper_edge(int bucket);

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
};

}  // namespace ntsd::bench
