#include "ke/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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

// An operator reads "No such file or directory", not OpenSSL's
// "error:10080002:BIO routines::system lib", which is all OpenSSL 3 says
// when fopen fails. So the file is opened first, as the daemon will, and
// errno speaks; OpenSSL is asked only about the contents.
std::string unreadable_file(const std::string& what, const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return what + " " + path + ": " + std::strerror(errno);
  struct stat st;
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  if (!regular) return what + " " + path + ": not a regular file";
  return "";
}

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// An OpenSSL failure in words: Asio moves one error code into `ec` and may
// leave more queued; the two an operator meets most are spelled out
// wherever they are, else the most specific reason string. The queue is
// cleared.
std::string openssl_reason(const boost::system::error_code& ec) {
  std::vector<unsigned long> codes;
  while (const unsigned long e = ERR_get_error()) codes.push_back(e);
  if (ec.category() == boost::asio::error::get_ssl_category() && ec.value() != 0) {
    codes.push_back(static_cast<unsigned long>(ec.value()));
  }
  for (const unsigned long e : codes) {
    if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
      return "no PEM block in it (expected -----BEGIN ...-----)";
    }
    if (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) return "it does not match the certificate";
  }
  // The first error is the innermost cause; SSL's "PEM lib" wrappers come later.
  for (const unsigned long e : codes) {
    if (const char* reason = ERR_reason_error_string(e); reason != nullptr) return reason;
  }
  return ec ? ec.message() : "unknown OpenSSL error";
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
  return w;
}

std::string key_file_permission_error(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return "";  // the open that follows names the errno
  // The NTS guide's layout, which certbot keeps across renewals: root:ntsd
  // 0640 (or 0600 for a daemon that reads it as root). Whoever can read
  // the key can impersonate the NTS-KE server and read every client's
  // C2S/S2C keys; whoever can write it can replace it. Refused, at start,
  // in --check and at a reload (the old certificate keeps serving).
  std::string what;
  if ((st.st_mode & S_IROTH) != 0) {
    what = "readable by every user";
  } else if ((st.st_mode & (S_IWOTH | S_IXOTH)) != 0) {
    what = "open to every user";
  } else if ((st.st_mode & S_IWGRP) != 0) {
    what = "writable by its group";
  }
  if (what.empty()) return "";
  return "nts key " + path + " is " + what + " (mode " + mode_text(st.st_mode) + ", owner uid " +
         std::to_string(st.st_uid) + " gid " + std::to_string(st.st_gid) +
         "): a private key must be readable by root and the daemon's group only; fix: chown root:ntsd " + path +
         " && chmod 0640 " + path + " (certbot keeps both across renewals)";
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

  if (std::string why = unreadable_file("nts cert", settings.cert_file); !why.empty()) return fail(why);
  if (std::string why = unreadable_file("nts key", settings.key_file); !why.empty()) return fail(why);
  if (std::string why = key_file_permission_error(settings.key_file); !why.empty()) return fail(why);
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(settings.cert_file, ec);
  if (ec) return fail("cannot load certificate chain " + settings.cert_file + ": " + openssl_reason(ec));
  ctx->use_private_key_file(settings.key_file, ssl::context::pem, ec);
  if (ec) {
    // OpenSSL checks the key against the leaf while loading it.
    const std::string why = openssl_reason(ec);
    if (why == "it does not match the certificate") {
      return fail("private key " + settings.key_file + " does not match certificate " + settings.cert_file);
    }
    return fail("cannot load private key " + settings.key_file + ": " + why);
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

std::optional<int64_t> tls_context_not_after(ssl::context& ctx) {
  X509* leaf = SSL_CTX_get0_certificate(ctx.native_handle());
  tm t{};
  if (leaf == nullptr || ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &t) != 1) return std::nullopt;
  return static_cast<int64_t>(timegm(&t));
}

bool check_ca_location(const std::string& path, std::string* summary, std::string* error) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    *error = "nts ca " + path + ": " + std::strerror(errno);
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    // A c_rehash folder is read lazily by hash at verification time; that
    // it can be listed is what can be checked now.
    if (::access(path.c_str(), R_OK | X_OK) != 0) {
      *error = "nts ca " + path + ": " + std::strerror(errno);
      return false;
    }
    *summary = "nts ca " + path + ": a folder of CA certificates (looked up by hash when verifying)";
    return true;
  }
  if (std::string why = unreadable_file("nts ca", path); !why.empty()) {
    *error = why;
    return false;
  }
  ERR_clear_error();
  X509_STORE* store = X509_STORE_new();
  if (store == nullptr) {
    *error = "nts ca " + path + ": out of memory";
    return false;
  }
  const int loaded = X509_STORE_load_file(store, path.c_str());
  int count = 0;
  if (loaded == 1) {
    STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
    for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
      if (X509_OBJECT_get_type(sk_X509_OBJECT_value(objects, i)) == X509_LU_X509) ++count;
    }
  }
  X509_STORE_free(store);
  if (loaded != 1 || count == 0) {
    *error = "nts ca " + path + ": no CA certificate loaded: " + (loaded == 1 ? "none in the file" : openssl_reason({}));
    ERR_clear_error();
    return false;
  }
  *summary = "nts ca " + path + ": " + std::to_string(count) + " CA certificate(s)";
  return true;
}

FileStamp stamp_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return {};
  return FileStamp{static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                   static_cast<int64_t>(st.st_size), static_cast<uint64_t>(st.st_ino)};
}

}  // namespace ntsd::ke
