#pragma once
// Turns a parsed config (or none: the embedded default) plus command-line
// overrides into what the data plane is started with.
#include <optional>
#include <string>

#include "config/config.h"
#include "daemon/options.h"
#include "server/server.h"
#include "server/server_state.h"

namespace ntsd::daemon {

// The embedded default's NTP port: unprivileged, so a newcomer can run ntsd
// without root. With a config file the default is 123, as in NTPsec.
constexpr uint16_t kEmbeddedNtpPort = 11123;

struct ServePlan {
  server::ServerOptions server;
  server::ServerState initial_state;
  std::string description;  // one line for the start-up log
};

// `config` is nullopt for the embedded default. Fails (nullopt + error) when
// an address cannot be used.
std::optional<ServePlan> make_serve_plan(const std::optional<config::Config>& config,
                                         const DaemonOptions& options, std::string* error);

}  // namespace ntsd::daemon
