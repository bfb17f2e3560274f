#pragma once
// A blocking OpenSSL NTS-KE client (the upstream client via clock/nts_ke.h,
// ntsbench, tests, interop checks, the handshake benchmark). It connects to an
// IP literal, verifies the server against a CA file, a CA directory or the
// system store under the name it was told, sends a request, reads the whole
// response and exports the session keys itself. Every socket operation has a
// timeout; run it on a thread of its own.

#include <openssl/ssl.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ntsd::ke {

struct KeClientOptions {
  std::string address = "127.0.0.1";  // IPv4 or IPv6 literal connected to
  uint16_t port = 0;
  // The certificate is verified when any of these three is set; none: no verification.
  std::string ca_file;      // PEM CA certificate(s)
  std::string ca_dir;       // a directory of <subject hash>.N files (openssl rehash, c_rehash)
  bool default_ca = false;  // OpenSSL's default store (the system's CAs)
  // The server's name: a DNS name is sent as SNI and, when verifying, must
  // match the certificate; an IP literal must be one of its IP addresses.
  // Empty: address.
  std::string verify_host = "127.0.0.1";
  std::vector<std::string> alpn = {"ntske/1"};  // empty: no ALPN extension
  int min_tls = TLS1_3_VERSION;
  int max_tls = TLS1_3_VERSION;
  std::vector<uint8_t> request;  // sent after the handshake; empty: send nothing
  uint16_t export_aead = 15;     // keys exported for this AEAD id (0: none)
  bool export_negotiated = false;  // export for the AEAD the response names (none if not one)
  int timeout_ms = 5000;
};

struct KeClientResult {
  bool connected = false;
  bool handshake_ok = false;
  std::string error;
  std::string alpn;
  int tls_version = 0;
  std::string peer_subject;
  std::vector<uint8_t> response;  // everything read until close
  std::vector<uint8_t> c2s, s2c;  // exported keys (export_aead's length)
  uint16_t exported_aead = 0;     // the AEAD id c2s/s2c were exported for (0: none)
};

// A client context reused across connections (the benchmark makes many).
// A CA that cannot be loaded makes every run() fail with the reason.
class KeClient {
 public:
  explicit KeClient(const KeClientOptions& options);
  ~KeClient();
  KeClient(const KeClient&) = delete;
  KeClient& operator=(const KeClient&) = delete;
  // One session on a new connection, or on `fd` (an already connected TCP socket; closed after).
  KeClientResult run(int fd = -1) const;

 private:
  bool verifying() const;
  KeClientOptions opts_;
  SSL_CTX* ctx_ = nullptr;
  std::string ctx_error_;  // set when the context cannot be used (CA not loadable)
};

// One connection with a fresh context.
KeClientResult run_ke_client(const KeClientOptions& options);
// Next Protocol [0] ‖ AEAD [aeads] ‖ (record 1024) ‖ End of Message.
std::vector<uint8_t> make_ke_request(const std::vector<uint16_t>& aeads, bool compliant_gcm_siv = false);
// A plain TCP connection to address:port (an IP literal; blocking, with timeouts); -1 on failure.
int connect_tcp(const std::string& address, uint16_t port, int timeout_ms);

}  // namespace ntsd::ke
