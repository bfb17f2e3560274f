#pragma once
// The daemon's side of the control socket: the privileged actions over the
// NTS service, and where the socket goes.
#include <sys/types.h>

#include <optional>
#include <string>

#include "config/config.h"
#include "daemon/nts_service.h"
#include "ops/control_server.h"
#include "ops/status.h"

namespace ntsd::daemon {

// reload: the NTS-KE certificate and key, as SIGHUP. rotate: the next
// epoch's cookie key now, at most one ahead (NtsService::seal_with_next_key).
class ControlActions final : public ops::Actions {
 public:
  explicit ControlActions(NtsService& nts) : nts_(nts) {}
  bool reload_certificate(std::string* message) override;
  bool rotate_key(std::string* message) override;

 private:
  NtsService& nts_;
};

// The control socket's options: `controlsocket PATH [group NAME]`, else
// /run/ntsd/ntsd.sock with a config file and STATE_DIR/ntsd.sock for the
// embedded default; owner = the daemon user, group = NAME, else the daemon's
// group. nullopt with an empty `error`: `controlsocket none`; with `error`:
// an unknown group. `explicit_path` tells whether the operator named it.
std::optional<ops::ControlSocketOptions> control_socket_options(const config::Config* config,
                                                                const std::string& state_dir, uid_t owner_uid,
                                                                gid_t owner_gid, bool* explicit_path,
                                                                std::string* error);

}  // namespace ntsd::daemon
