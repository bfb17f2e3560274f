#pragma once
// The ops thread that answers ntpq: drains every worker's Mode6Queue,
// answers from a status snapshot at most ~1 s old (respond_mode6) and sends
// the reply on the socket the request came in on. Never a worker's job:
// collecting the snapshot may take the clock thread's report lock.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "ops/status.h"
#include "server/server.h"

namespace ntsd::server {

class Mode6Service {
 public:
  // Starts the thread over a server started with ServerOptions::mode6; null
  // if it was not. `server` and `source` must outlive the service.
  static std::unique_ptr<Mode6Service> start(const Server& server, const ops::StatusSource& source);
  ~Mode6Service();  // stop()
  void stop();      // joins the thread; idempotent

  // One pass over every queue at `now_unix_ns`; returns the requests handled.
  // The thread calls it; tests call it directly (without start's thread).
  size_t drain(int64_t now_unix_ns);
  explicit Mode6Service(const Server& server, const ops::StatusSource& source);

 private:
  void run();
  const ops::DaemonStatus& snapshot(int64_t now_unix_ns);

  const Server& server_;
  const ops::StatusSource& source_;
  std::optional<ops::DaemonStatus> cached_;
  int64_t cached_at_ns_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
};

}  // namespace ntsd::server
