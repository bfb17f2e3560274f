#include "ke/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
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
  SSL_CTX_set_min_proto_version(ctx_, opts_.min_tls);
  SSL_CTX_set_max_proto_version(ctx_, opts_.max_tls);
  if (!opts_.ca_file.empty()) {
    SSL_CTX_load_verify_locations(ctx_, opts_.ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  }
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

KeClientResult KeClient::run(int fd) const {
  KeClientResult r;
  ERR_clear_error();
  if (fd < 0) fd = connect_tcp(opts_.address, opts_.port, opts_.timeout_ms);
  if (fd < 0) {
    r.error = "connect failed: " + std::string(std::strerror(errno));
    return r;
  }
  r.connected = true;
  SSL* ssl = SSL_new(ctx_);
  SSL_set_fd(ssl, fd);
  if (!opts_.ca_file.empty()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, opts_.verify_host.c_str()) != 1) {
      X509_VERIFY_PARAM_set1_host(param, opts_.verify_host.c_str(), 0);
      SSL_set_tlsext_host_name(ssl, opts_.verify_host.c_str());
    }
  }
  if (const int rc = SSL_connect(ssl); rc != 1) {
    std::string why = ssl_errors();
    // No OpenSSL error: the server closed or reset the connection (a KE rate limit or cap does this).
    if (why.empty()) why = SSL_get_error(ssl, rc) == SSL_ERROR_SYSCALL && errno != 0
                               ? std::string(std::strerror(errno))
                               : "connection closed by the server";
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
