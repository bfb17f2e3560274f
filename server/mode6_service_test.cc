#include "server/mode6_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "clock/clock.h"
#include "testing/udp_test_client.h"

namespace ntsd::server {
namespace {

using Client = testing::UdpTestClient;

// Counts collect() calls; serves a local reference.
class FakeSource final : public ops::StatusSource {
 public:
  explicit FakeSource(const Server& server) : server_(server) {}
  ops::DaemonStatus collect() const override {
    collects.fetch_add(1);
    ops::DaemonStatus s;
    s.build.version = "test";
    s.served = local_reference_state();
    s.server.total = server_.totals();
    return s;
  }
  mutable std::atomic<int> collects{0};

 private:
  const Server& server_;
};

std::vector<uint8_t> rv(uint16_t sequence, uint8_t opcode = 2) {
  return {0xd6, opcode, static_cast<uint8_t>(sequence >> 8), static_cast<uint8_t>(sequence), 0, 0, 0, 0, 0, 0,
          0, 0};
}

class Mode6ServiceTest : public ::testing::TestWithParam<IoBackend> {
 protected:
  std::unique_ptr<Server> start(bool mode6) {
    ServerOptions options;
    Endpoint v4;
    Endpoint::parse("127.0.0.1", &v4);
    options.listen = {v4};
    options.port = 0;
    options.workers = 2;
    options.backend = GetParam();
    options.mode6 = mode6;
    std::string error;
    auto server = Server::start(options, state_, clock_, &error);
    EXPECT_NE(server, nullptr) << error;
    return server;
  }
  ServerStateCell state_{local_reference_state()};
  clock::SimulatedClock clock_{1'700'000'000'000'000'000};
};

TEST_P(Mode6ServiceTest, answers_ntpq_on_the_request_socket) {
  auto server = start(true);
  FakeSource source(*server);
  auto service = Mode6Service::start(*server, source);
  ASSERT_NE(service, nullptr);
  Client client;
  for (uint16_t seq = 1; seq <= 5; ++seq) {
    ASSERT_TRUE(client.send_to(server->port(), rv(seq)));
    const auto reply = client.receive();
    ASSERT_GE(reply.size(), 12u) << "no reply to sequence " << seq;
    EXPECT_EQ(reply[1], 0x82);
    EXPECT_EQ(reply[3], seq);
    const std::string body(reply.begin() + 12, reply.begin() + 12 + (reply[10] << 8 | reply[11]));
    EXPECT_NE(body.find("version=\"ntsd test\""), std::string::npos) << body;
  }
  // A write is refused with an error status.
  ASSERT_TRUE(client.send_to(server->port(), rv(9, 3)));
  const auto refused = client.receive();
  ASSERT_EQ(refused.size(), 12u);
  EXPECT_EQ(refused[1], 0xc3);
  EXPECT_EQ(refused[4], 7);
  // Five reads in quick succession: one snapshot (at most ~1 s old) serves them.
  EXPECT_LE(source.collects.load(), 2);
  service->stop();
  const CounterTotals t = server->totals();
  EXPECT_EQ(t.mode6_queued, 6u);
  EXPECT_EQ(t.mode6_answered, 5u);
  EXPECT_EQ(t.mode6_refused, 1u);
  EXPECT_EQ(t.received, 6u);
}

TEST_P(Mode6ServiceTest, malformed_mode6_is_dropped_and_counted) {
  auto server = start(true);
  FakeSource source(*server);
  auto service = Mode6Service::start(*server, source);
  Client client;
  auto response = rv(1);
  response[1] |= 0x80;
  ASSERT_TRUE(client.send_to(server->port(), response));
  ASSERT_TRUE(client.send_to(server->port(), {0xd6, 0x02, 0, 1}));
  EXPECT_TRUE(client.receive(300).empty());
  for (int i = 0; i < 500 && server->totals().dropped[static_cast<size_t>(DropReason::kMode6Malformed)] < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server->totals().dropped[static_cast<size_t>(DropReason::kMode6Malformed)], 2u);
  EXPECT_EQ(server->totals().mode6_queued, 0u);
}

TEST_P(Mode6ServiceTest, without_mode6_the_workers_drop_it_as_before) {
  auto server = start(false);
  FakeSource source(*server);
  EXPECT_EQ(Mode6Service::start(*server, source), nullptr);
  Client client;
  ASSERT_TRUE(client.send_to(server->port(), rv(1)));
  EXPECT_TRUE(client.receive(300).empty());
  for (int i = 0; i < 500 && server->totals().dropped_total() < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server->totals().dropped[static_cast<size_t>(DropReason::kTooShort)], 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, Mode6ServiceTest, ::testing::Values(IoBackend::kMmsg, IoBackend::kUring));

}  // namespace
}  // namespace ntsd::server
