#pragma once
// The state folder (cookie key seed, demo certificate, upstream cookie jar):
// where it is, and the rules it must meet before ntsd trusts what is in it.
#include <sys/types.h>

#include <string>

#include "daemon/options.h"

namespace ntsd::daemon {

// The user the state belongs to: the one ntsd runs as after start-up.
struct StateOwner {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;  // for messages; may be empty
};

// The file names ntsd keeps in the state folder.
inline constexpr const char* kStateEntries[] = {"keyseed", "nts-client-cookies", "demo-pki"};

// --state-dir, else ${XDG_STATE_HOME}/ntsd or $HOME/.local/state/ntsd for the
// embedded default, else /var/lib/ntsd with a config file. Empty with `error`
// when neither variable gives an absolute path (there is no /tmp fallback).
std::string state_directory(const DaemonOptions& options, bool embedded_default, std::string* error);

// Creates the folder (mode 0700) or checks the existing one, and every state
// entry in it: owned by `owner` (or by root while ntsd is root and will hand
// it over), not a symbolic link, not writable by group or others.
bool make_state_directory(const std::string& path, const StateOwner& owner, std::string* error);

// When running as root and about to switch to `owner`: chowns the folder and
// its state entries to `owner`, so the files written later stay writable.
bool hand_over_state_directory(const std::string& path, const StateOwner& owner, std::string* error);

// One path against the rules above; `hand_over` allows root ownership.
bool check_state_path(const std::string& path, const StateOwner& owner, bool hand_over, bool is_folder,
                      std::string* error);

}  // namespace ntsd::daemon
