#include "daemon/control_actions.h"

#include <grp.h>

#include <cstdlib>

#include "ops/control_client.h"

namespace ntsd::daemon {

bool ControlActions::reload_certificate(std::string* message) {
  std::string error;
  if (!nts_.ke().reload(&error)) {
    *message = "reload failed, the old certificate keeps serving: " + error;
    return false;
  }
  *message = "certificate reloaded: " + nts_.ke().certificate_subject();
  return true;
}

bool ControlActions::rotate_key(std::string* message) { return nts_.seal_with_next_key(message); }

std::optional<ops::ControlSocketOptions> control_socket_options(const config::Config* config,
                                                                const std::string& state_dir, uid_t owner_uid,
                                                                gid_t owner_gid, bool* explicit_path,
                                                                std::string* error) {
  error->clear();
  ops::ControlSocketOptions options;
  options.owner = owner_uid;
  options.group = owner_gid;
  *explicit_path = config != nullptr && !config->control_socket.empty();
  if (config != nullptr && config->control_socket == "none") return std::nullopt;
  if (*explicit_path) {
    options.path = config->control_socket;
  } else if (config != nullptr) {
    options.path = ops::kSystemSocketPath;
  } else {
    // The embedded default runs as whoever started it: its state folder is
    // theirs, and ntsctl looks there too.
    if (state_dir.empty()) {
      *error = "no state folder to put it in";
      return std::nullopt;
    }
    options.path = state_dir + "/" + ops::kSocketFileName;
  }
  if (config != nullptr && !config->control_group.empty()) {
    const std::string& name = config->control_group;
    if (const group* g = ::getgrnam(name.c_str()); g != nullptr) {
      options.group = g->gr_gid;
    } else if (name.find_first_not_of("0123456789") == std::string::npos && name.size() < 10) {
      options.group = static_cast<gid_t>(std::strtoul(name.c_str(), nullptr, 10));
    } else {
      *error = "controlsocket group " + name + ": no such group";
      return std::nullopt;
    }
  }
  return options;
}

}  // namespace ntsd::daemon
