#include "server/mode6_service.h"

#include <sys/socket.h>
#include <time.h>

#include <chrono>

#include "server/mode6_responder.h"

namespace ntsd::server {
namespace {

constexpr int64_t kSnapshotMaxAgeNs = 1'000'000'000;

int64_t unix_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

Mode6Service::Mode6Service(const Server& server, const ops::StatusSource& source)
    : server_(server), source_(source) {}

std::unique_ptr<Mode6Service> Mode6Service::start(const Server& server, const ops::StatusSource& source) {
  if (server.mode6_inbox(0) == nullptr) return nullptr;
  auto service = std::make_unique<Mode6Service>(server, source);
  service->thread_ = std::thread([raw = service.get()] { raw->run(); });
  return service;
}

Mode6Service::~Mode6Service() { stop(); }

void Mode6Service::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

// The workers do not signal the thread: a wake-up per request would be a
// syscall on the worker's loop. The thread polls instead, every 5 ms while
// queries are coming in (ntpq -p sends one request per association, each
// after the previous reply) and every 50 ms when idle: at most 20 wake-ups a
// second on a core that is not a worker's, for a reply within 50 ms.
void Mode6Service::run() {
  int64_t last_work_ns = 0;
  std::unique_lock lock(mutex_);
  while (!stop_) {
    lock.unlock();
    const int64_t now = unix_now_ns();
    if (drain(now) > 0) last_work_ns = now;
    lock.lock();
    const bool busy = now - last_work_ns < 1'000'000'000;
    wake_.wait_for(lock, std::chrono::milliseconds(busy ? 5 : 50), [this] { return stop_; });
  }
}

const ops::DaemonStatus& Mode6Service::snapshot(int64_t now_unix_ns) {
  // ntpq -p asks 1 + N times within milliseconds: one collect() serves them
  // all, and a query flood costs at most one collect() a second.
  if (!cached_ || now_unix_ns - cached_at_ns_ >= kSnapshotMaxAgeNs || now_unix_ns < cached_at_ns_) {
    cached_ = source_.collect();
    cached_at_ns_ = now_unix_ns;
  }
  return *cached_;
}

size_t Mode6Service::drain(int64_t now_unix_ns) {
  size_t handled = 0;
  Mode6Datagram datagram;
  Mode6Reply reply;
  for (int w = 0; w < server_.worker_count(); ++w) {
    Mode6Inbox* inbox = server_.mode6_inbox(w);
    // Bounded: at most one queue's capacity per worker per pass.
    for (int n = 0; n < 64 && inbox->queue.try_pop(&datagram); ++n) {
      ++handled;
      const Mode6Outcome outcome = respond_mode6(datagram.payload(), snapshot(now_unix_ns), now_unix_ns, &reply);
      if (outcome == Mode6Outcome::kDropped || datagram.socket_index >= inbox->sockets.size()) continue;
      const int fd = inbox->sockets[datagram.socket_index];
      bool sent = true;
      for (size_t i = 0; i < reply.count; ++i) {
        const ssize_t rc = sendto(fd, reply.fragments[i].data(), reply.sizes[i], MSG_DONTWAIT,
                                  reinterpret_cast<const sockaddr*>(&datagram.peer), datagram.peer_len);
        if (rc < 0) sent = false;
      }
      if (!sent) {
        inbox->counters->mode6_send_errors.add();
      } else if (outcome == Mode6Outcome::kAnswered) {
        inbox->counters->mode6_answered.add();
      } else {
        inbox->counters->mode6_refused.add();
      }
    }
  }
  return handled;
}

}  // namespace ntsd::server
