#include "ops/control_client.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

namespace ntsd::ops {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

ControlReply fail(ControlFailure failure, std::string error) {
  ControlReply r;
  r.failure = failure;
  r.error = std::move(error);
  return r;
}

}  // namespace

ControlReply control_request(const std::string& socket_path, const std::string& request_line, int timeout_ms) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof(addr.sun_path)) {
    return fail(ControlFailure::kNoSocket, "socket path '" + socket_path + "' is empty or too long");
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(ControlFailure::kNoSocket, std::string("socket: ") + std::strerror(errno));
  // A Unix-socket connect does not wait for the daemon to accept (it queues),
  // so a blocking connect is bounded; the rest runs under the deadline.
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int e = errno;
    ::close(fd);
    const std::string why = "cannot connect to " + socket_path + ": " + std::strerror(e);
    if (e == EACCES || e == EPERM) {
      return fail(ControlFailure::kPermission, why + " (root or the socket's group only)");
    }
    return fail(ControlFailure::kNoSocket, why + (e == ENOENT || e == ECONNREFUSED ? " (is ntsd running?)" : ""));
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const std::string out = request_line + "\n";
  size_t sent = 0;
  while (sent < out.size()) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) {
      ::close(fd);
      return fail(ControlFailure::kTimeout, "timed out sending to " + socket_path);
    }
    const ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    // EPIPE/ECONNRESET: ntsd may have answered at once and closed (it says
    // "busy" without reading when all its connection slots are taken); the
    // reply, if any, is read below.
    if (n < 0 && errno != EAGAIN && errno != EINTR) break;
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string in;
  for (;;) {
    const size_t newline = in.find('\n');
    if (newline != std::string::npos) {
      ::close(fd);
      ControlReply r;
      r.line = in.substr(0, newline);
      return r;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) {
      ::close(fd);
      return fail(ControlFailure::kTimeout, "timed out waiting for ntsd's reply on " + socket_path);
    }
    char buf[16384];
    const ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      ::close(fd);
      return fail(ControlFailure::kProtocol, "ntsd closed the connection before replying");
    }
    if (n > 0) in.append(buf, static_cast<size_t>(n));
    if (in.size() > (64u << 20)) {
      ::close(fd);
      return fail(ControlFailure::kProtocol, "reply larger than 64 MiB");
    }
  }
}

std::string default_socket_path() {
  // The folder, not the socket: /run/ntsd is 0750, so a user outside the
  // group cannot see into it, and should be told "permission denied" there
  // rather than be sent to a socket under their own home.
  struct stat st {};
  if (::stat("/run/ntsd", &st) == 0) return kSystemSocketPath;
  if (const char* state = std::getenv("XDG_STATE_HOME"); state != nullptr && state[0] == '/') {
    return std::string(state) + "/ntsd/" + kSocketFileName;
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && home[0] == '/') {
    return std::string(home) + "/.local/state/ntsd/" + kSocketFileName;
  }
  return kSystemSocketPath;
}

}  // namespace ntsd::ops
