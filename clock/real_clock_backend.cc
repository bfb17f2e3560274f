#include "clock/real_clock_backend.h"

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace ntsd::clock {
namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;
// timex.freq is ppm with a 16-bit binary fraction ("scaled ppm").
constexpr double kFreqScale = 65536.0;
// The kernel's NTP_PHASE_LIMIT: maxerror/esterror above 16 s mean "unsynchronised".
constexpr long kMaxErrorUs = 16'000'000;
// The kernel's MAXTC: time constants above 10 are clamped by the kernel anyway.
constexpr long kMaxTimeConstant = 10;
// Steps past ~31 years are a broken measurement, and keep offset * 1e9 in int64.
constexpr double kMaxStepS = 1e9;
// Status bits through which the kernel would move the frequency or phase
// itself. ntsd clears them in every status word it writes.
constexpr int kKernelDisciplineBits = STA_PLL | STA_FLL | STA_PPSFREQ | STA_PPSTIME;

std::string errno_text() { return std::strerror(errno); }

long error_us(double seconds, bool round_up) {
  if (!std::isfinite(seconds)) return kMaxErrorUs;
  const double us = round_up ? std::ceil(seconds * 1e6) : std::round(seconds * 1e6);
  return static_cast<long>(std::clamp(us, 0.0, static_cast<double>(kMaxErrorUs)));
}

}  // namespace

bool read_kernel_clock_state(KernelClockState& out, std::string* error) {
  timex tx{};
  tx.modes = 0;  // read only: with modes 0 the kernel changes nothing and needs no privilege
  const int state = ::clock_adjtime(CLOCK_REALTIME, &tx);
  if (state < 0) {
    if (error) *error = "cannot read the kernel clock state (clock_adjtime): " + errno_text();
    return false;
  }
  out.state = state;
  out.status = tx.status;
  out.unsync = (tx.status & STA_UNSYNC) != 0;
  out.insert = (tx.status & STA_INS) != 0;
  out.del = (tx.status & STA_DEL) != 0;
  out.pll = (tx.status & STA_PLL) != 0;
  out.fll = (tx.status & STA_FLL) != 0;
  out.nano = (tx.status & STA_NANO) != 0;
  out.freq_ppm = static_cast<double>(tx.freq) / kFreqScale;
  out.offset_s = static_cast<double>(tx.offset) * (out.nano ? 1e-9 : 1e-6);
  out.maxerror_s = static_cast<double>(tx.maxerror) * 1e-6;
  out.esterror_s = static_cast<double>(tx.esterror) * 1e-6;
  out.constant = tx.constant;
  out.tai = tx.tai;
  out.tick_us = tx.tick;
  return true;
}

std::string describe_kernel_clock_state(const KernelClockState& s) {
  static constexpr const char* kStates[] = {"TIME_OK",  "TIME_INS",  "TIME_DEL",
                                            "TIME_OOP", "TIME_WAIT", "TIME_ERROR"};
  std::string flags;
  auto flag = [&](bool on, const char* name) {
    if (!on) return;
    if (!flags.empty()) flags += ',';
    flags += name;
  };
  flag(s.unsync, "unsync");
  flag(s.insert, "ins");
  flag(s.del, "del");
  flag(s.pll, "pll");
  flag(s.fll, "fll");
  flag(s.nano, "nano");
  char line[256];
  std::snprintf(line, sizeof line,
                "kernel clock: %s status 0x%04x (%s) freq %+.3f ppm offset %+.9f s maxerror %.6f s "
                "esterror %.6f s "
                "constant %ld tai %d tick %ld us",
                s.state >= 0 && s.state <= 5 ? kStates[s.state] : "TIME_?",
                static_cast<unsigned>(s.status), flags.empty() ? "-" : flags.c_str(), s.freq_ppm,
                s.offset_s, s.maxerror_s, s.esterror_s, s.constant, s.tai, s.tick_us);
  return line;
}

const char* adjtimex_call_name(AdjtimexRecord::Call call) {
  switch (call) {
    case AdjtimexRecord::Call::kResetPllOffset:
      return "reset_pll_offset";
    case AdjtimexRecord::Call::kPllOff:
      return "pll_off";
    case AdjtimexRecord::Call::kSetFrequency:
      return "set_frequency";
    case AdjtimexRecord::Call::kStep:
      return "step";
    case AdjtimexRecord::Call::kSetStatus:
      return "set_status";
  }
  return "?";
}

RealClockBackend::RealClockBackend(Mode mode) : mode_(mode) {
  // Both modes start from what the kernel is doing now, so that frequency()
  // and the dry run's status word are the truth until the first change. A
  // failed read (a seccomp profile) leaves the defaults; in kAdjust the first
  // change then fails with the reason.
  KernelClockState s;
  if (read_kernel_clock_state(s, nullptr)) {
    status_ = s.status;
    freq_ = static_cast<long>(std::lround(s.freq_ppm * kFreqScale));
  }
}

RealClockBackend::RealClockBackend(Mode mode, int status, long freq)
    : mode_(mode), status_(status), freq_(freq) {}

RealClockBackend RealClockBackend::dry_run_from(int status, double freq_ppm) {
  return RealClockBackend(Mode::kDryRun, status,
                          static_cast<long>(std::lround(freq_ppm * kFreqScale)));
}

int64_t RealClockBackend::now_unix_ns() const {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNsPerSecond + ts.tv_nsec;
}

// The one place a timex reaches the kernel. In dry run it is recorded and the
// kernel's bookkeeping is mirrored (status: read-only bits survive, as in the
// kernel's process_adj_status(); ADJ_NANO sets STA_NANO; frequency), so that
// later read-modify-writes see what the kernel would have.
bool RealClockBackend::apply(AdjtimexRecord::Call call, timex& tx, std::string* error) {
  ++calls_;
  if (mode_ == Mode::kDryRun) {
    if (records_.size() == kMaxRecords) records_.pop_front();
    records_.push_back(AdjtimexRecord{call, tx});
    if (tx.modes & ADJ_STATUS) status_ = (status_ & STA_RONLY) | (tx.status & ~STA_RONLY);
    if (tx.modes & ADJ_NANO) status_ |= STA_NANO;
    if (tx.modes & ADJ_FREQUENCY) {
      freq_ = std::clamp<long>(tx.freq, -static_cast<long>(kKernelMaxFrequencyPpm * kFreqScale),
                               static_cast<long>(kKernelMaxFrequencyPpm * kFreqScale));
    }
    return true;
  }
  if (::clock_adjtime(CLOCK_REALTIME, &tx) < 0) {
    if (error) {
      *error =
          std::string("clock_adjtime (") + adjtimex_call_name(call) + ") failed: " + errno_text();
      if (errno == EPERM)
        *error += " (ntsd needs CAP_SYS_TIME to adjust the clock; --no-adjust runs without)";
    }
    return false;
  }
  // On success the kernel wrote its current state back into tx.
  status_ = tx.status;
  freq_ = tx.freq;
  return true;
}

// ntsd disciplines the clock itself and slews through the frequency alone,
// as chrony does (sys_timex.c): the kernel's PLL/FLL must be off, or it would
// keep moving time_freq and applying its own phase offset on top of ours —
// two control loops fighting over one clock. A daemon that ran before us
// (ntpd with `enable kernel`) may have left STA_PLL on and a phase offset
// pending; the kernel applies a pending offset each second whether or not
// STA_PLL is set, and only accepts a new offset while STA_PLL is set. So,
// once, before our first change: PLL on with offset 0 (zeroes the pending
// offset; a zero offset moves no frequency), then PLL/FLL/PPS bits off.
bool RealClockBackend::take_over_from_kernel_pll(std::string* error) {
  if (pll_taken_over_) return true;
  int base = status_;
  if (mode_ == Mode::kAdjust) {
    KernelClockState s;
    if (!read_kernel_clock_state(s, error)) return false;
    base = s.status;
  }
  const int rw = base & ~STA_RONLY & ~kKernelDisciplineBits;
  timex reset{};
  reset.modes = ADJ_STATUS | ADJ_OFFSET;
  reset.status = rw | STA_PLL;
  reset.offset = 0;
  if (!apply(AdjtimexRecord::Call::kResetPllOffset, reset, error)) return false;
  timex off{};
  off.modes = ADJ_STATUS;
  off.status = rw;
  if (!apply(AdjtimexRecord::Call::kPllOff, off, error)) return false;
  pll_taken_over_ = true;
  return true;
}

bool RealClockBackend::set_frequency(double ppm, std::string* error) {
  if (!std::isfinite(ppm)) {
    if (error) *error = "frequency is not a number";
    return false;
  }
  // The kernel clamps silently at +-500 ppm; clamping here too makes
  // frequency() and the records the truth, and lets us say so — once per run
  // of clamped values, so a discipline pinned at the limit does not flood
  // the log.
  const double clamped = std::clamp(ppm, -kKernelMaxFrequencyPpm, kKernelMaxFrequencyPpm);
  std::string note;
  if (clamped != ppm) {
    if (!clamp_reported_) {
      char text[128];
      std::snprintf(text, sizeof text,
                    "frequency %+.3f ppm clamped to the kernel's limit %+.0f ppm", ppm, clamped);
      note = text;
    }
    clamp_reported_ = true;
  } else {
    clamp_reported_ = false;
  }
  if (!take_over_from_kernel_pll(error)) return false;
  timex tx{};
  tx.modes = ADJ_FREQUENCY;
  tx.freq = static_cast<long>(std::lround(clamped * kFreqScale));
  if (!apply(AdjtimexRecord::Call::kSetFrequency, tx, error)) return false;
  if (error && !note.empty()) *error = note;
  return true;
}

bool RealClockBackend::step(double offset_s, std::string* error) {
  if (!std::isfinite(offset_s) || std::fabs(offset_s) > kMaxStepS) {
    if (error) *error = "refusing to step the clock by " + std::to_string(offset_s) + " s";
    return false;
  }
  if (!take_over_from_kernel_pll(error)) return false;
  // ADJ_SETOFFSET adds timex.time to the clock at once. The kernel wants it
  // normalised with a non-negative fraction (it rejects tv_usec < 0 or
  // >= 1e9 with EINVAL): -0.25 s is tv_sec = -1, tv_usec = 750000000 ns.
  // ADJ_NANO makes tv_usec nanoseconds, as chrony does.
  const int64_t ns = std::llround(offset_s * 1e9);
  int64_t sec = ns / kNsPerSecond;
  int64_t nsec = ns % kNsPerSecond;
  if (nsec < 0) {
    nsec += kNsPerSecond;
    sec -= 1;
  }
  timex tx{};
  tx.modes = ADJ_SETOFFSET | ADJ_NANO;
  tx.time.tv_sec = static_cast<time_t>(sec);
  tx.time.tv_usec = static_cast<suseconds_t>(nsec);
  return apply(AdjtimexRecord::Call::kStep, tx, error);
}

bool RealClockBackend::set_status(const KernelStatus& status, std::string* error) {
  if (!take_over_from_kernel_pll(error)) return false;
  // Read-modify-write: the status word carries bits that are not ours
  // (STA_NANO, PPS and clock-error bits, read-only or set by others), and
  // ADJ_STATUS replaces every writable bit. So start from the kernel's word
  // as it is now and change only ours.
  int base = status_;
  if (mode_ == Mode::kAdjust) {
    KernelClockState s;
    if (!read_kernel_clock_state(s, error)) return false;
    base = s.status;
  }
  int word = base & ~STA_RONLY & ~kKernelDisciplineBits;
  // STA_UNSYNC is what adjtimex(8), timedatectl and node_exporter's
  // node_timex_sync_status read; it is cleared exactly while we are synchronised.
  if (status.synchronized) {
    word &= ~STA_UNSYNC;
  } else {
    word |= STA_UNSYNC;
  }
  // Leap arming: the kernel inserts or deletes the second at the next UTC
  // midnight while STA_INS / STA_DEL is set. Never both (the kernel would
  // take STA_INS); anything else disarms.
  word &= ~(STA_INS | STA_DEL);
  if (status.leap == proto::Leap::kInsert61) word |= STA_INS;
  if (status.leap == proto::Leap::kDelete59) word |= STA_DEL;
  timex tx{};
  // ADJ_NANO: without STA_NANO the kernel adds 4 to the time constant (the
  // old microsecond-kernel convention); with it the constant is taken as
  // given, and ADJ_NANO is applied before ADJ_TIMECONST within one call.
  tx.modes = ADJ_STATUS | ADJ_NANO | ADJ_MAXERROR | ADJ_ESTERROR | ADJ_TIMECONST;
  tx.status = word;
  // Microseconds. maxerror is a bound, so rounded up; the kernel grows it by
  // 500 µs/s itself and sets STA_UNSYNC past 16 s, which is where we cap.
  tx.maxerror = error_us(status.maxerror_s, true);
  tx.esterror = error_us(status.esterror_s, false);
  tx.constant = std::clamp<long>(status.time_constant, 0, kMaxTimeConstant);
  return apply(AdjtimexRecord::Call::kSetStatus, tx, error);
}

}  // namespace ntsd::clock
