#pragma once
// The control socket's protocol, sans-I/O: one request line in, one JSON
// reply line out. ntsctl and the daemon share it; the socket code only moves
// the bytes and says whether the peer may run privileged commands.
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ops/status.h"

namespace ntsd::ops {

enum class Command : uint8_t { kStatus, kSources, kServer, kNts, kClients, kReload, kRotate };

struct CommandInfo {
  Command command;
  const char* name;
  bool privileged;  // root or the socket's group only
  const char* help;
};

// Every command, in the order `ntsctl --help` lists them.
std::span<const CommandInfo> commands();
const CommandInfo& command_info(Command command);

// A request line is at most this long (the newline included); more is refused.
constexpr size_t kMaxRequestBytes = 128;
constexpr size_t kDefaultClientRows = 20;
constexpr size_t kMaxClientRows = 1000;

struct Request {
  Command command = Command::kStatus;
  size_t rows = kDefaultClientRows;  // `clients [N]`
};

// Parses one line ("clients 50", a trailing "\n" or "\r\n" allowed): the
// command and its arguments, separated by single spaces or tabs. nullopt with
// `error` for anything else.
std::optional<Request> parse_request(std::string_view line, std::string* error);
// The request line ntsctl sends (no newline).
std::string request_line(const Request& request);

// Who is on the other end of the socket (SO_PEERCRED, SO_PEERGROUPS).
struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary
};

// Root, or a member of the socket's group (primary or supplementary).
bool may_run_privileged(const PeerCredentials& peer, gid_t socket_group);

// The reply to one request line: {"ok":true,"command":…,"data":{…}} or
// {"ok":false,"error":…}, one line, no newline. `actions` null: reload and
// rotate answer that they are unavailable. Never throws.
std::string answer_request(std::string_view line, bool privileged, const StatusSource& source, Actions* actions);

}  // namespace ntsd::ops
