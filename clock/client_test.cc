// The upstream client against ntsd's own NTS-KE server and NTP workers, in
// process on loopback (real TLS, real sockets, real time): it synchronises
// over NTS and publishes stratum + 1 with the upstream's address as refid;
// unreachable and unresolvable upstreams never block start-up; a restart with
// the cookie file needs no NTS-KE; a pool line mobilises members up to
// `tos maxclock`. Never touches the host clock (the client only measures).
// Also runs under TSan: the client thread publishes while workers read.
#include "clock/client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "config/parser.h"
#include "crypto/key_ring.h"
#include "ke/ke_server.h"
#include "server/server.h"
#include "testing/ke_test_options.h"
#include "testing/test_pki.h"

namespace ntsd::clock {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// One ntsd-like upstream: key ring, NTS-KE server and one NTP worker, serving
// the local reference (stratum 10) on 127.0.0.1.
struct Upstream {
  explicit Upstream(const testing::TestPki& pki) {
    crypto::KeyRing ring(std::vector<uint8_t>(32, 0x42));
    keys = std::make_unique<crypto::KeyPublisher>(ring.snapshot_at(std::time(nullptr)));
    server::ServerOptions so;
    server::Endpoint v4;
    server::Endpoint::parse("127.0.0.1", &v4);
    so.listen = {v4};
    so.port = 0;
    so.workers = 1;
    so.pin_workers = false;
    so.keys = keys.get();
    std::string error;
    ntp = server::Server::start(so, state, real_clock, &error);
    EXPECT_TRUE(ntp) << error;
    ke::KeOptions ko = testing::loopback_options(pki);
    ko.ntp_port = ntp ? ntp->port() : 0;
    ko.rate_limit.per_second = 0;  // tests reconnect quickly
    ke = ke::KeServer::start(ko, *keys, &error);
    EXPECT_TRUE(ke) << error;
  }
  ~Upstream() {
    if (ke) ke->stop();
    if (ntp) ntp->stop();
  }
  RealClock real_clock;
  server::ServerStateCell state{server::local_reference_state()};
  std::unique_ptr<crypto::KeyPublisher> keys;
  std::unique_ptr<server::Server> ntp;
  std::unique_ptr<ke::KeServer> ke;
};

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::test_tmpdir() + "/client_test_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::string error;
    ASSERT_TRUE(testing::make_test_pki(dir_ + "/pki", testing::KeyKind::kEcdsaP256, pki_, &error))
        << error;
  }

  // Client options from ntp.conf text (the real parser), logging into log_.
  ClientOptions options(const std::string& conf) {
    const auto parsed = config::parse_config_text(conf, "test.conf");
    EXPECT_TRUE(parsed.config) << (parsed.errors.empty() ? "" : parsed.errors[0]);
    std::string error;
    auto o = client_options_from_config(*parsed.config, dir_, std::time(nullptr), &error);
    EXPECT_TRUE(o) << error;
    o->log = [this](const std::string& line) {
      std::lock_guard lock(log_mutex_);
      log_ += line + "\n";
    };
    return *o;
  }

  // Waits (bounded) until `done` holds.
  static bool eventually(const std::function<bool()>& done, milliseconds limit = milliseconds(20000)) {
    const auto end = steady_clock::now() + limit;
    while (steady_clock::now() < end) {
      if (done()) return true;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return done();
  }

  std::string log() {
    std::lock_guard lock(log_mutex_);
    return log_;
  }

  std::string dir_;
  testing::TestPki pki_;
  RealClock clock_;
  std::mutex log_mutex_;
  std::string log_;
};

TEST_F(ClientTest, SynchronisesOverNtsAndPublishesStratumPlusOne) {
  Upstream up(pki_);
  ASSERT_TRUE(up.ke && up.ntp);
  server::ServerStateCell cell{server::local_reference_state()};
  std::string error;
  auto client = UpstreamClient::start(
      options("server 127.0.0.1:" + std::to_string(up.ke->port()) + " nts iburst\nnts ca " + pki_.ca_cert + "\n"),
      clock_, cell, &error);
  ASSERT_TRUE(client) << error;
  // Before anything is selected: leap 3, stratum 16 (RFC 5905's "no time").
  EXPECT_EQ(cell.load().leap, proto::Leap::kUnsynchronized);
  EXPECT_EQ(cell.load().stratum, 16);

  ASSERT_TRUE(eventually([&] { return client->system().sync == SyncStatus::kSynchronized; })) << log();
  const server::ServerState served = cell.load();
  EXPECT_EQ(served.stratum, 11);  // the upstream serves its local reference at stratum 10
  EXPECT_EQ(served.reference_id, 0x7f000001u);
  EXPECT_EQ(served.leap, proto::Leap::kNone);
  const auto sources = client->sources();
  ASSERT_EQ(sources.size(), 1u);
  EXPECT_EQ(sources[0].status, SourceStatus::kSystemPeer);
  EXPECT_EQ(sources[0].counters.unauthenticated, 0u);
  EXPECT_EQ(sources[0].counters.key_exchanges, 1u);
  EXPECT_LT(std::abs(sources[0].offset), 0.001);  // same host: the true offset is 0
  EXPECT_GE(up.ntp->totals().nts_replied, sources[0].counters.verified);
  // No backend given: a dry run, so the discipline only measures.
  const DisciplineReport d = client->discipline();
  EXPECT_TRUE(d.measure_only);
  EXPECT_EQ(d.steps, 0u);
  EXPECT_EQ(d.frequency_sets, 0u);
  client->stop();
}

TEST_F(ClientTest, RestartWithCookieFileNeedsNoKeyExchange) {
  Upstream up(pki_);
  ASSERT_TRUE(up.ke && up.ntp);
  const std::string conf = "server 127.0.0.1:" + std::to_string(up.ke->port()) + " nts iburst\nnts ca " +
                           pki_.ca_cert + "\nnts cookie " + dir_ + "/cookies\n";
  server::ServerStateCell cell{server::ServerState{}};
  std::string error;
  {
    auto client = UpstreamClient::start(options(conf), clock_, cell, &error);
    ASSERT_TRUE(client) << error;
    ASSERT_TRUE(eventually([&] { return client->system().sync == SyncStatus::kSynchronized; })) << log();
    client->stop();
  }
  const uint64_t handshakes = up.ke->counters().handshakes_ok;
  EXPECT_EQ(handshakes, 1u);
  ASSERT_TRUE(std::filesystem::exists(dir_ + "/cookies"));
  auto client = UpstreamClient::start(options(conf), clock_, cell, &error);
  ASSERT_TRUE(client) << error;
  ASSERT_TRUE(eventually([&] { return client->system().sync == SyncStatus::kSynchronized; })) << log();
  EXPECT_EQ(up.ke->counters().handshakes_ok, handshakes) << log();
  const auto sources = client->sources();
  EXPECT_EQ(sources[0].restored_sessions, 1u);
  EXPECT_EQ(sources[0].counters.key_exchanges, 0u);
  client->stop();
}

TEST_F(ClientTest, UnreachableAndUnresolvableUpstreamsNeverBlockStartUp) {
  server::ServerStateCell cell{server::local_reference_state()};
  std::string error;
  const auto before = steady_clock::now();
  // Port 1 refuses connections; .invalid never resolves (RFC 6761).
  auto client = UpstreamClient::start(options("server 127.0.0.1:1 nts iburst\nserver ntsd-test.invalid iburst\n"
                                              "nts ca " + pki_.ca_cert + "\n"),
                                      clock_, cell, &error);
  ASSERT_TRUE(client) << error;
  EXPECT_LT(steady_clock::now() - before, milliseconds(1000));
  EXPECT_EQ(cell.load().leap, proto::Leap::kUnsynchronized);
  ASSERT_TRUE(eventually([&] {
    const auto s = client->sources();
    return s.size() == 2 && s[0].state == SourceState::kKeBackoff && s[1].state == SourceState::kResolveBackoff;
  })) << log();
  EXPECT_NE(log().find("NTS-KE failed"), std::string::npos) << log();
  EXPECT_NE(log().find("cannot resolve ntsd-test.invalid"), std::string::npos) << log();
  const auto stop_start = steady_clock::now();
  client->stop();
  EXPECT_LT(steady_clock::now() - stop_start, milliseconds(6000));
  EXPECT_EQ(cell.load().stratum, 16);
}

TEST_F(ClientTest, PoolMobilisesMembersUpToMaxclock) {
  Upstream up(pki_);
  ASSERT_TRUE(up.ntp);
  server::ServerStateCell cell{server::ServerState{}};
  std::string error;
  // "localhost" resolves to 127.0.0.1 (and ::1 where it exists); plain NTP on
  // the upstream's port. maxclock 2 counts the pool line itself: one member.
  auto client = UpstreamClient::start(
      options("pool localhost:" + std::to_string(up.ntp->port()) + " iburst\ntos maxclock 2\n"), clock_, cell, &error);
  ASSERT_TRUE(client) << error;
  ASSERT_TRUE(eventually([&] { return client->system().sync == SyncStatus::kSynchronized; })) << log();
  const auto sources = client->sources();
  ASSERT_EQ(sources.size(), 1u) << log();
  EXPECT_EQ(sources[0].name, "127.0.0.1:" + std::to_string(up.ntp->port()));
  EXPECT_NE(log().find("pool member"), std::string::npos) << log();
  EXPECT_EQ(cell.load().stratum, 11);
  client->stop();
}

}  // namespace
}  // namespace ntsd::clock
