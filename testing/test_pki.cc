#include "testing/test_pki.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

namespace ntsd::testing {
namespace {

bool run(const std::string& cmd, const std::string& log, std::string* error) {
  const std::string full = cmd + " >>" + log + " 2>&1";
  if (std::system(full.c_str()) != 0) {
    if (error) *error = "failed: " + cmd + " (see " + log + ")";
    return false;
  }
  return true;
}

std::string newkey(KeyKind kind) {
  return kind == KeyKind::kEcdsaP256 ? "-newkey ec -pkeyopt ec_paramgen_curve:P-256"
                                     : "-newkey rsa:2048";
}

bool concat(std::initializer_list<std::string> parts, const std::string& to) {
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  for (const std::string& p : parts) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return false;
    out << in.rdbuf();
  }
  return static_cast<bool>(out);
}

}  // namespace

std::string test_tmpdir() {
  const char* d = std::getenv("TEST_TMPDIR");
  return d != nullptr && *d != '\0' ? d : "/tmp";
}

bool make_server_cert(const TestPki& ca, const std::string& prefix, KeyKind kind,
                      const std::string& cn, std::string& cert, std::string& key,
                      std::string* error) {
  const std::string log = ca.dir + "/openssl.log";
  const std::string ext = prefix + ".ext";
  {
    std::ofstream f(ext);
    f << "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n"
         "basicConstraints=critical,CA:FALSE\n"
         "keyUsage=critical,digitalSignature,keyEncipherment\n"
         "extendedKeyUsage=serverAuth\n";
  }
  key = prefix + ".key";
  cert = prefix + ".pem";
  const std::string leaf = prefix + ".leaf.pem";
  if (!run("openssl req -new " + newkey(kind) + " -nodes -keyout " + key + " -out " + prefix +
               ".csr -subj /CN=" + cn,
           log, error) ||
      !run("openssl x509 -req -in " + prefix + ".csr -CA " + ca.ca_cert + " -CAkey " + ca.ca_key +
               " -CAcreateserial -days 30 -sha256 -extfile " + ext + " -out " + leaf,
           log, error) ||
      !concat({leaf, ca.ca_cert}, cert)) {
    if (error != nullptr && error->empty()) *error = "cannot write " + cert;
    return false;
  }
  ::chmod(key.c_str(), 0600);
  return true;
}

bool make_test_pki(const std::string& dir, KeyKind kind, TestPki& out, std::string* error,
                   const std::string& cn) {
  out = TestPki{};
  out.dir = dir;
  ::mkdir(dir.c_str(), 0700);
  out.ca_cert = dir + "/ca.pem";
  out.ca_key = dir + "/ca.key";
  const std::string log = dir + "/openssl.log";
  if (!run("openssl req -x509 " + newkey(kind) + " -nodes -keyout " + out.ca_key + " -out " +
               out.ca_cert +
               " -days 30 -sha256 -subj /CN=ntsd-test-ca -addext basicConstraints=critical,CA:TRUE"
               " -addext keyUsage=critical,keyCertSign,cRLSign",
           log, error)) {
    return false;
  }
  return make_server_cert(out, dir + "/server", kind, cn, out.cert, out.key, error);
}

}  // namespace ntsd::testing
