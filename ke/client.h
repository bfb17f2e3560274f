#pragma once
// A blocking OpenSSL NTS-KE client (tests, interop checks, ntsbench, the
// handshake benchmark). It verifies the server against a CA file, sends a
// request, reads the whole response and exports the session keys itself.

#include <openssl/ssl.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ntsd::ke {

struct KeClientOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;
  std::string ca_file;                          // empty: no verification
  std::string verify_host = "127.0.0.1";        // IP literal or DNS name checked against the certificate
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
class KeClient {
 public:
  explicit KeClient(const KeClientOptions& options);
  ~KeClient();
  KeClient(const KeClient&) = delete;
  KeClient& operator=(const KeClient&) = delete;
  // One session on a new connection, or on `fd` (an already connected TCP socket; closed after).
  KeClientResult run(int fd = -1) const;

 private:
  KeClientOptions opts_;
  SSL_CTX* ctx_ = nullptr;
};

// One connection with a fresh context.
KeClientResult run_ke_client(const KeClientOptions& options);
// Next Protocol [0] ‖ AEAD [aeads] ‖ (record 1024) ‖ End of Message.
std::vector<uint8_t> make_ke_request(const std::vector<uint16_t>& aeads, bool compliant_gcm_siv = false);
// A plain TCP connection to address:port (blocking, with timeouts); -1 on failure.
int connect_tcp(const std::string& address, uint16_t port, int timeout_ms);

}  // namespace ntsd::ke
