// ntsctl: asks a running ntsd over its control socket and prints the answer,
// as tables (like `chronyc sources`, `ntpq -p`) or as the raw JSON (--json).
// Exit codes: 0 ok; 1 ntsd answered with an error (e.g. permission denied for
// reload/rotate, a failed reload); 2 usage; 3 cannot reach ntsd (no socket,
// not running, permission denied on the socket, timeout); 4 a reply that is
// not the expected JSON.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "ops/control_client.h"
#include "ops/control_protocol.h"
#include "ops/control_render.h"

namespace {

constexpr int kOk = 0, kDaemonError = 1, kUsage = 2, kUnreachable = 3, kBadReply = 4;

std::string command_list() {
  std::string out = "Commands:\n";
  for (const auto& c : ntsd::ops::commands()) {
    std::string name = c.name;
    if (c.command == ntsd::ops::Command::kClients) name += " [N]";
    name.resize(14, ' ');
    out += "  " + name + c.help + (c.privileged ? " [root or the socket's group]" : "") + "\n";
  }
  out += "\nExit codes: 0 ok, 1 ntsd answered an error, 2 usage, 3 cannot reach ntsd (not running,\n"
         "no permission on the socket, timeout), 4 malformed reply.\n";
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ntsctl: query and control a running ntsd over its control socket"};
  std::string socket_path;
  bool json_output = false;
  int timeout_ms = 5000;
  std::vector<std::string> words;
  app.add_option("-s,--socket", socket_path,
                 "control socket (default: /run/ntsd/ntsd.sock if /run/ntsd exists, else "
                 "$XDG_STATE_HOME or ~/.local/state /ntsd/ntsd.sock)");
  app.add_flag("-j,--json", json_output, "print ntsd's JSON reply instead of a table");
  app.add_option("-t,--timeout", timeout_ms, "milliseconds to wait for ntsd")->check(CLI::Range(1, 600000));
  app.add_option("command", words, "status | sources | server | nts | clients [N] | reload | rotate")->required();
  app.footer(command_list());
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kOk : kUsage;
  }
  std::string line;
  for (const std::string& w : words) line += (line.empty() ? "" : " ") + w;
  std::string error;
  const auto request = ntsd::ops::parse_request(line, &error);
  if (!request) {
    std::fprintf(stderr, "ntsctl: %s\n", error.c_str());
    return kUsage;
  }
  if (socket_path.empty()) socket_path = ntsd::ops::default_socket_path();
  const ntsd::ops::ControlReply reply =
      ntsd::ops::control_request(socket_path, ntsd::ops::request_line(*request), timeout_ms);
  if (reply.failure != ntsd::ops::ControlFailure::kNone) {
    std::fprintf(stderr, "ntsctl: %s\n", reply.error.c_str());
    return reply.failure == ntsd::ops::ControlFailure::kProtocol ? kBadReply : kUnreachable;
  }
  const nlohmann::json parsed = nlohmann::json::parse(reply.line, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("ok")) {
    std::fprintf(stderr, "ntsctl: malformed reply from ntsd: %.200s\n", reply.line.c_str());
    return kBadReply;
  }
  const bool ok = parsed.value("ok", false);
  if (json_output) {
    std::printf("%s\n", parsed.dump(2).c_str());
    return ok ? kOk : kDaemonError;
  }
  if (!ok) {
    std::fprintf(stderr, "ntsctl: ntsd: %s\n", parsed.value("error", std::string("error")).c_str());
    return kDaemonError;
  }
  try {
    std::fputs(ntsd::ops::render_text(request->command, parsed.at("data")).c_str(), stdout);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ntsctl: unexpected reply from ntsd (%s); try --json\n", e.what());
    return kBadReply;
  }
  return kOk;
}
