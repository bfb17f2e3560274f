#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "bench/delay_relay_lib.h"
#include "testing/udp_test_client.h"

namespace ntsd::bench {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kS = 1'000'000'000;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

TEST(DelayModel, uniform_draws_stay_within_delay_plus_minus_jitter_in_both_directions) {
  DelayModelOptions options;
  options.seed = 1;
  DelayModel model(options);
  for (RelayDirection direction : {RelayDirection::kToUpstream, RelayDirection::kToClient}) {
    std::vector<double> ms;
    for (int i = 0; i < 10000; ++i) {
      const int64_t d = model.draw_ns(direction, i * kMs);
      ASSERT_GE(d, 4 * kMs);
      ASSERT_LE(d, 6 * kMs);
      ms.push_back(static_cast<double>(d) / kMs);
    }
    EXPECT_NEAR(mean(ms), 5.0, 0.05);
  }
}

TEST(DelayModel, normal_draws_have_the_configured_spread_and_are_never_negative) {
  DelayModelOptions options;
  options.distribution = DelayDistribution::kNormal;
  options.delay_ms = 5;
  options.jitter_ms = 1;
  options.seed = 2;
  DelayModel model(options);
  std::vector<double> ms;
  for (int i = 0; i < 20000; ++i) {
    ms.push_back(static_cast<double>(model.draw_ns(RelayDirection::kToClient, 0)) / kMs);
  }
  const double m = mean(ms);
  double var = 0;
  for (double x : ms) var += (x - m) * (x - m);
  EXPECT_NEAR(m, 5.0, 0.05);
  EXPECT_NEAR(std::sqrt(var / static_cast<double>(ms.size())), 1.0, 0.05);

  options.delay_ms = 0;  // half the draws would be negative
  DelayModel clamped(options);
  for (int i = 0; i < 1000; ++i) ASSERT_GE(clamped.draw_ns(RelayDirection::kToUpstream, 0), 0);
}

TEST(DelayModel, burst_adds_delay_to_one_direction_only_inside_its_window) {
  DelayModelOptions options;
  options.burst_start_s = 10;
  options.burst_seconds = 5;
  options.burst_extra_ms = 20;
  options.burst_direction = RelayDirection::kToClient;
  options.seed = 3;
  DelayModel model(options);
  EXPECT_FALSE(model.in_burst(9 * kS));
  EXPECT_TRUE(model.in_burst(10 * kS));
  EXPECT_TRUE(model.in_burst(15 * kS - 1));
  EXPECT_FALSE(model.in_burst(15 * kS));
  std::vector<double> burst_down;
  for (int i = 0; i < 5000; ++i) {
    // Before and after the window, and the other direction inside it: the plain 5 ± 1 ms.
    for (int64_t t : {int64_t{9} * kS, int64_t{15} * kS}) {
      ASSERT_LE(model.draw_ns(RelayDirection::kToClient, t), 6 * kMs);
    }
    ASSERT_LE(model.draw_ns(RelayDirection::kToUpstream, 12 * kS), 6 * kMs);
    const int64_t d = model.draw_ns(RelayDirection::kToClient, 12 * kS);
    ASSERT_GE(d, 4 * kMs);
    ASSERT_LE(d, 46 * kMs);  // 5 + 1 + 2 * 20
    burst_down.push_back(static_cast<double>(d) / kMs);
  }
  EXPECT_NEAR(mean(burst_down), 25.0, 0.6);  // 5 + mean extra 20
}

TEST(DelayQueue, pops_in_due_order_with_ties_in_arrival_order_and_drops_when_full) {
  DelayQueue queue(4);
  const sockaddr_storage client{};
  auto push = [&](int64_t due, uint8_t tag) {
    const uint8_t payload[] = {tag};
    return queue.push(due, RelayDirection::kToUpstream, client, sizeof(sockaddr_in), payload);
  };
  ASSERT_TRUE(push(30, 'a'));
  ASSERT_TRUE(push(10, 'b'));
  ASSERT_TRUE(push(30, 'c'));
  ASSERT_TRUE(push(20, 'd'));
  EXPECT_FALSE(push(5, 'e'));  // full: dropped, not queued
  EXPECT_EQ(queue.size(), 4u);
  EXPECT_EQ(queue.next_due_ns(), 10);
  std::string order;
  int64_t last_due = 0;
  while (!queue.empty()) {
    const QueuedDatagram d = queue.pop();
    EXPECT_GE(d.due_ns, last_due);
    last_due = d.due_ns;
    order += static_cast<char>(d.payload.at(0));
  }
  EXPECT_EQ(order, "bdac");
  EXPECT_TRUE(push(1, 'f'));  // room again
}

// A UDP echo server that notes when each datagram arrived and when its echo
// left (steady clock, like the test's), keyed by the datagram's first 8 bytes.
class EchoServer {
 public:
  EchoServer() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~EchoServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }
  // (arrival, echo sent) of the datagram tagged `id`; false if never seen.
  bool times(uint64_t id, int64_t* arrived, int64_t* echoed) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = seen_.find(id);
    if (it == seen_.end()) return false;
    *arrived = it->second.first;
    *echoed = it->second.second;
    return true;
  }

 private:
  void serve() {
    std::vector<uint8_t> buf(2048);
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      sockaddr_storage from{};
      socklen_t from_len = sizeof from;
      const ssize_t n =
          recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      const int64_t arrived = now_ns();
      if (n < 8) continue;
      uint64_t id;
      std::memcpy(&id, buf.data(), 8);
      const int64_t echoed = now_ns();
      sendto(fd_, buf.data(), static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from),
             from_len);
      std::lock_guard<std::mutex> lock(mutex_);
      seen_[id] = {arrived, echoed};
    }
  }
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::map<uint64_t, std::pair<int64_t, int64_t>> seen_;
};

std::vector<uint8_t> tagged(uint64_t id, size_t size = 48) {
  std::vector<uint8_t> d(size, 0x23);
  std::memcpy(d.data(), &id, 8);
  return d;
}

uint64_t tag_of(const std::vector<uint8_t>& d) {
  uint64_t id = 0;
  if (d.size() >= 8) std::memcpy(&id, d.data(), 8);
  return id;
}

struct RunningRelay {
  explicit RunningRelay(const DelayRelayOptions& options) {
    std::string error;
    relay = DelayRelay::open(options, &error);
    EXPECT_NE(relay, nullptr) << error;
    if (relay) thread = std::thread([this] { counts = relay->run(stop, 30); });
  }
  ~RunningRelay() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
  std::unique_ptr<DelayRelay> relay;
  std::atomic<bool> stop{false};
  std::thread thread;
  DelayRelayCounts counts;
};

TEST(DelayRelayLoopback, delays_each_datagram_and_returns_replies_to_the_client_that_asked) {
  EchoServer echo;
  DelayRelayOptions options;
  options.upstream_port = echo.port();
  options.delay.delay_ms = 20;
  options.delay.jitter_ms = 2;
  RunningRelay running(options);
  ASSERT_NE(running.relay, nullptr);
  EXPECT_EQ(running.relay->endpoint(), "127.0.0.1:" + std::to_string(running.relay->port()));
  EXPECT_EQ(running.relay->upstream(), "127.0.0.1:" + std::to_string(echo.port()));

  // Two clients (two source ports) with requests in flight at the same time.
  testing::UdpTestClient a, b;
  for (uint64_t round = 0; round < 5; ++round) {
    const uint64_t id_a = 100 + round, id_b = 200 + round;
    const int64_t sent = now_ns();
    ASSERT_TRUE(a.send_to(running.relay->port(), tagged(id_a)));
    ASSERT_TRUE(b.send_to(running.relay->port(), tagged(id_b, 60)));
    const std::vector<uint8_t> reply_a = a.receive();
    const std::vector<uint8_t> reply_b = b.receive();
    const double rtt_ms = static_cast<double>(now_ns() - sent) / kMs;
    ASSERT_EQ(reply_a.size(), 48u);
    ASSERT_EQ(reply_b.size(), 60u);
    EXPECT_EQ(tag_of(reply_a), id_a);
    EXPECT_EQ(tag_of(reply_b), id_b);
    // Each leg 18..22 ms; generous above for a loaded machine.
    EXPECT_GE(rtt_ms, 36.0);
    EXPECT_LT(rtt_ms, 150.0);
    int64_t arrived, echoed;
    ASSERT_TRUE(echo.times(id_a, &arrived, &echoed));
    EXPECT_GE(static_cast<double>(arrived - sent) / kMs, 18.0);
  }
  running.stop = true;
  running.thread.join();
  EXPECT_EQ(running.counts.clients, 2u);
  EXPECT_EQ(running.counts.from_clients, 10u);
  EXPECT_EQ(running.counts.sent_upstream, 10u);
  EXPECT_EQ(running.counts.from_upstream, 10u);
  EXPECT_EQ(running.counts.sent_to_clients, 10u);
  EXPECT_EQ(running.counts.send_errors, 0u);
  EXPECT_EQ(running.counts.burst_delayed, 0u);
}

class DelayRelayBurst : public ::testing::TestWithParam<RelayDirection> {};

TEST_P(DelayRelayBurst, the_burst_delays_only_its_direction) {
  EchoServer echo;
  DelayRelayOptions options;
  options.upstream_port = echo.port();
  options.delay.delay_ms = 5;
  options.delay.jitter_ms = 0.5;
  options.delay.burst_start_s = 0;
  options.delay.burst_seconds = 60;
  options.delay.burst_extra_ms = 20;  // extra uniform in [0, 40] ms, mean 20
  options.delay.burst_direction = GetParam();
  RunningRelay running(options);
  ASSERT_NE(running.relay, nullptr);
  testing::UdpTestClient client;
  std::vector<double> up_ms, down_ms;
  for (uint64_t id = 1; id <= 20; ++id) {
    const int64_t sent = now_ns();
    ASSERT_TRUE(client.send_to(running.relay->port(), tagged(id)));
    const std::vector<uint8_t> reply = client.receive();
    const int64_t received = now_ns();
    ASSERT_EQ(tag_of(reply), id);
    int64_t arrived, echoed;
    ASSERT_TRUE(echo.times(id, &arrived, &echoed));
    up_ms.push_back(static_cast<double>(arrived - sent) / kMs);
    down_ms.push_back(static_cast<double>(received - echoed) / kMs);
  }
  const bool down = GetParam() == RelayDirection::kToClient;
  const std::vector<double>& plain = down ? up_ms : down_ms;
  const std::vector<double>& burst = down ? down_ms : up_ms;
  for (double ms : plain) EXPECT_GE(ms, 4.5);
  for (double ms : burst) EXPECT_GE(ms, 4.5);
  // Plain direction: 5 ± 0.5 ms, a few ms of slack for scheduling. Burst direction:
  // mean 25 ms; over 20 draws its mean is above 15 ms with overwhelming probability.
  EXPECT_LT(mean(plain), 9.0);
  EXPECT_GT(mean(burst), 15.0);
  EXPECT_GT(mean(burst) - mean(plain), 8.0);
  running.stop = true;
  running.thread.join();
  EXPECT_EQ(running.counts.burst_delayed, 20u);
}

INSTANTIATE_TEST_SUITE_P(Directions, DelayRelayBurst,
                         ::testing::Values(RelayDirection::kToClient, RelayDirection::kToUpstream),
                         [](const ::testing::TestParamInfo<RelayDirection>& info) {
                           return std::string(info.param == RelayDirection::kToClient
                                                  ? "to_client"
                                                  : "to_upstream");
                         });

TEST(DelayRelayLoopback, sends_in_due_order_and_drops_when_the_queue_is_full) {
  EchoServer echo;
  DelayRelayOptions options;
  options.upstream_port = echo.port();
  options.delay.delay_ms = 50;
  options.delay.jitter_ms = 0;
  options.queue_capacity = 3;
  RunningRelay running(options);
  ASSERT_NE(running.relay, nullptr);
  testing::UdpTestClient client;
  for (uint64_t id = 1; id <= 5; ++id)
    ASSERT_TRUE(client.send_to(running.relay->port(), tagged(id)));
  // Same delay for each: they leave in arrival order; the 4th and 5th found the queue full.
  for (uint64_t id = 1; id <= 3; ++id) EXPECT_EQ(tag_of(client.receive()), id);
  EXPECT_TRUE(client.receive(300).empty());
  running.stop = true;
  running.thread.join();
  EXPECT_EQ(running.counts.dropped_queue_full, 2u);
  EXPECT_EQ(running.counts.sent_to_clients, 3u);
}

TEST(DelayRelayLoopback, stops_by_itself_after_the_given_seconds) {
  DelayRelayOptions options;
  options.upstream_port = 9;  // never used
  std::string error;
  auto relay = DelayRelay::open(options, &error);
  ASSERT_NE(relay, nullptr) << error;
  const std::atomic<bool> never{false};
  const int64_t start = now_ns();
  relay->run(never, 0.5);
  const double elapsed_s = static_cast<double>(now_ns() - start) / kS;
  EXPECT_GE(elapsed_s, 0.45);
  EXPECT_LT(elapsed_s, 2.0);
}

TEST(DelayRelay, refuses_a_name_or_a_zero_upstream_port) {
  std::string error;
  DelayRelayOptions options;
  options.upstream_address = "localhost";
  EXPECT_EQ(DelayRelay::open(options, &error), nullptr);
  EXPECT_NE(error.find("localhost"), std::string::npos) << error;
  options.upstream_address = "127.0.0.1";
  options.upstream_port = 0;
  EXPECT_EQ(DelayRelay::open(options, &error), nullptr);
}

}  // namespace
}  // namespace ntsd::bench
