#include "server/udp_socket.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace ntsd::server {
namespace {

TEST(Endpoint, parses_and_prints_both_families) {
  Endpoint v4, v6;
  ASSERT_TRUE(Endpoint::parse("127.0.0.1", &v4));
  ASSERT_TRUE(Endpoint::parse("::1", &v6));
  v4.set_port(123);
  v6.set_port(4460);
  EXPECT_EQ(v4.to_string(), "127.0.0.1:123");
  EXPECT_EQ(v6.to_string(), "[::1]:4460");
  Endpoint bad;
  EXPECT_FALSE(Endpoint::parse("localhost", &bad));
  EXPECT_FALSE(Endpoint::parse("300.1.1.1", &bad));
}

TEST(ReuseportSocket, group_shares_one_port_and_takes_the_steering_program) {
  Endpoint endpoint;
  ASSERT_TRUE(Endpoint::parse("127.0.0.1", &endpoint));
  endpoint.set_port(0);
  std::string error;
  const int first = open_reuseport_socket(endpoint, &error);
  ASSERT_GE(first, 0) << error;
  endpoint.set_port(bound_port(first));
  const int second = open_reuseport_socket(endpoint, &error);
  ASSERT_GE(second, 0) << error;
  EXPECT_EQ(bound_port(first), bound_port(second));
  EXPECT_TRUE(attach_source_address_steering(first, AF_INET, 2, &error)) << error;
  close(first);
  close(second);
}

TEST(ReuseportSocket, reports_a_bind_failure_with_the_address) {
  Endpoint endpoint;
  ASSERT_TRUE(Endpoint::parse("192.0.2.1", &endpoint));  // TEST-NET-1: not ours
  std::string error;
  EXPECT_LT(open_reuseport_socket(endpoint, &error), 0);
  EXPECT_NE(error.find("192.0.2.1"), std::string::npos) << error;
}

TEST(SteeringIndex, stays_in_range_and_spreads_addresses) {
  int hits[4] = {};
  for (uint32_t address = 0x0a000000; address < 0x0a000000 + 4000; ++address) {
    const uint32_t index = steering_index(address, 4);
    ASSERT_LT(index, 4u);
    ++hits[index];
  }
  for (int h : hits) EXPECT_GT(h, 700);
}

}  // namespace
}  // namespace ntsd::server
