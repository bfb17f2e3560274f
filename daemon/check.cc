#include "daemon/check.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>

#include "config/parser.h"
#include "config/values.h"
#include "crypto/key_ring.h"
#include "crypto/seed_file.h"
#include "daemon/privileges.h"
#include "daemon/state_dir.h"
#include "ke/tls_context.h"

namespace ntsd::daemon {
namespace {

// A certificate that expires within this many days is a warning: certbot
// renews at 30 days left, so 14 means renewal has been failing for two weeks.
constexpr int64_t kExpiryWarningDays = 14;

std::string folder_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

bool allowed_by_bits(const struct stat& st, int mode, uid_t uid, gid_t gid,
                     const std::vector<gid_t>& groups) {
  if (uid == 0) return true;
  mode_t shift = 0;  // others
  if (st.st_uid == uid) {
    shift = 6;
  } else if (st.st_gid == gid ||
             std::find(groups.begin(), groups.end(), st.st_gid) != groups.end()) {
    shift = 3;
  }
  const mode_t bits = (st.st_mode >> shift) & 7;
  return ((mode & R_OK) == 0 || (bits & 4)) && ((mode & W_OK) == 0 || (bits & 2)) &&
         ((mode & X_OK) == 0 || (bits & 1));
}

struct Findings {
  int errors = 0;
  int warnings = 0;
  // stdout is flushed first so that the lines keep their order on a terminal
  // or in one captured stream.
  void error(const std::string& text) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", text.c_str());
    ++errors;
  }
  void warning(const std::string& text) {
    std::fflush(stdout);
    std::fprintf(stderr, "warning: %s\n", text.c_str());
    ++warnings;
  }
  void fact(const std::string& text) { std::printf("%s\n", text.c_str()); }
};

std::string day_text(int64_t unix_seconds) {
  const time_t t = static_cast<time_t>(unix_seconds);
  tm utc{};
  gmtime_r(&t, &utc);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%d %H:%M UTC", &utc);
  return out;
}

void check_certificate(const config::NtsSettings& nts, Findings& f) {
  ke::TlsSettings settings;
  settings.cert_file = nts.cert;
  settings.key_file = nts.key;
  std::vector<std::string> warnings;
  std::string error;
  auto ctx = ke::make_tls_context(settings, &warnings, &error);
  if (!ctx) {
    f.error(error);
    return;
  }
  for (const std::string& w : warnings) f.warning(w);
  const auto not_after = ke::tls_context_not_after(*ctx);
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const int64_t days = not_after ? (*not_after - now) / 86400 : 0;
  f.fact("certificate: " + ke::tls_context_subject(*ctx) + "; key " + nts.key + " matches");
  if (not_after && *not_after - now < kExpiryWarningDays * 86400) {
    f.warning("certificate " + nts.cert + " expires in " + std::to_string(days) + " day(s), on " +
              day_text(*not_after) + " (renewal failing?)");
  } else if (not_after) {
    f.fact("certificate expires on " + day_text(*not_after) + " (" + std::to_string(days) +
           " days from now)");
  }
}

void check_ca(const std::string& path, Findings& f) {
  std::string summary, error;
  if (ke::check_ca_location(path, &summary, &error)) {
    f.fact(summary);
  } else {
    f.error(error);
  }
}

// A folder the daemon user writes files into (temp file + rename).
void check_writable_folder(const char* what, const std::string& folder, uid_t uid, gid_t gid,
                           const std::vector<gid_t>& groups, const std::string& user, Findings& f) {
  std::string why;
  if (user_may(folder, W_OK | X_OK, uid, gid, groups, &why)) {
    f.fact(std::string(what) + " " + folder + ": writable by " + user);
  } else {
    f.error(std::string(what) + " " + folder + " is not writable by " + user + ": " + why);
  }
}

// A fleet seed file: what start-up reads (crypto/seed_file.h: format and mode)
// and its owner (root or the daemon user, daemon/nts_service.cc).
void check_seed_file(const std::string& path, const std::string& from, uid_t uid, Findings& f) {
  const std::string what = "nts keyseed " + path + (from.empty() ? "" : " from " + from);
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && st.st_uid != 0 && st.st_uid != uid) {
    f.error(what + ": " + path + " is owned by uid " + std::to_string(st.st_uid) +
            ", neither root nor the daemon user (uid " + std::to_string(uid) + ")");
    return;
  }
  std::string error;
  if (!crypto::read_seed_file(path, error)) {
    f.error(what + ": " + error);
    return;
  }
  f.fact(what + ": a valid seed");
}

std::string seed_of(const config::NtsSettings& nts, int64_t switch_epoch, int64_t epoch) {
  return epoch >= switch_epoch ? "the new seed " + nts.keyseed_new : "the old seed " + nts.keyseed;
}

// `nts keyseed FILE from TIME`: which seed derives the keys in use now, and
// the two moments an operator must act: before the switch (every member needs
// the line) and after the retention (the old seed can go).
void check_seed_switch(const config::NtsSettings& nts, int64_t now, Findings& f) {
  const int64_t rotation = nts.rotate_seconds;
  const int64_t sw = crypto::first_epoch_from(*nts.keyseed_from, rotation);
  const int64_t switch_time = sw * rotation;
  const int64_t current = now >= 0 ? now / rotation : (now - rotation + 1) / rotation;
  const int64_t oldest =
      current - crypto::key_ring_retained_epochs(rotation, int64_t{nts.keep_days} * 86400);
  f.fact("seed switch: epochs from " + std::to_string(sw) + " (the first starting at or after " +
         config::format_utc_time(*nts.keyseed_from) + ", i.e. from " + day_text(switch_time) +
         ") derive from the new seed " + nts.keyseed_new + ", earlier ones from the old seed " +
         nts.keyseed);
  f.fact("cookie keys: current epoch " + std::to_string(current) + " from " +
         seed_of(nts, sw, current) + "; next epoch " + std::to_string(current + 1) + " from " +
         seed_of(nts, sw, current + 1));
  std::string retained = "cookie keys: retained epochs " + std::to_string(oldest) + ".." +
                         std::to_string(current - 1);
  if (oldest >= sw || current - 1 < sw) {
    retained += " from " + seed_of(nts, sw, oldest);
  } else {
    retained += ": " + std::to_string(oldest) + ".." + std::to_string(sw - 1) + " from " +
                seed_of(nts, sw, oldest) + ", " + std::to_string(sw) + ".." +
                std::to_string(current - 1) + " from " + seed_of(nts, sw, sw);
  }
  f.fact(retained);
  // Every snapshot already holds the next epoch's key, so a member without
  // the line derives the switch epoch's key from the old seed a whole epoch
  // before the switch starts.
  if (switch_time > now && switch_time - now < rotation) {
    f.warning("the seed switch (" + day_text(switch_time) + ") is less than one rotation period (" +
              std::to_string(rotation) +
              " s) away: a fleet member without this 'nts keyseed ... from' line derives other "
              "keys for the epochs from then on, and cookies it issues will not open elsewhere");
  } else if (oldest >= sw) {
    f.warning("every retained epoch (" + std::to_string(oldest) + " on) is past the seed switch: the old seed " +
              nts.keyseed + " is no longer needed; make the new seed the plain line ('nts keyseed " +
              nts.keyseed_new + "', without 'from') and delete the old seed file");
  }
}

}  // namespace

bool user_may(const std::string& path, int mode, uid_t uid, gid_t gid,
              const std::vector<gid_t>& groups, std::string* why) {
  // Every folder on the way must be searchable, the last must allow `mode`.
  std::string prefix;
  size_t pos = path.front() == '/' ? 1 : 0;
  for (;;) {
    const size_t slash = path.find('/', pos);
    if (slash == std::string::npos) break;
    prefix = path.substr(0, slash == 0 ? 1 : slash);
    struct stat st;
    if (::stat(prefix.c_str(), &st) == 0 && !allowed_by_bits(st, X_OK, uid, gid, groups)) {
      *why = "folder " + prefix + " is not searchable (mode " +
             [&] {
               char m[8];
               std::snprintf(m, sizeof m, "%04o", static_cast<unsigned>(st.st_mode & 07777));
               return std::string(m);
             }() +
             ", owner uid " + std::to_string(st.st_uid) + ")";
      return false;
    }
    pos = slash + 1;
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    *why = std::strerror(errno);
    return false;
  }
  if (!allowed_by_bits(st, mode, uid, gid, groups)) {
    char m[8];
    std::snprintf(m, sizeof m, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    *why = std::string("mode ") + m + ", owner uid " + std::to_string(st.st_uid) + " gid " +
           std::to_string(st.st_gid);
    return false;
  }
  return true;
}

int check_config(const DaemonOptions& options) {
  const std::string& path = options.config_path;
  const auto result = config::parse_config_file(path);
  for (const std::string& line : result.errors) std::fprintf(stderr, "%s\n", line.c_str());
  for (const std::string& line : result.warnings) std::fprintf(stderr, "%s\n", line.c_str());
  if (!result.config) {
    std::fprintf(stderr, "ntsd: %s: %zu error(s); nothing applied\n", path.c_str(),
                 result.errors.size());
    return kCheckErrors;
  }
  const config::Config& config = *result.config;
  const auto& nts = config.nts;
  if (const std::string why =
          crypto::key_ring_size_error(nts.rotate_seconds, int64_t{nts.keep_days} * 86400);
      !why.empty()) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), why.c_str());
    return kCheckErrors;
  }
  Findings f;
  if (options.syntax_only) {
    std::printf("%s: OK (syntax only: the files and folders it names were not checked)\n",
                path.c_str());
    f.fact(config::nts_server_mode_text(config::nts_server_mode(nts)));
    return kCheckOk;
  }
  f.fact(path + ": syntax OK");
  f.fact(config::nts_server_mode_text(config::nts_server_mode(nts)));

  if (config::nts_server_on(nts) && !nts.cert.empty() && !nts.key.empty())
    check_certificate(nts, f);
  if (!nts.ca.empty()) check_ca(nts.ca, f);
  for (const auto& server : config.servers) {
    if (!server.ca.empty()) check_ca(server.ca, f);
  }

  // Who the daemon becomes, and what it must write as that user.
  std::optional<RunAs> run_as;
  std::string note, error;
  if (!resolve_run_as(options.user, true, &run_as, &note, &error)) {
    f.error(error);
  } else {
    const uid_t uid = run_as ? run_as->uid : ::geteuid();
    const gid_t gid = run_as ? run_as->gid : ::getegid();
    const std::string user =
        run_as ? run_as->user + " (uid " + std::to_string(uid) + ")" : "uid " + std::to_string(uid);
    std::vector<gid_t> groups;  // ntsd sets supplementary groups = GROUP only (privileges.cc)
    if (!run_as) {
      groups.resize(64);
      const int n = ::getgroups(static_cast<int>(groups.size()), groups.data());
      groups.resize(n > 0 ? static_cast<size_t>(n) : 0);
    }
    f.fact("daemon user: " + user);
    if (note.rfind("warning: ", 0) == 0) {
      f.warning(note.substr(9));
    } else if (!note.empty()) {
      f.fact(note);
    }
    std::string state_error;
    const std::string state_dir = state_directory(options, false, &state_error);
    struct stat st;
    if (state_dir.empty()) {
      f.error(state_error);
    } else if (::stat(state_dir.c_str(), &st) != 0) {
      f.fact("state folder " + state_dir + ": created at start (" + std::strerror(errno) + " now)");
    } else if (run_as && st.st_uid == 0 && (st.st_mode & 07777) == 0700) {
      f.fact("state folder " + state_dir + ": root's, mode 0700: handed to " + run_as->user +
             " at start");
    } else {
      check_writable_folder("state folder", state_dir, uid, gid, groups, user, f);
    }
    if (!config.driftfile.empty())
      check_writable_folder("driftfile folder", folder_of(config.driftfile), uid, gid, groups, user,
                            f);
    if (!config.statsdir.empty())
      check_writable_folder("statsdir", config.statsdir, uid, gid, groups, user, f);
    if (!nts.cookie_file.empty())
      check_writable_folder("nts cookie folder", folder_of(nts.cookie_file), uid, gid, groups, user,
                            f);
    if (config::nts_server_on(nts)) {
      for (const std::string* file : {&nts.cert, &nts.key}) {
        std::string why;
        // A missing file is already an error above.
        if (!file->empty() && ::stat(file->c_str(), &st) == 0 &&
            !user_may(*file, R_OK, uid, gid, groups, &why)) {
          f.warning((file == &nts.cert ? "nts cert " : "nts key ") + *file +
                    " is not readable by " + user +
                    ": certificate reloads (SIGHUP, renewals) will fail: " + why);
        }
      }
    }
    if (config::nts_server_on(nts) && !nts.keyseed.empty()) {
      check_seed_file(nts.keyseed, "", uid, f);
      if (nts.keyseed_from) {
        check_seed_file(nts.keyseed_new, config::format_utc_time(*nts.keyseed_from), uid, f);
        check_seed_switch(nts, static_cast<int64_t>(std::time(nullptr)), f);
      }
    }
    if (!config.logfile.empty()) {
      // Opened as root at start; reopened as the daemon user on SIGHUP.
      std::string why;
      const bool exists = ::stat(config.logfile.c_str(), &st) == 0;
      if (!exists && !user_may(folder_of(config.logfile), W_OK | X_OK, 0, 0, {}, &why)) {
        f.error("logfile " + config.logfile + ": " + why);
      } else if (exists
                     ? !user_may(config.logfile, W_OK, uid, gid, groups, &why)
                     : !user_may(folder_of(config.logfile), W_OK | X_OK, uid, gid, groups, &why)) {
        f.warning("logfile " + config.logfile + " is not writable by " + user + " (" + why +
                  "): after SIGHUP ntsd keeps writing to the old file unless logrotate creates the "
                  "new one "
                  "for it (create 0640 " +
                  (run_as ? run_as->user : std::string("USER")) + " adm)");
      } else {
        f.fact("logfile " + config.logfile + ": writable by " + user);
      }
    }
  }
  if (f.errors > 0) {
    std::fflush(stdout);
    std::fprintf(stderr, "ntsd: %s: %d error(s), %d warning(s): ntsd would fail or break with it\n",
                 path.c_str(), f.errors, f.warnings);
    return kCheckErrors;
  }
  std::printf("%s: OK%s\n", path.c_str(),
              f.warnings > 0 ? (" (" + std::to_string(f.warnings) + " warning(s))").c_str() : "");
  return kCheckOk;
}

}  // namespace ntsd::daemon
