// Loopback tests of the NTS-KE server with a real TLS client (OpenSSL) and a
// throwaway PKI made at test time.
#include "ke/ke_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "crypto/aead.h"
#include "crypto/cookie.h"
#include "crypto/key_ring.h"
#include "ke/client.h"
#include "ke/negotiate.h"
#include "proto/ke_record.h"
#include "testing/ke_test_options.h"
#include "testing/test_pki.h"

namespace ntsd::ke {
namespace {

using namespace std::chrono_literals;



std::unique_ptr<crypto::KeyPublisher> make_keys() {
  std::vector<uint8_t> seed(32, 0x5e);
  crypto::KeyRing ring(seed);
  return std::make_unique<crypto::KeyPublisher>(ring.snapshot_at(1'800'000'000));
}

void copy_file(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
}

template <typename F>
bool wait_for(F cond, std::chrono::milliseconds limit = 3000ms) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return cond();
}

class KeServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    pki_ = new testing::TestPki;
    ASSERT_TRUE(testing::make_test_pki(testing::test_tmpdir() + "/pki", testing::KeyKind::kEcdsaP256, *pki_, &error,
                                       "ke-one"))
        << error;
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  void SetUp() override {
    keys_ = make_keys();
    opts_ = testing::loopback_options(*pki_, 2);
    opts_.reload_poll = 0ms;
  }
  void TearDown() override {
    if (server_) server_->stop();
    server_.reset();
  }

  void start() {
    std::string error;
    server_ = KeServer::start(opts_, *keys_, &error);
    ASSERT_TRUE(server_) << error;
  }

  KeClientOptions client(std::vector<uint16_t> aeads = {15}) const {
    KeClientOptions c;
    c.port = server_->port();
    c.ca_file = pki_->ca_cert;
    c.request = make_ke_request(aeads);
    return c;
  }

  // Opens every cookie with the server's snapshot and checks the keys equal the client's export.
  void expect_cookies_carry(const proto::KeResponse& r, const KeClientResult& c, crypto::AeadId aead) {
    const crypto::KeySnapshot* snap = keys_->load();
    ASSERT_EQ(r.cookies.size(), kCookiesPerResponse);
    for (const auto& cookie : r.cookies) {
      EXPECT_EQ(cookie.size(), crypto::cookie_length(aead));
      crypto::SessionKeys s;
      ASSERT_EQ(crypto::open_cookie(*snap, cookie, s), crypto::CookieStatus::kOk);
      EXPECT_EQ(s.aead, aead);
      ASSERT_EQ(s.key_length, c.c2s.size());
      EXPECT_EQ(std::vector<uint8_t>(s.c2s, s.c2s + s.key_length), c.c2s);
      EXPECT_EQ(std::vector<uint8_t>(s.s2c, s.s2c + s.key_length), c.s2c);
    }
    EXPECT_NE(c.c2s, c.s2c);
    EXPECT_NE(r.cookies[0], r.cookies[1]);  // fresh nonce per cookie
  }

  static testing::TestPki* pki_;
  std::unique_ptr<crypto::KeyPublisher> keys_;
  KeOptions opts_;
  std::unique_ptr<KeServer> server_;
};

testing::TestPki* KeServerTest::pki_ = nullptr;

TEST_F(KeServerTest, ChronyStyleExchangeGivesEightCookiesWithExportedKeys) {
  start();
  const KeClientResult c = run_ke_client(client({15}));
  ASSERT_TRUE(c.handshake_ok) << c.error;
  EXPECT_EQ(c.alpn, "ntske/1");
  EXPECT_EQ(c.tls_version, TLS1_3_VERSION);
  EXPECT_NE(c.peer_subject.find("ke-one"), std::string::npos);
  proto::KeResponse r;
  ASSERT_EQ(proto::parse_ke_response(c.response, r), proto::KeResponseStatus::kOk);
  EXPECT_EQ(r.next_protocols, std::vector<uint16_t>{0});
  EXPECT_EQ(r.aeads, std::vector<uint16_t>{15});
  EXPECT_EQ(r.port, -1);  // NTP on 123: no Port record
  EXPECT_TRUE(r.server.empty());
  EXPECT_TRUE(r.errors.empty());
  // NPN 6 + AEAD 6 + 8 × (4 + 104) + EOM 4, as chrony's server without a Port record.
  EXPECT_EQ(c.response.size(), 6u + 6 + 8 * 108 + 4);
  expect_cookies_carry(r, c, crypto::AeadId::kAesSivCmac256);

  ASSERT_TRUE(wait_for([&] { return server_->counters().active == 0; }));
  const KeCounters k = server_->counters();
  EXPECT_EQ(k.accepted, 1u);
  EXPECT_EQ(k.handshakes_ok, 1u);
  EXPECT_EQ(k.tls13, 1u);
  EXPECT_EQ(k.cookies_issued, 8u);
  EXPECT_EQ(k.responses_cookies, 1u);
  EXPECT_EQ(k.aead_siv256, 1u);
}

TEST_F(KeServerTest, ClientOrderPicksTheAead) {
  start();
  KeClientOptions o = client({17, 15});
  o.export_aead = 17;
  const KeClientResult c = run_ke_client(o);
  proto::KeResponse r;
  ASSERT_EQ(proto::parse_ke_response(c.response, r), proto::KeResponseStatus::kOk);
  ASSERT_EQ(r.aeads, std::vector<uint16_t>{17});
  expect_cookies_carry(r, c, crypto::AeadId::kAesSivCmac512);
}

TEST_F(KeServerTest, ConfiguredAeadListRestrictsTheChoice) {
  opts_.aeads = {15};
  start();
  const KeClientResult c = run_ke_client(client({17, 16}));
  proto::KeResponse r;
  ASSERT_EQ(proto::parse_ke_response(c.response, r), proto::KeResponseStatus::kOk);
  EXPECT_TRUE(r.aeads.empty());  // empty AEAD record: nothing acceptable
  EXPECT_TRUE(r.cookies.empty());
  ASSERT_TRUE(wait_for([&] { return server_->counters().responses_no_aead == 1; }));
}

TEST_F(KeServerTest, GcmSivOnlyWithChronyCompliantExportRecord) {
  if (usable_aeads({30}).empty()) GTEST_SKIP() << "AES-128-GCM-SIV needs AES-NI";
  start();
  // Without record 1024 the client may be chrony 4.4/4.5 (non-compliant keys): it gets 15.
  KeClientResult c = run_ke_client(client({30, 15}));
  proto::KeResponse r;
  ASSERT_EQ(proto::parse_ke_response(c.response, r), proto::KeResponseStatus::kOk);
  EXPECT_EQ(r.aeads, std::vector<uint16_t>{15});
  EXPECT_FALSE(r.compliant_gcm_siv_export);

  KeClientOptions o = client();
  o.request = make_ke_request({30, 15}, true);
  o.export_aead = 30;
  c = run_ke_client(o);
  ASSERT_EQ(proto::parse_ke_response(c.response, r), proto::KeResponseStatus::kOk);
  EXPECT_EQ(r.aeads, std::vector<uint16_t>{30});
  EXPECT_TRUE(r.compliant_gcm_siv_export);
  ASSERT_EQ(c.c2s.size(), 16u);
  expect_cookies_carry(r, c, crypto::AeadId::kAes128GcmSiv);
}

TEST_F(KeServerTest, PortAndServerRecordsRoundRobin) {
  opts_.ntp_port = 11500;
  opts_.ntp_servers = {"ntp1.example", "ntp2.example:1234"};
  start();
  proto::KeResponse r1, r2;
  ASSERT_EQ(proto::parse_ke_response(run_ke_client(client()).response, r1), proto::KeResponseStatus::kOk);
  ASSERT_EQ(proto::parse_ke_response(run_ke_client(client()).response, r2), proto::KeResponseStatus::kOk);
  EXPECT_EQ(r1.server, "ntp1.example");
  EXPECT_EQ(r1.port, 11500);
  EXPECT_EQ(r2.server, "ntp2.example");
  EXPECT_EQ(r2.port, 1234);
  EXPECT_EQ(r1.cookies.size(), 8u);
}

TEST_F(KeServerTest, UnknownCriticalRecordGetsError0) {
  start();
  KeClientOptions o = client();
  o.request = {0x80, 0x01, 0x00, 0x02, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00,
               0x80, 0x04, 0x00, 0x02, 0x00, 0x0f, 0x80, 0x00, 0x00, 0x00};
  const KeClientResult c = run_ke_client(o);
  EXPECT_EQ(c.response, (std::vector<uint8_t>{0x80, 0x02, 0x00, 0x02, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00}));
  ASSERT_TRUE(wait_for([&] {
    return server_->counters().request_errors[static_cast<size_t>(proto::KeRequestStatus::kUnrecognizedCritical)] ==
           1;
  }));
  EXPECT_STREQ(ke_request_error_name(static_cast<size_t>(proto::KeRequestStatus::kUnrecognizedCritical)),
               "unrecognized_critical");
}

TEST_F(KeServerTest, MissingAeadGetsError1) {
  start();
  KeClientOptions o = client();
  o.request = {0x80, 0x01, 0x00, 0x02, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00};
  const KeClientResult c = run_ke_client(o);
  proto::KeResponse r;
  ASSERT_EQ(proto::parse_ke_response(c.response, r), proto::KeResponseStatus::kOk);
  EXPECT_EQ(r.errors, std::vector<uint16_t>{proto::kKeErrorBadRequest});
  EXPECT_TRUE(r.cookies.empty());
}

TEST_F(KeServerTest, OversizedRequestGetsError1) {
  start();
  KeClientOptions o = client();
  o.request = make_ke_request({15});
  o.request.insert(o.request.begin(), {0x01, 0x00, 0x04, 0x4c});  // unknown non-critical, 1100 bytes
  o.request.insert(o.request.begin() + 4, 1100, 0x55);
  const KeClientResult c = run_ke_client(o);
  proto::KeResponse r;
  ASSERT_EQ(proto::parse_ke_response(c.response, r), proto::KeResponseStatus::kOk);
  EXPECT_EQ(r.errors, std::vector<uint16_t>{proto::kKeErrorBadRequest});
}

TEST_F(KeServerTest, ClientWithoutAlpnGetsNothing) {
  start();
  KeClientOptions o = client();
  o.alpn.clear();
  const KeClientResult c = run_ke_client(o);
  EXPECT_TRUE(c.response.empty());
  ASSERT_TRUE(wait_for([&] { return server_->counters().handshake_failed_alpn == 1; }));
  EXPECT_EQ(server_->counters().cookies_issued, 0u);
}

TEST_F(KeServerTest, OtherAlpnIsRefusedWithAlert) {
  start();
  KeClientOptions o = client();
  o.alpn = {"http/1.1"};
  const KeClientResult c = run_ke_client(o);
  EXPECT_FALSE(c.handshake_ok);
  EXPECT_NE(c.error.find("no application protocol"), std::string::npos) << c.error;
  ASSERT_TRUE(wait_for([&] { return server_->counters().handshake_failed_alpn == 1; }));
}

TEST_F(KeServerTest, Tls12RefusedByDefault) {
  start();
  KeClientOptions o = client();
  o.min_tls = o.max_tls = TLS1_2_VERSION;
  EXPECT_FALSE(run_ke_client(o).handshake_ok);
  ASSERT_TRUE(wait_for([&] { return server_->counters().handshake_failed_tls == 1; }));
}

TEST_F(KeServerTest, Tls12OnlyWhenConfiguredAndWarned) {
  opts_.tls.min_tls = TlsVersion::kTls12;
  start();
  bool warned = false;
  for (const auto& w : server_->warnings()) warned |= w.find("RFC 8915") != std::string::npos;
  EXPECT_TRUE(warned);
  KeClientOptions o = client();
  o.min_tls = o.max_tls = TLS1_2_VERSION;
  const KeClientResult c = run_ke_client(o);
  ASSERT_TRUE(c.handshake_ok) << c.error;
  EXPECT_EQ(c.tls_version, TLS1_2_VERSION);
  proto::KeResponse r;
  ASSERT_EQ(proto::parse_ke_response(c.response, r), proto::KeResponseStatus::kOk);
  expect_cookies_carry(r, c, crypto::AeadId::kAesSivCmac256);
  EXPECT_EQ(server_->counters().tls12, 1u);
}

TEST_F(KeServerTest, SilentClientIsCutOffAtTheFirstByteDeadline) {
  opts_.first_byte_deadline = 300ms;
  start();
  const int fd = connect_tcp("127.0.0.1", server_->port(), 5000);
  ASSERT_GE(fd, 0);
  const auto t0 = std::chrono::steady_clock::now();
  char b;
  const ssize_t n = ::recv(fd, &b, 1, 0);  // blocks until the server resets
  const auto waited = std::chrono::steady_clock::now() - t0;
  ::close(fd);
  EXPECT_LE(n, 0);
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 2000ms);
  ASSERT_TRUE(wait_for([&] { return server_->counters().first_byte_timeout == 1; }));
  EXPECT_EQ(server_->counters().handshake_failed_timeout, 0u);
  EXPECT_EQ(server_->counters().active, 0u);
}

TEST_F(KeServerTest, TricklingClientIsCutOffAtTheHandshakeDeadline) {
  opts_.first_byte_deadline = 300ms;
  opts_.handshake_deadline = 600ms;
  start();
  const int fd = connect_tcp("127.0.0.1", server_->port(), 5000);
  ASSERT_GE(fd, 0);
  const auto t0 = std::chrono::steady_clock::now();
  const uint8_t hello[] = {0x16, 0x03, 0x01};  // the start of a ClientHello record, then nothing
  ASSERT_EQ(::send(fd, hello, sizeof hello, MSG_NOSIGNAL), 3);
  char b;
  EXPECT_LE(::recv(fd, &b, 1, 0), 0);
  const auto waited = std::chrono::steady_clock::now() - t0;
  ::close(fd);
  EXPECT_GE(waited, 550ms);
  EXPECT_LT(waited, 2000ms);
  ASSERT_TRUE(wait_for([&] { return server_->counters().handshake_failed_timeout == 1; }));
  EXPECT_EQ(server_->counters().first_byte_timeout, 0u);
}

TEST_F(KeServerTest, TheSessionDeadlineBoundsEveryPhase) {
  opts_.deadline = 300ms;  // shorter than the first-byte and handshake deadlines
  start();
  const int fd = connect_tcp("127.0.0.1", server_->port(), 5000);
  ASSERT_GE(fd, 0);
  const auto t0 = std::chrono::steady_clock::now();
  char b;
  EXPECT_LE(::recv(fd, &b, 1, 0), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 900ms);
  ::close(fd);
  ASSERT_TRUE(wait_for([&] { return server_->counters().first_byte_timeout == 1; }));
}

TEST_F(KeServerTest, ClientThatSendsNoRequestIsCutOffAtTheDeadline) {
  opts_.deadline = 300ms;
  start();
  KeClientOptions o = client();
  o.request.clear();
  const auto t0 = std::chrono::steady_clock::now();
  const KeClientResult c = run_ke_client(o);
  EXPECT_TRUE(c.handshake_ok);
  EXPECT_TRUE(c.response.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2000ms);
  ASSERT_TRUE(wait_for([&] { return server_->counters().request_timeout == 1; }));
}

// A plain TCP connection from a given loopback source address.
int connect_from(const char* source, uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in src{}, dst{};
  src.sin_family = dst.sin_family = AF_INET;
  inet_pton(AF_INET, source, &src.sin_addr);
  inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
  dst.sin_port = htons(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// True when the server has closed or reset `fd` (recv returns at once).
bool closed_by_server(int fd) {
  char byte;
  return ::recv(fd, &byte, 1, 0) <= 0;
}

TEST_F(KeServerTest, AtTheCapTheOldestConnectionWithoutTlsMakesRoom) {
  opts_.max_connections = 2;
  start();
  const int a = connect_tcp("127.0.0.1", server_->port(), 5000);
  ASSERT_GE(a, 0);
  ASSERT_TRUE(wait_for([&] { return server_->counters().active == 1; }));
  const int b = connect_tcp("127.0.0.1", server_->port(), 5000);
  ASSERT_GE(b, 0);
  ASSERT_TRUE(wait_for([&] { return server_->counters().active == 2; }));
  // A real client arrives at the cap: the oldest idle connection (a) is reset, the client is served.
  const KeClientResult ok = run_ke_client(client());
  EXPECT_TRUE(ok.handshake_ok) << ok.error;
  EXPECT_FALSE(ok.response.empty());
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(closed_by_server(a));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
  EXPECT_EQ(server_->counters().evicted, 1u);
  EXPECT_EQ(server_->counters().refused_connection_cap, 0u);
  EXPECT_EQ(server_->counters().handshake_failed_timeout + server_->counters().handshake_failed_tls, 0u)
      << "an eviction is not a failure";
  ::close(a);
  ::close(b);
  ASSERT_TRUE(wait_for([&] { return server_->counters().active == 0; }));
}

TEST_F(KeServerTest, AtTheCapWithEveryHandshakeDoneANewConnectionIsRefused) {
  opts_.max_connections = 2;
  start();
  // Two clients that finish TLS and then send nothing: not eviction candidates.
  KeClientOptions idle = client();
  idle.request.clear();
  idle.timeout_ms = 1500;
  std::thread t1([&] { run_ke_client(idle); });
  std::thread t2([&] { run_ke_client(idle); });
  ASSERT_TRUE(wait_for([&] { return server_->counters().handshakes_ok == 2; }));
  const int c = connect_tcp("127.0.0.1", server_->port(), 5000);
  ASSERT_GE(c, 0);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(closed_by_server(c));  // reset at once, not a hang
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
  ::close(c);
  EXPECT_EQ(server_->counters().refused_connection_cap, 1u);
  EXPECT_EQ(server_->counters().evicted, 0u);
  t1.join();
  t2.join();
  ASSERT_TRUE(wait_for([&] { return server_->counters().active == 0; }));
  const KeClientResult ok = run_ke_client(client());
  EXPECT_TRUE(ok.handshake_ok) << ok.error;
}

TEST_F(KeServerTest, PerAddressConnectionCap) {
  opts_.max_per_address = 2;
  start();
  const int a = connect_from("127.0.0.1", server_->port());
  const int b = connect_from("127.0.0.1", server_->port());
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  ASSERT_TRUE(wait_for([&] { return server_->counters().active == 2; }));
  const int c = connect_from("127.0.0.1", server_->port());
  ASSERT_GE(c, 0);
  EXPECT_TRUE(closed_by_server(c));
  ::close(c);
  EXPECT_EQ(server_->counters().refused_per_address, 1u);
  // Another address is not affected.
  const int d = connect_from("127.0.0.9", server_->port());
  ASSERT_GE(d, 0) << "no 127.0.0.9 on this host's loopback";
  ASSERT_TRUE(wait_for([&] { return server_->counters().active == 3; }));
  EXPECT_EQ(server_->counters().refused_per_address, 1u);
  for (int fd : {a, b, d}) ::close(fd);
  ASSERT_TRUE(wait_for([&] { return server_->counters().active == 0; }));
  const KeClientResult ok = run_ke_client(client());
  EXPECT_TRUE(ok.handshake_ok) << ok.error;
}

TEST_F(KeServerTest, PerAddressRateLimit) {
  opts_.rate_limit.per_second = 0.5;
  opts_.rate_limit.burst = 3;
  start();
  for (int i = 0; i < 3; ++i) {
    const KeClientResult c = run_ke_client(client());
    EXPECT_TRUE(c.handshake_ok) << i << c.error;
  }
  const KeClientResult refused = run_ke_client(client());
  EXPECT_FALSE(refused.handshake_ok);
  EXPECT_EQ(server_->counters().refused_rate_limit, 1u);
}

TEST_F(KeServerTest, ListensOnIpv4AndIpv6) {
  opts_.listen = {"127.0.0.1", "::1"};
  start();
  KeClientOptions o = client();
  o.address = "::1";
  o.verify_host = "::1";
  const KeClientResult v6 = run_ke_client(o);
  ASSERT_TRUE(v6.connected) << "no IPv6 loopback here";
  EXPECT_TRUE(v6.handshake_ok) << v6.error;
  EXPECT_TRUE(run_ke_client(client()).handshake_ok);
}

TEST_F(KeServerTest, PeerClosingBeforeEndOfMessageIsCounted) {
  start();
  KeClientOptions o = client();
  o.request.resize(12);  // Next Protocol + AEAD, no End of Message; the client then closes
  o.timeout_ms = 300;    // our client waits for a reply that never comes, then closes
  run_ke_client(o);
  ASSERT_TRUE(wait_for([&] { return server_->counters().request_truncated == 1; }));
  EXPECT_EQ(server_->counters().cookies_issued, 0u);
}

// Several KE threads, parallel clients, and key rotation published while
// they seal cookies (QSBR readers on the KE threads); run under TSan too.
TEST_F(KeServerTest, ParallelClientsAcrossKeyRotations) {
  opts_.threads = 3;
  opts_.rate_limit.per_second = 0;
  start();
  crypto::KeyRing ring(std::vector<uint8_t>(32, 0x5e), 60, 3600);
  std::atomic<bool> stop{false};
  std::thread rotator([&] {
    int64_t t = 1'800'000'000;
    while (!stop) {
      keys_->publish(ring.snapshot_at(t += 60));
      std::this_thread::sleep_for(5ms);
    }
  });
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&] {
      for (int i = 0; i < 8; ++i) {
        const KeClientResult r = run_ke_client(client());
        proto::KeResponse resp;
        if (r.handshake_ok && proto::parse_ke_response(r.response, resp) == proto::KeResponseStatus::kOk &&
            resp.cookies.size() == 8) {
          ++good;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  stop = true;
  rotator.join();
  EXPECT_EQ(good.load(), 32);
  ASSERT_TRUE(wait_for([&] { return server_->counters().active == 0; }));
  EXPECT_EQ(server_->counters().cookies_issued, 32u * 8);
}

class KeReloadTest : public KeServerTest {
 protected:
  void SetUp() override {
    KeServerTest::SetUp();
    dir_ = testing::test_tmpdir() + "/reload-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir_);
    std::string error;
    ASSERT_TRUE(testing::make_server_cert(*pki_, dir_ + "/two", testing::KeyKind::kEcdsaP256, "ke-two", two_cert_,
                                          two_key_, &error))
        << error;
    opts_.tls.cert_file = dir_ + "/live.pem";
    opts_.tls.key_file = dir_ + "/live.key";
    copy_file(pki_->cert, opts_.tls.cert_file);
    copy_file(pki_->key, opts_.tls.key_file);
  }
  std::string subject() {
    const KeClientResult c = run_ke_client(client());
    return c.handshake_ok && !c.response.empty() ? c.peer_subject : "failed: " + c.error;
  }
  std::string dir_, two_cert_, two_key_;
};

TEST_F(KeReloadTest, AWorldReadableKeyIsRefused) {
  start();
  const std::string before = subject();
  ASSERT_NE(before.find("ke-one"), std::string::npos) << before;
  ASSERT_EQ(::chmod(opts_.tls.key_file.c_str(), 0644), 0);
  std::string error;
  EXPECT_FALSE(server_->reload(&error));
  EXPECT_NE(error.find("is readable by every user"), std::string::npos) << error;
  EXPECT_EQ(subject(), before);  // the loaded certificate keeps serving
  ASSERT_EQ(::chmod(opts_.tls.key_file.c_str(), 0600), 0);
  EXPECT_TRUE(server_->reload(&error)) << error;
}

TEST_F(KeReloadTest, ExplicitReloadSwapsAndBrokenReplacementIsRefused) {
  start();
  EXPECT_NE(subject().find("ke-one"), std::string::npos);
  copy_file(two_cert_, opts_.tls.cert_file);
  copy_file(two_key_, opts_.tls.key_file);
  std::string error;
  ASSERT_TRUE(server_->reload(&error)) << error;
  EXPECT_NE(subject().find("ke-two"), std::string::npos);
  EXPECT_NE(server_->certificate_subject().find("ke-two"), std::string::npos);

  // A truncated certificate: refused, the previous one keeps serving.
  std::ofstream(opts_.tls.cert_file, std::ios::trunc) << "-----BEGIN CERTIFICATE-----\nMIIB\n";
  EXPECT_FALSE(server_->reload(&error));
  EXPECT_NE(error.find("certificate"), std::string::npos) << error;
  EXPECT_NE(subject().find("ke-two"), std::string::npos);

  // A certificate with somebody else's key: refused too.
  copy_file(pki_->cert, opts_.tls.cert_file);
  EXPECT_FALSE(server_->reload(&error));
  EXPECT_NE(error.find("does not match"), std::string::npos) << error;
  EXPECT_NE(subject().find("ke-two"), std::string::npos);

  const KeCounters k = server_->counters();
  EXPECT_EQ(k.reloads_ok, 1u);
  EXPECT_EQ(k.reloads_failed, 2u);
}

TEST_F(KeReloadTest, FileChangeIsPickedUpByPolling) {
  opts_.reload_poll = 50ms;
  std::vector<std::string> logs;
  std::mutex mu;
  opts_.log = [&](LogLevel, const std::string& line) {
    std::lock_guard lock(mu);
    logs.push_back(line);
  };
  start();
  EXPECT_NE(subject().find("ke-one"), std::string::npos);
  copy_file(two_key_, opts_.tls.key_file);
  copy_file(two_cert_, opts_.tls.cert_file);
  ASSERT_TRUE(wait_for([&] { return server_->certificate_subject().find("ke-two") != std::string::npos; }));
  EXPECT_NE(subject().find("ke-two"), std::string::npos);
  server_->stop();
  std::lock_guard lock(mu);
  bool logged = false;
  for (const auto& l : logs) logged |= l.find("reloaded") != std::string::npos;
  EXPECT_TRUE(logged);
}

TEST_F(KeReloadTest, InFlightConnectionKeepsItsContext) {
  start();
  // Accepted before the reload, handshaking after it.
  const int fd = connect_tcp("127.0.0.1", server_->port(), 5000);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(wait_for([&] { return server_->counters().active == 1; }));
  copy_file(two_cert_, opts_.tls.cert_file);
  copy_file(two_key_, opts_.tls.key_file);
  ASSERT_TRUE(server_->reload(nullptr));
  const KeClientResult old = KeClient(client()).run(fd);
  ASSERT_TRUE(old.handshake_ok) << old.error;
  EXPECT_NE(old.peer_subject.find("ke-one"), std::string::npos);
  EXPECT_EQ(old.response.size(), 6u + 6 + 8 * 108 + 4);
  EXPECT_NE(subject().find("ke-two"), std::string::npos);
}

TEST_F(KeServerTest, WorldReadableKeyStopsTheStart) {
  const std::string key = testing::test_tmpdir() + "/world.key";
  copy_file(pki_->key, key);
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  opts_.tls.key_file = key;
  std::string error;
  EXPECT_FALSE(KeServer::start(opts_, *keys_, &error));
  EXPECT_NE(error.find("nts key " + key + " is readable by every user (mode 0644"), std::string::npos) << error;
  // root:ntsd 0640, the guide's layout, starts.
  ASSERT_EQ(::chmod(key.c_str(), 0640), 0);
  start();
  for (const auto& w : server_->warnings()) EXPECT_EQ(w.find(key), std::string::npos) << w;
}


TEST_F(KeServerTest, StartFailsWithAReason) {
  opts_.tls.cert_file = "/nonexistent/cert.pem";
  std::string error;
  EXPECT_FALSE(KeServer::start(opts_, *keys_, &error));
  EXPECT_NE(error.find("/nonexistent/cert.pem"), std::string::npos) << error;
  opts_.tls.cert_file = pki_->cert;
  opts_.ntp_servers = {"host:notaport"};
  EXPECT_FALSE(KeServer::start(opts_, *keys_, &error));
  EXPECT_NE(error.find("ntpserver"), std::string::npos) << error;
}

TEST(KeOptions, DefaultCapLeavesRoomForTheRestOfTheDaemon) {
  EXPECT_EQ(default_max_connections(1024), 768u);
  EXPECT_EQ(default_max_connections(256), 192u);
  EXPECT_EQ(default_max_connections(65536), 10000u);
  EXPECT_EQ(default_max_connections(64), 16u);
  KeOptions o;
  config::Config cfg;
  ASSERT_TRUE(ke_options_from_config(cfg, o, nullptr));
  EXPECT_EQ(o.max_connections, 0u) << "0: sized from the fd limit when the server starts";
  EXPECT_EQ(o.max_per_address, 16u);
}

TEST_F(KeServerTest, TheDefaultCapFollowsTheFdLimit) {
  start();
  EXPECT_EQ(server_->counters().max_connections, default_max_connections(open_file_limit()));
}

TEST(KeOptionsFromConfig, MapsNtsSettings) {
  config::Config cfg;
  cfg.nts.cert = "/etc/ntsd/cert.pem";
  cfg.nts.key = "/etc/ntsd/key.pem";
  cfg.nts.ke_port = 14460;
  cfg.nts.ke_threads = 3;
  cfg.nts.ke_rate = 0;
  cfg.nts.ke_burst = 7;
  cfg.nts.ke_max_connections = 500;
  cfg.nts.ke_per_address = 3;
  cfg.nts.aead_ids = {15};
  cfg.nts.mintls = config::TlsVersion::kTls12;
  cfg.nts.ntp_servers = {"[2001:db8::1]:123"};
  cfg.ntp_port = 11123;
  config::ListenAddress l;
  l.family = config::IpFamily::kIPv4;
  l.address = {192, 0, 2, 7};
  cfg.listen.push_back(l);
  KeOptions o;
  std::string error;
  ASSERT_TRUE(ke_options_from_config(cfg, o, &error)) << error;
  EXPECT_EQ(o.tls.cert_file, "/etc/ntsd/cert.pem");
  EXPECT_EQ(o.port, 14460);
  EXPECT_EQ(o.threads, 3);
  EXPECT_EQ(o.rate_limit.per_second, 0);
  EXPECT_EQ(o.rate_limit.burst, 7);
  EXPECT_EQ(o.max_connections, 500u);
  EXPECT_EQ(o.max_per_address, 3u);
  EXPECT_EQ(o.aeads, std::vector<uint16_t>{15});
  EXPECT_EQ(o.tls.min_tls, TlsVersion::kTls12);
  EXPECT_EQ(o.tls.max_tls, TlsVersion::kTls13);
  EXPECT_EQ(o.ntp_port, 11123);
  EXPECT_EQ(o.listen, std::vector<std::string>{"192.0.2.7"});
  cfg.nts.ntp_servers = {"bad:port:x:"};
  cfg.nts.ntp_servers = {"host:0"};
  EXPECT_FALSE(ke_options_from_config(cfg, o, &error));
}

}  // namespace
}  // namespace ntsd::ke
