#include "crypto/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ntsd::crypto {
namespace {

std::string errno_text() { return std::strerror(errno); }

}  // namespace

std::string parent_directory(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool write_file_atomically(const std::string& path, std::string_view content, mode_t mode, std::string& error) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());  // a leftover from a crash between create and rename
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    error = "cannot create " + tmp + ": " + errno_text();
    return false;
  }
  bool ok = ::fchmod(fd, mode) == 0;  // whatever the umask
  size_t done = 0;
  while (ok && done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  // Without the fsync a crash after the rename can leave an empty file under
  // the final name (ext4 delayed allocation).
  ok = ok && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok) {
    error = "cannot write " + tmp + ": " + errno_text();
    ::unlink(tmp.c_str());
    return false;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot rename " + tmp + " to " + path + ": " + errno_text();
    ::unlink(tmp.c_str());
    return false;
  }
  // The rename is durable only once the directory entry is on disk.
  const int dir = ::open(parent_directory(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0 || ::fsync(dir) != 0) {
    error = "cannot sync the directory of " + path + ": " + errno_text();
    if (dir >= 0) ::close(dir);
    return false;
  }
  ::close(dir);
  return true;
}

bool write_secret_file_atomically(const std::string& path, std::string_view content, std::string& error) {
  return write_file_atomically(path, content, 0600, error);
}

}  // namespace ntsd::crypto
