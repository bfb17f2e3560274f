#include "clock/system_state.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cmath>

#include "proto/ntp_time.h"

namespace ntsd::clock {
namespace {

constexpr int64_t kT0 = int64_t{1'750'000'000} * 1'000'000'000;
constexpr int64_t kSecond = 1'000'000'000;
constexpr int8_t kPrecision = -23;

SourceEstimate peer_estimate() {
  SourceEstimate e;
  e.valid = true;
  e.time_ns = kT0 - 30 * kSecond;
  e.updated_ns = kT0 - 100 * kSecond;
  e.offset = -0.003;
  e.delay = 0.020;
  e.dispersion = 0.004;
  e.jitter = 0.0002;
  e.header.stratum = 1;
  e.header.leap = proto::Leap::kNone;
  e.header.root_delay = 0.010;
  e.header.root_dispersion = 0.002;
  return e;
}

SystemEstimate synced(double jitter = 0.0003) {
  SystemEstimate s;
  s.synchronized = true;
  s.selected = 0;
  s.offset = -0.0028;
  s.jitter = jitter;
  s.survivors = 3;
  return s;
}

const SourceAddress kLoopback = SourceAddress::ipv4(0x7f000001);

TEST(SystemState, unsynchronized_before_the_first_synchronization) {
  SystemState st(kPrecision);
  server::ServerState s = st.state(kT0);
  EXPECT_EQ(s.leap, proto::Leap::kUnsynchronized);
  EXPECT_EQ(s.stratum, 16);
  EXPECT_EQ(s.precision, kPrecision);
  EXPECT_EQ(s.reference_id, proto::refid_from_ascii("INIT"));
  s = st.update(kT0, SystemEstimate{}, SourceEstimate{}, SourceAddress{}, proto::Leap::kNone);
  EXPECT_EQ(s.leap, proto::Leap::kUnsynchronized);
  EXPECT_EQ(s.stratum, 16);
  const SystemStatus status = st.status(kT0);
  EXPECT_EQ(status.sync, SyncStatus::kUnsynchronized);
  EXPECT_EQ(status.since_update, -1);
  EXPECT_EQ(status.reference_time_ns, 0);
}

TEST(SystemState, stratum_refid_leap_reference_time_and_precision) {
  SystemState st(kPrecision);
  const server::ServerState s = st.update(kT0, synced(), peer_estimate(), kLoopback);
  EXPECT_EQ(s.leap, proto::Leap::kNone);
  EXPECT_EQ(s.stratum, 2);
  EXPECT_EQ(s.reference_id, 0x7f000001u);
  EXPECT_EQ(s.precision, kPrecision);
  EXPECT_EQ(s.reference_time, proto::ntp_from_unix_ns(kT0 - 30 * kSecond));
  EXPECT_EQ(st.status(kT0).sync, SyncStatus::kSynchronized);

  SourceEstimate deeper = peer_estimate();
  deeper.header.stratum = 3;
  EXPECT_EQ(st.update(kT0, synced(), deeper, SourceAddress::ipv4(0xc0000201)).stratum, 4);
  EXPECT_EQ(st.state(kT0).reference_id, 0xc0000201u);
}

TEST(SystemState, stratum_capped_at_sixteen_is_unsynchronized) {
  SystemState st(kPrecision);
  SourceEstimate e = peer_estimate();
  e.header.stratum = 15;
  const server::ServerState s = st.update(kT0, synced(), e, kLoopback);
  EXPECT_EQ(s.stratum, 16);
  EXPECT_EQ(s.leap, proto::Leap::kUnsynchronized);
}

TEST(SystemState, ipv6_refid_is_the_first_four_bytes_of_md5) {
  // Known values: MD5(::1) = cf404dc8..., MD5(2001:db8::1) = 39ab9b37...
  std::array<uint8_t, 16> loopback6{};
  loopback6[15] = 1;
  EXPECT_EQ(reference_id_of(SourceAddress::ipv6_bytes(loopback6)), 0xcf404dc8u);
  std::array<uint8_t, 16> doc{0x20, 0x01, 0x0d, 0xb8};
  doc[15] = 1;
  EXPECT_EQ(reference_id_of(SourceAddress::ipv6_bytes(doc)), 0x39ab9b37u);

  SystemState st(kPrecision);
  EXPECT_EQ(st.update(kT0, synced(), peer_estimate(), SourceAddress::ipv6_bytes(doc)).reference_id,
            0x39ab9b37u);
}

TEST(SystemState, source_address_from_sockaddr) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(0x7f000001);
  auto a = source_address(reinterpret_cast<const sockaddr*>(&sin));
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(reference_id_of(*a), 0x7f000001u);

  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr);
  a = source_address(reinterpret_cast<const sockaddr*>(&sin6));
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->ipv6);
  EXPECT_EQ(reference_id_of(*a), 0x39ab9b37u);

  // An IPv4 server seen through a dual-stack socket keeps its IPv4 refid.
  inet_pton(AF_INET6, "::ffff:192.0.2.1", &sin6.sin6_addr);
  a = source_address(reinterpret_cast<const sockaddr*>(&sin6));
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(a->ipv6);
  EXPECT_EQ(reference_id_of(*a), 0xc0000201u);

  sockaddr unknown{};
  unknown.sa_family = AF_UNIX;
  EXPECT_FALSE(source_address(&unknown).has_value());
}

TEST(SystemState, root_delay_and_dispersion_arithmetic) {
  SystemState st(kPrecision);
  const SourceEstimate e = peer_estimate();
  const server::ServerState s = st.update(kT0, synced(0.0003), e, kLoopback);
  // Root delay: upstream 10 ms + our 20 ms.
  const double root_delay = 0.010 + 0.020;
  // Root dispersion: upstream 2 ms + system jitter 0.3 ms + (filter dispersion
  // 4 ms + PHI * 100 s since the filter ran + |peer offset| 3 ms).
  const double root_dispersion = 0.002 + 0.0003 + (0.004 + kPhi * 100 + 0.003);
  const SystemStatus status = st.status(kT0);
  EXPECT_NEAR(status.root_delay, root_delay, 1e-12);
  EXPECT_NEAR(status.root_dispersion, root_dispersion, 1e-12);
  EXPECT_EQ(s.root_delay.raw, static_cast<uint32_t>(std::ceil(root_delay * 65536)));
  EXPECT_EQ(s.root_dispersion.raw, static_cast<uint32_t>(std::ceil(root_dispersion * 65536)));
  EXPECT_DOUBLE_EQ(status.offset, -0.0028);
  EXPECT_DOUBLE_EQ(status.jitter, 0.0003);
  EXPECT_EQ(status.since_update, 0);

  // Between updates the served dispersion grows at PHI.
  EXPECT_NEAR(st.status(kT0 + 1000 * kSecond).root_dispersion, root_dispersion + 1000 * kPhi,
              1e-12);
  EXPECT_DOUBLE_EQ(st.status(kT0 + 1000 * kSecond).since_update, 1000);

  // The local terms are floored at MINDISP.
  SourceEstimate quiet = e;
  quiet.offset = 0;
  quiet.dispersion = 0;
  quiet.updated_ns = kT0;
  st.update(kT0, synced(0.0003), quiet, kLoopback);
  EXPECT_NEAR(st.status(kT0).root_dispersion, 0.002 + 0.0003 + kMinDispersion, 1e-12);
}

TEST(SystemState, leap_from_the_source_unless_the_leapfile_says_otherwise) {
  SystemState st(kPrecision);
  SourceEstimate e = peer_estimate();
  e.header.leap = proto::Leap::kInsert61;
  EXPECT_EQ(st.update(kT0, synced(), e, kLoopback).leap, proto::Leap::kInsert61);
  EXPECT_EQ(st.update(kT0, synced(), e, kLoopback, proto::Leap::kNone).leap, proto::Leap::kNone);
  EXPECT_EQ(st.update(kT0, synced(), e, kLoopback, proto::Leap::kDelete59).leap,
            proto::Leap::kDelete59);
  // An override of "unsynchronized" is no leapfile statement: ignored.
  EXPECT_EQ(st.update(kT0, synced(), e, kLoopback, proto::Leap::kUnsynchronized).leap,
            proto::Leap::kInsert61);
}

TEST(SystemState, holdover_until_root_distance_passes_maxdist) {
  SystemState st(kPrecision);
  st.update(kT0, synced(), peer_estimate(), kLoopback);
  const SystemStatus at_loss = st.status(kT0);
  const double d0 = at_loss.root_delay;
  const double r0 = at_loss.root_dispersion;
  const double limit_s = (kMaxDistance - d0 / 2 - r0) / kPhi;  // about 27.5 hours
  ASSERT_GT(limit_s, 90'000);

  // Sources lost: the next selections find nothing.
  const int64_t before = kT0 + static_cast<int64_t>(std::floor(limit_s) - 1) * kSecond;
  const int64_t after = kT0 + static_cast<int64_t>(std::ceil(limit_s) + 1) * kSecond;
  server::ServerState s = st.update(kT0 + 60 * kSecond, SystemEstimate{}, {}, {});
  EXPECT_EQ(s.stratum, 2);
  EXPECT_EQ(st.status(kT0 + 60 * kSecond).sync, SyncStatus::kHoldover);

  s = st.update(before, SystemEstimate{}, {}, {});
  EXPECT_EQ(s.leap, proto::Leap::kNone);
  EXPECT_EQ(s.stratum, 2);
  EXPECT_EQ(s.reference_id, 0x7f000001u);
  EXPECT_EQ(s.reference_time, proto::ntp_from_unix_ns(kT0 - 30 * kSecond));
  const SystemStatus held = st.status(before);
  EXPECT_EQ(held.sync, SyncStatus::kHoldover);
  EXPECT_NEAR(held.root_dispersion, r0 + kPhi * (static_cast<double>(before - kT0) * 1e-9), 1e-9);
  EXPECT_LE(held.root_delay / 2 + held.root_dispersion, kMaxDistance);

  s = st.update(after, SystemEstimate{}, {}, {});
  EXPECT_EQ(s.leap, proto::Leap::kUnsynchronized);
  EXPECT_EQ(s.stratum, 16);
  EXPECT_EQ(st.status(after).sync, SyncStatus::kUnsynchronized);
  // Expired holdover is not revived by asking about an earlier time.
  EXPECT_EQ(st.state(before).stratum, 16);

  // A new synchronization brings it back.
  SourceEstimate fresh = peer_estimate();
  fresh.time_ns = after;
  fresh.updated_ns = after;
  s = st.update(after, synced(), fresh, kLoopback);
  EXPECT_EQ(s.stratum, 2);
  EXPECT_EQ(s.leap, proto::Leap::kNone);
}

TEST(SystemState, holdover_honours_the_leapfile) {
  SystemState st(kPrecision);
  SourceEstimate e = peer_estimate();
  e.header.leap = proto::Leap::kInsert61;
  st.update(kT0, synced(), e, kLoopback);
  // The leap has passed; the leapfile says so while the sources are gone.
  const server::ServerState s =
      st.update(kT0 + 3600 * kSecond, SystemEstimate{}, {}, {}, proto::Leap::kNone);
  EXPECT_EQ(s.stratum, 2);
  EXPECT_EQ(s.leap, proto::Leap::kNone);
}

TEST(SystemState, a_system_peer_beyond_maxdist_is_not_served) {
  // The host clock is 2 s off and nothing steers it: no client would accept that.
  SystemState st(kPrecision);
  SourceEstimate e = peer_estimate();
  e.offset = 2.0;
  const server::ServerState s = st.update(kT0, synced(), e, kLoopback);
  EXPECT_EQ(s.leap, proto::Leap::kUnsynchronized);
  EXPECT_EQ(s.stratum, 16);
  EXPECT_EQ(st.status(kT0).sync, SyncStatus::kUnsynchronized);
  EXPECT_DOUBLE_EQ(st.status(kT0).offset, synced().offset);
}

}  // namespace
}  // namespace ntsd::clock
