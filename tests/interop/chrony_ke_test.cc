// chronyd 4.3 as an NTS client completes NTS-KE against ntsd on loopback and
// receives cookies. Its NTP half needs ntsd's NTS data plane, so only the KE
// part is checked here: ntsd's counters (handshake, 8 cookies issued with
// AEAD 15), chronyd's log free of NTS-KE errors, the NTP requests chronyd
// then sends to the Port record's port (their authenticators verify with the
// C2S key ntsd sealed into the cookie they carry), and the cookies and keys
// chronyd saved in its ntsdumpdir on exit.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "crypto/aead.h"
#include "crypto/cookie.h"
#include "ke/ke_server.h"
#include "proto/extension_field.h"
#include "testing/ke_test_options.h"
#include "testing/test_pki.h"
#include "tests/interop/interop_util.h"

namespace ntsd::interop {
namespace {

std::vector<uint8_t> from_hex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

constexpr char kChronyd[] = "/var/cache/ntsd-peers/chrony/usr/sbin/chronyd";

TEST(ChronyInterop, ChronydGetsCookiesFromNtsd) {
  ASSERT_TRUE(executable(kChronyd)) << kChronyd << " missing (deploy/setup-dev.sh unpacks chrony 4.3 there)";
  const std::string dir = testing::test_tmpdir() + "/chrony";
  std::filesystem::create_directories(dir + "/dump");
  testing::TestPki pki;
  std::string error;
  ASSERT_TRUE(testing::make_test_pki(dir + "/pki", testing::KeyKind::kEcdsaP256, pki, &error))
      << error;

  auto keys = test_keys();
  // A UDP socket stands in for the NTP server (the next issue): it only records chronyd's requests.
  const int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  ASSERT_EQ(::bind(udp, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::getsockname(udp, reinterpret_cast<sockaddr*>(&a), &alen), 0);
  const uint16_t ntp_port = ntohs(a.sin_port);
  timeval tv{0, 200'000};
  ::setsockopt(udp, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::vector<std::vector<uint8_t>> requests;
  std::atomic<bool> done{false};
  std::thread sink([&] {
    uint8_t buf[2048];
    while (!done) {
      const ssize_t n = ::recv(udp, buf, sizeof buf, 0);
      if (n > 0) requests.emplace_back(buf, buf + n);
    }
  });
  ke::KeOptions opts = testing::loopback_options(pki);
  opts.ntp_port = ntp_port;
  auto server = ke::KeServer::start(opts, *keys, &error);
  ASSERT_TRUE(server) << error;

  const std::string conf = dir + "/chrony.conf";
  {
    std::ofstream f(conf);
    f << "server 127.0.0.1 nts ntsport " << server->port() << " port " << ntp_port
      << " iburst maxsamples 1\n"
      << "ntstrustedcerts " << pki.ca_cert << "\n"
      << "ntsdumpdir " << dir << "/dump\n"
      << "cmdport 0\n"
      << "pidfile " << dir << "/chronyd.pid\n"
      << "logdir " << dir << "\n"
      << "log measurements\n";
  }
  // -Q: measure only, never touch the clock; -t: give up after 6 s (the NTP half cannot succeed yet).
  const CommandResult r = run_command(std::string(kChronyd) + " -d -Q -u root -L 0 -t 6 -f " + conf, 30);
  SCOPED_TRACE("chronyd output:\n" + r.output);
  server->stop();
  done = true;
  sink.join();
  ::close(udp);

  const ke::KeCounters k = server->counters();
  EXPECT_GE(k.handshakes_ok, 1u);
  EXPECT_EQ(k.handshake_failed_tls + k.handshake_failed_alpn, 0u);
  EXPECT_GE(k.cookies_issued, 8u);
  EXPECT_EQ(k.cookies_issued % 8, 0u);
  EXPECT_EQ(k.aead_siv256, k.responses_cookies);
  EXPECT_EQ(k.tls13, k.handshakes_ok);
  EXPECT_EQ(r.output.find("NTS-KE"), std::string::npos) << "chronyd reported an NTS-KE problem";
  EXPECT_EQ(r.output.find("TLS"), std::string::npos) << "chronyd reported a TLS problem";

  // chronyd saves its NTS state (server key id, cookies) per source on exit.
  std::string dump;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/dump")) dump += e.path().string() + "\n" + read_text(e.path());
  std::printf("--- chronyd output ---\n%s--- ntsdumpdir ---\n%s--- ntsd: %llu handshakes, %llu cookies ---\n",
              r.output.c_str(), dump.c_str(), static_cast<unsigned long long>(k.handshakes_ok),
              static_cast<unsigned long long>(k.cookies_issued));
  SCOPED_TRACE("ntsdumpdir:\n" + dump);
  ASSERT_FALSE(dump.empty());

  // chronyd's NTP requests authenticate with the C2S key inside the cookie they carry: the
  // key chronyd exported is the key ntsd sealed (an AES-SIV check of each request's authenticator).
  ASSERT_FALSE(requests.empty()) << "chronyd sent no NTP request to the Port record's port";
  for (const auto& req : requests) {
    const proto::ExtensionFieldList efs = proto::parse_extension_fields(req);
    ASSERT_EQ(efs.status, proto::EfStatus::kOk);
    const proto::ExtensionField* cookie = nullptr;
    const proto::ExtensionField* auth = nullptr;
    for (size_t i = 0; i < efs.count; ++i) {
      if (efs.fields[i].type == proto::kEfNtsCookie) cookie = &efs.fields[i];
      if (efs.fields[i].type == proto::kEfNtsAuthenticator) auth = &efs.fields[i];
    }
    ASSERT_TRUE(cookie != nullptr && auth != nullptr);
    crypto::SessionKeys s;
    ASSERT_EQ(crypto::open_cookie(*keys->load(), cookie->body, s), crypto::CookieStatus::kOk);
    const auto a = proto::parse_nts_authenticator(auth->body);
    ASSERT_TRUE(a.has_value());
    const auto aead = crypto::make_aead(crypto::AeadId::kAesSivCmac256, s.c2s_key());
    ASSERT_TRUE(aead);
    const crypto::Bytes ad[] = {crypto::Bytes(req.data(), auth->offset)};
    std::vector<uint8_t> plain(a->ciphertext.size() - crypto::kAeadTagLength);
    EXPECT_TRUE(aead->open(ad, a->nonce, a->ciphertext, plain)) << "request authenticator does not verify";
  }

  // chrony 4.3's dump: NNC0 / name / time / "addr port" / "id aead c2s s2c" / one hex cookie per line.
  std::istringstream lines(dump);
  std::vector<std::string> l;
  for (std::string line; std::getline(lines, line);) l.push_back(line);
  ASSERT_GE(l.size(), 7u);
  EXPECT_EQ(l[1], "NNC0");
  // The Port record was honoured: chronyd kept our NTP port for its NTP requests.
  EXPECT_EQ(l[4], "127.0.0.1 " + std::to_string(ntp_port));
  std::istringstream ctx(l[5]);
  std::string id, aead, first_hex, second_hex;
  ctx >> id >> aead >> first_hex >> second_hex;
  EXPECT_EQ(aead, "15");
  // Every saved cookie opens with ntsd's key snapshot to exactly the keys chronyd exported.
  size_t opened = 0;
  for (size_t i = 6; i < l.size(); ++i) {
    const std::vector<uint8_t> cookie = from_hex(l[i]);
    ASSERT_EQ(cookie.size(), 104u) << l[i];
    crypto::SessionKeys s;
    ASSERT_EQ(crypto::open_cookie(*keys->load(), cookie, s), crypto::CookieStatus::kOk);
    // chrony writes S2C before C2S in its dump (checked against the request authenticators above).
    EXPECT_EQ(std::vector<uint8_t>(s.s2c, s.s2c + s.key_length), from_hex(first_hex));
    EXPECT_EQ(std::vector<uint8_t>(s.c2s, s.c2s + s.key_length), from_hex(second_hex));
    ++opened;
  }
  EXPECT_GE(opened, 1u);
  EXPECT_LE(opened, 8u);
}

}  // namespace
}  // namespace ntsd::interop
