#pragma once
// What the discipline may do to a clock, behind one interface: the real
// backend drives CLOCK_REALTIME through clock_adjtime(2); the simulated one is
// a virtual clock with a frequency error, wander and steps that every test
// uses. Frequencies are in ppm; a positive frequency makes the clock run
// faster. Offsets follow clock/sample.h: positive means the clock is behind
// true time, so correcting it means adding the offset.
#include <cstdint>
#include <string>

#include "clock/clock.h"
#include "proto/ntp_packet.h"

namespace ntsd::clock {

// What the kernel (or the simulation) is told about the clock's quality, so
// that adjtimex(8), timedatectl and node_exporter's timex alerts tell the truth.
struct KernelStatus {
  bool synchronized = false;   // STA_UNSYNC cleared exactly while true
  double maxerror_s = 16.0;    // maximum error (the kernel grows it by 500 ppm itself)
  double esterror_s = 16.0;    // estimated error
  proto::Leap leap = proto::Leap::kNone;  // kInsert61 / kDelete59 arm STA_INS / STA_DEL; else disarmed
  int time_constant = 0;       // log2 s, reported in timex.constant
};

class ClockBackend : public Clock {
 public:
  // now_unix_ns() (from Clock): the clock being disciplined, as it reads now.

  // Sets the clock's frequency correction, absolute (not added to the last
  // one), in ppm. The real backend clamps to the kernel's +-500 ppm and says so.
  virtual bool set_frequency(double ppm, std::string* error) = 0;
  // The frequency correction currently in force, ppm.
  virtual double frequency() const = 0;
  // Steps the clock by offset_s (positive: forward) at once (ADJ_SETOFFSET).
  virtual bool step(double offset_s, std::string* error) = 0;
  // Updates the kernel's status, error estimates and leap arming.
  virtual bool set_status(const KernelStatus& status, std::string* error) = 0;
  // Whether calls change a real clock (false: dry run or simulation).
  virtual bool adjusts_host_clock() const = 0;
};

}  // namespace ntsd::clock
