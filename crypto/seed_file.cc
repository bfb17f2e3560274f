#include "crypto/seed_file.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>

#include "crypto/key_ring.h"
#include "crypto/secret_file.h"

namespace ntsd::crypto {
namespace {

std::string errno_text() { return std::strerror(errno); }

constexpr size_t kSeedHexDigits = 64;  // 32 bytes

int hex_value(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

// The one accepted form: exactly 64 hex digits, optionally followed by one
// newline (what `openssl rand -hex 32 >FILE` writes). Anything looser (raw
// bytes, spaces, longer seeds, CRLF) once let two fleet members read two
// spellings of "the same" file as different seeds, and so derive different
// cookie keys without a word; now it is an error naming what is wrong.
std::optional<std::vector<uint8_t>> decode_seed(const std::vector<uint8_t>& content, std::string& why) {
  size_t digits = content.size();
  if (digits == kSeedHexDigits + 1 && content.back() == '\n') digits = kSeedHexDigits;
  for (size_t i = 0; i < std::min(digits, kSeedHexDigits); ++i) {
    if (hex_value(content[i]) < 0) {
      why = "byte " + std::to_string(i) + " is not a hex digit";
      return std::nullopt;
    }
  }
  if (digits != kSeedHexDigits) {
    why = "it holds " + std::to_string(content.size()) + " bytes";
    return std::nullopt;
  }
  std::vector<uint8_t> out(kSeedHexDigits / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<uint8_t>(hex_value(content[2 * i]) << 4 | hex_value(content[2 * i + 1]));
  }
  return out;
}

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
            " and is readable or writable by group or others; restrict it with: chmod 600 " + path;
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
    if (content.size() > 4096) break;  // far past 65 bytes: reported as too long
  }
  ::close(fd);
  std::string why;
  std::optional<std::vector<uint8_t>> seed = decode_seed(content, why);
  OPENSSL_cleanse(content.data(), content.size());
  if (!seed) {
    error = "key seed file " + path + " must hold exactly 64 hex digits (32 bytes) and at most one newline, but " +
            why + "; create one with: openssl rand -hex 32 > " + path;
    return std::nullopt;
  }
  static_assert(kSeedHexDigits / 2 >= kMinSeedLength);
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
  const bool ok = write_secret_file_atomically(path, std::string_view(text, 2 * sizeof seed + 1), error);
  OPENSSL_cleanse(text, sizeof text);
  if (!ok) error = "key seed file: " + error;
  return ok;
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
