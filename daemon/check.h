#pragma once
// `ntsd --check`: what an operator would break, like `nginx -t`. Beyond the
// syntax: the certificate chain and key load and match and are not expired
// (14 days left or less: a warning), the `nts ca` and per-server `ca` files
// hold CA certificates, and the daemon user can write the state folder,
// driftfile folder, statsdir and nts cookie folder (and reopen the logfile).
#include <string>

#include "daemon/options.h"

namespace ntsd::daemon {

// Exit codes of `ntsd --check` (README "Running").
enum CheckExit : int {
  kCheckOk = 0,      // would start and run as configured (warnings may be printed)
  kCheckErrors = 1,  // a syntax error, or something ntsd would fail on or break
  kCheckUsage = 2,   // bad command line (e.g. --check without --config)
};

// Prints every finding, one line each, to stdout ("FILE: OK" and facts) and
// stderr (errors and warnings); returns a CheckExit.
int check_config(const DaemonOptions& options);

// Whether uid/gid (and supplementary `groups`) may `mode` (R_OK, W_OK|X_OK…)
// `path` by its permission bits, every folder on the way searchable; root
// (uid 0) passes as with CAP_DAC_OVERRIDE. `why` names the obstacle.
bool user_may(const std::string& path, int mode, uid_t uid, gid_t gid,
              const std::vector<gid_t>& groups, std::string* why);

}  // namespace ntsd::daemon
