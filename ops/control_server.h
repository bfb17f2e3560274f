#pragma once
// The Unix stream socket ntsctl talks to: bound while ntsd is still root (it
// may create the socket's folder and hand it to the daemon user), served by
// one thread of its own once the daemon runs unprivileged. Bounded so that a
// local client cannot wedge it: a few connections at a time, a short request,
// a deadline per connection. The protocol is ops/control_protocol.h.
#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "ops/status.h"

namespace ntsd::ops {

struct ControlSocketOptions {
  std::string path;            // absolute, at most 107 bytes
  uid_t owner = 0;             // owner of the socket and of a folder bind() creates
  gid_t group = 0;             // its group: who may connect (mode 0660) and run privileged commands
  size_t max_connections = 4;  // more are answered "busy" and closed
  int timeout_ms = 2000;       // a connection's whole life: request in, reply out
};

class ControlServer {
 public:
  // Creates the folder when missing (mode 0750, owner:group), replaces a
  // stale socket file (nothing answers on it), refuses a live one or a file
  // that is not a socket, binds, sets mode 0660 and owner:group, listens.
  static std::unique_ptr<ControlServer> bind(const ControlSocketOptions& options, std::string* error);
  ~ControlServer();  // stop(), close, unlink the socket if it is still ours
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Starts the thread. `source` and `actions` (may be null) must outlive the server.
  void start(const StatusSource& source, Actions* actions, std::function<void(const std::string&)> log);
  void stop();  // joins the thread; idempotent
  const std::string& path() const { return options_.path; }

 private:
  explicit ControlServer(const ControlSocketOptions& options) : options_(options) {}
  void serve(const StatusSource& source, Actions* actions, const std::function<void(const std::string&)>& log);

  ControlSocketOptions options_;
  int listen_fd_ = -1;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ntsd::ops
