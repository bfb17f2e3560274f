#include "proto/ntp_packet.h"

#include <gtest/gtest.h>

#include <vector>

namespace ntsd::proto {
namespace {

// chrony 4.3 client request header (WIRE-NOTES §2): LI=0 VN=4 mode=3,
// stratum 0, poll 6, precision 32, only the transmit timestamp set.
std::vector<uint8_t> chrony_request_header() {
  std::vector<uint8_t> p(48, 0);
  p[0] = 0x23;
  p[2] = 6;
  p[3] = 0x20;
  const uint8_t tx[8] = {0x8f, 0x1e, 0x52, 0xa9, 0x3c, 0x77, 0x01, 0xfe};
  std::copy(std::begin(tx), std::end(tx), p.begin() + 40);
  return p;
}

TEST(NtpPacket, parses_chrony_request_header) {
  const auto p = chrony_request_header();
  const auto h = parse_header(p);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->leap, Leap::kNone);
  EXPECT_EQ(h->version, 4);
  EXPECT_EQ(h->mode, Mode::kClient);
  EXPECT_EQ(h->stratum, 0);
  EXPECT_EQ(h->poll, 6);
  EXPECT_EQ(h->precision, 32);
  EXPECT_EQ(h->root_delay.raw, 0u);
  EXPECT_EQ(h->reference_id, 0u);
  EXPECT_EQ(h->reference_time.raw, 0u);
  EXPECT_EQ(h->origin_time.raw, 0u);
  EXPECT_EQ(h->receive_time.raw, 0u);
  EXPECT_EQ(h->transmit_time.raw, 0x8f1e52a93c7701feu);
}

TEST(NtpPacket, parses_every_field_at_its_offset) {
  std::vector<uint8_t> p(48);
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(i + 1);
  p[0] = 0xe4;  // LI=3, VN=4, mode=4
  p[3] = 0xe6;  // precision -26
  const auto h = parse_header(p);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->leap, Leap::kUnsynchronized);
  EXPECT_EQ(h->version, 4);
  EXPECT_EQ(h->mode, Mode::kServer);
  EXPECT_EQ(h->stratum, 2);
  EXPECT_EQ(h->poll, 3);
  EXPECT_EQ(h->precision, -26);
  EXPECT_EQ(h->root_delay.raw, 0x05060708u);
  EXPECT_EQ(h->root_dispersion.raw, 0x090a0b0cu);
  EXPECT_EQ(h->reference_id, 0x0d0e0f10u);
  EXPECT_EQ(h->reference_time.raw, 0x1112131415161718u);
  EXPECT_EQ(h->origin_time.raw, 0x191a1b1c1d1e1f20u);
  EXPECT_EQ(h->receive_time.raw, 0x2122232425262728u);
  EXPECT_EQ(h->transmit_time.raw, 0x292a2b2c2d2e2f30u);
}

TEST(NtpPacket, parse_rejects_truncated) {
  std::vector<uint8_t> p(47, 0x23);
  EXPECT_FALSE(parse_header(p).has_value());
  EXPECT_FALSE(parse_header({}).has_value());
  EXPECT_FALSE(parse_header(std::span<const uint8_t>(p.data(), 1)).has_value());
}

TEST(NtpPacket, parses_exactly_48_and_ignores_the_rest) {
  auto p = chrony_request_header();
  EXPECT_TRUE(parse_header(p).has_value());
  p.resize(228, 0xaa);
  const auto h = parse_header(p);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->transmit_time.raw, 0x8f1e52a93c7701feu);
}

TEST(NtpPacket, write_round_trips_every_byte) {
  std::vector<uint8_t> p(48);
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(0x5a ^ (i * 37));
  for (int first = 0; first < 256; ++first) {
    p[0] = static_cast<uint8_t>(first);
    const auto h = parse_header(p);
    ASSERT_TRUE(h.has_value());
    std::vector<uint8_t> out(48, 0);
    write_header(*h, out);
    ASSERT_EQ(out, p) << first;
  }
}

TEST(NtpPacket, write_touches_exactly_48_bytes) {
  NtpHeader h{};
  h.leap = Leap::kNone;
  h.version = 4;
  h.mode = Mode::kServer;
  h.stratum = 3;
  h.poll = 6;
  h.precision = -26;
  h.reference_id = 0x7f7f0101;
  h.origin_time = NtpTimestamp{0x8f1e52a93c7701feu};
  std::vector<uint8_t> out(60, 0xcc);
  write_header(h, out);
  for (size_t i = 48; i < out.size(); ++i) EXPECT_EQ(out[i], 0xcc) << i;
  EXPECT_EQ(out[0], 0x24);
  EXPECT_EQ(out[1], 3);
  EXPECT_EQ(out[3], 0xe6);
  EXPECT_EQ(load_u32(out, kOffsetReferenceId), 0x7f7f0101u);
  EXPECT_EQ(load_timestamp(out, kOffsetOrigin).raw, 0x8f1e52a93c7701feu);
}

TEST(NtpPacket, write_masks_out_of_range_version) {
  NtpHeader h{};
  h.version = 0xfc;  // only the low 3 bits (4) reach the wire
  h.mode = Mode::kClient;
  std::vector<uint8_t> out(48);
  write_header(h, out);
  EXPECT_EQ(out[0], 0x23);
}

TEST(NtpPacket, field_helpers_patch_in_place) {
  auto p = chrony_request_header();
  p.resize(228, 0x11);
  store_timestamp(p, kOffsetReceive, NtpTimestamp{0x0102030405060708u});
  store_timestamp(p, kOffsetTransmit, NtpTimestamp{0xa1a2a3a4a5a6a7a8u});
  store_short(p, kOffsetRootDelay, NtpShort{0x00010002u});
  store_u32(p, kOffsetReferenceId, refid_from_ascii("NTSN"));
  EXPECT_EQ(p[32], 0x01);
  EXPECT_EQ(p[39], 0x08);
  EXPECT_EQ(p[40], 0xa1);
  EXPECT_EQ(p[47], 0xa8);
  EXPECT_EQ(p[48], 0x11);
  EXPECT_EQ(p[12], 'N');
  EXPECT_EQ(p[15], 'N');
  const auto h = parse_header(p);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->receive_time.raw, 0x0102030405060708u);
  EXPECT_EQ(h->transmit_time, load_timestamp(p, kOffsetTransmit));
  EXPECT_EQ(h->root_delay, load_short(p, kOffsetRootDelay));
  EXPECT_EQ(h->reference_id, refid_from_ascii("NTSN"));
}

TEST(NtpPacket, refid_from_ascii_is_big_endian) {
  static_assert(refid_from_ascii("RATE") == 0x52415445u);
  static_assert(refid_from_ascii("NTSN") == 0x4e54534eu);
  static_assert(refid_from_ascii("LOCL") == 0x4c4f434cu);
  static_assert(refid_from_ascii("\xff\x80\x01\x00") == 0xff800100u);
}

TEST(NtpPacket, li_vn_mode_packing) {
  static_assert(li_vn_mode(Leap::kNone, 4, Mode::kClient) == 0x23);
  static_assert(li_vn_mode(Leap::kUnsynchronized, 4, Mode::kServer) == 0xe4);
  static_assert(leap_of(0xe4) == Leap::kUnsynchronized);
  static_assert(version_of(0xe4) == 4);
  static_assert(mode_of(0xe4) == Mode::kServer);
  static_assert(kOffsetTransmit + 8 == kNtpHeaderSize);
}

}  // namespace
}  // namespace ntsd::proto
