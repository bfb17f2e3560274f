// NTS-KE into a codec session against a real in-process NTS-KE server with a
// throwaway PKI (testing/test_pki.h): CA file, CA directory, the system store,
// insecure, the name checked apart from the address connected to, SNI, and
// the Server and Port records.
#include "clock/nts_ke.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "crypto/key_ring.h"
#include "ke/ke_server.h"
#include "ke/negotiate.h"
#include "server/respond.h"
#include "testing/ke_test_options.h"
#include "testing/test_pki.h"

namespace ntsd::clock {
namespace {

constexpr int64_t kNow = 1'900'000'000;
constexpr proto::NtpTimestamp kRx{0xeb2a'5f10'8000'0000ull};
constexpr proto::NtpTimestamp kTx{0xeb2a'5f10'9000'0000ull};
constexpr crypto::AeadId kSiv = crypto::AeadId::kAesSivCmac256;

std::vector<uint8_t> bytes(size_t n, uint8_t fill) { return std::vector<uint8_t>(n, fill); }

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A c_rehash-style CA directory: the certificate of `ca_pem` as <subject hash>.0.
std::string make_ca_dir(const std::string& ca_pem, const std::string& dir) {
  std::filesystem::create_directories(dir);
  FILE* f = std::fopen(ca_pem.c_str(), "r");
  if (f == nullptr) return {};
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (cert == nullptr) return {};
  char name[16];
  std::snprintf(name, sizeof name, "%08lx.0", X509_NAME_hash(X509_get_subject_name(cert)));
  X509_free(cert);
  std::filesystem::copy_file(ca_pem, dir + "/" + name,
                             std::filesystem::copy_options::overwrite_existing);
  return dir;
}

class NtsKeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    pki_ = new testing::TestPki;
    other_pki_ = new testing::TestPki;
    const std::string dir = testing::test_tmpdir() + "/nts_ke_test";
    std::filesystem::create_directories(dir);
    ASSERT_TRUE(testing::make_test_pki(dir + "/pki", testing::KeyKind::kEcdsaP256, *pki_, &error))
        << error;
    ASSERT_TRUE(
        testing::make_test_pki(dir + "/other", testing::KeyKind::kEcdsaP256, *other_pki_, &error))
        << error;
    ca_dir_ = new std::string(make_ca_dir(pki_->ca_cert, dir + "/ca.d"));
    other_ca_dir_ = new std::string(make_ca_dir(other_pki_->ca_cert, dir + "/other.d"));
    ASSERT_FALSE(ca_dir_->empty());
    ASSERT_FALSE(other_ca_dir_->empty());
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete other_pki_;
    delete ca_dir_;
    delete other_ca_dir_;
  }

  void start(uint16_t ntp_port = 123, std::vector<std::string> ntp_servers = {},
             std::vector<std::string> listen = {"127.0.0.1"}) {
    auto options = testing::loopback_options(*pki_);
    options.reload_poll = std::chrono::milliseconds(0);
    options.ntp_port = ntp_port;
    options.ntp_servers = std::move(ntp_servers);
    options.listen = std::move(listen);
    std::string error;
    server_ = ke::KeServer::start(options, keys_, &error);
    ASSERT_TRUE(server_) << error;
  }
  KeTarget target() const {
    KeTarget t;
    t.port = server_->port();
    t.ca = pki_->ca_cert;
    return t;
  }

  // One NTS exchange with the session against the request path, using the KE server's keys.
  ReplyVerdict round_trip(NtsSession& s) {
    RequestRecord record;
    std::vector<uint8_t> req(kMaxRequestLength);
    req.resize(build_nts_request(s, 12345, bytes(kUniqueIdLength, 9), 0, req, record));
    EXPECT_FALSE(req.empty());
    std::vector<uint8_t> reply(req.size());
    const auto v = server::respond(req, kRx, server::local_reference_state(), reply,
                                   server::NtsPolicy{keys_.load(), false}, kTx);
    reply.resize(v.is_reply() ? v.reply_size : 0);
    return verify_nts_reply(s, record, reply);
  }

  static testing::TestPki* pki_;
  static testing::TestPki* other_pki_;
  static std::string* ca_dir_;
  static std::string* other_ca_dir_;
  crypto::KeyPublisher keys_{crypto::KeyRing(bytes(32, 0x5e)).snapshot_at(kNow)};
  std::unique_ptr<ke::KeServer> server_;
};

testing::TestPki* NtsKeTest::pki_ = nullptr;
testing::TestPki* NtsKeTest::other_pki_ = nullptr;
std::string* NtsKeTest::ca_dir_ = nullptr;
std::string* NtsKeTest::other_ca_dir_ = nullptr;

TEST_F(NtsKeTest, GetsEightCookiesAndWorkingKeys) {
  start();
  std::string error;
  auto s = establish_session(target(), &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->aead, kSiv);
  EXPECT_EQ(s->jar.size(), kJarCapacity);
  EXPECT_EQ(s->cookie_length, crypto::cookie_length(kSiv));
  EXPECT_EQ(s->c2s_key.size(), 32u);
  EXPECT_EQ(s->s2c_key.size(), 32u);
  EXPECT_FALSE(std::ranges::equal(s->c2s_key.bytes(), s->s2c_key.bytes()));
  EXPECT_EQ(s->ntp_port, 123);
  EXPECT_EQ(s->ntp_host,
            "127.0.0.1");  // no Server record: the address the KE server was reached at
  EXPECT_EQ(round_trip(*s), ReplyVerdict::kVerified);
  EXPECT_EQ(s->jar.size(), kJarCapacity);
}

// What a client keeps in its cookie file (AEAD, raw keys, cookies) restores a
// session that the server still serves.
TEST_F(NtsKeTest, KeSessionPersistsAsKeysAndCookies) {
  start();
  std::string error;
  auto s = establish_session(target(), &error);
  ASSERT_TRUE(s) << error;
  NtsSession restored =
      make_session(s->aead, s->c2s_key.bytes(), s->s2c_key.bytes(), s->jar.cookies());
  EXPECT_EQ(round_trip(restored), ReplyVerdict::kVerified);
  EXPECT_EQ(restored.jar.size(), kJarCapacity);
}

TEST_F(NtsKeTest, PortRecordAndNegotiatedAeadAreUsed) {
  start(11500);
  KeTarget t = target();
  t.aeads = {30, 16, 15};
  std::string error;
  auto s = establish_session(t, &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->ntp_port, 11500);
  // The server's first implemented choice among ours; keys exported for it.
  const auto usable = ke::usable_aeads({});
  const uint16_t want =
      *std::find_first_of(t.aeads.begin(), t.aeads.end(), usable.begin(), usable.end());
  EXPECT_EQ(static_cast<uint16_t>(s->aead), want);
  EXPECT_EQ(s->cookie_length, crypto::cookie_length(s->aead));
  EXPECT_EQ(s->c2s_key.size(), crypto::aead_key_length(s->aead));
  EXPECT_EQ(round_trip(*s), ReplyVerdict::kVerified);
}

TEST_F(NtsKeTest, ServerAndPortRecordsAreUsed) {
  start(123, {"ntp.example.net:11123"});
  std::string error;
  auto s = establish_session(target(), &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->ntp_host, "ntp.example.net");
  EXPECT_EQ(s->ntp_port, 11123);
}

TEST_F(NtsKeTest, WrongCaFailsAndMissingCaIsNamed) {
  start();
  KeTarget t = target();
  t.ca = other_pki_->ca_cert;
  std::string error;
  EXPECT_FALSE(establish_session(t, &error));
  EXPECT_TRUE(has(error, "handshake failed")) << error;
  EXPECT_TRUE(has(error, "certificate verify failed")) << error;

  t.ca = testing::test_tmpdir() + "/nts_ke_test/no-such-ca.pem";
  EXPECT_FALSE(establish_session(t, &error));
  EXPECT_TRUE(has(error, "no-such-ca.pem")) << error;

  // Loaded by ke::KeClient directly: it says so instead of failing every handshake.
  ke::KeClientOptions o = ke_client_options(target());
  o.ca_file = t.ca;
  EXPECT_TRUE(has(ke::run_ke_client(o).error, "cannot load CA file")) << error;
  o = ke_client_options(target());
  o.ca_file.clear();
  o.ca_dir = t.ca;
  EXPECT_TRUE(has(ke::run_ke_client(o).error, "CA directory")) << error;
}

// No `ca`: the system's default store, which does not know the test CA.
TEST_F(NtsKeTest, NoCaMeansTheSystemStore) {
  start();
  KeTarget t = target();
  t.ca.clear();
  EXPECT_TRUE(ke_client_options(t).default_ca);
  std::string error;
  EXPECT_FALSE(establish_session(t, &error));
  EXPECT_TRUE(has(error, "certificate verify failed")) << error;
  // OpenSSL's default store honours SSL_CERT_FILE: pointed at the test CA, it verifies.
  ASSERT_EQ(::setenv("SSL_CERT_FILE", pki_->ca_cert.c_str(), 1), 0);
  auto s = establish_session(t, &error);
  ::unsetenv("SSL_CERT_FILE");
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(round_trip(*s), ReplyVerdict::kVerified);
}

TEST_F(NtsKeTest, CaDirectoryVerifies) {
  start();
  KeTarget t = target();
  t.ca = *ca_dir_;
  EXPECT_EQ(ke_client_options(t).ca_dir, *ca_dir_);
  EXPECT_TRUE(ke_client_options(t).ca_file.empty());
  std::string error;
  auto s = establish_session(t, &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(round_trip(*s), ReplyVerdict::kVerified);

  t.ca = *other_ca_dir_;  // a directory without our CA
  EXPECT_FALSE(establish_session(t, &error));
  EXPECT_TRUE(has(error, "certificate verify failed")) << error;
}

// `server localhost nts`: the name checked and sent as SNI is the configured
// one, the address connected to is what it resolved to.
TEST_F(NtsKeTest, NameIsCheckedApartFromTheAddress) {
  start();
  KeTarget t = target();
  t.host = "localhost";
  t.address = "127.0.0.1";
  std::string error;
  auto s = establish_session(t, &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->ntp_host, "127.0.0.1");
  t.host = "localhost.";  // fully qualified
  EXPECT_TRUE(establish_session(t, &error)) << error;

  // A name the certificate does not carry is refused, whatever the address.
  t.host = "not-this-server.example";
  EXPECT_FALSE(establish_session(t, &error));
  EXPECT_TRUE(has(error, "handshake failed")) << error;
  EXPECT_TRUE(has(error, "hostname mismatch")) << error;
  // An IP name is checked against the IP addresses only.
  t.host = "127.0.0.2";
  EXPECT_FALSE(establish_session(t, &error));
  EXPECT_TRUE(has(error, "IP address mismatch")) << error;
  // The same with the CA directory.
  t.host = "not-this-server.example";
  t.ca = *ca_dir_;
  EXPECT_FALSE(establish_session(t, &error));
  EXPECT_TRUE(has(error, "hostname mismatch")) << error;

  // A name without an address cannot be connected to: resolving is the caller's job.
  t = target();
  t.host = "localhost";
  EXPECT_FALSE(establish_session(t, &error));
  EXPECT_TRUE(has(error, "not an IP address")) << error;
}

// NTPsec `noval`: no verification at all, neither chain nor name.
TEST_F(NtsKeTest, InsecureSkipsVerification) {
  start();
  KeTarget t = target();
  t.insecure = true;
  t.ca = other_pki_->ca_cert;
  t.host = "not-this-server.example";
  t.address = "127.0.0.1";
  const auto o = ke_client_options(t);
  EXPECT_TRUE(o.ca_file.empty() && o.ca_dir.empty() && !o.default_ca);
  std::string error;
  auto s = establish_session(t, &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(round_trip(*s), ReplyVerdict::kVerified);
}

TEST_F(NtsKeTest, Ipv6AddressWithName) {
  start(123, {}, {"127.0.0.1", "::1"});
  KeTarget t = target();
  t.host = "localhost";
  t.address = "::1";
  std::string error;
  auto s = establish_session(t, &error);
  if (!s && has(error, "connect failed")) GTEST_SKIP() << "no IPv6 loopback here: " << error;
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->ntp_host, "::1");
  t.host = "::1";  // an IPv6 literal as the name: checked against the IP SANs
  EXPECT_TRUE(establish_session(t, &error)) << error;
}

TEST_F(NtsKeTest, NoServerOrUnknownAeadFails) {
  start();
  const uint16_t port = server_->port();
  server_->stop();
  KeTarget t;
  t.port = port;
  t.insecure = true;
  t.timeout_ms = 1000;
  std::string error;
  EXPECT_FALSE(establish_session(t, &error));
  EXPECT_TRUE(has(error, "connect failed")) << error;

  t.aeads = {99};
  EXPECT_FALSE(establish_session(t, &error));
  EXPECT_TRUE(has(error, "99")) << error;
}

// SNI: sent for a DNS name (without the root dot), never for an IP literal.
// A bare TLS server on a socket pair records what the client sent.
std::string sni_seen(const testing::TestPki& pki, const std::string& name) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return "socketpair failed";
  std::string seen = "(none)";
  std::thread server([&] {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate_chain_file(ctx, pki.cert.c_str());
    SSL_CTX_use_PrivateKey_file(ctx, pki.key.c_str(), SSL_FILETYPE_PEM);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fds[1]);
    if (SSL_accept(ssl) == 1) {
      if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) seen = sni;
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ::close(fds[1]);
  });
  ke::KeClientOptions o;
  o.verify_host = name;
  o.alpn.clear();
  o.export_aead = 0;
  o.timeout_ms = 2000;
  const ke::KeClientResult r = ke::KeClient(o).run(fds[0]);  // closes fds[0]
  server.join();
  return r.handshake_ok ? seen : "handshake failed: " + r.error;
}

TEST_F(NtsKeTest, SniIsSentForNamesOnly) {
  EXPECT_EQ(sni_seen(*pki_, "localhost"), "localhost");
  EXPECT_EQ(sni_seen(*pki_, "time.example.com."), "time.example.com");
  EXPECT_EQ(sni_seen(*pki_, "127.0.0.1"), "(none)");
  EXPECT_EQ(sni_seen(*pki_, "::1"), "(none)");
}

}  // namespace
}  // namespace ntsd::clock
