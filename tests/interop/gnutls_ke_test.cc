// gnutls-cli (GnuTLS, a TLS stack other than the server's) completes an
// NTS-KE handshake with ALPN ntske/1 against ntsd and receives 8 cookies.
#include <gtest/gtest.h>

#include <cstdio>

#include "ke/ke_server.h"
#include "testing/ke_test_options.h"
#include "testing/test_pki.h"
#include "tests/interop/interop_util.h"

namespace ntsd::interop {
namespace {

constexpr char kGnutlsCli[] = "/usr/bin/gnutls-cli";

TEST(GnutlsInterop, HandshakeWithAlpnAndCookies) {
  ASSERT_TRUE(executable(kGnutlsCli)) << kGnutlsCli << " missing: apt-get install gnutls-bin";
  testing::TestPki pki;
  std::string error;
  ASSERT_TRUE(testing::make_test_pki(testing::test_tmpdir() + "/pki", testing::KeyKind::kEcdsaP256,
                                     pki, &error))
      << error;
  auto keys = test_keys();
  const ke::KeOptions opts = testing::loopback_options(pki);
  auto server = ke::KeServer::start(opts, *keys, &error);
  ASSERT_TRUE(server) << error;

  // chrony 4.3's request; gnutls-cli sends stdin after the handshake and prints what it receives.
  const std::string request = "\\200\\001\\000\\002\\000\\000\\200\\004\\000\\002\\000\\017\\200\\000\\000\\000";
  const std::string cmd = "printf \"" + request + "\" | " + kGnutlsCli + " --alpn=ntske/1 --x509cafile " +
                          pki.ca_cert + " -p " + std::to_string(server->port()) + " 127.0.0.1";
  const CommandResult r = run_command(cmd, 20);
  SCOPED_TRACE(r.output);
  std::printf("--- gnutls-cli output ---\n%s", r.output.c_str());
  EXPECT_NE(r.output.find("Handshake was completed"), std::string::npos);
  EXPECT_NE(r.output.find("ntske/1"), std::string::npos);
  EXPECT_NE(r.output.find("TLS1.3"), std::string::npos);
  server->stop();
  const ke::KeCounters k = server->counters();
  EXPECT_EQ(k.handshakes_ok, 1u);
  EXPECT_EQ(k.tls13, 1u);
  EXPECT_EQ(k.cookies_issued, 8u);
}

}  // namespace
}  // namespace ntsd::interop
