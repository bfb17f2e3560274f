#include "ke/demo_cert.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "crypto/key_ring.h"
#include "ke/client.h"
#include "ke/ke_server.h"
#include "testing/test_pki.h"

namespace ntsd::ke {
namespace {

TEST(DemoCertificate, CreatedOnceReusedAndServesVerifiedKe) {
  const std::string dir = testing::test_tmpdir() + "/demo";
  DemoCertificate c;
  std::string error;
  ASSERT_TRUE(ensure_demo_certificate(dir, {"192.0.2.10", "time.example"}, c, &error)) << error;
  EXPECT_TRUE(c.created);
  struct stat st;
  ASSERT_EQ(::stat(c.key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  DemoCertificate again;
  ASSERT_TRUE(ensure_demo_certificate(dir, {}, again, &error)) << error;
  EXPECT_FALSE(again.created);

  crypto::KeyRing ring(std::vector<uint8_t>(32, 3));
  crypto::KeyPublisher keys(ring.snapshot_at(1'800'000'000));
  KeOptions o;
  o.tls.cert_file = c.cert_file;
  o.tls.key_file = c.key_file;
  o.listen = {"127.0.0.1"};
  o.port = 0;
  o.threads = 1;
  auto server = KeServer::start(o, keys, &error);
  ASSERT_TRUE(server) << error;
  EXPECT_TRUE(server->warnings().empty());
  KeClientOptions co;
  co.port = server->port();
  co.ca_file = c.ca_file;  // the client trusts only the demo CA and checks the IP address
  co.request = make_ke_request({15});
  const auto r = run_ke_client(co);
  EXPECT_TRUE(r.handshake_ok) << r.error;
  EXPECT_EQ(r.response.size(), 6u + 6 + 8 * 108 + 4);

  EXPECT_EQ(chrony_demo_line(c, "127.0.0.1", 14460, 11123),
            "server 127.0.0.1 nts iburst ntsport 14460 port 11123\nntstrustedcerts " + c.ca_file);
}

}  // namespace
}  // namespace ntsd::ke
