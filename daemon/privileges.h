#pragma once
// Least privilege (issue 12): the user ntsd switches to once every socket,
// certificate, key, state file and io_uring ring is open; the capabilities it
// keeps; the syscall allow-list; the open-file limit.
#include <sys/types.h>

#include <optional>
#include <string>

#include "config/config.h"
#include "daemon/options.h"
#include "daemon/state_dir.h"

namespace ntsd::daemon {

// Who ntsd runs as after start-up.
struct RunAs {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string user;   // name (or the number as given)
  std::string group;  // name (or the number as given)
};

// The user to switch to: `spec` (-u USER[:GROUP], names or numbers; GROUP
// defaults to USER's primary group); without it, with a config file and as
// root, the user `ntsd` if it exists. nullopt: no switch (`*note` then says
// why when it matters, e.g. running as root). False with `error` on a bad spec.
bool resolve_run_as(const std::string& spec, bool config_file, std::optional<RunAs>* out, std::string* note,
                    std::string* error);

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the log line (old -> new).
std::string raise_open_file_limit();

// Switches every thread to `run_as` (when given): supplementary groups, gid,
// uid; keeps CAP_SYS_TIME in permitted/effective when `keep_sys_time` and it
// was there, nothing else; bounding set reduced to the same; no ambient or
// inheritable capabilities. Always: not dumpable (no core dump, no ptrace, no
// /proc/PID/mem for other users: the seed and keys are in memory) and
// no_new_privs on every thread. `report` gets the log line.
bool drop_privileges(const std::optional<RunAs>& run_as, bool keep_sys_time, std::string* report,
                     std::string* error);

// Installs the seccomp allow-list on every thread (TSYNC); what is not on it
// fails with EPERM. `report` gets the log line (sanitizer builds: not installed).
bool install_syscall_filter(std::string* report, std::string* error);

// The whole step after start-up, logging each part: hand the state folder to
// `owner`, drop_privileges(), warn about files the new user cannot reach
// (certificate and key for reloads, driftfile, stats, cookie jar), then
// install_syscall_filter() unless --no-seccomp. `config` null: embedded default.
bool lock_down(const config::Config* config, const DaemonOptions& options, const std::optional<RunAs>& run_as,
               const StateOwner& owner, std::string* error);

// Test hook (env NTSD_TEST_FORBIDDEN_SYSCALL=1): tries syscalls that the
// filter refuses and returns a line naming each result.
std::string try_forbidden_syscalls();

}  // namespace ntsd::daemon
