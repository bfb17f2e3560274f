#include "ops/control_server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "ops/control_protocol.h"

namespace ntsd::ops {
namespace {

using Clock = std::chrono::steady_clock;

std::string errno_text(int e) { return std::strerror(e); }

bool make_address(const std::string& path, sockaddr_un* addr, std::string* error) {
  *addr = {};
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr->sun_path)) {
    *error = "control socket path '" + path + "' is empty or longer than " +
             std::to_string(sizeof(addr->sun_path) - 1) + " bytes";
    return false;
  }
  std::memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

std::string folder_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// Whether something accepts connections on `addr` (a live daemon), as
// opposed to a socket file left by one that died.
bool socket_is_live(const sockaddr_un& addr) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int e = errno;
  ::close(fd);
  // EAGAIN: a live listener whose backlog is full.
  return rc == 0 || e == EAGAIN || e == EINPROGRESS;
}

bool peer_credentials(int fd, PeerCredentials* peer) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  peer->pid = cred.pid;
  peer->uid = cred.uid;
  peer->gid = cred.gid;
  // Supplementary groups (Linux >= 4.13): an operator is usually in the
  // socket's group as a supplementary member (usermod -aG).
  gid_t groups[64];
  socklen_t glen = sizeof(groups);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) == 0) {
    peer->groups.assign(groups, groups + glen / sizeof(gid_t));
  }
  return true;
}

struct Connection {
  int fd = -1;
  Clock::time_point deadline;
  PeerCredentials peer;
  std::string in;
  std::string out;
  size_t sent = 0;
  bool replying = false;
};

}  // namespace

std::unique_ptr<ControlServer> ControlServer::bind(const ControlSocketOptions& options, std::string* error) {
  sockaddr_un addr{};
  if (!make_address(options.path, &addr, error)) return nullptr;
  std::unique_ptr<ControlServer> server(new ControlServer(options));
  const std::string folder = folder_of(options.path);
  struct stat st {};
  if (::stat(folder.c_str(), &st) != 0) {
    // Only the last level is created (/run/ntsd), like chrony's /run/chrony:
    // owned by the daemon user so it can remove its socket at exit, and
    // searchable by the group, whose members are the ones meant to connect.
    if (::mkdir(folder.c_str(), 0750) != 0) {
      *error = "control socket folder " + folder + ": " + errno_text(errno);
      return nullptr;
    }
    if (::chown(folder.c_str(), options.owner, options.group) != 0 && errno != EPERM) {
      *error = "control socket folder " + folder + ": chown: " + errno_text(errno);
      return nullptr;
    }
  }
  if (::lstat(options.path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      *error = "control socket " + options.path + " exists and is not a socket; not touching it";
      return nullptr;
    }
    if (socket_is_live(addr)) {
      *error = "control socket " + options.path + ": another process answers on it (another ntsd?)";
      return nullptr;
    }
    ::unlink(options.path.c_str());  // stale: left by a daemon that did not stop cleanly
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    *error = "control socket: " + errno_text(errno);
    return nullptr;
  }
  server->listen_fd_ = fd;
  // Until the chmod below the socket has the process umask's mode (0755
  // under the usual 022): writable, so connectable, by its owner only.
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    *error = "control socket " + options.path + ": bind: " + errno_text(errno);
    return nullptr;
  }
  if (::chown(options.path.c_str(), options.owner, options.group) != 0 &&
      !(errno == EPERM && options.owner == ::geteuid() && options.group == ::getegid())) {
    *error = "control socket " + options.path + ": chown " + std::to_string(options.owner) + ":" +
             std::to_string(options.group) + ": " + errno_text(errno);
    ::unlink(options.path.c_str());
    return nullptr;
  }
  if (::chmod(options.path.c_str(), 0660) != 0 || ::listen(fd, 16) != 0) {
    *error = "control socket " + options.path + ": " + errno_text(errno);
    ::unlink(options.path.c_str());
    return nullptr;
  }
  if (::stat(options.path.c_str(), &st) == 0) {
    server->dev_ = st.st_dev;
    server->ino_ = st.st_ino;
  }
  return server;
}

ControlServer::~ControlServer() {
  stop();
  if (listen_fd_ < 0) return;
  ::close(listen_fd_);
  // Only our own socket: another daemon may have replaced a file we no
  // longer own (and after the privilege drop this may fail: then the next
  // start finds a stale socket and replaces it).
  struct stat st {};
  if (::lstat(options_.path.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
    ::unlink(options_.path.c_str());
  }
}

void ControlServer::start(const StatusSource& source, Actions* actions, std::function<void(const std::string&)> log) {
  thread_ = std::thread([this, &source, actions, log = std::move(log)] {
    pthread_setname_np(pthread_self(), "ntsd-control");
    serve(source, actions, log);
  });
}

void ControlServer::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

// One thread, poll() over the listener and at most max_connections clients,
// each a small state machine: read one line, answer it, write the reply,
// close. Everything is non-blocking and every connection has a deadline, so
// a client that connects and says nothing, or never reads its reply, costs a
// slot for timeout_ms at most and never blocks the others. collect() takes
// only the clock thread's report lock, never a worker's.
void ControlServer::serve(const StatusSource& source, Actions* actions,
                          const std::function<void(const std::string&)>& log) {
  std::vector<Connection> conns;
  std::vector<pollfd> fds;
  while (!stop_.load()) {
    const auto now = Clock::now();
    int timeout = 200;  // stop() is noticed within this
    fds.clear();
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const Connection& c : conns) {
      fds.push_back({c.fd, static_cast<short>(c.replying ? POLLOUT : POLLIN), 0});
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(c.deadline - now).count();
      timeout = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(timeout, left + 1)));
    }
    const int n = ::poll(fds.data(), fds.size(), timeout);
    if (n < 0 && errno != EINTR) {
      if (log) log("control: poll: " + errno_text(errno) + "; control socket stops");
      return;
    }
    // Existing connections first (fds[1..] match conns by index).
    for (size_t i = 0; n > 0 && i < conns.size(); ++i) {
      Connection& c = conns[i];
      const short revents = fds[i + 1].revents;
      if (revents == 0) continue;
      if (!c.replying) {
        char buf[kMaxRequestBytes + 1];
        const ssize_t got = ::recv(c.fd, buf, sizeof(buf), 0);
        bool eof = got == 0;
        if (got < 0 && errno != EAGAIN && errno != EINTR) eof = true;
        if (got > 0) c.in.append(buf, static_cast<size_t>(got));
        const size_t newline = c.in.find('\n');
        if (newline != std::string::npos || (eof && !c.in.empty()) || c.in.size() > kMaxRequestBytes) {
          std::string line = c.in.substr(0, newline == std::string::npos ? c.in.size() : newline + 1);
          if (newline == std::string::npos && c.in.size() > kMaxRequestBytes) line = c.in;  // parse refuses it
          const bool privileged = may_run_privileged(c.peer, options_.group);
          c.out = answer_request(line, privileged, source, actions) + "\n";
          std::string error;
          if (const auto request = parse_request(line, &error); request && command_info(request->command).privileged) {
            if (log) {
              log("control: " + std::string(command_info(request->command).name) + " by uid " +
                  std::to_string(c.peer.uid) + " (pid " + std::to_string(c.peer.pid) + "): " + c.out.substr(0, c.out.size() - 1));
            }
          }
          c.replying = true;
        } else if (eof) {
          c.deadline = Clock::time_point::min();  // closed without a request
        }
      } else {
        const ssize_t put = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (put > 0) c.sent += static_cast<size_t>(put);
        if (c.sent == c.out.size() || (put < 0 && errno != EAGAIN && errno != EINTR)) {
          c.deadline = Clock::time_point::min();  // done
        }
      }
    }
    // Close what is done or past its deadline.
    const auto after = Clock::now();
    for (size_t i = 0; i < conns.size();) {
      if (conns[i].deadline <= after) {
        ::close(conns[i].fd);
        conns[i] = std::move(conns.back());
        conns.pop_back();
      } else {
        ++i;
      }
    }
    if ((fds[0].revents & POLLIN) == 0) continue;
    // A few per round, so a connect flood cannot starve the others.
    for (int k = 0; k < 4; ++k) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) break;
      Connection c;
      c.fd = fd;
      c.deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
      if (!peer_credentials(fd, &c.peer) || conns.size() >= options_.max_connections) {
        static const std::string busy = "{\"ok\":false,\"error\":\"busy: too many control connections\"}\n";
        ::send(fd, busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        ::close(fd);
        continue;
      }
      conns.push_back(std::move(c));
    }
  }
  for (Connection& c : conns) ::close(c.fd);
}

}  // namespace ntsd::ops
