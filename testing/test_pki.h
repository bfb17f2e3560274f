#pragma once
// Test-only: a throwaway PKI made with the openssl command-line tool — a CA
// and server certificates for localhost / 127.0.0.1 / ::1 signed by it.

#include <string>

namespace ntsd::testing {

enum class KeyKind { kEcdsaP256, kRsa2048 };

struct TestPki {
  std::string dir;
  std::string ca_cert, ca_key;
  std::string cert;  // server leaf ‖ CA (full chain)
  std::string key;   // server private key, mode 0600
};

// $TEST_TMPDIR, else /tmp.
std::string test_tmpdir();
// A fresh CA and server certificate (CN = cn) in `dir` (created); false with `error` on failure.
bool make_test_pki(const std::string& dir, KeyKind kind, TestPki& out, std::string* error,
                   const std::string& cn = "localhost");
// Another server certificate from the same CA, written to `prefix`.pem / `prefix`.key.
bool make_server_cert(const TestPki& ca, const std::string& prefix, KeyKind kind,
                      const std::string& cn, std::string& cert, std::string& key,
                      std::string* error);

}  // namespace ntsd::testing
