#include "server/counters.h"

#include <gtest/gtest.h>

namespace ntsd::server {
namespace {

TEST(Counters, sums_workers_and_names_every_drop_reason) {
  WorkerCounters a, b;
  a.received.add(3);
  a.replied.add(2);
  a.count_drop(DropReason::kBadVersion);
  b.received.add(5);
  b.count_drop(DropReason::kBadVersion);
  b.count_drop(DropReason::kTooShort);
  const WorkerCounters* workers[] = {&a, &b};
  const CounterTotals totals = sum_counters(workers);
  EXPECT_EQ(totals.received, 8u);
  EXPECT_EQ(totals.replied, 2u);
  EXPECT_EQ(totals.dropped_total(), 3u);
  EXPECT_EQ(totals.dropped[static_cast<size_t>(DropReason::kBadVersion)], 2u);
  const std::string line = totals.to_line();
  EXPECT_NE(line.find("received=8"), std::string::npos);
  EXPECT_NE(line.find("drop_bad_version=2"), std::string::npos);
  for (size_t i = 0; i < static_cast<size_t>(DropReason::kCount); ++i) {
    EXPECT_STRNE(drop_reason_name(static_cast<DropReason>(i)), "unknown");
  }
}

}  // namespace
}  // namespace ntsd::server
