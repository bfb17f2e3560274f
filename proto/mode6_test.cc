#include "proto/mode6.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ntsd::proto {
namespace {

// `ntpq -c rv 127.0.0.1` (NTPsec 1.2.2), as strace shows it: LI 3, VN 2, mode 6, READVAR, seq 1.
const std::vector<uint8_t> kNtpqRv = {0xd6, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};

std::vector<uint8_t> with_data(std::vector<uint8_t> header, const std::string& data, size_t pad_to = 4) {
  header[10] = static_cast<uint8_t>(data.size() >> 8);
  header[11] = static_cast<uint8_t>(data.size());
  header.insert(header.end(), data.begin(), data.end());
  while (header.size() % pad_to != 0) header.push_back(0);
  return header;
}

TEST(Mode6, parses_ntpq_readvar) {
  Mode6Request r;
  ASSERT_EQ(parse_mode6_request(kNtpqRv, &r), Mode6Parse::kOk);
  EXPECT_EQ(r.version, 2);
  EXPECT_EQ(r.opcode, static_cast<uint8_t>(Mode6Opcode::kReadVariables));
  EXPECT_EQ(r.sequence, 1);
  EXPECT_EQ(r.association, 0);
  EXPECT_TRUE(r.data.empty());
  EXPECT_EQ(r.size, 12u);
}

TEST(Mode6, parses_data_without_padding) {
  // `ntpq -c sysinfo` pads "peeradr,...,authdelay" (124 octets) to 136 with NULs; count excludes them.
  const std::string names =
      "peeradr,peermode,leap,stratum,precision,rootdelay,rootdisp,rootdist,refid,reftime,sys_jitter,"
      "clk_jitter,clk_wander,authdelay";
  const auto packet = with_data(kNtpqRv, names);
  ASSERT_EQ(packet.size(), 136u);
  Mode6Request r;
  ASSERT_EQ(parse_mode6_request(packet, &r), Mode6Parse::kOk);
  EXPECT_EQ(std::string(r.data.begin(), r.data.end()), names);
}

TEST(Mode6, parse_reject_too_short) {
  Mode6Request r;
  EXPECT_EQ(parse_mode6_request(std::span(kNtpqRv).first(11), &r), Mode6Parse::kTooShort);
  EXPECT_EQ(parse_mode6_request({}, &r), Mode6Parse::kTooShort);
}

TEST(Mode6, parse_reject_too_long) {
  std::vector<uint8_t> p = kNtpqRv;
  p.resize(kMode6MaxRequest + 1);
  Mode6Request r;
  EXPECT_EQ(parse_mode6_request(p, &r), Mode6Parse::kTooLong);
}

TEST(Mode6, parse_reject_not_mode6_and_bad_version) {
  Mode6Request r;
  auto p = kNtpqRv;
  p[0] = 0xe3;  // mode 3
  EXPECT_EQ(parse_mode6_request(p, &r), Mode6Parse::kNotMode6);
  p[0] = 0xc6;  // version 0
  EXPECT_EQ(parse_mode6_request(p, &r), Mode6Parse::kBadVersion);
  p[0] = 0xee;  // version 5
  EXPECT_EQ(parse_mode6_request(p, &r), Mode6Parse::kBadVersion);
}

TEST(Mode6, parse_reject_response) {
  // A reply must never be answered: two servers would bounce it forever.
  auto p = kNtpqRv;
  p[1] |= kMode6Response;
  Mode6Request r;
  EXPECT_EQ(parse_mode6_request(p, &r), Mode6Parse::kResponse);
}

TEST(Mode6, parse_reject_error_or_more_flag) {
  Mode6Request r;
  auto p = kNtpqRv;
  p[1] |= kMode6Error;
  EXPECT_EQ(parse_mode6_request(p, &r), Mode6Parse::kFlags);
  p = kNtpqRv;
  p[1] |= kMode6More;
  EXPECT_EQ(parse_mode6_request(p, &r), Mode6Parse::kFlags);
}

TEST(Mode6, parse_reject_nonzero_offset) {
  auto p = kNtpqRv;
  p[9] = 4;
  Mode6Request r;
  EXPECT_EQ(parse_mode6_request(p, &r), Mode6Parse::kOffset);
}

TEST(Mode6, parse_reject_count_beyond_datagram) {
  auto p = with_data(kNtpqRv, "stratum");  // 7 octets + 1 pad
  p[11] = 9;
  Mode6Request r;
  EXPECT_EQ(parse_mode6_request(p, &r), Mode6Parse::kCount);
  p.resize(kMode6MaxRequest);
  p[10] = static_cast<uint8_t>((kMode6MaxData + 1) >> 8);
  p[11] = static_cast<uint8_t>(kMode6MaxData + 1);
  EXPECT_EQ(parse_mode6_request(p, &r), Mode6Parse::kCount);
}

TEST(Mode6, fragments_are_padded_and_chained) {
  Mode6Request r;
  ASSERT_EQ(parse_mode6_request(kNtpqRv, &r), Mode6Parse::kOk);
  const std::string body(kMode6MaxData + 5, 'x');
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(body.data()), body.size());
  std::array<uint8_t, kMode6MaxFragment> out{};
  ASSERT_EQ(write_mode6_fragment(r, 0, 0x0600, bytes, 0, out), kMode6MaxFragment);
  EXPECT_EQ(out[0], 0x16);  // LI 0, the request's version 2, mode 6
  EXPECT_EQ(out[1], kMode6Response | kMode6More | 2);
  EXPECT_EQ(out[2] << 8 | out[3], 1);       // sequence echoed
  EXPECT_EQ(out[4] << 8 | out[5], 0x0600);  // status
  EXPECT_EQ(out[8] << 8 | out[9], 0);       // offset
  EXPECT_EQ(out[10] << 8 | out[11], static_cast<int>(kMode6MaxData));
  out.fill(0xee);
  ASSERT_EQ(write_mode6_fragment(r, 3, 0x0600, bytes, kMode6MaxData, out), 12u + 8u);
  EXPECT_EQ(out[0], 0xd6);
  EXPECT_EQ(out[1], kMode6Response | 2);  // last: no M
  EXPECT_EQ(out[8] << 8 | out[9], static_cast<int>(kMode6MaxData));
  EXPECT_EQ(out[11], 5);
  for (size_t i = 17; i < 20; ++i) EXPECT_EQ(out[i], 0) << i;  // zero padding to a multiple of 4
  EXPECT_EQ(mode6_reply_size(body.size()), kMode6MaxFragment + 20);
  EXPECT_EQ(mode6_reply_size(0), 12u);
}

TEST(Mode6, fragment_reject_small_buffer) {
  Mode6Request r;
  ASSERT_EQ(parse_mode6_request(kNtpqRv, &r), Mode6Parse::kOk);
  const uint8_t body[5] = {'a', 'b', 'c', 'd', 'e'};
  std::array<uint8_t, 19> out{};
  EXPECT_EQ(write_mode6_fragment(r, 0, 0, body, 0, out), 0u);
}

TEST(Mode6, error_response) {
  auto p = kNtpqRv;
  p[1] = 3;  // WRITEVAR
  p[7] = 9;  // association 9
  Mode6Request r;
  ASSERT_EQ(parse_mode6_request(p, &r), Mode6Parse::kOk);
  std::array<uint8_t, 12> out{};
  ASSERT_EQ(write_mode6_error(r, 0, Mode6Error::kProhibited, out), 12u);
  const std::array<uint8_t, 12> want = {0x16, 0xc3, 0x00, 0x01, 0x07, 0x00, 0x00, 0x09, 0, 0, 0, 0};
  EXPECT_EQ(out, want);
}

}  // namespace
}  // namespace ntsd::proto
