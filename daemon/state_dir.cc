#include "daemon/state_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace ntsd::daemon {
namespace {

std::string mode_text(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

std::string user_text(uid_t uid) {
  std::string text = "uid " + std::to_string(uid);
  if (const passwd* pw = ::getpwuid(uid); pw != nullptr) text = std::string(pw->pw_name) + " (" + text + ")";
  return text;
}

std::string owner_text(const StateOwner& owner) {
  return owner.name.empty() ? user_text(owner.uid) : owner.name + " (uid " + std::to_string(owner.uid) + ")";
}

// Root may hand the folder to another user only when it is about to switch.
bool handing_over(const StateOwner& owner) { return ::geteuid() == 0 && owner.uid != 0; }

bool chown_entry(int dir_fd, const std::string& name, const std::string& shown, const StateOwner& owner,
                 std::string* error) {
  if (::fchownat(dir_fd, name.c_str(), owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) != 0 && errno != ENOENT) {
    *error = "cannot chown " + shown + " to " + owner_text(owner) + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace

std::string state_directory(const DaemonOptions& options, bool embedded_default, std::string* error) {
  if (!options.state_dir.empty()) return options.state_dir;
  if (!embedded_default) return "/var/lib/ntsd";
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg != nullptr && xdg[0] == '/') {
    return std::string(xdg) + "/ntsd";
  }
  // No /tmp fallback: a folder anyone can create ahead of us is no place for
  // the seed and a private key.
  const char* home = std::getenv("HOME");
  if (home == nullptr || home[0] != '/') {
    *error = "no state folder: HOME is not set to an absolute path (nor XDG_STATE_HOME); "
             "name one with --state-dir DIR";
    return {};
  }
  return std::string(home) + "/.local/state/ntsd";
}

bool check_state_path(const std::string& path, const StateOwner& owner, bool hand_over, bool is_folder,
                      std::string* error) {
  struct stat st {};
  // The folder itself may be reached through a symbolic link (/var/lib/ntsd
  // -> /srv/ntsd); the entries in it may not.
  if ((is_folder ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st)) != 0) {
    *error = "cannot stat " + path + ": " + std::strerror(errno);
    return false;
  }
  if (S_ISLNK(st.st_mode)) {
    *error = "state file " + path + " is a symbolic link; ntsd keeps its state in plain files (remove it)";
    return false;
  }
  if (is_folder && !S_ISDIR(st.st_mode)) {
    *error = "state folder " + path + " is not a folder";
    return false;
  }
  if (st.st_uid != owner.uid && !(hand_over && st.st_uid == 0)) {
    *error = "state " + std::string(is_folder ? "folder " : "file ") + path + " is owned by " + user_text(st.st_uid) +
             ", not by " + owner_text(owner) + ", the user ntsd runs as; fix: chown " +
             (is_folder ? "-R " : "") + std::to_string(owner.uid) + ":" + std::to_string(owner.gid) + " " + path;
    return false;
  }
  if ((st.st_mode & 022) != 0) {
    *error = "state " + std::string(is_folder ? "folder " : "file ") + path + " has mode " + mode_text(st.st_mode) +
             " and is writable by group or others; fix: chmod go-w " + path;
    return false;
  }
  // Handing a root-owned folder over must not give away a shared one (say
  // --state-dir /var/lib): only a private folder is taken over.
  if (is_folder && hand_over && st.st_uid == 0 && owner.uid != 0 && (st.st_mode & 077) != 0) {
    *error = "state folder " + path + " is owned by root with mode " + mode_text(st.st_mode) +
             "; ntsd hands over to " + owner_text(owner) + " only a root-owned folder of mode 0700; fix: chown " +
             std::to_string(owner.uid) + ":" + std::to_string(owner.gid) + " " + path + " (or chmod 700 it)";
    return false;
  }
  return true;
}

bool make_state_directory(const std::string& path, const StateOwner& owner, std::string* error) {
  std::error_code ec;
  // New: private to the daemon user from the first moment. mkdir itself gives
  // the folder mode 0700: created with the umask's 0755 and then chmod'ed, a
  // kill -9 between the two calls left a root-owned 0755 folder, which every
  // later start with -u refuses (check_state_path) until an operator fixes it.
  std::string leaf = path;
  while (leaf.size() > 1 && leaf.back() == '/') leaf.pop_back();
  const std::filesystem::path parent = std::filesystem::path(leaf).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  const bool created = !ec && ::mkdir(leaf.c_str(), 0700) == 0;
  if (!ec && !created && errno != EEXIST) ec = std::error_code(errno, std::generic_category());
  if (created) {
    std::filesystem::permissions(path, std::filesystem::perms::owner_all, ec);
    if (!ec && handing_over(owner) && ::chown(path.c_str(), owner.uid, owner.gid) != 0) {
      *error = "cannot chown " + path + " to " + owner_text(owner) + ": " + std::strerror(errno);
      return false;
    }
  }
  if (ec) {
    *error = "cannot create " + path + ": " + ec.message();
    return false;
  }
  const bool hand_over = handing_over(owner);
  if (!check_state_path(path, owner, hand_over, true, error)) return false;
  for (const char* name : kStateEntries) {
    const std::string entry = path + "/" + name;
    struct stat st {};
    if (::lstat(entry.c_str(), &st) != 0) continue;  // not created yet
    if (!check_state_path(entry, owner, hand_over, false, error)) return false;
  }
  return true;
}

bool hand_over_state_directory(const std::string& path, const StateOwner& owner, std::string* error) {
  if (!handing_over(owner)) return true;
  const int dir = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return errno == ENOENT ? true : (*error = "cannot open " + path + ": " + std::strerror(errno), false);
  bool ok = ::fchown(dir, owner.uid, owner.gid) == 0;
  if (!ok) *error = "cannot chown " + path + " to " + owner_text(owner) + ": " + std::strerror(errno);
  for (const char* name : kStateEntries) {
    if (!ok) break;
    ok = chown_entry(dir, name, path + "/" + name, owner, error) &&
         chown_entry(dir, std::string(name) + ".tmp", path + "/" + name + ".tmp", owner, error);
  }
  // demo-pki/: ntsd's own sub-folder; everything in it is ntsd's.
  const int pki = ok ? ::openat(dir, "demo-pki", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
  if (pki >= 0) {
    DIR* listing = ::fdopendir(pki);
    if (listing != nullptr) {
      while (const dirent* e = ::readdir(listing)) {
        const std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        if (!(ok = chown_entry(::dirfd(listing), name, path + "/demo-pki/" + name, owner, error))) break;
      }
      ::closedir(listing);  // closes pki
    } else {
      ::close(pki);
    }
  }
  ::close(dir);
  return ok;
}

}  // namespace ntsd::daemon
