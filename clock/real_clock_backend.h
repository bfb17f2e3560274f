#pragma once
// The host clock behind ClockBackend: CLOCK_REALTIME, driven through
// clock_adjtime(2). ntsd slews by frequency itself (the kernel's PLL is kept
// off), steps with ADJ_SETOFFSET, and tells the kernel its status, error
// estimates and leap arming. In dry run (--no-adjust, no CAP_SYS_TIME, every
// test) each call is recorded as the timex it would pass and the kernel is
// never touched.
#include <sys/timex.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include "clock/clock_backend.h"

namespace ntsd::clock {

// The kernel's frequency limit (MAXFREQ), ppm.
inline constexpr double kKernelMaxFrequencyPpm = 500.0;

// What the kernel's clock discipline reports (clock_adjtime with modes = 0).
struct KernelClockState {
  int state = 0;          // clock_adjtime's return: TIME_OK, TIME_INS, ..., TIME_ERROR
  int status = 0;         // the raw STA_* word
  bool unsync = false;    // STA_UNSYNC
  bool insert = false;    // STA_INS armed
  bool del = false;       // STA_DEL armed
  bool pll = false;       // STA_PLL (the kernel's own discipline)
  bool fll = false;       // STA_FLL
  bool nano = false;      // STA_NANO: offset and time.tv_usec are in ns
  double freq_ppm = 0.0;  // timex.freq / 2^16
  double offset_s = 0.0;  // the kernel PLL's remaining offset
  double maxerror_s = 0.0;
  double esterror_s = 0.0;
  long constant = 0;  // time constant (log2 s, as the kernel reports it)
  int tai = 0;        // TAI - UTC, s
  long tick_us = 0;   // µs per tick (10000 unless someone changed it)
};

// Reads the kernel's clock state without changing anything (modes = 0).
bool read_kernel_clock_state(KernelClockState& out, std::string* error);
// One line for the start-up log: "kernel clock: status 0x40 (unsync) freq +1.234 ppm ...".
std::string describe_kernel_clock_state(const KernelClockState& state);

// One clock_adjtime(CLOCK_REALTIME, &tx) the backend made, or would have made in dry run.
struct AdjtimexRecord {
  enum class Call : uint8_t {
    kResetPllOffset,  // first of two before the first change: STA_PLL on, offset 0
    kPllOff,          // second: STA_PLL/FLL/PPSFREQ/PPSTIME off
    kSetFrequency,
    kStep,
    kSetStatus,
  };
  Call call = Call::kSetFrequency;
  timex tx{};  // exactly what is (or would be) passed; unused fields zero
};

const char* adjtimex_call_name(AdjtimexRecord::Call call);

class RealClockBackend final : public ClockBackend {
 public:
  enum class Mode : uint8_t { kDryRun, kAdjust };
  // Dry run keeps at most this many records (the oldest are dropped).
  static constexpr size_t kMaxRecords = 4096;

  // kAdjust changes the host clock (needs CAP_SYS_TIME). The dry run starts
  // from the kernel's status word and frequency, read once here.
  explicit RealClockBackend(Mode mode);
  // A dry run starting from a given status word and frequency (tests).
  static RealClockBackend dry_run_from(int status, double freq_ppm);

  int64_t now_unix_ns() const override;
  // Clamps to +-500 ppm; the first clamp of a run is reported in *error with true returned.
  bool set_frequency(double ppm, std::string* error) override;
  double frequency() const override { return static_cast<double>(freq_) / 65536.0; }
  bool step(double offset_s, std::string* error) override;
  bool set_status(const KernelStatus& status, std::string* error) override;
  bool adjusts_host_clock() const override { return mode_ == Mode::kAdjust; }

  // The calls made (dry run only; empty when adjusting), oldest first.
  const std::deque<AdjtimexRecord>& records() const { return records_; }
  // Calls made since construction, including those dropped from records().
  uint64_t call_count() const { return calls_; }

 private:
  RealClockBackend(Mode mode, int status, long freq);
  bool apply(AdjtimexRecord::Call call, timex& tx, std::string* error);
  bool take_over_from_kernel_pll(std::string* error);

  Mode mode_;
  int status_ = STA_UNSYNC;  // last status word known (kAdjust: refreshed from each call)
  long freq_ = 0;            // frequency in force, ppm * 2^16
  bool pll_taken_over_ = false;
  bool clamp_reported_ = false;
  uint64_t calls_ = 0;
  std::deque<AdjtimexRecord> records_;
};

}  // namespace ntsd::clock
