#pragma once
// The NTS-KE server's TLS context: certificate chain + key, TLS versions,
// ALPN `ntske/1` required. Built and fully checked before use, so a reload
// with a bad certificate never replaces a working context.

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "third_party/asio.h"

namespace ntsd::ke {

inline constexpr char kAlpnNtske[] = "ntske/1";

enum class TlsVersion : uint8_t { kTls12, kTls13 };

struct TlsSettings {
  std::string cert_file;  // PEM: leaf first, then intermediates (full chain)
  std::string key_file;   // PEM private key
  TlsVersion min_tls = TlsVersion::kTls13;
  TlsVersion max_tls = TlsVersion::kTls13;
  std::string ciphers;       // OpenSSL cipher list for TLS 1.2 (empty: OpenSSL default)
  std::string ciphersuites;  // TLS 1.3 suites (empty: OpenSSL default)
};

// A checked server context, or null with `error` set; operator warnings are appended to `warnings`.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const TlsSettings& settings,
                                                            std::vector<std::string>* warnings, std::string* error);
// True if this connection's client offered ALPN without `ntske/1` (the handshake then fails with an alert).
bool tls_alpn_refused(SSL* ssl);

// Warnings about the settings alone (TLS 1.2 allowed); empty when all is well.
std::vector<std::string> tls_settings_warnings(const TlsSettings& settings);

// Why the private key's mode is refused (any permission for others, or
// group-writable), naming the file, its mode and owner and the fix
// (root:ntsd 0640); empty when it is fine or cannot be stat'ed.
std::string key_file_permission_error(const std::string& path);

// The leaf certificate's subject and notAfter of a context (for logs and tests).
std::string tls_context_subject(boost::asio::ssl::context& ctx);

// The leaf certificate's notAfter as Unix seconds.
std::optional<int64_t> tls_context_not_after(boost::asio::ssl::context& ctx);

// Whether `nts ca` (a PEM file or a c_rehash folder) can be used: `summary`
// says what it holds, `error` in plain words what is wrong.
bool check_ca_location(const std::string& path, std::string* summary, std::string* error);

// Identity of a file's current contents for change polling (mtime ns, size, inode); 0 if missing.
struct FileStamp {
  int64_t mtime_ns = 0;
  int64_t size = 0;
  uint64_t inode = 0;
  bool operator==(const FileStamp&) const = default;
};
FileStamp stamp_file(const std::string& path);

}  // namespace ntsd::ke
