#include "ke/negotiate.h"

#include <gtest/gtest.h>

#include <cstring>

#include "crypto/cookie.h"
#include "crypto/key_ring.h"

namespace ntsd::ke {
namespace {

// A deterministic stand-in for the TLS exporter: key byte i = context[3] ^ context[4] * 0x40 ^ i.
bool fake_export(std::span<const uint8_t> ctx, std::span<uint8_t> out) {
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(ctx[3] ^ (ctx[4] * 0x40) ^ i);
  return true;
}

class NegotiateTest : public ::testing::Test {
 protected:
  NegotiateTest() : ring_(std::vector<uint8_t>(32, 7)), snap_(ring_.snapshot_at(1'800'000'000)) {
    policy_.aeads = usable_aeads({});
  }
  proto::KeRequest request(std::vector<uint16_t> aeads) {
    proto::KeRequest r;
    r.next_protocols = {0};
    r.aeads = std::move(aeads);
    return r;
  }
  crypto::KeyRing ring_;
  std::unique_ptr<const crypto::KeySnapshot> snap_;
  NegotiationPolicy policy_;
};

TEST_F(NegotiateTest, ExporterContextLayout) {
  EXPECT_EQ(exporter_context(15, 0), (std::array<uint8_t, 5>{0, 0, 0, 15, 0}));
  EXPECT_EQ(exporter_context(30, 1), (std::array<uint8_t, 5>{0, 0, 0, 30, 1}));
}

TEST_F(NegotiateTest, EightCookiesCarryTheExportedKeys) {
  const KeReply r = respond(request({15}), policy_, fake_export, *snap_, 0);
  ASSERT_EQ(r.outcome, KeOutcome::kCookies);
  EXPECT_EQ(r.aead, 15);
  proto::KeResponse parsed;
  ASSERT_EQ(proto::parse_ke_response(r.bytes, parsed), proto::KeResponseStatus::kOk);
  ASSERT_EQ(parsed.cookies.size(), 8u);
  EXPECT_EQ(r.bytes.size(), 6u + 6 + 8 * 108 + 4);
  uint8_t c2s[32], s2c[32];
  const auto c0 = exporter_context(15, 0), c1 = exporter_context(15, 1);
  fake_export(c0, c2s);
  fake_export(c1, s2c);
  for (const auto& cookie : parsed.cookies) {
    crypto::SessionKeys s;
    ASSERT_EQ(crypto::open_cookie(*snap_, cookie, s), crypto::CookieStatus::kOk);
    EXPECT_EQ(std::memcmp(s.c2s, c2s, 32), 0);
    EXPECT_EQ(std::memcmp(s.s2c, s2c, 32), 0);
  }
  // Record order: NPN, AEAD first, End of Message last.
  EXPECT_EQ(r.bytes[0], 0x80);
  EXPECT_EQ(r.bytes[1], 0x01);
  EXPECT_EQ(r.bytes[7], 0x04);
}

TEST_F(NegotiateTest, NoNtpv4GivesEmptyNextProtocol) {
  proto::KeRequest req = request({15});
  req.next_protocols = {0x1234};
  const KeReply r = respond(req, policy_, fake_export, *snap_, 0);
  EXPECT_EQ(r.outcome, KeOutcome::kNoCommonProtocol);
  EXPECT_EQ(r.bytes, (std::vector<uint8_t>{0x80, 0x01, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00}));
}

TEST_F(NegotiateTest, NoCommonAeadGivesEmptyAead) {
  const KeReply r = respond(request({99, 1}), policy_, fake_export, *snap_, 0);
  EXPECT_EQ(r.outcome, KeOutcome::kNoCommonAead);
  EXPECT_EQ(r.cookies, 0u);
}

TEST_F(NegotiateTest, ExporterFailureIsInternalError) {
  const Exporter broken = [](std::span<const uint8_t>, std::span<uint8_t>) { return false; };
  const KeReply r = respond(request({15}), policy_, broken, *snap_, 0);
  EXPECT_EQ(r.outcome, KeOutcome::kInternalError);
  EXPECT_EQ(r.bytes, error_reply(proto::kKeErrorInternal));
}

TEST_F(NegotiateTest, GcmSivNeedsRecord1024) {
  policy_.aeads = {30, 15};
  proto::KeRequest req = request({30, 15});
  EXPECT_EQ(choose_aead(req, policy_), 15);
  req.compliant_gcm_siv_export = true;
  EXPECT_EQ(choose_aead(req, policy_), 30);
  policy_.aeads = {15};
  EXPECT_EQ(choose_aead(req, policy_), 15);
}

TEST_F(NegotiateTest, PortRecordOnlyWhenNot123) {
  proto::KeResponse parsed;
  policy_.ntp_port = 123;
  ASSERT_EQ(proto::parse_ke_response(respond(request({15}), policy_, fake_export, *snap_, 0).bytes, parsed),
            proto::KeResponseStatus::kOk);
  EXPECT_EQ(parsed.port, -1);
  policy_.ntp_port = 11123;
  ASSERT_EQ(proto::parse_ke_response(respond(request({15}), policy_, fake_export, *snap_, 0).bytes, parsed),
            proto::KeResponseStatus::kOk);
  EXPECT_EQ(parsed.port, 11123);
}

TEST(ParseNtpServer, Forms) {
  NtpServerEntry e;
  ASSERT_TRUE(parse_ntp_server("ntp.example.net", e));
  EXPECT_EQ(e.host, "ntp.example.net");
  EXPECT_EQ(e.port, -1);
  ASSERT_TRUE(parse_ntp_server("192.0.2.1:1123", e));
  EXPECT_EQ(e.host, "192.0.2.1");
  EXPECT_EQ(e.port, 1123);
  ASSERT_TRUE(parse_ntp_server("[2001:db8::1]:123", e));
  EXPECT_EQ(e.host, "2001:db8::1");
  EXPECT_EQ(e.port, 123);
  ASSERT_TRUE(parse_ntp_server("2001:db8::2", e));
  EXPECT_EQ(e.host, "2001:db8::2");
  EXPECT_FALSE(parse_ntp_server("", e));
  EXPECT_FALSE(parse_ntp_server("host:", e));
  EXPECT_FALSE(parse_ntp_server("host:70000", e));
  EXPECT_FALSE(parse_ntp_server("[::1", e));
}

TEST(UsableAeads, FiltersAndKeepsOrder) {
  const auto all = usable_aeads({});
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all[0], 15);
  EXPECT_EQ(usable_aeads({17, 15, 99, 17}), (std::vector<uint16_t>{17, 15}));
}

}  // namespace
}  // namespace ntsd::ke
