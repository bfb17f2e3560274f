#pragma once
// The upstream client's cookie jar file (like chrony's ntsdumpdir): per NTS
// source, the keys and cookies of its last NTS-KE, so a restart needs no KE.
// Start-up and shutdown code, not the hot path. Text, one block per source,
// first line a versioned magic; a file that is not ours is reported, never
// overwritten.
#include <openssl/crypto.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ntsd::clock {

// An allocator that wipes memory (OPENSSL_cleanse) before freeing it, so that
// key bytes do not linger in the heap, including after a vector grows.
template <class T>
struct CleansingAllocator {
  using value_type = T;
  CleansingAllocator() = default;
  template <class U>
  CleansingAllocator(const CleansingAllocator<U>&) {}
  T* allocate(size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, size_t n) {
    OPENSSL_cleanse(p, n * sizeof(T));
    std::allocator<T>().deallocate(p, n);
  }
  template <class U>
  bool operator==(const CleansingAllocator<U>&) const {
    return true;
  }
};

using SecretBytes = std::vector<uint8_t, CleansingAllocator<uint8_t>>;
using SecretText = std::basic_string<char, std::char_traits<char>, CleansingAllocator<char>>;

inline constexpr size_t kMaxPersistedCookies = 8;
inline constexpr size_t kMaxPersistedCookieSize = 256;
inline constexpr size_t kMaxPersistedKeySize = 64;    // AES-SIV-CMAC-512
inline constexpr size_t kMaxPersistedSessions = 256;  // upstream sources
inline constexpr size_t kMaxPersistedHostSize = 255;
inline constexpr int64_t kDefaultSessionMaxAge = 28 * 86400;  // chrony re-keys every 4 weeks

// One upstream source's NTS session as of its last NTS-KE.
struct PersistedSession {
  std::string ke_server;  // "host:port" of the NTS-KE server: the key of the source
  int64_t ke_time = 0;    // Unix s of the NTS-KE
  uint16_t aead = 0;      // AEAD algorithm id (15 = AES-SIV-CMAC-256, 30 = AES-128-GCM-SIV, ...)
  std::string ntp_host;   // NTPv4 Server record, or the KE host when none was sent
  uint16_t ntp_port = 123;
  SecretBytes c2s;                            // client-to-server key
  SecretBytes s2c;                            // server-to-client key
  std::vector<std::vector<uint8_t>> cookies;  // oldest first, at most 8
  bool operator==(const PersistedSession&) const = default;
};

enum class CookieFileKind : uint8_t {
  kMissing,     // no file: no sessions, nothing to warn about
  kEmpty,       // zero bytes
  kOurs,        // parsed (sessions may still have been dropped as stale)
  kCorrupt,     // our magic, damaged body: no sessions, a warning
  kForeign,     // not an ntsd cookie file (e.g. NTPsec's `nts cookie` key file): never overwrite
  kUnreadable,  // exists but cannot be read: never overwrite
};

struct CookieLoadOptions {
  int64_t now = 0;                          // Unix s
  int64_t max_age = kDefaultSessionMaxAge;  // s; older sessions are dropped
};

struct CookieFileLoad {
  CookieFileKind kind = CookieFileKind::kMissing;
  std::vector<PersistedSession> sessions;
  std::vector<std::string> warnings;  // "FILE:LINE: what", ready to log
  size_t dropped_stale = 0;
  // Whether save_cookie_file() may replace the file (false for foreign or unreadable files).
  bool may_overwrite() const {
    return kind != CookieFileKind::kForeign && kind != CookieFileKind::kUnreadable;
  }
};

// Reads the jar at `path`; never fails: problems become warnings and no sessions.
CookieFileLoad load_cookie_file(const std::string& path, const CookieLoadOptions& options);
// Parses file text; `name` prefixes the warnings.
CookieFileLoad parse_cookie_file(std::string_view text, std::string_view name,
                                 const CookieLoadOptions& options);
// The file text for `sessions`; false with `error` if a session is out of bounds.
bool format_cookie_file(std::span<const PersistedSession> sessions, SecretText& out,
                        std::string& error);
// Writes the jar atomically (temp file 0600 + fsync + rename + fsync dir): a crash leaves the old
// or the new file. Refuses (false, `error`) to replace an existing file that is not ours.
bool save_cookie_file(const std::string& path, std::span<const PersistedSession> sessions,
                      std::string& error);
// Wipes the key bytes and cookies of `session`.
void cleanse_session(PersistedSession& session);

}  // namespace ntsd::clock
