#include "ke/demo_cert.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <memory>

#include "crypto/secret_file.h"

namespace ntsd::ke {
namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PKey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;

constexpr long kValidDays = 3650;
constexpr long kRenewDays = 30;

bool inet_pton_any(const std::string& text, unsigned char* buf) {
  return ::inet_pton(AF_INET, text.c_str(), buf) == 1 || ::inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

PKey new_p256_key() { return PKey(EVP_EC_gen("P-256")); }

bool add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate for `key` named `cn`, signed by issuer_key (self-signed when issuer is null).
Cert make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key, bool ca,
               const std::string& san) {
  Cert cert(X509_new());
  if (!cert) return nullptr;
  uint8_t serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_set_version(cert.get(), 2);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), kValidDays * 86400);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                             0);
  X509* self_or_issuer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(self_or_issuer));
  bool ok = true;
  if (ca) {
    ok = add_ext(cert.get(), self_or_issuer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
         add_ext(cert.get(), self_or_issuer, NID_key_usage, "critical,keyCertSign,cRLSign") &&
         add_ext(cert.get(), self_or_issuer, NID_subject_key_identifier, "hash");
  } else {
    ok = add_ext(cert.get(), self_or_issuer, NID_basic_constraints, "critical,CA:FALSE") &&
         add_ext(cert.get(), self_or_issuer, NID_key_usage, "critical,digitalSignature") &&
         add_ext(cert.get(), self_or_issuer, NID_ext_key_usage, "serverAuth") &&
         add_ext(cert.get(), self_or_issuer, NID_subject_alt_name, san) &&
         add_ext(cert.get(), self_or_issuer, NID_authority_key_identifier, "keyid");
  }
  if (!ok || X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) == 0) return nullptr;
  return cert;
}

bool write_pem(const std::string& path, mode_t mode, const std::vector<X509*>& certs, EVP_PKEY* key) {
  // PEM into memory, then the one atomic writer of the tree (temp file with
  // O_EXCL|O_NOFOLLOW, fsync, rename, fsync of the folder).
  BIO* mem = BIO_new(BIO_s_mem());
  if (mem == nullptr) return false;
  bool ok = true;
  for (X509* c : certs) ok = ok && PEM_write_bio_X509(mem, c) == 1;
  if (key != nullptr) ok = ok && PEM_write_bio_PrivateKey(mem, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  char* data = nullptr;
  const long length = BIO_get_mem_data(mem, &data);
  std::string error;
  ok = ok && length > 0 &&
       crypto::write_file_atomically(path, std::string_view(data, static_cast<size_t>(length)), mode, error);
  if (data != nullptr && length > 0) OPENSSL_cleanse(data, static_cast<size_t>(length));  // the private key
  BIO_free(mem);
  return ok;
}

// The existing leaf is reused if it loads and stays valid for kRenewDays more.
bool still_good(const std::string& cert_file, const std::string& key_file, const std::string& ca_file) {
  if (::access(key_file.c_str(), R_OK) != 0 || ::access(ca_file.c_str(), R_OK) != 0) return false;
  FILE* f = std::fopen(cert_file.c_str(), "r");
  if (f == nullptr) return false;
  Cert leaf(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  f = std::fopen(key_file.c_str(), "r");
  if (f == nullptr) return false;
  PKey key(PEM_read_PrivateKey(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  if (!leaf || !key || X509_check_private_key(leaf.get(), key.get()) != 1) return false;
  time_t limit = std::time(nullptr) + kRenewDays * 86400;
  return X509_cmp_time(X509_get0_notAfter(leaf.get()), &limit) > 0;
}

}  // namespace

bool ensure_demo_certificate(const std::string& dir, const std::vector<std::string>& extra_names, DemoCertificate& out,
                             std::string* error) {
  out = DemoCertificate{dir + "/ca.pem", dir + "/cert.pem", dir + "/key.pem", false};
  auto fail = [error](const std::string& why) {
    if (error) *error = why;
    return false;
  };
  ::mkdir(dir.c_str(), 0700);
  if (still_good(out.cert_file, out.key_file, out.ca_file)) return true;

  std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
  for (const std::string& n : extra_names) {
    unsigned char buf[16];
    const bool ip = inet_pton_any(n, buf);
    san += (ip ? ",IP:" : ",DNS:") + n;
  }
  PKey ca_key = new_p256_key();
  PKey key = new_p256_key();
  if (!ca_key || !key) return fail("cannot generate a P-256 key");
  Cert ca = make_cert(ca_key.get(), "ntsd demo CA (not for production)", nullptr, nullptr, true, "");
  if (!ca) return fail("cannot make the demo CA certificate");
  Cert leaf = make_cert(key.get(), "localhost", ca.get(), ca_key.get(), false, san);
  if (!leaf) return fail("cannot make the demo server certificate (names: " + san + ")");
  // Each file is replaced atomically; a set left half-written by a crash fails still_good's key check.
  if (!write_pem(out.key_file, 0600, {}, key.get()) || !write_pem(out.ca_file, 0644, {ca.get()}, nullptr) ||
      !write_pem(out.cert_file, 0644, {leaf.get(), ca.get()}, nullptr)) {
    return fail("cannot write the demo certificate files in " + dir);
  }
  out.created = true;
  return true;
}

std::string chrony_demo_line(const DemoCertificate& cert, const std::string& host, int ke_port, int ntp_port) {
  std::string line = "server " + host + " nts iburst";
  if (ke_port != 4460) line += " ntsport " + std::to_string(ke_port);
  if (ntp_port != 123) line += " port " + std::to_string(ntp_port);
  return line + "\nntstrustedcerts " + cert.ca_file;
}

}  // namespace ntsd::ke
