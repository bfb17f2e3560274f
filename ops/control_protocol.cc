#include "ops/control_protocol.h"

#include <algorithm>
#include <charconv>
#include <exception>

#include "ops/status_json.h"

namespace ntsd::ops {
namespace {

using nlohmann::json;

constexpr CommandInfo kCommands[] = {
    {Command::kStatus, "status", false, "what ntsd serves: sync state, stratum, refid, offset, frequency, root figures, leap"},
    {Command::kSources, "sources", false, "upstream associations: selection, reach, offset, delay, jitter, poll, cookies, last NTS-KE"},
    {Command::kServer, "server", false, "NTP counters per worker and summed: received, replied, NTS, NAKs, drops, KoD, rate limit"},
    {Command::kNts, "nts", false, "cookie opens by key age, key epochs and next rotation, NTS-KE handshakes, TLS versions, AEADs"},
    {Command::kClients, "clients", false, "busiest client addresses from the rate tables (clients [N], default 20)"},
    {Command::kReload, "reload", true, "reload the NTS-KE certificate and key (as SIGHUP)"},
    {Command::kRotate, "rotate", true, "seal new cookies with the next epoch's key now (at most one epoch ahead)"},
};

// Splits on runs of spaces/tabs; at most `max` words (more: false).
bool split(std::string_view line, std::vector<std::string_view>* words, size_t max) {
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == line.size()) break;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (words->size() == max) return false;
    words->push_back(line.substr(start, i - start));
  }
  return true;
}

std::string error_reply(const std::string& message) { return json{{"ok", false}, {"error", message}}.dump(); }

}  // namespace

std::span<const CommandInfo> commands() { return kCommands; }

const CommandInfo& command_info(Command command) {
  for (const CommandInfo& info : kCommands) {
    if (info.command == command) return info;
  }
  return kCommands[0];
}

std::optional<Request> parse_request(std::string_view line, std::string* error) {
  if (line.size() > kMaxRequestBytes) {
    *error = "request longer than " + std::to_string(kMaxRequestBytes) + " bytes";
    return std::nullopt;
  }
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  for (const char c : line) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
      *error = "control character in request";
      return std::nullopt;
    }
    if (static_cast<unsigned char>(c) >= 0x7f) {
      *error = "request is not printable ASCII";
      return std::nullopt;
    }
  }
  std::vector<std::string_view> words;
  if (!split(line, &words, 2) || words.empty()) {
    *error = words.empty() ? "empty request" : "too many arguments";
    return std::nullopt;
  }
  const CommandInfo* info = nullptr;
  for (const CommandInfo& candidate : kCommands) {
    if (words[0] == candidate.name) info = &candidate;
  }
  if (info == nullptr) {
    std::string names;
    for (const CommandInfo& c : kCommands) names += std::string(names.empty() ? "" : ", ") + c.name;
    *error = "unknown command '" + std::string(words[0].substr(0, 32)) + "' (commands: " + names + ")";
    return std::nullopt;
  }
  Request request;
  request.command = info->command;
  if (words.size() == 2) {
    if (info->command != Command::kClients) {
      *error = std::string(info->name) + " takes no argument";
      return std::nullopt;
    }
    size_t rows = 0;
    const std::string_view arg = words[1];
    const auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), rows);
    if (ec != std::errc() || end != arg.data() + arg.size() || rows < 1 || rows > kMaxClientRows) {
      *error = "clients N: N must be 1.." + std::to_string(kMaxClientRows);
      return std::nullopt;
    }
    request.rows = rows;
  }
  return request;
}

std::string request_line(const Request& request) {
  std::string line = command_info(request.command).name;
  if (request.command == Command::kClients && request.rows != kDefaultClientRows) {
    line += " " + std::to_string(request.rows);
  }
  return line;
}

bool may_run_privileged(const PeerCredentials& peer, gid_t socket_group) {
  if (peer.uid == 0 || peer.gid == socket_group) return true;
  return std::find(peer.groups.begin(), peer.groups.end(), socket_group) != peer.groups.end();
}

std::string answer_request(std::string_view line, bool privileged, const StatusSource& source, Actions* actions) {
  std::string error;
  const auto request = parse_request(line, &error);
  if (!request) return error_reply(error);
  const CommandInfo& info = command_info(request->command);
  if (info.privileged && !privileged) {
    return error_reply(std::string(info.name) + ": permission denied (root or the control socket's group only)");
  }
  // nlohmann::json throws on invalid UTF-8 at dump time (a certificate
  // subject, an upstream's name); the reply then says so instead of the
  // control thread dying.
  try {
    json data;
    switch (request->command) {
      case Command::kStatus: data = status_json(source.collect()); break;
      case Command::kSources: data = sources_json(source.collect()); break;
      case Command::kServer: data = server_json(source.collect()); break;
      case Command::kNts: data = nts_json(source.collect()); break;
      case Command::kClients: {
        const DaemonStatus now = source.collect();
        data = clients_json(source.clients(request->rows), now.now_unix_ns);
        break;
      }
      case Command::kReload:
      case Command::kRotate: {
        if (actions == nullptr) return error_reply(std::string(info.name) + ": not available (NTS is off)");
        std::string message;
        const bool ok = request->command == Command::kReload ? actions->reload_certificate(&message)
                                                            : actions->rotate_key(&message);
        if (!ok) return error_reply(message);
        data = {{"message", message}};
        break;
      }
    }
    return json{{"ok", true}, {"command", info.name}, {"data", data}}.dump(-1, ' ', false,
                                                                          json::error_handler_t::replace);
  } catch (const std::exception& e) {
    return error_reply(std::string("internal error: ") + e.what());
  }
}

}  // namespace ntsd::ops
