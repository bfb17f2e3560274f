#include "ke/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "crypto/aead.h"
#include "ke/negotiate.h"
#include "proto/ke_record.h"

namespace ntsd::ke {

namespace {

std::string ssl_errors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += out.empty() ? "" : "; ";
    out += buf;
  }
  return out;
}

// A client offering several AEADs learns the server's pick only from the
// response, and the exporter context depends on it.
uint16_t negotiated_aead(const std::vector<uint8_t>& response) {
  proto::KeResponse parsed;
  if (proto::parse_ke_response(response, parsed) != proto::KeResponseStatus::kOk) return 0;
  return parsed.aeads.size() == 1 ? parsed.aeads[0] : 0;
}

bool is_ip_literal(const std::string& name) {
  in6_addr addr;
  return inet_pton(AF_INET, name.c_str(), &addr) == 1 || inet_pton(AF_INET6, name.c_str(), &addr) == 1;
}

// "time.example.com." names the same host as "time.example.com", but SNI
// forbids the trailing dot (RFC 6066 §3) and certificates never carry it.
std::string without_root_dot(const std::string& name) {
  return name.size() > 1 && name.back() == '.' ? name.substr(0, name.size() - 1) : name;
}

}  // namespace

int connect_tcp(const std::string& address, uint16_t port, int timeout_ms) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof *v6;
  } else {
    return -1;
  }
  const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::vector<uint8_t> make_ke_request(const std::vector<uint16_t>& aeads, bool compliant_gcm_siv) {
  std::vector<uint8_t> out;
  const uint16_t np[] = {proto::kKeProtocolNtpV4};
  proto::append_ke_u16_record(out, true, proto::kKeNextProtocol, np);
  proto::append_ke_u16_record(out, true, proto::kKeAead, aeads);
  if (compliant_gcm_siv) proto::append_ke_record(out, false, proto::kKeCompliantGcmSivExport, {});
  proto::append_ke_end(out);
  return out;
}

KeClient::KeClient(const KeClientOptions& options) : opts_(options) {
  // A server that closes first must not kill the test with SIGPIPE on our next write.
  std::signal(SIGPIPE, SIG_IGN);
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (ctx_ == nullptr) {
    ctx_error_ = "cannot create a TLS context: " + ssl_errors();
    return;
  }
  SSL_CTX_set_min_proto_version(ctx_, opts_.min_tls);
  SSL_CTX_set_max_proto_version(ctx_, opts_.max_tls);
  // A CA that cannot be loaded is reported by run(), not discovered as a
  // puzzling verification failure of every server.
  if (!opts_.ca_file.empty() && SSL_CTX_load_verify_file(ctx_, opts_.ca_file.c_str()) != 1) {
    ctx_error_ = "cannot load CA file " + opts_.ca_file + ": " + ssl_errors();
  }
  if (!opts_.ca_dir.empty()) {
    // The directory is only read lazily (by subject hash) during verification,
    // so check now that it is one.
    struct stat st {};
    if (::stat(opts_.ca_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      ctx_error_ = "CA directory " + opts_.ca_dir + " is not a readable directory";
    } else if (SSL_CTX_load_verify_dir(ctx_, opts_.ca_dir.c_str()) != 1) {
      ctx_error_ = "cannot use CA directory " + opts_.ca_dir + ": " + ssl_errors();
    }
  }
  if (opts_.default_ca && SSL_CTX_set_default_verify_paths(ctx_) != 1) {
    ctx_error_ = "cannot load the system's CA certificates: " + ssl_errors();
  }
  if (verifying()) SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  if (!opts_.alpn.empty()) {
    std::vector<uint8_t> wire;
    for (const std::string& p : opts_.alpn) {
      wire.push_back(static_cast<uint8_t>(p.size()));
      wire.insert(wire.end(), p.begin(), p.end());
    }
    SSL_CTX_set_alpn_protos(ctx_, wire.data(), static_cast<unsigned>(wire.size()));
  }
}

KeClient::~KeClient() { SSL_CTX_free(ctx_); }

bool KeClient::verifying() const {
  return !opts_.ca_file.empty() || !opts_.ca_dir.empty() || opts_.default_ca;
}

KeClientResult KeClient::run(int fd) const {
  KeClientResult r;
  ERR_clear_error();
  if (!ctx_error_.empty()) {
    if (fd >= 0) ::close(fd);
    r.error = ctx_error_;
    return r;
  }
  if (fd < 0 && !is_ip_literal(opts_.address)) {
    // Names are resolved by the caller (its resolver, its address choice).
    r.error = "connect failed: '" + opts_.address + "' is not an IP address";
    return r;
  }
  if (fd < 0) fd = connect_tcp(opts_.address, opts_.port, opts_.timeout_ms);
  if (fd < 0) {
    r.error = "connect failed: " + std::string(std::strerror(errno));
    return r;
  }
  r.connected = true;
  SSL* ssl = SSL_new(ctx_);
  SSL_set_fd(ssl, fd);
  // The name: SNI for a DNS name (a server with several certificates picks
  // by it), and what the certificate must carry: a DNS name checked as RFC
  // 6125 says (no partial wildcards, as curl), an IP literal against the IP
  // addresses of the certificate only.
  const std::string name =
      without_root_dot(opts_.verify_host.empty() ? opts_.address : opts_.verify_host);
  const bool ip_name = is_ip_literal(name);
  bool name_ok = true;
  if (!ip_name && !name.empty()) name_ok = SSL_set_tlsext_host_name(ssl, name.c_str()) == 1;
  if (verifying() && name_ok) {
    if (ip_name) {
      name_ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) == 1;
    } else {
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      name_ok = !name.empty() && SSL_set1_host(ssl, name.c_str()) == 1;
    }
  }
  if (!name_ok) {
    r.error = "cannot check the server name '" + name + "': " + ssl_errors();
  } else if (const int rc = SSL_connect(ssl); rc != 1) {
    std::string why = ssl_errors();
    // No OpenSSL error: the server closed or reset the connection (a KE rate limit or cap does this).
    if (why.empty()) why = SSL_get_error(ssl, rc) == SSL_ERROR_SYSCALL && errno != 0
                               ? std::string(std::strerror(errno))
                               : "connection closed by the server";
    // Say why verification failed (unknown CA, name mismatch, expired...).
    if (const long v = SSL_get_verify_result(ssl); verifying() && v != X509_V_OK) {
      why += std::string(" (") + X509_verify_cert_error_string(v) + ")";
    }
    r.error = "handshake failed: " + why;
  } else {
    r.handshake_ok = true;
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    r.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
    r.tls_version = SSL_version(ssl);
    if (X509* peer = SSL_get1_peer_certificate(ssl)) {
      char buf[512];
      X509_NAME_oneline(X509_get_subject_name(peer), buf, sizeof buf);
      r.peer_subject = buf;
      X509_free(peer);
    }
    if (!opts_.request.empty() &&
        SSL_write(ssl, opts_.request.data(), static_cast<int>(opts_.request.size())) <= 0) {
      r.error = "write failed: " + ssl_errors();
    }
    uint8_t buf[4096];
    for (;;) {
      const int n = SSL_read(ssl, buf, sizeof buf);
      if (n <= 0) break;
      r.response.insert(r.response.end(), buf, buf + n);
    }
    const uint16_t export_aead =
        opts_.export_negotiated ? negotiated_aead(r.response) : opts_.export_aead;
    if (export_aead != 0) {
      const auto id = crypto::aead_from_wire(export_aead);
      const size_t len = id ? crypto::aead_key_length(*id) : 32;
      r.exported_aead = export_aead;
      r.c2s.resize(len);
      r.s2c.resize(len);
      const auto c0 = exporter_context(export_aead, 0);
      const auto c1 = exporter_context(export_aead, 1);
      SSL_export_keying_material(ssl, r.c2s.data(), len, kExporterLabel, std::strlen(kExporterLabel), c0.data(),
                                 c0.size(), 1);
      SSL_export_keying_material(ssl, r.s2c.data(), len, kExporterLabel, std::strlen(kExporterLabel), c1.data(),
                                 c1.size(), 1);
    }
    SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  ::close(fd);
  return r;
}

KeClientResult run_ke_client(const KeClientOptions& options) { return KeClient(options).run(); }

}  // namespace ntsd::ke
