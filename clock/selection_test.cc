#include "clock/selection.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "clock/filter.h"

namespace ntsd::clock {
namespace {

constexpr int64_t kNow = int64_t{1'750'000'000} * 1'000'000'000;
constexpr int64_t kSecond = 1'000'000'000;

// An estimate as a filter leaves it, updated at kNow. Root distance is
// about (0.001 + delay) / 2 + 0.001 + dispersion + jitter.
SourceEstimate estimate(double offset, double delay = 0.020, double dispersion = 0.001,
                        double jitter = 0.0002, uint8_t stratum = 1) {
  SourceEstimate e;
  e.valid = true;
  e.time_ns = kNow - 10 * kSecond;
  e.updated_ns = kNow;
  e.offset = offset;
  e.delay = delay;
  e.dispersion = dispersion;
  e.jitter = jitter;
  e.header.stratum = stratum;
  e.header.root_delay = 0.001;
  e.header.root_dispersion = 0.001;
  return e;
}

SelectionInput input(const SourceEstimate& e) {
  SelectionInput in;
  in.estimate = e;
  in.poll_interval_s = 64;
  return in;
}

int count(const Selection& s, SourceStatus status) {
  int n = 0;
  for (const SourceVerdict& v : s.sources) n += v.status == status;
  return n;
}

TEST(Selection, one_source_at_plus_one_second_is_a_falseticker) {
  // Through real filters: four sources agree on +10 ms within a millisecond, one says +1.01 s.
  const double truth = 0.010;
  const double offsets[] = {truth + 0.0003, truth - 0.0004, truth + 0.0001, truth - 0.0002,
                            truth + 1.0};
  std::vector<SelectionInput> inputs;
  for (double offset : offsets) {
    ClockFilter f;
    for (int i = 0; i < 8; ++i) {
      Sample s;
      s.time_ns = kNow - (7 - i) * 64 * kSecond;
      s.offset = offset + (i % 2 ? 5e-5 : -5e-5);
      s.delay = 0.020 + i * 1e-4;
      s.dispersion = 1e-5;
      s.header.stratum = 1;
      s.header.root_delay = 0.0005;
      s.header.root_dispersion = 0.0005;
      f.add(s);
    }
    inputs.push_back(input(f.estimate()));
  }
  SelectionParams params;
  params.minsane = 3;
  const Selection s = select_sources(inputs, params, -1, kNow);
  ASSERT_TRUE(s.system.synchronized);
  EXPECT_EQ(s.sources[4].status, SourceStatus::kFalseticker);
  EXPECT_EQ(count(s, SourceStatus::kSystemPeer), 1);
  EXPECT_NE(s.system.selected, 4);
  EXPECT_EQ(s.sources[s.system.selected].status, SourceStatus::kSystemPeer);
  EXPECT_NEAR(s.system.offset, truth, 0.0005);
  EXPECT_GE(s.system.survivors, 3);
  EXPECT_GT(s.system.jitter, 0);
  for (int i = 0; i < 4; ++i) EXPECT_LT(s.sources[i].root_distance, 0.1) << i;
}

TEST(Selection, truechimers_below_minsane_are_not_synchronized) {
  // Two agree; two are unusable (too far), so only two truechimers remain.
  std::vector<SelectionInput> inputs = {input(estimate(0.001)), input(estimate(0.0012)),
                                        input(estimate(0.001, 0.020, 2.0)),
                                        input(estimate(0.001, 0.020, 3.0))};
  SelectionParams params;
  params.minsane = 3;
  Selection s = select_sources(inputs, params, -1, kNow);
  EXPECT_FALSE(s.system.synchronized);
  EXPECT_EQ(s.system.selected, -1);
  EXPECT_EQ(s.sources[0].status, SourceStatus::kCandidate);
  EXPECT_EQ(s.sources[1].status, SourceStatus::kCandidate);
  EXPECT_EQ(s.sources[2].unfit, Unfit::kTooFar);
  EXPECT_EQ(s.sources[3].unfit, Unfit::kTooFar);

  params.minsane = 2;
  s = select_sources(inputs, params, -1, kNow);
  EXPECT_TRUE(s.system.synchronized);
  EXPECT_EQ(s.system.survivors, 2);
}

TEST(Selection, two_of_four_disagreeing_leave_no_majority) {
  // Two say 0, one +1 s, one -1 s: the largest clique (2) is no majority of 4.
  std::vector<SelectionInput> inputs = {input(estimate(0.0)), input(estimate(0.0003)),
                                        input(estimate(1.0)), input(estimate(-1.0))};
  const Selection s = select_sources(inputs, SelectionParams{}, -1, kNow);
  EXPECT_FALSE(s.system.synchronized);
  EXPECT_EQ(count(s, SourceStatus::kFalseticker), 4);
  EXPECT_EQ(s.system.survivors, 0);

  // With one more source agreeing, three of five are a majority.
  inputs.push_back(input(estimate(-0.0002)));
  const Selection t = select_sources(inputs, SelectionParams{}, -1, kNow);
  EXPECT_TRUE(t.system.synchronized);
  EXPECT_EQ(t.sources[2].status, SourceStatus::kFalseticker);
  EXPECT_EQ(t.sources[3].status, SourceStatus::kFalseticker);
  EXPECT_NEAR(t.system.offset, 0.0, 0.0005);
}

TEST(Selection, prefer_peer_wins_among_survivors_and_is_used_alone) {
  // Source 2 has the largest root distance but is `prefer`.
  std::vector<SelectionInput> inputs = {
      input(estimate(0.0010, 0.010)), input(estimate(0.0011, 0.012)),
      input(estimate(0.0014, 0.040)), input(estimate(0.0009, 0.015))};
  inputs[2].flags.prefer = true;
  const Selection s = select_sources(inputs, SelectionParams{}, 0, kNow);
  ASSERT_TRUE(s.system.synchronized);
  EXPECT_EQ(s.system.selected, 2);
  EXPECT_EQ(s.sources[2].status, SourceStatus::kSystemPeer);
  EXPECT_DOUBLE_EQ(s.system.offset, 0.0014);
  EXPECT_DOUBLE_EQ(s.system.jitter, inputs[2].estimate.jitter);
}

TEST(Selection, prefer_falseticker_is_not_selected) {
  std::vector<SelectionInput> inputs = {input(estimate(0.001)), input(estimate(0.0011)),
                                        input(estimate(0.0009)), input(estimate(0.5))};
  inputs[3].flags.prefer = true;
  const Selection s = select_sources(inputs, SelectionParams{}, -1, kNow);
  ASSERT_TRUE(s.system.synchronized);
  EXPECT_EQ(s.sources[3].status, SourceStatus::kFalseticker);
  EXPECT_NE(s.system.selected, 3);
}

TEST(Selection, noselect_is_never_selected) {
  // Source 0 is the best by far, and even `prefer`, but `noselect`.
  std::vector<SelectionInput> inputs = {input(estimate(0.001, 0.002)),
                                        input(estimate(0.0011, 0.030)),
                                        input(estimate(0.0009, 0.030))};
  inputs[0].flags.noselect = true;
  inputs[0].flags.prefer = true;
  const Selection s = select_sources(inputs, SelectionParams{}, 0, kNow);
  ASSERT_TRUE(s.system.synchronized);
  EXPECT_NE(s.system.selected, 0);
  EXPECT_EQ(s.sources[0].status, SourceStatus::kUnusable);
  EXPECT_EQ(s.sources[0].unfit, Unfit::kNoselect);
}

TEST(Selection, ineligible_is_never_selected) {
  std::vector<SelectionInput> inputs = {input(estimate(0.001, 0.002)),
                                        input(estimate(0.0011, 0.030)),
                                        input(estimate(0.0009, 0.030))};
  inputs[0].eligible = false;
  inputs[0].flags.prefer = true;
  const Selection s = select_sources(inputs, SelectionParams{}, 0, kNow);
  ASSERT_TRUE(s.system.synchronized);
  EXPECT_NE(s.system.selected, 0);
  EXPECT_EQ(s.sources[0].status, SourceStatus::kUnusable);
  EXPECT_EQ(s.sources[0].unfit, Unfit::kIneligible);
}

TEST(Selection, all_bad_is_not_synchronized) {
  SourceEstimate unsynced = estimate(0.0);
  unsynced.header.leap = proto::Leap::kUnsynchronized;
  SourceEstimate stratum16 = estimate(0.0, 0.020, 0.001, 0.0002, 16);
  SourceEstimate kiss = estimate(0.0, 0.020, 0.001, 0.0002, 0);
  std::vector<SelectionInput> inputs = {
      input(SourceEstimate{}),          input(unsynced),      input(stratum16),    input(kiss),
      input(estimate(0.0, 0.020, 1.6)), input(estimate(0.0)), input(estimate(0.0))};
  inputs[5].eligible = false;
  inputs[6].flags.noselect = true;
  const Selection s = select_sources(inputs, SelectionParams{}, 2, kNow);
  EXPECT_FALSE(s.system.synchronized);
  EXPECT_EQ(s.system.selected, -1);
  EXPECT_EQ(s.system.survivors, 0);
  const Unfit expected[] = {Unfit::kNoData,         Unfit::kUnsynchronized, Unfit::kUnsynchronized,
                            Unfit::kUnsynchronized, Unfit::kTooFar,         Unfit::kIneligible,
                            Unfit::kNoselect};
  for (size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_EQ(s.sources[i].status, SourceStatus::kUnusable) << i;
    EXPECT_EQ(s.sources[i].unfit, expected[i]) << i;
  }
  EXPECT_FALSE(select_sources({}, SelectionParams{}, -1, kNow).system.synchronized);
}

TEST(Selection, maxdist_allows_one_poll_interval_of_ageing) {
  // Root distance just above 1.5 s but within PHI * poll of it.
  SelectionInput in = input(estimate(0.0, 0.0, 0.0, 0.0));
  in.estimate.header.root_delay = 0;
  in.estimate.header.root_dispersion = kMaxDistance - kMinDispersion / 2 + 0.0005;
  in.poll_interval_s = 64;  // PHI * 64 = 0.96 ms
  std::vector<SelectionInput> inputs = {in};
  EXPECT_TRUE(select_sources(inputs, SelectionParams{}, -1, kNow).system.synchronized);
  inputs[0].poll_interval_s = 16;  // 0.24 ms
  EXPECT_EQ(select_sources(inputs, SelectionParams{}, -1, kNow).sources[0].unfit, Unfit::kTooFar);
}

TEST(Selection, system_peer_is_the_closest_survivor_and_sticks_at_equal_stratum) {
  std::vector<SelectionInput> inputs = {input(estimate(0.001, 0.030)),
                                        input(estimate(0.0011, 0.010)),
                                        input(estimate(0.0009, 0.020))};
  EXPECT_EQ(select_sources(inputs, SelectionParams{}, -1, kNow).system.selected, 1);
  // The previous system peer keeps the role while it survives at the same stratum.
  EXPECT_EQ(select_sources(inputs, SelectionParams{}, 0, kNow).system.selected, 0);
  // Not once it is a stratum below the best survivor.
  inputs[0].estimate.header.stratum = 2;
  EXPECT_EQ(select_sources(inputs, SelectionParams{}, 0, kNow).system.selected, 1);
}

TEST(Selection, combine_weights_offsets_by_inverse_root_distance) {
  std::vector<SelectionInput> inputs = {input(estimate(0.001, 0.010)),
                                        input(estimate(0.002, 0.050))};
  const Selection s = select_sources(inputs, SelectionParams{}, -1, kNow);
  ASSERT_TRUE(s.system.synchronized);
  ASSERT_EQ(s.system.survivors, 2);
  const double w0 = 1 / s.sources[0].root_distance;
  const double w1 = 1 / s.sources[1].root_distance;
  EXPECT_NEAR(s.system.offset, (w0 * 0.001 + w1 * 0.002) / (w0 + w1), 1e-12);
  EXPECT_EQ(s.system.selected, 0);
  const double seljit2 = w1 * 0.001 * 0.001 / (w0 + w1);
  EXPECT_NEAR(s.system.selection_jitter, std::sqrt(seljit2), 1e-12);
  EXPECT_NEAR(s.system.jitter, std::sqrt(seljit2 + 0.0002 * 0.0002), 1e-12);
}

TEST(Selection, cluster_prunes_outliers_down_to_minclock) {
  // Five truechimers (wide intervals all overlap); one sits 40 ms from the rest.
  std::vector<SelectionInput> inputs;
  for (double offset : {0.0, 0.0001, -0.0001, 0.0002, 0.040}) {
    inputs.push_back(input(estimate(offset, 0.020, 0.040, 1e-5)));
  }
  const Selection s = select_sources(inputs, SelectionParams{}, -1, kNow);
  ASSERT_TRUE(s.system.synchronized);
  EXPECT_EQ(count(s, SourceStatus::kFalseticker), 0);
  EXPECT_EQ(s.sources[4].status, SourceStatus::kOutlier);
  EXPECT_EQ(s.system.survivors, 3);
  EXPECT_EQ(count(s, SourceStatus::kOutlier), 2);
  EXPECT_NEAR(s.system.offset, 0.0, 0.0002);
}

TEST(Selection, cluster_keeps_at_most_maxclock) {
  // Twelve sources whose spread is below their own jitter: pruning would
  // stop at once, but maxclock caps the survivors.
  std::vector<SelectionInput> inputs;
  for (int i = 0; i < 12; ++i) inputs.push_back(input(estimate(i * 1e-6, 0.020, 0.001, 0.001)));
  SelectionParams params;
  params.maxclock = 10;
  const Selection s = select_sources(inputs, params, -1, kNow);
  ASSERT_TRUE(s.system.synchronized);
  EXPECT_EQ(s.system.survivors, 10);
  EXPECT_EQ(count(s, SourceStatus::kOutlier), 2);
}

TEST(Selection, status_names_and_codes) {
  EXPECT_EQ(source_status_tally(SourceStatus::kSystemPeer), '*');
  EXPECT_EQ(source_status_tally(SourceStatus::kCandidate), '+');
  EXPECT_EQ(source_status_tally(SourceStatus::kOutlier), '-');
  EXPECT_EQ(source_status_tally(SourceStatus::kFalseticker), 'x');
  EXPECT_EQ(source_status_tally(SourceStatus::kUnusable), ' ');
  EXPECT_EQ(source_status_select_code(SourceStatus::kSystemPeer), 6);
  EXPECT_EQ(source_status_select_code(SourceStatus::kCandidate), 4);
  EXPECT_STREQ(source_status_name(SourceStatus::kFalseticker), "falsetick");
  EXPECT_STREQ(unfit_name(Unfit::kNoselect), "noselect");
}

}  // namespace
}  // namespace ntsd::clock
