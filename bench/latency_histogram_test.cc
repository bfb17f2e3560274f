#include "bench/latency_histogram.h"

#include <gtest/gtest.h>

#include <random>

namespace ntsd::bench {
namespace {

TEST(LatencyHistogram, EmptyReportsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.quantile_ns(0.99), 0u);
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 50; ++v) h.record(v);
  EXPECT_EQ(h.quantile_ns(0.5), 25u);
  EXPECT_EQ(h.quantile_ns(1.0), 50u);
  EXPECT_EQ(h.quantile_ns(0.0), 1u);
}

TEST(LatencyHistogram, QuantilesWithinBucketError) {
  // 1..100000 µs uniformly: the p-quantile is p * 100 ms, within 1.6 %.
  LatencyHistogram h;
  for (uint64_t us = 1; us <= 100000; ++us) h.record(us * 1000);
  for (const double q : {0.5, 0.9, 0.99, 0.999}) {
    const double truth = q * 100000 * 1000;
    const double got = static_cast<double>(h.quantile_ns(q));
    EXPECT_GE(got, truth) << q;
    EXPECT_LE(got, truth * 1.016) << q;
  }
}

TEST(LatencyHistogram, MergeAddsCounts) {
  LatencyHistogram a, b;
  for (int i = 0; i < 99; ++i) a.record(10'000);
  b.record(5'000'000);
  a.merge(b);
  EXPECT_EQ(a.count(), 100u);
  EXPECT_LE(a.quantile_ns(0.99), 10'200u);
  EXPECT_GE(a.quantile_ns(1.0), 5'000'000u);
}

TEST(LatencyHistogram, HugeValuesDoNotOverflowTheTable) {
  LatencyHistogram h;
  h.record(~uint64_t{0});
  h.record(uint64_t{1} << 63);
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.quantile_ns(1.0), ~uint64_t{0});
}

}  // namespace
}  // namespace ntsd::bench
