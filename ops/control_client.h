#pragma once
// ntsctl's side of the control socket: connect, send one request line, read
// the one reply line, with one deadline for all of it.
#include <string>

namespace ntsd::ops {

enum class ControlFailure {
  kNone,
  kNoSocket,    // nothing at the path, or nothing listening (ntsd not running)
  kPermission,  // the socket or its folder is closed to this user
  kTimeout,
  kProtocol,    // the connection closed before a whole reply line arrived
};

struct ControlReply {
  ControlFailure failure = ControlFailure::kNone;
  std::string line;   // the reply, without its newline (kNone)
  std::string error;  // what went wrong, for the operator (otherwise)
};

ControlReply control_request(const std::string& socket_path, const std::string& request_line, int timeout_ms);

// Where ntsctl looks without --socket: /run/ntsd/ntsd.sock (a daemon started
// with a config file), then the embedded default's
// $XDG_STATE_HOME/ntsd/ntsd.sock or $HOME/.local/state/ntsd/ntsd.sock.
std::string default_socket_path();
inline constexpr const char* kSystemSocketPath = "/run/ntsd/ntsd.sock";
inline constexpr const char* kSocketFileName = "ntsd.sock";

}  // namespace ntsd::ops
