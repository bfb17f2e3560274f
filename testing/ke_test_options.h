#pragma once
// Test-only: KeOptions for a KE server on 127.0.0.1 with a test certificate,
// an OS-chosen port and `threads` threads; tests change what they exercise.
#include "ke/ke_server.h"
#include "testing/test_pki.h"

namespace ntsd::testing {

inline ke::KeOptions loopback_options(const TestPki& pki, int threads = 1) {
  ke::KeOptions options;
  options.tls.cert_file = pki.cert;
  options.tls.key_file = pki.key;
  options.listen = {"127.0.0.1"};
  options.port = 0;
  options.threads = threads;
  return options;
}

}  // namespace ntsd::testing
