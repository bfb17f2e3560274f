#include "clock/exchange.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>

#include "proto/ntp_packet.h"
#include "proto/ntp_time.h"

namespace ntsd::clock {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kT1 = 1'790'000'000 * kSec;  // 2026

// A server `ahead_ns` ahead of the host, `one_way_ns` each way, holding the request `hold_ns`.
struct Exchange {
  int64_t ahead_ns = 500'000'000, one_way_ns = 10'000'000, hold_ns = 1'000'000;
  proto::NtpHeader h{};
  std::array<uint8_t, 48> bytes{};
  int64_t t4 = 0;
  Exchange() {
    h.leap = proto::Leap::kNone;
    h.version = 4;
    h.mode = proto::Mode::kServer;
    h.stratum = 2;
    h.precision = -20;
    h.root_delay = proto::ntp_short_from_ns(20'000'000);
    h.root_dispersion = proto::ntp_short_from_ns(5'000'000);
    h.reference_id = 0x7f000001;
  }
  std::span<const uint8_t> build() {
    const int64_t t2 = kT1 + one_way_ns + ahead_ns;
    const int64_t t3 = t2 + hold_ns;
    t4 = kT1 + 2 * one_way_ns + hold_ns;
    h.receive_time = proto::ntp_from_unix_ns(t2);
    h.transmit_time = proto::ntp_from_unix_ns(t3);
    h.reference_time = proto::ntp_from_unix_ns(kT1 - 64 * kSec);
    proto::write_header(h, bytes);
    return bytes;
  }
};

TEST(Exchange, OffsetDelayDispersionAndHeader) {
  Exchange x;
  const auto reply = x.build();
  const ExchangeResult r = sample_from_reply(reply, kT1, x.t4, 1e-7);
  ASSERT_EQ(r.reject, SampleReject::kNone);
  EXPECT_NEAR(r.sample.offset, 0.5, 1e-8);
  EXPECT_NEAR(r.sample.delay, 0.020, 1e-8);
  EXPECT_NEAR(r.sample.dispersion, std::ldexp(1.0, -20) + 1e-7 + 15e-6 * 0.021, 1e-9);
  EXPECT_EQ(r.sample.time_ns, x.t4);
  EXPECT_EQ(r.sample.header.stratum, 2);
  EXPECT_EQ(r.sample.header.reference_id, 0x7f000001u);
  EXPECT_NEAR(r.sample.header.root_delay, 0.020, 1e-4);
  EXPECT_NEAR(r.sample.header.root_dispersion, 0.005, 1e-4);
  EXPECT_NEAR(static_cast<double>(r.sample.header.reference_time_ns - (kT1 - 64 * kSec)), 0, 2);
}

TEST(Exchange, HostAheadGivesNegativeOffset) {
  Exchange x;
  x.ahead_ns = -250'000'000;
  const auto reply = x.build();
  const ExchangeResult r = sample_from_reply(reply, kT1, x.t4, 1e-7);
  ASSERT_EQ(r.reject, SampleReject::kNone);
  EXPECT_NEAR(r.sample.offset, -0.25, 1e-8);
  EXPECT_NEAR(r.sample.delay, 0.020, 1e-8);
}

TEST(Exchange, RejectsWhatIsNoTime) {
  {
    Exchange x;
    x.h.stratum = 0;
    EXPECT_EQ(sample_from_reply(x.build(), kT1, x.t4, 1e-7).reject, SampleReject::kKissOfDeath);
  }
  {
    Exchange x;
    x.h.leap = proto::Leap::kUnsynchronized;
    EXPECT_EQ(sample_from_reply(x.build(), kT1, x.t4, 1e-7).reject, SampleReject::kUnsynchronized);
  }
  {
    Exchange x;
    x.h.stratum = 16;
    EXPECT_EQ(sample_from_reply(x.build(), kT1, x.t4, 1e-7).reject, SampleReject::kUnsynchronized);
  }
  {
    Exchange x;
    x.h.mode = proto::Mode::kClient;
    EXPECT_EQ(sample_from_reply(x.build(), kT1, x.t4, 1e-7).reject, SampleReject::kNotServerMode);
  }
  {
    Exchange x;
    x.h.root_dispersion = proto::ntp_short_from_ns(1'600'000'000);
    EXPECT_EQ(sample_from_reply(x.build(), kT1, x.t4, 1e-7).reject, SampleReject::kRootDistance);
  }
  {
    Exchange x;
    x.hold_ns = -5'000'000;  // T3 before T2
    EXPECT_EQ(sample_from_reply(x.build(), kT1, x.t4, 1e-7).reject, SampleReject::kServerTimeBackwards);
  }
  {
    Exchange x;
    const auto reply = x.build();
    // Arrived "before" the server's hold time had passed: impossible.
    EXPECT_EQ(sample_from_reply(reply, kT1, kT1 + 500'000, 1e-7).reject, SampleReject::kNegativeDelay);
  }
  {
    Exchange x;
    x.build();
    x.h.transmit_time = proto::NtpTimestamp{0};
    proto::write_header(x.h, x.bytes);
    EXPECT_EQ(sample_from_reply(x.bytes, kT1, x.t4, 1e-7).reject, SampleReject::kZeroTimestamps);
  }
  std::array<uint8_t, 47> short_reply{};
  EXPECT_EQ(sample_from_reply(short_reply, kT1, kT1, 1e-7).reject, SampleReject::kTooShort);
}

}  // namespace
}  // namespace ntsd::clock
