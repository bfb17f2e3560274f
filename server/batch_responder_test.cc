// The NTS request path with real crypto: requests built like chrony's and
// NTPsec's by the tree's NTS client codec (//clock:nts_codec), replies
// verified by it with the client's S2C key, fresh cookies opened with the
// server's keys.
#include "server/batch_responder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "crypto/key_ring.h"
#include "proto/extension_field.h"
#include "proto/ntp_packet.h"
#include "server/respond.h"
#include "testing/nts_test_client.h"

namespace ntsd::server {
namespace {

using clock::NtsSession;
using clock::RequestRecord;
using proto::NtpTimestamp;
using testing::request_bytes;
using testing::verified_cookies;
using testing::with_tampered_cookie;

NtsSession make_session(const crypto::MasterKey& key, uint32_t seed,
                        crypto::AeadId aead = crypto::AeadId::kAesSivCmac256) {
  return testing::sealed_session(key, seed, aead);
}

constexpr int64_t kNow = 1'900'000'000;
constexpr NtpTimestamp kRx{0xeb2a'5f10'8000'0000ull};
constexpr NtpTimestamp kTx{0xeb2a'5f10'9000'0000ull};

std::vector<uint8_t> seed(uint8_t fill) { return std::vector<uint8_t>(32, fill); }

class NtsRespond : public ::testing::Test {
 protected:
  crypto::KeyRing ring_{seed(7)};
  std::unique_ptr<const crypto::KeySnapshot> keys_ = ring_.snapshot_at(kNow);
  ServerState state_ = local_reference_state();
  std::vector<uint8_t> uid_ = std::vector<uint8_t>(32, 0x42);

  Verdict answer(const std::vector<uint8_t>& request, std::vector<uint8_t>& out,
                 bool require_nts = false) {
    out.assign(request.size(), 0);
    const Verdict verdict = respond(request, kRx, state_, out, NtsPolicy{keys_.get(), require_nts}, kTx);
    if (verdict.is_reply()) out.resize(verdict.reply_size);
    return verdict;
  }
};

TEST_F(NtsRespond, answers_a_chrony_style_request_with_one_fresh_cookie) {
  const auto session = make_session(keys_->current(), 1);
  RequestRecord record;
  const auto request = request_bytes(session, 0x1111'2222'3333'4444ull, uid_, 0, &record);
  // chrony's layout (../shared/WIRE-NOTES.md): UID 36, cookie field, authenticator 40;
  // ntsd's cookies are 104 bytes (chrony's 100), so 232 bytes as with NTPsec.
  ASSERT_EQ(request.size(), 48u + 36 + 4 + 104 + 40);
  std::vector<uint8_t> reply;
  const Verdict verdict = answer(request, reply);
  ASSERT_TRUE(verdict.is_reply()) << drop_reason_name(verdict.reason);
  EXPECT_EQ(verdict.kind, ReplyKind::kNts);
  EXPECT_EQ(verdict.key_age, KeyAge::kCurrent);
  EXPECT_EQ(reply.size(), request.size());  // same size as the request, as chrony's server
  const auto header = proto::parse_header(reply).value();
  EXPECT_EQ(header.mode, proto::Mode::kServer);
  EXPECT_EQ(header.origin_time.raw, 0x1111'2222'3333'4444ull);
  EXPECT_EQ(header.transmit_time, kTx);
  // Verified: our UID echoed, authenticator under S2C, exactly one fresh cookie.
  const auto cookies = verified_cookies(session, record, reply);
  ASSERT_TRUE(cookies);
  ASSERT_EQ(cookies->size(), 1u);
  // The fresh cookie opens with the server's keys and carries the same session.
  crypto::SessionKeys opened;
  ASSERT_EQ(crypto::open_cookie(*keys_, (*cookies)[0], opened), crypto::CookieStatus::kOk);
  EXPECT_TRUE(std::ranges::equal(opened.c2s_key(), session.c2s_key.bytes()));
  EXPECT_TRUE(std::ranges::equal(opened.s2c_key(), session.s2c_key.bytes()));
  EXPECT_NE((*cookies)[0], session.jar.cookies()[0]);
}

TEST_F(NtsRespond, returns_one_cookie_per_cookie_and_placeholder) {
  const auto session = make_session(keys_->current(), 2);
  for (size_t placeholders : {1u, 3u, 7u}) {
    RequestRecord record;
    const auto request = request_bytes(session, 99, uid_, placeholders, &record);
    std::vector<uint8_t> reply;
    ASSERT_TRUE(answer(request, reply).is_reply());
    EXPECT_LE(reply.size(), request.size());
    const auto cookies = verified_cookies(session, record, reply);  // exactly one per cookie sent
    ASSERT_TRUE(cookies);
    EXPECT_EQ(cookies->size(), placeholders + 1);
  }
}

TEST_F(NtsRespond, serves_gcm_siv_sessions) {
  const auto session = make_session(keys_->current(), 3, crypto::AeadId::kAes128GcmSiv);
  RequestRecord record;
  const auto request = request_bytes(session, 5, uid_, 0, &record);
  std::vector<uint8_t> reply;
  ASSERT_TRUE(answer(request, reply).is_reply());
  const auto cookies = verified_cookies(session, record, reply);
  ASSERT_TRUE(cookies);
  ASSERT_EQ(cookies->size(), 1u);
  EXPECT_EQ((*cookies)[0].size(), crypto::cookie_length(crypto::AeadId::kAes128GcmSiv));
}

TEST_F(NtsRespond, counts_cookies_by_the_age_of_their_key) {
  const auto yesterday = ring_.snapshot_at(kNow - 86400);
  const auto last_week = ring_.snapshot_at(kNow - 7 * 86400);
  std::vector<uint8_t> reply;
  auto v = answer(request_bytes(make_session(yesterday->current(), 4), 1, uid_), reply);
  ASSERT_TRUE(v.is_reply());
  EXPECT_EQ(v.key_age, KeyAge::kPrevious);
  v = answer(request_bytes(make_session(last_week->current(), 5), 1, uid_), reply);
  ASSERT_TRUE(v.is_reply());
  EXPECT_EQ(v.key_age, KeyAge::kOlder);
}

// An unopenable cookie gets an NTS NAK: KoD NTSN, the UID echoed, no authenticator.
TEST_F(NtsRespond, naks_unopenable_cookies_by_reason) {
  const auto expired = ring_.snapshot_at(kNow - 30 * 86400);
  const auto future = ring_.snapshot_at(kNow + 300 * 86400);
  crypto::KeyRing other_ring(seed(8));
  const auto other = other_ring.snapshot_at(kNow);
  const auto tampered = with_tampered_cookie(make_session(keys_->current(), 6), 30, 1);
  const struct {
    NtsSession session;
    NakReason reason;
  } cases[] = {
      {make_session(expired->current(), 7), NakReason::kExpiredKey},
      {make_session(future->current(), 8), NakReason::kUnknownKey},
      {make_session(other->current(), 9), NakReason::kTampered},
      {tampered, NakReason::kTampered},
  };
  for (const auto& c : cases) {
    const auto request = request_bytes(c.session, 77, uid_);
    std::vector<uint8_t> reply;
    const Verdict verdict = answer(request, reply);
    ASSERT_TRUE(verdict.is_reply());
    EXPECT_EQ(verdict.kind, ReplyKind::kNak);
    EXPECT_EQ(verdict.nak, c.reason) << nak_reason_name(c.reason);
    const auto header = proto::parse_header(reply).value();
    EXPECT_EQ(header.stratum, 0);
    EXPECT_EQ(header.reference_id, proto::refid_from_ascii("NTSN"));
    EXPECT_EQ(header.origin_time.raw, 77u);
    const auto fields = proto::parse_extension_fields(reply);
    ASSERT_EQ(fields.count, 1u);
    EXPECT_EQ(fields.fields[0].type, proto::kEfUniqueIdentifier);
    EXPECT_TRUE(std::equal(uid_.begin(), uid_.end(), fields.fields[0].body.begin()));
  }
}

// RFC 8915 §5.7: unable to authenticate the request -> NTS NAK, with the
// (as received) Unique Identifier and neither cookie nor authenticator.
TEST_F(NtsRespond, naks_a_request_whose_authenticator_does_not_verify) {
  const auto session = make_session(keys_->current(), 10);
  auto request = request_bytes(session, 1, uid_);
  for (size_t byte : {size_t{1}, size_t{60}, request.size() - 1}) {  // header, UID, tag
    auto tampered = request;
    tampered[byte] ^= 0x01;
    std::vector<uint8_t> reply;
    const Verdict v = answer(tampered, reply);
    ASSERT_TRUE(v.is_reply()) << byte;
    EXPECT_EQ(v.kind, ReplyKind::kNak) << byte;
    EXPECT_EQ(v.nak, NakReason::kBadAuthenticator) << byte;
    ASSERT_LE(v.reply_size, tampered.size());
    EXPECT_EQ(reply[1], 0) << "stratum 0: a kiss";
    EXPECT_EQ(std::memcmp(reply.data() + 12, "NTSN", 4), 0);
    const auto fields = proto::parse_extension_fields(std::span<const uint8_t>(reply).first(v.reply_size));
    ASSERT_EQ(fields.count, 1u) << byte;
    EXPECT_EQ(fields.fields[0].type, proto::kEfUniqueIdentifier);
    EXPECT_TRUE(std::equal(fields.fields[0].body.begin(), fields.fields[0].body.end(), tampered.begin() + 52))
        << "the UID as received";
  }
}

TEST_F(NtsRespond, drops_malformed_nts_shapes) {
  const auto session = make_session(keys_->current(), 11);
  const auto good = request_bytes(session, 1, uid_);
  const auto cookie = session.jar.cookies().at(0);
  std::vector<uint8_t> reply;
  // A second cookie field appended after the authenticator: not last, two cookies.
  auto two_cookies = good;
  std::vector<uint8_t> field(4 + cookie.size());
  proto::write_extension_field(field, proto::kEfNtsCookie, cookie);
  two_cookies.insert(two_cookies.begin() + 48 + 36, field.begin(), field.end());
  EXPECT_EQ(answer(two_cookies, reply).reason, DropReason::kNtsMalformed);
  // A short Unique Identifier.
  const std::vector<uint8_t> short_uid(16, 1);
  EXPECT_EQ(answer(request_bytes(session, 1, short_uid), reply).reason, DropReason::kNtsMalformed);
  // No authenticator at all.
  auto no_auth = good;
  no_auth.resize(48 + 36 + 4 + cookie.size());
  EXPECT_EQ(answer(no_auth, reply).reason, DropReason::kNtsMalformed);
}

TEST_F(NtsRespond, nts_require_drops_plain_requests_but_serves_nts) {
  std::vector<uint8_t> plain(48, 0);
  plain[0] = 0x23;
  plain[47] = 1;
  std::vector<uint8_t> reply;
  EXPECT_EQ(answer(plain, reply, true).reason, DropReason::kNtsRequired);
  EXPECT_TRUE(answer(plain, reply, false).is_reply());
  EXPECT_TRUE(answer(request_bytes(make_session(keys_->current(), 12), 1, uid_), reply, true)
                  .is_reply());
}

TEST_F(NtsRespond, drops_nts_when_no_keys_are_loaded) {
  const auto request = request_bytes(make_session(keys_->current(), 13), 1, uid_);
  std::vector<uint8_t> out(request.size());
  EXPECT_EQ(respond(request, kRx, state_, out).reason, DropReason::kNtsNotAvailable);
}

// Keys fail closed: while the current master key is not valid (its
// derivation failed), no fresh cookie can be sealed, so NTS requests are
// dropped and counted — never answered with a cookie under a zero key.
TEST_F(NtsRespond, drops_nts_requests_while_the_sealing_key_is_invalid) {
  crypto::KeySnapshot broken(keys_->current_epoch(), keys_->retention_epochs(),
                             keys_->slot_count());
  for (int64_t e = keys_->current_epoch() - keys_->retention_epochs();
       e <= keys_->current_epoch() + 1; ++e) {
    broken.mutable_slot(e) = *keys_->at_epoch(e);
  }
  broken.mutable_slot(keys_->current_epoch()).valid = false;
  const auto yesterday = ring_.snapshot_at(kNow - 86400);
  const auto request = request_bytes(make_session(yesterday->current(), 14), 1, uid_);
  std::vector<uint8_t> out(request.size());
  const Verdict v = respond(request, kRx, state_, out, NtsPolicy{&broken, false}, kTx);
  EXPECT_FALSE(v.is_reply());
  EXPECT_EQ(v.reason, DropReason::kNtsNoSealKey);
  // Plain requests are still served.
  std::vector<uint8_t> plain(48, 0);
  plain[0] = 0x23;
  plain[47] = 1;
  EXPECT_TRUE(respond(plain, kRx, state_, out, NtsPolicy{&broken, false}, kTx).is_reply());
}

// A batch mixing plain, NTS, NAK and malformed requests answers each correctly.
TEST_F(NtsRespond, batch_of_mixed_requests) {
  BatchResponder responder;
  std::vector<NtsSession> sessions;
  std::vector<RequestRecord> records(40);
  std::vector<std::vector<uint8_t>> requests;
  for (int i = 0; i < 40; ++i) {
    sessions.push_back(make_session(keys_->current(), 100 + i));
    if (i % 4 == 1) sessions.back() = with_tampered_cookie(sessions.back(), 25, 0x80);  // NAK
    if (i % 4 == 2) {
      requests.push_back(std::vector<uint8_t>(48, 0));
      requests.back()[0] = 0x23;
      requests.back()[47] = static_cast<uint8_t>(i + 1);
      continue;
    }
    requests.push_back(request_bytes(sessions.back(), 1000 + i, uid_, i % 3, &records[i]));
    if (i % 4 == 3) requests.back()[requests.back().size() - 3] ^= 1;  // bad authenticator
  }
  std::vector<Request> in;
  std::vector<std::vector<uint8_t>> buffers;
  std::vector<Reply> replies;
  for (const auto& r : requests) {
    in.push_back({r, kRx});
    buffers.emplace_back(r.size());
  }
  for (auto& b : buffers) replies.push_back({b, {}});
  responder.prepare(in, state_, NtsPolicy{keys_.get(), false}, replies);
  responder.finish(kTx, replies);
  for (int i = 0; i < 40; ++i) {
    const Verdict& v = replies[i].verdict;
    switch (i % 4) {
      case 0: {
        ASSERT_TRUE(v.is_reply()) << i;
        EXPECT_EQ(v.kind, ReplyKind::kNts);
        const auto cookies = verified_cookies(
            sessions[i], records[i], std::span<const uint8_t>(buffers[i]).first(v.reply_size));
        ASSERT_TRUE(cookies) << i;
        EXPECT_EQ(cookies->size(), static_cast<size_t>(i % 3 + 1)) << i;
        break;
      }
      case 1: EXPECT_EQ(v.kind, ReplyKind::kNak) << i; break;
      case 2: EXPECT_EQ(v.kind, ReplyKind::kPlain) << i; break;
      case 3:
        EXPECT_EQ(v.kind, ReplyKind::kNak) << i;
        EXPECT_EQ(v.nak, NakReason::kBadAuthenticator) << i;
        break;
    }
  }
}

}  // namespace
}  // namespace ntsd::server
