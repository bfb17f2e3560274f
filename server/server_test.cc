// The data plane end to end on loopback: real sockets, both I/O backends,
// the kernel's reuseport steering, a simulated clock for transmit stamps.
#include "server/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "clock/nts_codec.h"
#include "config/parser.h"
#include "crypto/key_ring.h"
#include "proto/ntp_packet.h"
#include "testing/nts_test_client.h"
#include "testing/udp_test_client.h"

namespace ntsd::server {
namespace {

constexpr int64_t kSimulatedNow = int64_t{1'900'000'000} * 1'000'000'000;

using Client = testing::UdpTestClient;

std::vector<uint8_t> client_request(uint64_t transmit) {
  std::vector<uint8_t> packet(48, 0);
  packet[0] = proto::li_vn_mode(proto::Leap::kNone, 4, proto::Mode::kClient);
  proto::store_timestamp(packet, proto::kOffsetTransmit, proto::NtpTimestamp{transmit});
  return packet;
}

class ServerTest : public ::testing::TestWithParam<IoBackend> {
 protected:
  std::unique_ptr<Server> start(int workers, crypto::KeyPublisher* keys = nullptr,
                                const char* restrict_lines = nullptr) {
    ServerOptions options;
    options.keys = keys;
    if (restrict_lines != nullptr) {
      const auto parsed = config::parse_config_text(restrict_lines, "test.conf");
      EXPECT_TRUE(parsed.config.has_value());
      options.access = std::make_shared<const AccessTable>(parsed.config->restricts);
      options.rate_limit = rate_limit_params(*parsed.config);
    }
    Endpoint v4, v6;
    Endpoint::parse("127.0.0.1", &v4);
    Endpoint::parse("::1", &v6);
    options.listen = {v4, v6};
    options.port = 0;
    options.workers = workers;
    options.backend = GetParam();
    std::string error;
    auto server = Server::start(options, state_, clock_, &error);
    EXPECT_NE(server, nullptr) << error;
    return server;
  }

  // Polls the counters until `done` holds; false after 20 s (a generous
  // deadline for sanitizer builds on a loaded machine, not a timing assumption).
  template <typename Predicate>
  bool wait_for(Server& server, Predicate done) {
    for (int i = 0; i < 2000; ++i) {
      if (done(server.totals())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  ServerStateCell state_{local_reference_state()};
  clock::SimulatedClock clock_{kSimulatedNow};
};

TEST_P(ServerTest, answers_a_client_request_on_loopback) {
  auto server = start(2);
  ASSERT_NE(server, nullptr);
  EXPECT_STREQ(server->backend_name(), GetParam() == IoBackend::kMmsg ? "mmsg" : "io_uring");
  EXPECT_NE(server->port(), 0);
  ASSERT_EQ(server->endpoints().size(), 2u);

  Client client;
  const uint64_t transmit = 0x0123'4567'89ab'cdefull;
  ASSERT_TRUE(client.send_to(server->port(), client_request(transmit)));
  const auto reply_bytes = client.receive();
  ASSERT_EQ(reply_bytes.size(), 48u);
  const auto reply = proto::parse_header(reply_bytes).value();
  EXPECT_EQ(reply.mode, proto::Mode::kServer);
  EXPECT_EQ(reply.stratum, 10);
  EXPECT_EQ(reply.origin_time.raw, transmit);
  // The receive stamp comes from the kernel (real time); the transmit stamp
  // from the injected clock.
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  EXPECT_LT(std::llabs(proto::unix_ns_from_ntp(reply.receive_time, now_ns) - now_ns), 5'000'000'000);
  EXPECT_EQ(reply.transmit_time, proto::ntp_from_unix_ns(kSimulatedNow));
  EXPECT_TRUE(wait_for(*server, [](const CounterTotals& t) { return t.replied == 1; }));
}

TEST_P(ServerTest, drops_and_counts_malformed_packets_and_keeps_serving) {
  auto server = start(1);
  ASSERT_NE(server, nullptr);
  Client client;
  ASSERT_TRUE(client.send_to(server->port(), {1, 2, 3}));                        // too short
  auto bad_mode = client_request(1);
  bad_mode[0] = proto::li_vn_mode(proto::Leap::kNone, 4, proto::Mode::kServer);
  ASSERT_TRUE(client.send_to(server->port(), bad_mode));                         // not a client
  auto bad_version = client_request(1);
  bad_version[0] = 0x3b;                                             // version 7
  ASSERT_TRUE(client.send_to(server->port(), bad_version));
  ASSERT_TRUE(client.send_to(server->port(), std::vector<uint8_t>(1472 + 100, 0x23)));  // oversized
  ASSERT_TRUE(client.send_to(server->port(), client_request(42)));
  const auto reply = client.receive();
  ASSERT_EQ(reply.size(), 48u);
  EXPECT_EQ(proto::parse_header(reply)->origin_time.raw, 42u);
  // A worker counts a datagram as received before it decides its fate.
  ASSERT_TRUE(wait_for(*server, [](const CounterTotals& t) {
    return t.received == 5 && t.replied + t.dropped_total() == 5;
  }));
  const CounterTotals totals = server->totals();
  EXPECT_EQ(totals.replied, 1u);
  EXPECT_EQ(totals.dropped[static_cast<size_t>(DropReason::kTooShort)], 1u);
  EXPECT_EQ(totals.dropped[static_cast<size_t>(DropReason::kNotClientMode)], 1u);
  EXPECT_EQ(totals.dropped[static_cast<size_t>(DropReason::kBadVersion)], 1u);
  EXPECT_EQ(totals.dropped[static_cast<size_t>(DropReason::kTruncated)], 1u);
}

// The reuseport program steers by source address: whatever source port a
// client uses, the same worker answers it, and the worker is predictable.
TEST_P(ServerTest, one_client_address_always_reaches_the_same_worker) {
  constexpr int kWorkers = 3;
  auto server = start(kWorkers);
  ASSERT_NE(server, nullptr);
  std::vector<uint64_t> expected(kWorkers, 0);
  int sent = 0;
  for (int host = 1; host <= 6; ++host) {
    const std::string address = "127.0.0." + std::to_string(host);
    const uint32_t word = ntohl(inet_addr(address.c_str()));
    for (int port = 0; port < 8; ++port) {  // a new socket = a new source port
      Client client(address.c_str());
      ASSERT_TRUE(client.send_to(server->port(), client_request(1000 + sent)));
      ASSERT_EQ(client.receive().size(), 48u);
      ++expected[steering_index(word, kWorkers)];
      ++sent;
    }
  }
  for (int w = 0; w < kWorkers; ++w) {
    EXPECT_EQ(server->worker_counters(w).received.get(), expected[w]) << "worker " << w;
  }
}

TEST_P(ServerTest, answers_a_burst_without_loss) {
  auto server = start(2);
  ASSERT_NE(server, nullptr);
  Client client;
  constexpr int kBurst = 2000;  // more than the buffer ring of one round
  int received = 0;
  for (int i = 0; i < kBurst; ++i) {
    ASSERT_TRUE(client.send_to(server->port(), client_request(i + 1)));
    if (i % 100 == 99) {  // stay under the socket queue limits
      while (received <= i && !client.receive(1000).empty()) ++received;
    }
  }
  while (received < kBurst && !client.receive(1000).empty()) ++received;
  EXPECT_EQ(received, kBurst);
}

// A flood larger than the receive buffer ring ends io_uring's multishot
// receive (ENOBUFS); the worker must re-arm it and keep answering.
TEST_P(ServerTest, keeps_serving_after_a_flood_that_exhausts_receive_buffers) {
  auto server = start(1);
  ASSERT_NE(server, nullptr);
  Client flooder;
  const std::vector<uint8_t> junk(200, 0x3b);  // version 7: dropped
  for (int i = 0; i < 20000; ++i) flooder.send_to(server->port(), junk);
  Client client;
  for (int attempt = 0; attempt < 5; ++attempt) {  // the flood may still be draining
    ASSERT_TRUE(client.send_to(server->port(), client_request(777)));
    const auto reply = client.receive(1000);
    if (!reply.empty()) {
      EXPECT_EQ(proto::parse_header(reply)->origin_time.raw, 777u);
      return;
    }
  }
  FAIL() << "no reply after the flood; counters: " << server->totals().to_line();
}

// NTS through the real data plane: an authenticated reply with a fresh
// cookie, and a NAK for a tampered cookie, both counted.
TEST_P(ServerTest, answers_nts_requests_and_naks_bad_cookies) {
  const std::vector<uint8_t> seed(32, 9);
  crypto::KeyRing ring(seed);
  crypto::KeyPublisher keys(ring.snapshot_at(kSimulatedNow / 1'000'000'000));
  auto server = start(2, &keys);
  ASSERT_NE(server, nullptr);
  const auto session = testing::sealed_session(keys.load()->current(), 21);
  const std::vector<uint8_t> uid(32, 0x77);
  Client client;
  clock::RequestRecord record;
  ASSERT_TRUE(
      client.send_to(server->port(), testing::request_bytes(session, 4242, uid, 0, &record)));
  const auto reply = client.receive();
  ASSERT_FALSE(reply.empty());
  // Verified (our UID echoed, authenticator under S2C) with exactly one fresh cookie.
  const auto cookies = testing::verified_cookies(session, record, reply);
  ASSERT_TRUE(cookies);
  EXPECT_EQ(cookies->size(), 1u);

  const auto bad = testing::with_tampered_cookie(session, 40, 4);
  ASSERT_TRUE(client.send_to(server->port(), testing::request_bytes(bad, 4343, uid)));
  const auto nak = client.receive();
  ASSERT_GE(nak.size(), 48u);
  EXPECT_EQ(proto::parse_header(nak)->reference_id, proto::refid_from_ascii("NTSN"));
  ASSERT_TRUE(wait_for(*server, [](const CounterTotals& t) {
    return t.nts_replied == 1 && t.naks_total() == 1;
  }));
  EXPECT_EQ(server->totals().naks[static_cast<size_t>(NakReason::kTampered)], 1u);
  EXPECT_EQ(server->totals().cookie_key_age[static_cast<size_t>(KeyAge::kCurrent)], 1u);
}

// restrict: `ignore` drops; `limited kod` rate-limits per client address —
// one address sending from many source ports is one client, exactly, because
// the steering program sends it to one worker — and answers KoD RATE.
// Deterministic: after each request the test waits on the counters until the
// server has decided (replied or dropped), and only reads a reply when the
// counters say one was sent, so no receive timeout decides the outcome. The
// rate limiter sees kernel receive times, so the outcome must not depend on
// how fast the machine is: `discard minimum 60` refuses anything within a
// minute of the previous request, and once the KoD has filled the bucket a
// request is refused silently unless some gap exceeds 8 s (the bucket drains
// one second per second); back to back on loopback is milliseconds apart.
TEST_P(ServerTest, restrict_ignores_and_rate_limits_per_address_across_source_ports) {
  auto server = start(3, nullptr,
                      "restrict default kod limited\n"
                      "restrict 127.0.0.2 ignore\n"
                      "discard average 3 minimum 60\n");
  ASSERT_NE(server, nullptr);
  {
    Client ignored("127.0.0.2");
    ASSERT_TRUE(ignored.send_to(server->port(), client_request(1)));
    ASSERT_TRUE(wait_for(*server, [](const CounterTotals& t) {
      return t.dropped[static_cast<size_t>(DropReason::kRestricted)] == 1;
    }));
  }
  // 30 requests back to back, each from a new source port of 127.0.0.3.
  int served = 0, kissed = 0, silent = 0;
  for (int i = 0; i < 30; ++i) {
    const uint64_t handled = 1 + i + 1;  // the ignored request, then these
    const uint64_t replied_before = server->totals().replied;
    Client client("127.0.0.3");
    ASSERT_TRUE(client.send_to(server->port(), client_request(100 + i)));
    ASSERT_TRUE(wait_for(*server,
                         [&](const CounterTotals& t) {
                           return t.received == handled && t.replied + t.dropped_total() == handled;
                         }))
        << "request " << i << " not handled; counters: " << server->totals().to_line();
    if (server->totals().replied == replied_before) {
      ++silent;
      continue;
    }
    // Counted as replied just before the send: the datagram is on its way.
    const auto reply = client.receive(10'000);
    ASSERT_FALSE(reply.empty()) << "request " << i;
    EXPECT_EQ(proto::parse_header(reply)->origin_time.raw, 100u + i);
    if (proto::parse_header(reply)->stratum == 0) {
      EXPECT_EQ(proto::parse_header(reply)->reference_id, proto::refid_from_ascii("RATE"));
      ++kissed;
    } else {
      ++served;
    }
  }
  // Back to back is under `discard minimum`: only the first passes. Had
  // the table keyed on the source port, all 30 would have been served. The
  // second is refused with a KoD; the bucket is then full, so the rest are
  // refused silently (NTPsec's one KoD per head seconds).
  EXPECT_EQ(served, 1);
  EXPECT_EQ(kissed, 1);
  EXPECT_EQ(silent, 28);
  const CounterTotals totals = server->totals();
  EXPECT_EQ(totals.dropped[static_cast<size_t>(DropReason::kRestricted)], 1u);
  EXPECT_EQ(totals.kod_rate, static_cast<uint64_t>(kissed));
  EXPECT_EQ(totals.dropped[static_cast<size_t>(DropReason::kRateLimited)],
            static_cast<uint64_t>(silent));
}

// Every worker needs one of the key publisher's reader slots; more workers
// than slots would leave some without NTS, so the start fails, and says why.
TEST_P(ServerTest, more_workers_than_key_reader_slots_is_a_start_up_error) {
  const std::vector<uint8_t> seed(32, 4);
  crypto::KeyRing ring(seed);
  crypto::KeyPublisher keys(ring.snapshot_at(kSimulatedNow / 1'000'000'000));
  ServerOptions options;
  Endpoint v4;
  Endpoint::parse("127.0.0.1", &v4);
  options.listen = {v4};
  options.port = 0;
  options.backend = GetParam();
  options.keys = &keys;
  options.workers = static_cast<int>(crypto::SnapshotPublisherBase::kMaxReaders) + 1;
  std::string error;
  EXPECT_EQ(Server::start(options, state_, clock_, &error), nullptr);
  EXPECT_NE(error.find("257 workers, but NTS supports at most 256"), std::string::npos) << error;

  // Slots taken by other readers (e.g. NTS-KE threads) count too.
  std::vector<crypto::SnapshotPublisherBase::ReaderId> taken;
  for (size_t i = 0; i + 1 < crypto::SnapshotPublisherBase::kMaxReaders; ++i) {
    taken.push_back(keys.register_reader());
  }
  options.workers = 2;
  error.clear();
  EXPECT_EQ(Server::start(options, state_, clock_, &error), nullptr);
  EXPECT_NE(error.find("no free cookie-key reader slot"), std::string::npos) << error;
  for (auto id : taken) keys.unregister_reader(id);
  options.workers = 2;
  error.clear();
  auto server = Server::start(options, state_, clock_, &error);
  EXPECT_NE(server, nullptr) << error;
}

// A key rotation in the middle of a session: the client's cookie (sealed
// before) still opens (key age "previous"), no NAK, and the fresh cookie it
// gets back is sealed with the new key.
TEST_P(ServerTest, key_rotation_mid_session_causes_no_nak) {
  const std::vector<uint8_t> seed(32, 3);
  crypto::KeyRing ring(seed, 3600);
  const int64_t now = kSimulatedNow / 1'000'000'000;
  crypto::KeyPublisher keys(ring.snapshot_at(now));
  auto server = start(2, &keys);
  ASSERT_NE(server, nullptr);
  // As a client does: each request takes the jar's cookie, each reply puts a fresh one back.
  auto session = testing::sealed_session(keys.load()->current(), 31);
  const std::vector<uint8_t> uid(32, 0x31);
  Client client;
  for (int round = 0; round < 4; ++round) {
    if (round == 2) keys.publish(ring.snapshot_at(now + 3600, keys.load()));  // rotate
    clock::RequestRecord record;
    std::vector<uint8_t> request(clock::kMaxRequestLength);
    request.resize(clock::build_nts_request_with_placeholders(session, 500 + round, uid, 0,
                                                              request, record));
    ASSERT_FALSE(request.empty());
    ASSERT_TRUE(client.send_to(server->port(), request));
    const auto reply = client.receive();
    ASSERT_EQ(clock::verify_nts_reply(session, record, reply), clock::ReplyVerdict::kVerified)
        << "round " << round;
    ASSERT_EQ(session.jar.size(), 1u);
  }
  ASSERT_TRUE(wait_for(*server, [](const CounterTotals& t) { return t.nts_replied == 4; }));
  const CounterTotals totals = server->totals();
  EXPECT_EQ(totals.naks_total(), 0u);
  // Rounds 0, 1 and 3 used current-key cookies; round 2 the cookie sealed just
  // before the rotation.
  EXPECT_EQ(totals.cookie_key_age[static_cast<size_t>(KeyAge::kPrevious)], 1u);
  EXPECT_EQ(totals.cookie_key_age[static_cast<size_t>(KeyAge::kCurrent)], 3u);
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerTest, ::testing::Values(IoBackend::kUring, IoBackend::kMmsg),
                         [](const auto& info) {
                           return std::string(info.param == IoBackend::kUring ? "uring" : "mmsg");
                         });

}  // namespace
}  // namespace ntsd::server
