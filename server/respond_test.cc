#include "server/respond.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "crypto/key_ring.h"
#include "proto/extension_field.h"
#include "proto/ntp_packet.h"
#include "testing/nts_test_client.h"

namespace ntsd::server {
namespace {

using proto::NtpTimestamp;

constexpr NtpTimestamp kRxTime{0xeb2a'5f10'8000'0000ull};
constexpr NtpTimestamp kClientTransmit{0x1122'3344'5566'7788ull};

// A minimal client request: LI=0, VN=version, mode 3, poll 6, random transmit.
std::vector<uint8_t> client_request(uint8_t version = 4, uint8_t mode = 3) {
  std::vector<uint8_t> packet(48, 0);
  packet[0] = static_cast<uint8_t>((version << 3) | mode);
  packet[2] = 6;     // poll
  packet[3] = 0x20;  // precision 32, as chrony sends
  proto::store_timestamp(packet, proto::kOffsetTransmit, kClientTransmit);
  return packet;
}

void append_field(std::vector<uint8_t>& packet, uint16_t type, size_t body_size) {
  std::vector<uint8_t> body(body_size, 0xab);
  std::vector<uint8_t> field(4 + proto::pad4(body_size));
  ASSERT_EQ(proto::write_extension_field(field, type, body), field.size());
  packet.insert(packet.end(), field.begin(), field.end());
}

Verdict answer(const std::vector<uint8_t>& request, std::vector<uint8_t>& out,
               const ServerState& state = local_reference_state()) {
  out.assign(request.size(), 0);
  return respond(request, kRxTime, state, out);
}

TEST(Respond, answers_client_request_with_server_mode_reply) {
  const auto request = client_request();
  std::vector<uint8_t> out;
  const Verdict verdict = answer(request, out);
  ASSERT_TRUE(verdict.is_reply());
  ASSERT_EQ(verdict.reply_size, 48u);
  const auto reply = proto::parse_header(out).value();
  EXPECT_EQ(reply.mode, proto::Mode::kServer);
  EXPECT_EQ(reply.version, 4);
  EXPECT_EQ(reply.leap, proto::Leap::kNone);
  EXPECT_EQ(reply.stratum, 10);
  EXPECT_EQ(reply.poll, 6);
  EXPECT_EQ(reply.reference_id, 0x7f7f0101u);
  EXPECT_EQ(reply.origin_time, kClientTransmit);
  EXPECT_EQ(reply.receive_time, kRxTime);
  EXPECT_EQ(reply.transmit_time, kRxTime);
  EXPECT_LE(reply.reference_time, kRxTime);
  EXPECT_NE(reply.reference_time.raw, 0u);
}

TEST(Respond, reports_the_published_state) {
  ServerState state;
  state.leap = proto::Leap::kInsert61;
  state.stratum = 2;
  state.precision = -23;
  state.reference_id = proto::refid_from_ascii("GPS\0");
  state.root_delay = proto::NtpShort{0x0000'0123};
  state.root_dispersion = proto::NtpShort{0x0000'0456};
  state.reference_time = NtpTimestamp{0xeb2a'5000'0000'0000ull};
  std::vector<uint8_t> out;
  ASSERT_TRUE(answer(client_request(), out, state).is_reply());
  const auto reply = proto::parse_header(out).value();
  EXPECT_EQ(reply.leap, proto::Leap::kInsert61);
  EXPECT_EQ(reply.stratum, 2);
  EXPECT_EQ(reply.precision, -23);
  EXPECT_EQ(reply.reference_id, state.reference_id);
  EXPECT_EQ(reply.root_delay.raw, 0x123u);
  EXPECT_EQ(reply.root_dispersion.raw, 0x456u);
  EXPECT_EQ(reply.reference_time, state.reference_time);
}

TEST(Respond, answers_v3_with_v3) {
  std::vector<uint8_t> out;
  ASSERT_TRUE(answer(client_request(3), out).is_reply());
  EXPECT_EQ(proto::parse_header(out)->version, 3);
}

TEST(Respond, stamp_transmit_overwrites_only_the_transmit_time) {
  std::vector<uint8_t> out;
  ASSERT_TRUE(answer(client_request(), out).is_reply());
  const std::vector<uint8_t> before = out;
  stamp_transmit(out, NtpTimestamp{0xeb2a'5f10'9000'0000ull});
  EXPECT_EQ(proto::parse_header(out)->transmit_time.raw, 0xeb2a'5f10'9000'0000ull);
  EXPECT_TRUE(std::equal(out.begin(), out.begin() + 40, before.begin()));
}

TEST(Respond, rejects_short_packets) {
  for (size_t size : {0u, 1u, 47u}) {
    auto request = client_request();
    request.resize(size);
    std::vector<uint8_t> out;
    const Verdict verdict = answer(request, out);
    EXPECT_FALSE(verdict.is_reply());
    EXPECT_EQ(verdict.reason, DropReason::kTooShort) << size;
  }
}

TEST(Respond, rejects_bad_versions) {
  for (uint8_t version : {0, 5, 6, 7}) {
    std::vector<uint8_t> out;
    EXPECT_EQ(answer(client_request(version), out).reason, DropReason::kBadVersion);
  }
}

TEST(Respond, rejects_every_mode_but_client) {
  for (uint8_t mode : {0, 1, 2, 4, 5, 6, 7}) {
    std::vector<uint8_t> out;
    EXPECT_EQ(answer(client_request(4, mode), out).reason, DropReason::kNotClientMode) << +mode;
  }
}

TEST(Respond, rejects_zero_transmit_timestamp) {
  auto request = client_request();
  proto::store_timestamp(request, proto::kOffsetTransmit, NtpTimestamp{0});
  std::vector<uint8_t> out;
  EXPECT_EQ(answer(request, out).reason, DropReason::kZeroTransmit);
}

TEST(Respond, rejects_malformed_extension_fields) {
  auto request = client_request();
  request.insert(request.end(), {0x12, 0x34, 0x00, 0x07, 1, 2, 3, 4});  // length 7: not a multiple of 4
  std::vector<uint8_t> out;
  EXPECT_EQ(answer(request, out).reason, DropReason::kMalformedExtensions);

  auto overrun = client_request();
  overrun.insert(overrun.end(), {0x12, 0x34, 0x00, 0x40, 1, 2, 3, 4});  // claims 64 bytes, has 8
  EXPECT_EQ(answer(overrun, out).reason, DropReason::kMalformedExtensions);

  auto stray = client_request(3);
  stray.insert(stray.end(), {1, 2, 3, 4, 5, 6, 7, 8});  // v3: 8 bytes is no MAC
  EXPECT_EQ(answer(stray, out).reason, DropReason::kMalformedExtensions);
}

TEST(Respond, answers_requests_with_a_legacy_mac_without_one) {
  for (size_t mac : {4u, 20u, 24u}) {
    for (uint8_t version : {3, 4}) {
      auto request = client_request(version);
      request.resize(48 + mac, 0x5a);
      request[48] = 0;  // key id 0x005a5a5a: not an extension-field shape for 20/24
      std::vector<uint8_t> out;
      const Verdict verdict = answer(request, out);
      ASSERT_TRUE(verdict.is_reply()) << mac << " v" << +version;
      EXPECT_EQ(verdict.reply_size, 48u);
    }
  }
}

TEST(Respond, answers_unknown_extension_fields_plainly) {
  auto request = client_request();
  append_field(request, 0x2005, 28);
  std::vector<uint8_t> out;
  const Verdict verdict = answer(request, out);
  ASSERT_TRUE(verdict.is_reply());
  EXPECT_EQ(verdict.reply_size, 48u);
}

TEST(Respond, drops_malformed_nts_fields_while_nts_is_off) {
  // chrony's request layout (../shared/WIRE-NOTES.md): UID 36, cookie 104, authenticator
  // 40 — here with an authenticator body that is not nonce/ciphertext shaped.
  auto request = client_request();
  append_field(request, proto::kEfUniqueIdentifier, 32);
  append_field(request, proto::kEfNtsCookie, 100);
  append_field(request, proto::kEfNtsAuthenticator, 36);
  ASSERT_EQ(request.size(), 228u);
  std::vector<uint8_t> out;
  EXPECT_EQ(answer(request, out).reason, DropReason::kNtsMalformed);
}

// No amplification, for every kind of reply: plain, NTS with 0..7
// placeholders for every AEAD and Unique Identifier length, NAKs (tampered,
// unknown and expired keys) and KoD RATE for plain and NTS requests. One
// batch, with reply buffers twice the request's size so that only the
// request path's own rules — not a request-sized buffer — keep each reply no
// larger than its request; and each kind must actually occur, so the test
// cannot pass by dropping everything.
TEST(Respond, reply_is_never_larger_than_the_request) {
  constexpr int64_t kNow = 1'900'000'000;
  crypto::KeyRing ring(std::vector<uint8_t>(32, 9));
  const auto keys = ring.snapshot_at(kNow);
  const auto expired = ring.snapshot_at(kNow - 30 * 86400);
  const auto future = ring.snapshot_at(kNow + 300 * 86400);

  std::vector<std::vector<uint8_t>> requests;
  std::vector<bool> kiss;
  for (size_t extra = 0; extra <= 64; extra += 4) {  // plain, with an unknown field
    auto request = client_request();
    if (extra >= 4) append_field(request, 0x2005, extra - 4);
    requests.push_back(request);
    kiss.push_back(extra == 8);
  }
  uint32_t seed = 1;
  for (const auto aead : {crypto::AeadId::kAesSivCmac256, crypto::AeadId::kAesSivCmac384,
                          crypto::AeadId::kAesSivCmac512, crypto::AeadId::kAes128GcmSiv}) {
    for (size_t uid_length : {32u, 64u}) {
      const std::vector<uint8_t> uid(uid_length, 0x5c);
      for (size_t placeholders = 0; placeholders <= 7; ++placeholders) {
        const auto session = testing::sealed_session(keys->current(), seed++, aead);
        requests.push_back(testing::request_bytes(session, 100 + seed, uid, placeholders));
        kiss.push_back(placeholders == 3);  // KoD RATE for an NTS request
        const auto tampered = testing::with_tampered_cookie(session, 33, 0x04);
        requests.push_back(testing::request_bytes(tampered, 200 + seed, uid, placeholders));
        kiss.push_back(false);
      }
      const auto old = testing::sealed_session(expired->current(), seed++, aead);
      requests.push_back(testing::request_bytes(old, 300 + seed, uid, 2));
      kiss.push_back(false);
      const auto unknown = testing::sealed_session(future->current(), seed++, aead);
      requests.push_back(testing::request_bytes(unknown, 400 + seed, uid, 0));
      kiss.push_back(false);
    }
  }

  size_t kinds[4] = {};
  BatchResponder responder;
  for (size_t base = 0; base < requests.size(); base += kMaxBatch) {
    const size_t n = std::min(kMaxBatch, requests.size() - base);
    std::vector<Request> in;
    std::vector<std::vector<uint8_t>> buffers;
    std::vector<Reply> replies;
    for (size_t i = base; i < base + n; ++i) {
      ASSERT_FALSE(requests[i].empty()) << i;
      in.push_back({requests[i], kRxTime, false, kiss[i]});
      buffers.emplace_back(2 * requests[i].size(), 0);
    }
    for (auto& b : buffers) replies.push_back({b, {}});
    responder.prepare(in, local_reference_state(), NtsPolicy{keys.get(), false}, replies);
    responder.finish(kRxTime, replies);
    for (size_t i = 0; i < n; ++i) {
      const Verdict& v = replies[i].verdict;
      ASSERT_TRUE(v.is_reply()) << base + i << ": " << drop_reason_name(v.reason);
      EXPECT_LE(v.reply_size, requests[base + i].size()) << base + i;
      ++kinds[static_cast<size_t>(v.kind)];
    }
  }
  EXPECT_GT(kinds[static_cast<size_t>(ReplyKind::kPlain)], 0u);
  EXPECT_GE(kinds[static_cast<size_t>(ReplyKind::kNts)], 4u * 2 * 7);
  EXPECT_GE(kinds[static_cast<size_t>(ReplyKind::kNak)], 4u * 2 * 10);
  EXPECT_GE(kinds[static_cast<size_t>(ReplyKind::kKissRate)], 1u + 4 * 2);
}

}  // namespace
}  // namespace ntsd::server
