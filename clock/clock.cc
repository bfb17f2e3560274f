#include "clock/clock.h"

#include <time.h>

namespace ntsd::clock {

int64_t RealClock::now_unix_ns() const {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace ntsd::clock
