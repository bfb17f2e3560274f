#include "ke/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstring>

namespace ntsd::ke {
namespace {

namespace ssl = boost::asio::ssl;

// SSL ex_data slot marking a connection whose ALPN offer was refused.
int alpn_refused_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

std::string openssl_errors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

std::string with_openssl(const std::string& what, const boost::system::error_code& ec) {
  const std::string detail = openssl_errors();
  return what + ": " + (detail.empty() ? ec.message() : detail);
}

// RFC 8915 §4: the client MUST offer ntske/1 and the server MUST refuse
// otherwise. A client offering other protocols gets the fatal
// no_application_protocol alert; a client offering no ALPN at all never
// reaches this callback and is dropped after the handshake (ke_server.cc).
int select_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void*) {
  const size_t want = std::strlen(kAlpnNtske);
  for (unsigned int i = 0; i < inlen;) {
    const unsigned int len = in[i];
    if (i + 1 + len > inlen) break;
    if (len == want && std::memcmp(in + i + 1, kAlpnNtske, want) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  SSL_set_ex_data(ssl, alpn_refused_index(), reinterpret_cast<void*>(uintptr_t{1}));
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

int version_of(TlsVersion v) { return v == TlsVersion::kTls12 ? TLS1_2_VERSION : TLS1_3_VERSION; }

std::string asn1_time_text(const ASN1_TIME* t) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "?";
  ASN1_TIME_print(bio, t);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string s(data, static_cast<size_t>(n > 0 ? n : 0));
  BIO_free(bio);
  return s;
}

}  // namespace

std::vector<std::string> tls_settings_warnings(const TlsSettings& settings) {
  std::vector<std::string> w;
  if (settings.min_tls == TlsVersion::kTls12) {
    w.push_back("nts mintls TLS1.2: RFC 8915 requires TLS 1.3 for NTS-KE; TLS 1.2 clients are accepted only for "
                "compatibility");
  }
  struct stat st;
  if (::stat(settings.key_file.c_str(), &st) == 0 && (st.st_mode & S_IROTH) != 0) {
    w.push_back("NTS-KE private key " + settings.key_file +
                " is world-readable; restrict it (chmod 0600 or 0640 with a dedicated group)");
  }
  return w;
}

bool tls_alpn_refused(SSL* ssl) { return SSL_get_ex_data(ssl, alpn_refused_index()) != nullptr; }

std::shared_ptr<ssl::context> make_tls_context(const TlsSettings& settings, std::vector<std::string>* warnings,
                                               std::string* error) {
  auto fail = [error](std::string why) {
    if (error != nullptr) *error = std::move(why);
    return std::shared_ptr<ssl::context>();
  };
  if (settings.cert_file.empty() || settings.key_file.empty()) return fail("nts cert and nts key must both be set");
  if (static_cast<int>(settings.min_tls) > static_cast<int>(settings.max_tls)) {
    return fail("nts mintls is above nts maxtls");
  }
  ERR_clear_error();
  std::shared_ptr<ssl::context> ctx;
  try {
    ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  } catch (const std::exception& e) {  // SSL_CTX_new failed: out of memory or a broken OpenSSL
    return fail(std::string("cannot create a TLS context: ") + e.what());
  }
  SSL_CTX* native = ctx->native_handle();

  boost::system::error_code ec;
  ctx->use_certificate_chain_file(settings.cert_file, ec);
  if (ec) return fail(with_openssl("cannot load certificate chain " + settings.cert_file, ec));
  ctx->use_private_key_file(settings.key_file, ssl::context::pem, ec);
  if (ec) {
    // OpenSSL checks the key against the leaf while loading it.
    return fail(with_openssl("cannot load private key " + settings.key_file + " or it does not match certificate " +
                                 settings.cert_file,
                             ec));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return fail("private key " + settings.key_file + " does not match certificate " + settings.cert_file);
  }

  // An expired certificate would make every client fail; keeping the old one is better.
  X509* leaf = SSL_CTX_get0_certificate(native);
  if (leaf == nullptr) return fail("no certificate in " + settings.cert_file);
  if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0) {
    return fail("certificate " + settings.cert_file + " expired on " + asn1_time_text(X509_get0_notAfter(leaf)));
  }
  if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0 && warnings != nullptr) {
    warnings->push_back("certificate " + settings.cert_file + " is not valid before " +
                        asn1_time_text(X509_get0_notBefore(leaf)));
  }

  if (SSL_CTX_set_min_proto_version(native, version_of(settings.min_tls)) != 1 ||
      SSL_CTX_set_max_proto_version(native, version_of(settings.max_tls)) != 1) {
    return fail("cannot set TLS versions: " + openssl_errors());
  }
  if (!settings.ciphers.empty() && SSL_CTX_set_cipher_list(native, settings.ciphers.c_str()) != 1) {
    return fail("bad nts tlsciphers '" + settings.ciphers + "': " + openssl_errors());
  }
  if (!settings.ciphersuites.empty() && SSL_CTX_set_ciphersuites(native, settings.ciphersuites.c_str()) != 1) {
    return fail("bad nts tlsciphersuites '" + settings.ciphersuites + "': " + openssl_errors());
  }
  // NTS-KE clients come back rarely (once per cookie supply), so resumption
  // buys little; not sending tickets saves two records and an encryption per
  // handshake. No renegotiation in TLS 1.2, no compression.
  SSL_CTX_set_num_tickets(native, 0);
  SSL_CTX_set_options(native, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                  SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_alpn_select_cb(native, select_alpn, nullptr);

  if (warnings != nullptr) {
    for (std::string& w : tls_settings_warnings(settings)) warnings->push_back(std::move(w));
  }
  return ctx;
}

std::string tls_context_subject(ssl::context& ctx) {
  X509* leaf = SSL_CTX_get0_certificate(ctx.native_handle());
  if (leaf == nullptr) return "";
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(leaf), buf, sizeof buf);
  return std::string(buf) + " (valid until " + asn1_time_text(X509_get0_notAfter(leaf)) + ")";
}

FileStamp stamp_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return {};
  return FileStamp{static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                   static_cast<int64_t>(st.st_size), static_cast<uint64_t>(st.st_ino)};
}

}  // namespace ntsd::ke
