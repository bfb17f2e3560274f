#pragma once
// systemd's Type=notify protocol (sd_notify(3)), used only when systemd set
// NOTIFY_SOCKET: READY=1 once serving, a one-line STATUS=, WATCHDOG=1 while
// every worker proves it is alive, STOPPING=1 at shutdown.
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ntsd::daemon {

// Whether every worker went round its loop since the last look. Workers bump
// a heartbeat counter per round and wake at least every 100 ms with no
// traffic, so a count that did not move between two looks (at least 250 ms
// apart) is a worker stuck somewhere.
class WorkerLiveness {
 public:
  // True when every count advanced since the previous call (the first call
  // and a change in the number of workers only take the reading).
  bool all_advanced(const std::vector<uint64_t>& heartbeats, std::vector<int>* stuck);

 private:
  std::vector<uint64_t> last_;
};

// What the main loop reads from the running server for systemd.
struct ServingFigures {
  int workers = 0;
  bool nts = false;
  int stratum = 16;
  uint64_t received = 0;             // requests so far, all workers
  std::vector<uint64_t> heartbeats;  // per worker
};

class SystemdNotifier {
 public:
  // Null when NOTIFY_SOCKET is not set (not started by systemd as Type=notify).
  static std::unique_ptr<SystemdNotifier> from_environment();

  // WatchdogSec= in microseconds (WATCHDOG_USEC for this process), 0 if off.
  uint64_t watchdog_usec() const { return watchdog_usec_; }
  // How often the main loop should call tick(): a third of the watchdog
  // period (at least 250 ms), else the status period.
  int tick_ms() const;

  // READY=1 with the first STATUS=; call once every socket is bound and the
  // keys and certificate are loaded.
  void ready(const ServingFigures& now);
  // Called every tick_ms(): WATCHDOG=1 when every worker advanced since the
  // last one (else nothing, and one error line per stall), STATUS= every
  // status period with the request rate since the last refresh.
  void tick(const ServingFigures& now);
  void stopping();                          // STOPPING=1
  static constexpr int kStatusMs = 10'000;  // STATUS= refresh period

 private:
  using Clock = std::chrono::steady_clock;
  explicit SystemdNotifier(uint64_t watchdog_usec) : watchdog_usec_(watchdog_usec) {}
  uint64_t watchdog_usec_ = 0;
  WorkerLiveness liveness_;
  bool stalled_ = false;
  Clock::time_point last_watchdog_{};
  Clock::time_point last_status_{};
  uint64_t last_received_ = 0;
};

// sigtimedwait(2) for the main loop: the signal, or 0 after timeout_ms.
int wait_for_signal(const sigset_t& signals, int timeout_ms);

// "serving: 2 workers, NTS on, stratum 2, 1234 req/s"
std::string status_line(int workers, bool nts, int stratum, double requests_per_second);

}  // namespace ntsd::daemon
