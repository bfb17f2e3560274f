#include "bench/reflector_lib.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <thread>
#include <vector>

#include "proto/byte_order.h"
#include "testing/udp_test_client.h"

namespace ntsd::bench {
namespace {

std::vector<uint8_t> client_request(uint8_t version, uint64_t transmit) {
  std::vector<uint8_t> request(48, 0);
  request[0] = static_cast<uint8_t>((version << 3) | 3);  // LI 0, client
  proto::store_be64(request.data() + 40, transmit);
  return request;
}

TEST(ReflectPacket, answers_with_mode_4_and_the_clients_transmit_as_origin) {
  const auto request = client_request(3, 0x1122334455667788);
  std::array<uint8_t, kReflectReplySize> reply;
  ASSERT_TRUE(reflect_packet(request, 0xaabbccdd00000001, reply));
  EXPECT_EQ(reply[0], (3 << 3) | 4);
  EXPECT_EQ(reply[1], 1);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(reply.data() + 12), 4), "REFL");
  EXPECT_EQ(proto::load_be64(reply.data() + 24), 0x1122334455667788u);
  EXPECT_EQ(proto::load_be64(reply.data() + 32), 0xaabbccdd00000001u);
  EXPECT_EQ(proto::load_be64(reply.data() + 40), 0xaabbccdd00000001u);
}

TEST(ReflectPacket, refuses_a_request_shorter_than_48_bytes) {
  const std::vector<uint8_t> request(47, 0x23);
  std::array<uint8_t, kReflectReplySize> reply;
  EXPECT_FALSE(reflect_packet(request, 1, reply));
}

class ReflectorTest : public ::testing::TestWithParam<server::IoBackend> {
 protected:
  std::unique_ptr<Reflector> open_on_free_port(bool echo = false) {
    ReflectorOptions options;
    options.port = 0;
    options.echo = echo;
    options.io = GetParam();
    std::string error;
    auto reflector = Reflector::open(options, &error);
    EXPECT_NE(reflector, nullptr) << error;
    return reflector;
  }
};

TEST_P(ReflectorTest, answers_requests_and_drops_short_and_truncated_datagrams) {
  auto reflector = open_on_free_port();
  ASSERT_NE(reflector, nullptr);
  EXPECT_NE(reflector->port(), 0);
  EXPECT_EQ(reflector->endpoint(), "127.0.0.1:" + std::to_string(reflector->port()));
  std::atomic<bool> stop{false};
  ReflectorCounts counts;
  std::thread serving([&] { counts = reflector->run(stop, 0); });

  testing::UdpTestClient client;
  const uint16_t port = reflector->port();
  const uint8_t versions[] = {4, 3, 4};
  for (uint64_t i = 0; i < 3; ++i) {
    const uint64_t transmit = 0x0123456789abcdef + i;
    ASSERT_TRUE(client.send_to(port, client_request(versions[i], transmit)));
    const std::vector<uint8_t> reply = client.receive();
    ASSERT_EQ(reply.size(), 48u);
    EXPECT_EQ(reply[0] & 7, 4);                   // mode 4
    EXPECT_EQ((reply[0] >> 3) & 7, versions[i]);  // the client's version
    EXPECT_EQ(reply[0] >> 6, 0);                  // LI 0
    EXPECT_EQ(reply[1], 1);
    EXPECT_EQ(proto::load_be64(reply.data() + 24), transmit);
  }
  // A 20-byte datagram and one longer than ntsd accepts get no answer: the
  // next reply is the one to the request sent after them.
  ASSERT_TRUE(client.send_to(port, std::vector<uint8_t>(20, 0x23)));
  std::vector<uint8_t> too_long = client_request(4, 1);
  too_long.resize(server::kMaxDatagram + 100);
  ASSERT_TRUE(client.send_to(port, too_long));
  ASSERT_TRUE(client.send_to(port, client_request(4, 0xfeedface)));
  const std::vector<uint8_t> reply = client.receive();
  ASSERT_EQ(reply.size(), 48u);
  EXPECT_EQ(proto::load_be64(reply.data() + 24), 0xfeedfaceu);

  stop.store(true);
  serving.join();
  EXPECT_EQ(counts.received, 6u);
  EXPECT_EQ(counts.replied, 4u);
  EXPECT_EQ(counts.dropped, 2u);
  EXPECT_EQ(counts.send_errors, 0u);
}

// --echo: a reply as long as its request, the request's bytes after the
// header copied; a bare 48-byte request still gets 48 bytes.
TEST_P(ReflectorTest, echo_answers_with_the_requests_length) {
  auto reflector = open_on_free_port(/*echo=*/true);
  ASSERT_NE(reflector, nullptr);
  std::atomic<bool> stop{false};
  ReflectorCounts counts;
  std::thread serving([&] { counts = reflector->run(stop, 0); });

  testing::UdpTestClient client;
  std::vector<uint8_t> request = client_request(4, 0x0badc0ffee);
  for (size_t i = 48; i < 232; ++i) request.push_back(static_cast<uint8_t>(i));
  ASSERT_TRUE(client.send_to(reflector->port(), request));
  std::vector<uint8_t> reply = client.receive();
  ASSERT_EQ(reply.size(), 232u);
  EXPECT_EQ(reply[0] & 7, 4);
  EXPECT_EQ(proto::load_be64(reply.data() + 24), 0x0badc0ffeeu);
  EXPECT_TRUE(std::equal(reply.begin() + 48, reply.end(), request.begin() + 48));

  ASSERT_TRUE(client.send_to(reflector->port(), client_request(4, 7)));
  reply = client.receive();
  ASSERT_EQ(reply.size(), 48u);
  EXPECT_EQ(proto::load_be64(reply.data() + 24), 7u);

  stop.store(true);
  serving.join();
  EXPECT_EQ(counts.replied, 2u);
}

TEST_P(ReflectorTest, stops_by_itself_after_the_given_seconds) {
  auto reflector = open_on_free_port();
  ASSERT_NE(reflector, nullptr);
  const std::atomic<bool> never{false};
  const auto start = std::chrono::steady_clock::now();
  const ReflectorCounts counts = reflector->run(never, 1);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, std::chrono::milliseconds(900));
  EXPECT_LT(elapsed, std::chrono::seconds(3));
  EXPECT_EQ(counts.received, 0u);
}

TEST(Reflector, reports_an_address_it_cannot_parse) {
  ReflectorOptions options;
  options.address = "localhost";
  std::string error;
  EXPECT_EQ(Reflector::open(options, &error), nullptr);
  EXPECT_NE(error.find("localhost"), std::string::npos) << error;
}

INSTANTIATE_TEST_SUITE_P(Backends, ReflectorTest,
                         ::testing::Values(server::IoBackend::kUring, server::IoBackend::kMmsg),
                         [](const ::testing::TestParamInfo<server::IoBackend>& info) {
                           return std::string(info.param == server::IoBackend::kUring ? "uring"
                                                                                      : "mmsg");
                         });

}  // namespace
}  // namespace ntsd::bench
