#include "daemon/systemd.h"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "daemon/log.h"

namespace ntsd::daemon {

bool WorkerLiveness::all_advanced(const std::vector<uint64_t>& heartbeats,
                                  std::vector<int>* stuck) {
  stuck->clear();
  if (last_.size() == heartbeats.size()) {
    for (size_t w = 0; w < heartbeats.size(); ++w) {
      if (heartbeats[w] == last_[w]) stuck->push_back(static_cast<int>(w));
    }
  } else {
    stuck->clear();
  }
  const bool first = last_.size() != heartbeats.size();
  last_ = heartbeats;
  return first || stuck->empty();
}

std::unique_ptr<SystemdNotifier> SystemdNotifier::from_environment() {
  if (std::getenv("NOTIFY_SOCKET") == nullptr) return nullptr;
  uint64_t usec = 0;
  // sd_watchdog_enabled checks WATCHDOG_PID against our pid, so a child that
  // inherited the variables does not feed its parent's watchdog. Variables
  // are kept (unset_environment 0): nothing here forks.
  if (sd_watchdog_enabled(0, &usec) <= 0) usec = 0;
  return std::unique_ptr<SystemdNotifier>(new SystemdNotifier(usec));
}

int SystemdNotifier::tick_ms() const {
  if (watchdog_usec_ == 0) return kStatusMs;
  // sd_watchdog_enabled(3) advises notifying at half the period; a third
  // leaves room for a late tick.
  return static_cast<int>(std::clamp<uint64_t>(watchdog_usec_ / 3000, 250, kStatusMs));
}

namespace {

// sd_notify fails only when the socket is gone or refuses us (systemd
// restarted, say); ntsd keeps serving and says so once.
void notify(const std::string& message) {
  const int rc = sd_notify(0, message.c_str());
  static std::atomic<bool> said{false};
  if (rc < 0 && !said.exchange(true)) {
    log_warning("systemd: sd_notify(%s) failed: %s", message.substr(0, message.find('\n')).c_str(),
                std::strerror(-rc));
  }
}

}  // namespace

void SystemdNotifier::ready(const ServingFigures& now) {
  std::vector<int> stuck;
  liveness_.all_advanced(now.heartbeats, &stuck);  // the first reading
  last_watchdog_ = last_status_ = Clock::now();
  last_received_ = now.received;
  notify("READY=1\nSTATUS=" + status_line(now.workers, now.nts, now.stratum, 0));
  if (watchdog_usec_ != 0) notify("WATCHDOG=1");
}

void SystemdNotifier::tick(const ServingFigures& now) {
  const Clock::time_point t = Clock::now();
  if (watchdog_usec_ != 0 &&
      t - last_watchdog_ >= std::chrono::milliseconds(tick_ms()) - std::chrono::milliseconds(20)) {
    last_watchdog_ = t;
    std::vector<int> stuck;
    if (liveness_.all_advanced(now.heartbeats, &stuck)) {
      notify("WATCHDOG=1");
      if (stalled_)
        log_notice(config::kLogSysEvents, "watchdog: every worker is going round again");
      stalled_ = false;
    } else if (!stalled_) {
      // Not feeding the watchdog is the report: systemd restarts ntsd after
      // WatchdogSec=. This line says which worker it was.
      stalled_ = true;
      std::string list;
      for (int w : stuck) list += (list.empty() ? "" : ", ") + std::to_string(w);
      log_error("watchdog: worker(s) %s made no progress for %d ms; not notifying systemd",
                list.c_str(), tick_ms());
    }
  }
  if (t - last_status_ >= std::chrono::milliseconds(kStatusMs)) {
    const double seconds = std::chrono::duration<double>(t - last_status_).count();
    const double rate =
        seconds > 0 ? static_cast<double>(now.received - last_received_) / seconds : 0;
    last_status_ = t;
    last_received_ = now.received;
    notify("STATUS=" + status_line(now.workers, now.nts, now.stratum, rate));
  }
}

void SystemdNotifier::stopping() { notify("STOPPING=1\nSTATUS=stopping"); }

int wait_for_signal(const sigset_t& signals, int timeout_ms) {
  const timespec timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1'000'000L};
  const int sig = sigtimedwait(&signals, nullptr, &timeout);
  return sig > 0 ? sig : 0;  // EAGAIN: timed out; EINTR: look again
}

std::string status_line(int workers, bool nts, int stratum, double requests_per_second) {
  return "serving: " + std::to_string(workers) + (workers == 1 ? " worker" : " workers") +
         (nts ? ", NTS on" : ", NTS off") + ", stratum " + std::to_string(stratum) + ", " +
         std::to_string(static_cast<long long>(std::llround(requests_per_second))) + " req/s";
}

}  // namespace ntsd::daemon
