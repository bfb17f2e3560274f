#include "crypto/seed_file.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "crypto/key_ring.h"

namespace ntsd::crypto {
namespace {

std::string errno_text() { return std::strerror(errno); }

std::string parent_dir(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Hex text (what operators' secret tooling handles best) or raw bytes.
std::vector<uint8_t> decode_seed(const std::vector<uint8_t>& content) {
  std::vector<uint8_t> out;
  int hi = -1;
  for (uint8_t c : content) {
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    if (v < 0) {
      if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
      return content;  // not hex: the file is the raw seed
    }
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  if (hi >= 0) return content;
  return out;
}

}  // namespace

std::optional<std::vector<uint8_t>> read_seed_file(const std::string& path, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "cannot open key seed file " + path + ": " + errno_text();
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    error = "key seed file " + path + " is not a regular file";
    ::close(fd);
    return std::nullopt;
  }
  // Anyone who reads the seed can forge cookies of every server in the fleet.
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    error = "key seed file " + path + " has mode " + mode +
            " and is readable by group or others; restrict it with: chmod 600 " + path;
    ::close(fd);
    return std::nullopt;
  }
  std::vector<uint8_t> content;
  uint8_t buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = "cannot read key seed file " + path + ": " + errno_text();
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    content.insert(content.end(), buf, buf + n);
    if (content.size() > 65536) break;
  }
  ::close(fd);
  std::vector<uint8_t> seed = decode_seed(content);
  OPENSSL_cleanse(content.data(), content.size());
  if (seed.size() < kMinSeedLength) {
    error =
        "key seed file " + path + " holds " + std::to_string(seed.size()) +
        " bytes; it needs at least 32 (64 hex digits); create one with: openssl rand -hex 32 > " +
        path;
    return std::nullopt;
  }
  return seed;
}

bool create_seed_file(const std::string& path, std::string& error) {
  uint8_t seed[32];
  if (RAND_bytes(seed, sizeof seed) != 1) {
    error = "cannot generate a key seed: the OpenSSL random generator failed";
    return false;
  }
  char text[2 * sizeof seed + 2];
  for (size_t i = 0; i < sizeof seed; ++i) std::snprintf(text + 2 * i, 3, "%02x", seed[i]);
  text[2 * sizeof seed] = '\n';
  OPENSSL_cleanse(seed, sizeof seed);
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());  // a leftover from a crash between create and rename
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = "cannot create key seed file " + tmp + ": " + errno_text();
    return false;
  }
  const size_t len = 2 * sizeof seed + 1;
  bool ok = ::fchmod(fd, 0600) == 0;  // whatever the umask
  size_t done = 0;
  while (ok && done < len) {
    const ssize_t n = ::write(fd, text + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  OPENSSL_cleanse(text, sizeof text);
  ok = ok && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok) {
    error = "cannot write key seed file " + tmp + ": " + errno_text();
    ::unlink(tmp.c_str());
    return false;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot rename " + tmp + " to " + path + ": " + errno_text();
    ::unlink(tmp.c_str());
    return false;
  }
  // The rename is durable only once the directory entry is on disk.
  const int dir = ::open(parent_dir(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0 || ::fsync(dir) != 0) {
    error = "cannot sync the directory of " + path + ": " + errno_text();
    if (dir >= 0) ::close(dir);
    return false;
  }
  ::close(dir);
  return true;
}

std::optional<std::vector<uint8_t>> load_or_create_seed(const std::string& path,
                                                        std::string& error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      error = "cannot stat key seed file " + path + ": " + errno_text();
      return std::nullopt;
    }
    if (!create_seed_file(path, error)) return std::nullopt;
  }
  return read_seed_file(path, error);
}

}  // namespace ntsd::crypto
