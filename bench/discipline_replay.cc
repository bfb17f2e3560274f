// Replays NTPsec-format rawstats (ntsd's `statistics rawstats`: every
// accepted reply's four timestamps) through the same pieces the upstream
// client runs — sample_from_reply, the clock filter, discipline_measurement
// and the measure-only Discipline — and reports the error of the
// discipline's offset estimate at each update, as loopstats would have
// recorded it. On one host whose clock the client only measured, the true
// offset is 0, so each estimate is its own error: feeding policies can be
// compared on the same recorded packets in seconds instead of one
// 10-minute bench/clock_quality.sh window each. Once a second between
// updates it also reads the measure-only virtual clock (where an adjusting
// ntsd would have put the clock, slews included: served_rms_us, the
// "served" rows) and the estimate line itself (estimate_1hz_rms_us).
// --host-ppm F replays the packets as if the host clock had run F ppm fast
// and measures against that known true offset: a policy that only wins
// because the recorded host's true frequency error is 0 shows there.
//
//   discipline_replay [--from S] [--to S] [--max-delay-ratio R] [--base-share B]
//                     [--jitter-share J] [--excess-share E] [--max-time-constant T]
//                     [--host-ppm F] [--print] [--print-seconds] RAWSTATS...
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "clock/discipline.h"
#include "clock/discipline_feed.h"
#include "clock/exchange.h"
#include "clock/filter.h"
#include "proto/ntp_packet.h"

namespace {

using namespace ntsd;

constexpr int64_t kNtpUnixOffset = 2'208'988'800;

struct RawLine {
  int64_t t1_ns = 0, t4_ns = 0;
  uint64_t t2 = 0, t3 = 0;
  unsigned leap = 0, version = 4, mode = 4, stratum = 0;
  int poll = 0, precision = 0;
  double root_delay = 0, root_dispersion = 0;
};

// "3867818701.119346355" -> seconds and nanoseconds.
bool parse_stamp(const std::string& text, int64_t& seconds, int64_t& nanos) {
  const size_t dot = text.find('.');
  if (dot == std::string::npos) return false;
  try {
    seconds = std::stoll(text.substr(0, dot));
    std::string frac = text.substr(dot + 1);
    frac.resize(9, '0');
    nanos = std::stoll(frac.substr(0, 9));
  } catch (...) {
    return false;
  }
  return true;
}

uint64_t ntp_raw(int64_t seconds, int64_t nanos) {
  return (static_cast<uint64_t>(seconds) << 32) |
         static_cast<uint64_t>((static_cast<unsigned __int128>(nanos) << 32) / 1'000'000'000);
}

bool parse_line(const std::string& line, RawLine& out) {
  std::istringstream in(line);
  std::string mjd, secs, src, dst, t1, t2, t3, t4;
  if (!(in >> mjd >> secs >> src >> dst >> t1 >> t2 >> t3 >> t4 >> out.leap >> out.version >> out.mode >>
        out.stratum >> out.poll >> out.precision >> out.root_delay >> out.root_dispersion)) {
    return false;
  }
  int64_t s = 0, ns = 0;
  if (!parse_stamp(t1, s, ns)) return false;
  out.t1_ns = (s - kNtpUnixOffset) * 1'000'000'000 + ns;
  if (!parse_stamp(t4, s, ns)) return false;
  out.t4_ns = (s - kNtpUnixOffset) * 1'000'000'000 + ns;
  if (!parse_stamp(t2, s, ns)) return false;
  out.t2 = ntp_raw(s, ns);
  if (!parse_stamp(t3, s, ns)) return false;
  out.t3 = ntp_raw(s, ns);
  return true;
}

// The reply the line was recorded from, as far as sample_from_reply reads it.
std::array<uint8_t, proto::kNtpHeaderSize> reply_of(const RawLine& r) {
  proto::NtpHeader h{};
  h.leap = static_cast<proto::Leap>(r.leap);
  h.version = static_cast<uint8_t>(r.version);
  h.mode = static_cast<proto::Mode>(r.mode);
  h.stratum = static_cast<uint8_t>(r.stratum);
  h.poll = static_cast<int8_t>(r.poll);
  h.precision = static_cast<int8_t>(r.precision);
  h.root_delay = proto::NtpShort{static_cast<uint32_t>(std::lround(r.root_delay * 65536))};
  h.root_dispersion = proto::NtpShort{static_cast<uint32_t>(std::lround(r.root_dispersion * 65536))};
  h.receive_time = proto::NtpTimestamp{r.t2};
  h.transmit_time = proto::NtpTimestamp{r.t3};
  std::array<uint8_t, proto::kNtpHeaderSize> p{};
  proto::write_header(h, p);
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Replays rawstats through ntsd's filter, feed policy and measure-only discipline"};
  std::vector<std::string> files;
  double from_s = 0, to_s = 1e18;
  clock::FeedParams feed;
  bool print = false, print_seconds = false;
  double host_ppm = 0;
  clock::DisciplineParams params;
  app.add_option("rawstats", files, "rawstats files, in time order")->required();
  app.add_option("--from", from_s, "count updates from S seconds after the first reply");
  app.add_option("--to", to_s, "... up to S seconds after it");
  app.add_option("--max-delay-ratio", feed.max_delay_ratio);
  app.add_option("--base-share", feed.base_share);
  app.add_option("--jitter-share", feed.jitter_share);
  app.add_option("--excess-share", feed.excess_share);
  app.add_option("--max-time-constant", params.max_time_constant, "slowest slew, log2 s (default 10)");
  app.add_option("--host-ppm", host_ppm,
                 "replay as if the host clock ran this many ppm fast (T1 and T4 scaled from the first "
                 "reply); errors are then measured against that known true offset");
  app.add_flag("--print-seconds", print_seconds,
               "print every second: Unix seconds, virtual clock error (us), estimate error (us)");
  app.add_flag("--print", print, "print every update: seconds, offset estimate (us), samples fed");
  CLI11_PARSE(app, argc, argv);

  std::vector<RawLine> lines;
  for (const std::string& f : files) {
    std::ifstream in(f);
    if (!in) {
      std::fprintf(stderr, "discipline_replay: cannot open %s\n", f.c_str());
      return 1;
    }
    std::string text;
    size_t n = 0;
    while (std::getline(in, text)) {
      ++n;
      RawLine r;
      if (!parse_line(text, r)) {
        std::fprintf(stderr, "discipline_replay: %s:%zu: not a rawstats line\n", f.c_str(), n);
        return 1;
      }
      lines.push_back(r);
    }
  }
  if (lines.empty()) {
    std::fprintf(stderr, "discipline_replay: no replies\n");
    return 1;
  }
  // A host clock f fast: host time h = t + f (t - t0) for true time t, so the
  // true offset (source minus host) at host time h is -f (h - t0) / (1 + f).
  const int64_t t0_ns = lines.front().t1_ns;
  const double f = host_ppm * 1e-6;
  auto skew = [&](int64_t t_ns) {
    return t_ns + static_cast<int64_t>(std::llround(static_cast<double>(t_ns - t0_ns) * f));
  };
  auto true_offset = [&](int64_t h_ns) { return -f * (static_cast<double>(h_ns - t0_ns) * 1e-9) / (1 + f); };
  if (f != 0) {
    for (RawLine& r : lines) {
      r.t1_ns = skew(r.t1_ns);
      r.t4_ns = skew(r.t4_ns);
    }
  }
  clock::ClockFilter filter;
  params.measure_only = true;
  clock::Discipline discipline(params);
  discipline.start(lines.front().t4_ns);
  const int64_t first_ns = lines.front().t4_ns;
  std::vector<double> errors;
  // The served view (bench/clock_quality.sh's "served" rows): the estimate
  // line read once a second between updates, not only at them.
  std::vector<double> served, line_1hz;
  int64_t next_second_ns = (first_ns / 1'000'000'000 + 1) * 1'000'000'000;
  size_t fed = 0, gated = 0;
  for (const RawLine& r : lines) {
    for (; next_second_ns < r.t4_ns; next_second_ns += 1'000'000'000) {
      const clock::DisciplineStats st = discipline.stats(next_second_ns);
      const double at = (next_second_ns - first_ns) / 1e9;
      if (st.valid && at >= from_s && at <= to_s) {
        served.push_back(st.virtual_clock - true_offset(next_second_ns));
        line_1hz.push_back(st.offset - true_offset(next_second_ns));
        if (print_seconds) {
          std::printf("%lld %.1f %.1f\n", static_cast<long long>(next_second_ns / 1'000'000'000),
                      served.back() * 1e6, line_1hz.back() * 1e6);
        }
      }
    }
    const auto reply = reply_of(r);
    const clock::ExchangeResult x = clock::sample_from_reply(reply, r.t1_ns, r.t4_ns, std::ldexp(1.0, -24));
    if (x.reject != clock::SampleReject::kNone) continue;
    filter.add(x.sample);
    const auto m = clock::discipline_measurement(x.sample, filter.estimate(), feed);
    if (!m) {
      ++gated;
      continue;
    }
    ++fed;
    discipline.update(r.t4_ns, std::span(&*m, 1));
    const clock::DisciplineStats st = discipline.stats(r.t4_ns);
    const double at = (r.t4_ns - first_ns) / 1e9;
    if (!st.valid) continue;
    const double error = st.offset - true_offset(r.t4_ns);
    if (print) std::printf("%.3f %.1f %zu tc=%d\n", at, error * 1e6, fed, st.time_constant);
    if (at >= from_s && at <= to_s) errors.push_back(error);
  }
  if (errors.empty()) {
    std::fprintf(stderr, "discipline_replay: no update in the window\n");
    return 1;
  }
  double served2 = 0, line2 = 0;
  for (double e : served) served2 += e * e;
  for (double e : line_1hz) line2 += e * e;
  double sum2 = 0, sum = 0, max = 0;
  std::vector<double> mags;
  for (double e : errors) {
    sum2 += e * e;
    sum += e;
    max = std::max(max, std::fabs(e));
    mags.push_back(std::fabs(e));
  }
  std::sort(mags.begin(), mags.end());
  const double p99 = mags[std::min(mags.size() - 1, static_cast<size_t>(std::ceil(0.99 * mags.size())) - 1)];
  std::printf(
      "replies %zu fed %zu gated %zu updates %zu rms_us %.1f p99_us %.1f max_us %.1f mean_us %.1f "
      "served_seconds %zu served_rms_us %.1f estimate_1hz_rms_us %.1f\n",
      lines.size(), fed, gated, errors.size(), std::sqrt(sum2 / errors.size()) * 1e6, p99 * 1e6, max * 1e6,
      sum / errors.size() * 1e6, served.size(), served.empty() ? 0.0 : std::sqrt(served2 / served.size()) * 1e6,
      line_1hz.empty() ? 0.0 : std::sqrt(line2 / line_1hz.size()) * 1e6);
  return 0;
}
