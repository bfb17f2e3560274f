// The discipline loop in a simulated network: N upstreams answer real NTP
// replies (proto/ntp_packet) built from simulated true time; the host side is
// the real pipeline: sample_from_reply -> ClockFilter -> select_sources ->
// Discipline -> SimulatedClockBackend. Simulated time only: no clock, no
// socket, no sleep. Every figure asserted is also printed.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "clock/discipline.h"
#include "clock/discipline_feed.h"
#include "clock/exchange.h"
#include "clock/filter.h"
#include "clock/selection.h"
#include "clock/simulated_clock_backend.h"
#include "proto/ntp_packet.h"
#include "proto/ntp_time.h"

namespace ntsd::clock {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kStartNs = int64_t{1'750'000'000} * kSecond;
constexpr double kPrecision = 1e-7;  // host read precision, s

struct SimConfig {
  int upstreams = 4;
  int falseticker = -1;           // index of an upstream whose clock is off
  double falseticker_s = 1.0;     // by this much
  double initial_offset_s = 0.1;  // true - host at the start
  double frequency_error_ppm = 100;
  double wander_ppm_per_sqrt_s = 3e-4;  // ~0.02 ppm random walk per hour
  int64_t poll_ns = 16 * kSecond;       // minpoll 4, as the Source machine starts
  double delay_s = 0.010;               // each way
  double delay_jitter_s = 0.001;        // uniform +- this, each way, independent draws
  uint64_t seed = 1;
  DisciplineParams discipline;
};

struct Upstream {
  double clock_error_s = 0;  // its time - true time
  ClockFilter filter;
  int64_t last_fed_ns = std::numeric_limits<int64_t>::min();
  std::vector<OffsetMeasurement> unfed;  // samples that passed the feed policy, not yet given
  int64_t stagger_s = 0;  // its polls are this far into each poll interval
};

// One daemon (filters, selection, discipline) on one simulated host clock.
class Network {
 public:
  explicit Network(const SimConfig& config, const SimulatedClockBackend* clock_state = nullptr)
      : config_(config),
        clock_(clock_state != nullptr ? *clock_state : make_clock(config)),
        discipline_(config.discipline),
        rng_(config.seed * 7919 + 17) {
    for (int i = 0; i < config.upstreams; ++i) {
      Upstream u;
      u.clock_error_s = i == config.falseticker ? config.falseticker_s : 0.0;
      u.stagger_s = i * 3;
      upstreams_.push_back(u);
    }
    apply(discipline_.start(clock_.now_unix_ns()));
  }

  // Runs for duration of true time; after each exchange (a "sample time") calls on_sample.
  void run_for(int64_t duration_ns, const std::function<void()>& on_sample = {}) {
    const int64_t end = clock_.true_time_ns() + duration_ns;
    while (clock_.true_time_ns() < end) {
      // Whole true seconds: tick the discipline once a second, as the runner does.
      const int64_t next = (clock_.true_time_ns() / kSecond + 1) * kSecond;
      clock_.advance_true_time(next - clock_.true_time_ns());
      apply(discipline_.tick(clock_.now_unix_ns()));
      const int64_t since_start = clock_.true_time_ns() - kStartNs;
      for (size_t i = 0; i < upstreams_.size(); ++i) {
        if ((since_start - upstreams_[i].stagger_s * kSecond) % config_.poll_ns != 0) continue;
        poll(i);
        if (on_sample) on_sample();
      }
    }
  }

  SimulatedClockBackend& clock() { return clock_; }
  Discipline& discipline() { return discipline_; }
  std::vector<Upstream>& upstreams() { return upstreams_; }
  const std::vector<DisciplineOutcome>& outcomes() const { return outcomes_; }
  int fed(int upstream) const { return fed_[upstream]; }
  bool network_up = true;
  bool apply_actions = true;

  // Seconds since the simulation began (true time).
  double elapsed_s() const { return static_cast<double>(clock_.true_time_ns() - kStartNs) * 1e-9; }
  // Error of the learned base frequency against the oscillator, ppm.
  // Rate error the clock would have with the learned base frequency alone (no slew), ppm.
  double frequency_error_ppm() {
    const double e = clock_.oscillator_error_ppm() * 1e-6;
    const double f = discipline_.stats(clock_.now_unix_ns()).drift_ppm * 1e-6;
    return ((1 + e) * (1 + f) - 1) * 1e6;
  }

 private:
  static SimulatedClockBackend make_clock(const SimConfig& config) {
    SimulatedClockParams p;
    p.start_true_ns = kStartNs;
    p.initial_offset_s = config.initial_offset_s;
    p.frequency_error_ppm = config.frequency_error_ppm;
    p.wander_ppm_per_sqrt_s = config.wander_ppm_per_sqrt_s;
    p.seed = config.seed;
    return SimulatedClockBackend(p);
  }

  void apply(const DisciplineAction& action) {
    if (action.outcome != DisciplineOutcome::kNoData) outcomes_.push_back(action.outcome);
    if (!apply_actions) return;
    std::string error;
    if (action.step) {
      ASSERT_TRUE(clock_.step(action.step_s, &error)) << error;
      // The filters' samples predate the step: start them afresh (ntpd does the same).
      for (Upstream& u : upstreams_) {
        u.filter.reset();
        u.last_fed_ns = std::numeric_limits<int64_t>::min();
      }
    }
    if (action.set_frequency) {
      clock_.set_frequency(action.frequency_ppm, &error);
      if (clock_.frequency() != action.frequency_ppm) {
        discipline_.frequency_applied(clock_.now_unix_ns(), clock_.frequency());
      }
    }
  }

  double draw_delay() {
    std::uniform_real_distribution<double> jitter(-config_.delay_jitter_s, config_.delay_jitter_s);
    return config_.delay_s + jitter(rng_);
  }

  void poll(size_t index) {
    Upstream& up = upstreams_[index];
    if (!network_up) {
      up.filter.add_missed_poll(clock_.now_unix_ns());
      return;
    }
    // One client/server exchange in true time; the server's stamps are true
    // time plus its own error, ours are the simulated host clock's.
    const int64_t t_send = clock_.true_time_ns();
    const int64_t out_ns = std::llround(draw_delay() * 1e9);
    const int64_t hold_ns = 30'000;
    const int64_t back_ns = std::llround(draw_delay() * 1e9);
    const int64_t server_error_ns = std::llround(up.clock_error_s * 1e9);
    const int64_t t1 = clock_.now_unix_ns();
    const int64_t t2 = t_send + out_ns + server_error_ns;
    const int64_t t3 = t2 + hold_ns;
    proto::NtpHeader h{};
    h.leap = proto::Leap::kNone;
    h.version = 4;
    h.mode = proto::Mode::kServer;
    h.stratum = 1;
    h.poll = 4;
    h.precision = -23;
    h.root_delay = proto::ntp_short_from_ns(0);
    h.root_dispersion = proto::ntp_short_from_ns(50'000);
    h.reference_id = proto::refid_from_ascii("GPS\0");
    h.reference_time = proto::ntp_from_unix_ns(t2 - kSecond);
    h.origin_time = proto::ntp_from_unix_ns(t1);
    h.receive_time = proto::ntp_from_unix_ns(t2);
    h.transmit_time = proto::ntp_from_unix_ns(t3);
    std::array<uint8_t, proto::kNtpHeaderSize> reply{};
    proto::write_header(h, reply);
    // The reply arrives: move true time there, stamp T4 on the host clock.
    clock_.advance_true_time(out_ns + hold_ns + back_ns);
    const int64_t t4 = clock_.now_unix_ns();
    const ExchangeResult result = sample_from_reply(reply, t1, t4, kPrecision);
    ASSERT_EQ(result.reject, SampleReject::kNone) << sample_reject_name(result.reject);
    const FilterOutcome outcome = up.filter.add(result.sample);
    // The runner's feed policy (clock/discipline_feed.h), sample by sample.
    if (auto m = discipline_measurement(result.sample, up.filter.estimate()); m && up.unfed.size() < 64) {
      up.unfed.push_back(*m);
    }
    if (outcome == FilterOutcome::kNoSample) return;

    // Selection over every upstream, as the runner does after each sample.
    std::vector<SelectionInput> inputs(upstreams_.size());
    for (size_t i = 0; i < upstreams_.size(); ++i) {
      inputs[i].estimate = upstreams_[i].filter.estimate();
      inputs[i].poll_interval_s = static_cast<double>(config_.poll_ns) * 1e-9;
    }
    const Selection selection = select_sources(inputs, SelectionParams{}, previous_peer_, t4);
    previous_peer_ = selection.system.selected;
    if (!selection.system.synchronized) return;
    // Every survivor's samples not fed yet, as the runner's discipline_update does.
    std::vector<OffsetMeasurement> measurements;
    for (size_t i = 0; i < upstreams_.size(); ++i) {
      std::vector<OffsetMeasurement> unfed = std::move(upstreams_[i].unfed);
      upstreams_[i].unfed.clear();
      const SourceStatus status = selection.sources[i].status;
      if (status != SourceStatus::kSystemPeer && status != SourceStatus::kCandidate) continue;
      for (const OffsetMeasurement& m : unfed) {
        if (m.time_ns <= upstreams_[i].last_fed_ns) continue;
        upstreams_[i].last_fed_ns = m.time_ns;
        measurements.push_back(m);
        ++fed_[i];
      }
    }
    if (measurements.empty()) return;
    apply(discipline_.update(t4, measurements));
  }

  SimConfig config_;
  SimulatedClockBackend clock_;
  Discipline discipline_;
  std::mt19937_64 rng_;
  std::vector<Upstream> upstreams_;
  int previous_peer_ = -1;
  std::vector<DisciplineOutcome> outcomes_;
  std::array<int, 16> fed_{};
};

// Worst figures over a stretch of sample times.
struct Worst {
  double offset_s = 0;       // |true - host|
  double frequency_ppm = 0;  // |learned base frequency error|
  double rate_ppm = 0;       // |rate of the clock as it runs, slew included|
  int samples = 0;
  void add(Network& net) {
    offset_s = std::max(offset_s, std::fabs(net.clock().offset_to_true_s()));
    frequency_ppm = std::max(frequency_ppm, std::fabs(net.frequency_error_ppm()));
    rate_ppm = std::max(rate_ppm, std::fabs(net.clock().rate_error_ppm()));
    ++samples;
  }
};

// Time after which |offset| stayed below bound until the end of the run, s since start.
struct SettleTimer {
  double bound_s = 0.001;
  double settled_at = 0;
  bool inside = false;
  void add(Network& net) {
    const bool ok = std::fabs(net.clock().offset_to_true_s()) < bound_s;
    if (ok && !inside) settled_at = net.elapsed_s();
    inside = ok;
  }
};

int count(const std::vector<DisciplineOutcome>& outcomes, DisciplineOutcome which) {
  return static_cast<int>(std::count(outcomes.begin(), outcomes.end(), which));
}

void converge_and_hold(const SimConfig& config, const char* name) {
  Network net(config);
  net.run_for(10 * kMinute);
  const double offset_10 = net.clock().offset_to_true_s();
  const double freq_10 = net.frequency_error_ppm();
  Worst hour;
  net.run_for(kHour, [&] { hour.add(net); });
  const DisciplineStats s = net.discipline().stats(net.clock().now_unix_ns());
  std::printf(
      "[%s] at 10 min: offset %.1f us, frequency error %.3f ppm; next hour over %d samples: "
      "max |offset| %.1f us, max |frequency error| %.3f ppm, max |rate incl. slew| %.3f ppm; "
      "loopstats offset %.1f us drift %.3f ppm jitter %.1f us wander %.4f ppm tc %d, "
      "esterror %.1f us, freq error bound %.4f ppm, %d points over %.0f s; steps %d\n",
      name, offset_10 * 1e6, freq_10, hour.samples, hour.offset_s * 1e6, hour.frequency_ppm,
      hour.rate_ppm, s.offset * 1e6, s.drift_ppm, s.jitter * 1e6, s.wander_ppm, s.time_constant,
      s.offset_error * 1e6, s.frequency_error_ppm, s.points, s.span_s, net.clock().steps());
  EXPECT_LT(std::fabs(offset_10), 0.001);
  EXPECT_LT(std::fabs(freq_10), 1.0);
  EXPECT_LT(hour.offset_s, 0.001);
  EXPECT_LT(hour.frequency_ppm, 1.0);
  EXPECT_EQ(net.clock().steps(), 0);  // 100 ms is under the step threshold: slewed
  EXPECT_EQ(count(net.outcomes(), DisciplineOutcome::kStepRefused), 0);
}

TEST(Simulation, converges_from_100ppm_and_100ms_and_holds_for_an_hour) {
  converge_and_hold(SimConfig{}, "converge");
}

TEST(Simulation, converges_with_other_seeds) {
  for (uint64_t seed = 2; seed <= 4; ++seed) {
    SimConfig config;
    config.seed = seed;
    config.frequency_error_ppm = seed % 2 == 0 ? -100 : 100;
    config.initial_offset_s = seed % 2 == 0 ? -0.1 : 0.1;
    char name[32];
    std::snprintf(name, sizeof name, "converge seed %d", static_cast<int>(seed));
    converge_and_hold(config, name);
  }
}

TEST(Simulation, one_falseticker_among_four_does_not_move_it) {
  SimConfig config;
  config.falseticker = 3;
  config.falseticker_s = 1.0;
  Network net(config);
  net.run_for(10 * kMinute);
  const double offset_10 = net.clock().offset_to_true_s();
  const double freq_10 = net.frequency_error_ppm();
  Worst hour;
  net.run_for(kHour, [&] { hour.add(net); });
  std::printf(
      "[falseticker +1 s] at 10 min: offset %.1f us, frequency error %.3f ppm; next hour: max "
      "|offset| %.1f us, max |frequency error| %.3f ppm; measurements fed per upstream %d %d %d "
      "%d; "
      "jumps held %d, steps refused %d\n",
      offset_10 * 1e6, freq_10, hour.offset_s * 1e6, hour.frequency_ppm, net.fed(0), net.fed(1),
      net.fed(2), net.fed(3), count(net.outcomes(), DisciplineOutcome::kJumpHeld),
      count(net.outcomes(), DisciplineOutcome::kStepRefused));
  EXPECT_LT(std::fabs(offset_10), 0.001);
  EXPECT_LT(std::fabs(freq_10), 1.0);
  EXPECT_LT(hour.offset_s, 0.001);
  EXPECT_LT(hour.frequency_ppm, 1.0);
  // Selection lets it through once, at 57 s, while the filters are barely
  // filled (root distances near 1 s, so its interval still overlaps); the
  // discipline holds that jump back and never acts on it.
  EXPECT_LE(net.fed(3), 1);
  EXPECT_EQ(count(net.outcomes(), DisciplineOutcome::kStepRefused), 0);
  EXPECT_EQ(net.clock().steps(), 0);
  EXPECT_GT(net.fed(0), 0);
}

TEST(Simulation, an_hour_without_network_keeps_the_learned_frequency) {
  SimConfig config;
  config.wander_ppm_per_sqrt_s = 0;  // the true frequency error held constant
  Network net(config);
  net.run_for(kHour);
  const double before = net.clock().offset_to_true_s();
  const double learned = net.discipline().stats(net.clock().now_unix_ns()).drift_ppm;
  net.network_up = false;
  Worst hour;
  net.run_for(kHour, [&] { hour.add(net); });
  const double after = net.clock().offset_to_true_s();
  const DisciplineStats s = net.discipline().stats(net.clock().now_unix_ns());
  std::printf(
      "[holdover 1 h] offset at loss %.1f us, after 1 h without samples %.1f us: drift %.1f us; "
      "learned frequency %.4f ppm (true %.4f), kept %.4f ppm, in force %.4f ppm\n",
      before * 1e6, after * 1e6, (after - before) * 1e6, learned, -100 / (1 + 100e-6), s.drift_ppm,
      net.clock().frequency());
  EXPECT_LT(std::fabs(after - before), 0.001);
  EXPECT_EQ(s.drift_ppm, learned);
  // The slew in progress at the loss has expired: the base frequency alone is in force.
  EXPECT_DOUBLE_EQ(net.clock().frequency(), learned);
}

TEST(Simulation, restart_with_the_driftfile_frequency_converges_faster) {
  // First life: cold start from 100 ms and +100 ppm, run to convergence.
  SimConfig config;
  Network first(config);
  SettleTimer first_settle;
  first.run_for(kHour, [&] { first_settle.add(first); });
  const double driftfile = first.discipline().stats(first.clock().now_unix_ns()).drift_ppm;
  // Kill: the daemon stops and the machine reboots, so the kernel forgets
  // the frequency; the clock free-runs at +100 ppm for 5 minutes.
  std::string error;
  first.clock().set_frequency(0, &error);
  first.clock().advance_true_time(5 * kMinute);
  const SimulatedClockBackend restart_state = first.clock();
  const double restart_offset = restart_state.offset_to_true_s();

  // Restart twice from that same clock: without and with the driftfile.
  auto settle_after_restart = [&](bool with_driftfile) {
    SimConfig c = config;
    c.seed = 99;  // the same network draws both ways
    c.discipline.have_driftfile = with_driftfile;
    c.discipline.driftfile_ppm = driftfile;
    Network net(c, &restart_state);
    const double t0 = net.elapsed_s();
    SettleTimer settle;
    Worst tail;
    net.run_for(40 * kMinute, [&] {
      settle.add(net);
      if (net.elapsed_s() - t0 > 10 * 60) tail.add(net);
    });
    EXPECT_TRUE(settle.inside);
    EXPECT_LT(tail.offset_s, 0.001);
    EXPECT_LT(tail.frequency_ppm, 1.0);
    return settle.settled_at - t0;
  };
  const double cold = settle_after_restart(false);
  const double warm = settle_after_restart(true);
  std::printf(
      "[restart] first life from 100 ms: within 1 ms for good after %.0f s; driftfile %.4f ppm; "
      "restart at offset %.1f ms: without driftfile %.0f s, with driftfile %.0f s\n",
      first_settle.settled_at, driftfile, restart_offset * 1e3, cold, warm);
  EXPECT_LT(warm, cold);
}

TEST(Simulation, measure_only_estimates_without_touching_the_clock) {
  SimConfig config;
  config.discipline.measure_only = true;
  Network net(config);
  net.apply_actions = false;
  net.run_for(10 * kMinute);
  Worst hour;
  double worst_offset_estimate = 0;
  double worst_frequency_estimate = 0;
  auto check = [&] {
    const DisciplineStats s = net.discipline().stats(net.clock().now_unix_ns());
    worst_offset_estimate =
        std::max(worst_offset_estimate, std::fabs(s.offset - net.clock().offset_to_true_s()));
    worst_frequency_estimate =
        std::max(worst_frequency_estimate,
                 std::fabs(s.host_frequency_ppm - net.clock().oscillator_error_ppm()));
  };
  check();
  const double offset_est_10 = worst_offset_estimate;
  const double freq_est_10 = worst_frequency_estimate;
  net.run_for(kHour, [&] {
    check();
    hour.add(net);
  });
  const DisciplineStats s = net.discipline().stats(net.clock().now_unix_ns());
  std::printf(
      "[measure-only] at 10 min: offset estimate error %.1f us, frequency estimate error %.3f "
      "ppm; next hour: max offset estimate error %.1f us, max frequency estimate error %.3f ppm; "
      "host frequency estimate %.3f ppm (true %.3f); clock now %.1f ms off, %d frequency sets, "
      "%d steps; outcomes: %d step_refused\n",
      offset_est_10 * 1e6, freq_est_10, worst_offset_estimate * 1e6, worst_frequency_estimate,
      s.host_frequency_ppm, net.clock().oscillator_error_ppm(),
      net.clock().offset_to_true_s() * 1e3, net.clock().frequency_sets(), net.clock().steps(),
      count(net.outcomes(), DisciplineOutcome::kStepRefused));
  EXPECT_LT(offset_est_10, 0.001);
  EXPECT_LT(freq_est_10, 1.0);
  EXPECT_LT(worst_offset_estimate, 0.001);
  EXPECT_LT(worst_frequency_estimate, 1.0);
  EXPECT_EQ(net.clock().frequency_sets(), 0);
  EXPECT_EQ(net.clock().steps(), 0);
  // Untouched: the clock drifted at its own +100 ppm for 70 minutes.
  EXPECT_NEAR(net.clock().offset_to_true_s(), 0.1 - 100e-6 * 70 * 60, 0.002);
}

TEST(Simulation, step_policy_start_step_once_then_slew) {
  SimConfig config;
  config.initial_offset_s = 0.2;  // above tinker step (0.128 s)
  Network net(config);
  net.run_for(10 * kMinute);
  Worst hour;
  net.run_for(kHour, [&] { hour.add(net); });
  std::printf(
      "[step 200 ms] steps %d (first %.1f ms), outcomes start_step %d, max |offset| %.1f us\n",
      net.clock().steps(), net.clock().last_step_s() * 1e3,
      count(net.outcomes(), DisciplineOutcome::kStartStep), hour.offset_s * 1e6);
  EXPECT_EQ(net.clock().steps(), 1);
  ASSERT_FALSE(net.outcomes().empty());
  EXPECT_EQ(net.outcomes().front(), DisciplineOutcome::kStartStep);
  EXPECT_EQ(count(net.outcomes(), DisciplineOutcome::kStartStep), 1);
  EXPECT_EQ(count(net.outcomes(), DisciplineOutcome::kLateStep), 0);
  EXPECT_NEAR(net.clock().last_step_s(), 0.2, 0.02);
  EXPECT_LT(hour.offset_s, 0.001);
}

TEST(Simulation, step_policy_100ms_steps_once_under_a_lower_threshold) {
  SimConfig config;                         // 100 ms start offset
  config.discipline.step_threshold = 0.05;  // tinker step 0.05
  Network net(config);
  net.run_for(10 * kMinute);
  Worst hour;
  net.run_for(kHour, [&] { hour.add(net); });
  std::printf("[step 100 ms, tinker step 0.05] steps %d (%.1f ms), max |offset| %.1f us\n",
              net.clock().steps(), net.clock().last_step_s() * 1e3, hour.offset_s * 1e6);
  EXPECT_EQ(net.clock().steps(), 1);
  EXPECT_EQ(net.outcomes().front(), DisciplineOutcome::kStartStep);
  EXPECT_LT(hour.offset_s, 0.001);
}

TEST(Simulation, step_policy_2000s_is_refused_as_panic) {
  SimConfig config;
  config.initial_offset_s = 2000;
  Network net(config);
  net.run_for(10 * kMinute);
  std::printf("[panic 2000 s] outcomes %zu, all panic: %d, steps %d, frequency sets %d\n",
              net.outcomes().size(), count(net.outcomes(), DisciplineOutcome::kPanic),
              net.clock().steps(), net.clock().frequency_sets());
  ASSERT_FALSE(net.outcomes().empty());
  EXPECT_EQ(count(net.outcomes(), DisciplineOutcome::kPanic),
            static_cast<int>(net.outcomes().size()));
  EXPECT_EQ(net.clock().steps(), 0);
  EXPECT_EQ(net.clock().frequency_sets(), 0);
  EXPECT_FALSE(net.discipline().started());
}

void upstreams_jump(bool allow_late_steps) {
  SimConfig config;
  config.discipline.allow_late_steps = allow_late_steps;
  Network net(config);
  net.run_for(30 * kMinute);
  ASSERT_EQ(net.clock().steps(), 0);
  // Every upstream moves 0.5 s ahead (or our clock was stepped back behind our back).
  for (Upstream& u : net.upstreams()) u.clock_error_s += 0.5;
  net.run_for(2 * kHour);
  const double offset_now = net.clock().offset_to_true_s() + 0.5;  // host should read true + 0.5
  std::printf(
      "[late jump 0.5 s, allow_late_steps %d] steps %d, late_step %d, step_refused %d; offset to "
      "the "
      "new time after 2 h %.1f us\n",
      allow_late_steps, net.clock().steps(), count(net.outcomes(), DisciplineOutcome::kLateStep),
      count(net.outcomes(), DisciplineOutcome::kStepRefused), offset_now * 1e6);
  if (allow_late_steps) {
    EXPECT_EQ(net.clock().steps(), 1);
    EXPECT_EQ(count(net.outcomes(), DisciplineOutcome::kLateStep), 1);
    EXPECT_EQ(count(net.outcomes(), DisciplineOutcome::kStepRefused), 0);
  } else {
    EXPECT_EQ(net.clock().steps(), 0);
    EXPECT_EQ(count(net.outcomes(), DisciplineOutcome::kLateStep), 0);
    EXPECT_EQ(count(net.outcomes(), DisciplineOutcome::kStepRefused), 1);  // reported once
  }
  EXPECT_LT(std::fabs(offset_now), 0.001);  // slewed (or stepped) to the new time
}

TEST(Simulation, step_policy_no_step_after_start_without_permission) { upstreams_jump(false); }

TEST(Simulation, step_policy_late_step_with_permission) { upstreams_jump(true); }

}  // namespace
}  // namespace ntsd::clock
