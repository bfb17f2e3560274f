// The NTS client codec against ntsd's own server code: replies come from the
// real request path (//server:respond: respond() and BatchResponder); forged,
// truncated and mismatched replies must all fail; a session persisted as raw
// keys and cookies keeps working. NTS-KE: nts_ke_test.cc.
#include "clock/nts_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "crypto/cookie.h"
#include "crypto/key_ring.h"
#include "crypto/nts_crypto.h"
#include "proto/extension_field.h"
#include "proto/ntp_packet.h"
#include "server/batch_responder.h"
#include "server/respond.h"

namespace ntsd::clock {
namespace {

using proto::NtpTimestamp;

constexpr int64_t kNow = 1'900'000'000;
constexpr NtpTimestamp kRx{0xeb2a'5f10'8000'0000ull};
constexpr NtpTimestamp kTx{0xeb2a'5f10'9000'0000ull};
constexpr crypto::AeadId kSiv = crypto::AeadId::kAesSivCmac256;

std::vector<uint8_t> bytes(size_t n, uint8_t fill) { return std::vector<uint8_t>(n, fill); }

std::array<uint8_t, kUniqueIdLength> uid(uint8_t fill) {
  std::array<uint8_t, kUniqueIdLength> u;
  u.fill(fill);
  return u;
}

// Every cookie the jar holds, oldest first (empties the jar).
std::vector<std::vector<uint8_t>> drain(CookieJar& jar) {
  std::vector<std::vector<uint8_t>> out;
  std::array<uint8_t, kMaxCookieLength> buf;
  while (size_t n = jar.take(buf)) out.emplace_back(buf.begin(), buf.begin() + n);
  return out;
}

// A field list's fields of one type.
size_t count_fields(std::span<const uint8_t> packet, uint16_t type) {
  const auto fields = proto::parse_extension_fields(packet);
  size_t n = 0;
  for (size_t i = 0; i < fields.count; ++i) n += fields.fields[i].type == type;
  return n;
}

class NtsCodecTest : public ::testing::Test {
 protected:
  crypto::KeyRing ring_{bytes(32, 7)};
  std::unique_ptr<const crypto::KeySnapshot> keys_ = ring_.snapshot_at(kNow);
  server::ServerState state_ = server::local_reference_state();
  std::vector<uint8_t> c2s_ = bytes(32, 0xc2), s2c_ = bytes(32, 0x2c);

  // A session with `n` cookies sealed by `key` (the server's current key unless told otherwise).
  NtsSession session(size_t n, const crypto::MasterKey* key = nullptr) {
    return session_with_keys(n, c2s_, s2c_, key);
  }
  NtsSession session_with_keys(size_t n, const std::vector<uint8_t>& c2s,
                               const std::vector<uint8_t>& s2c,
                               const crypto::MasterKey* key = nullptr) {
    crypto::SessionKeys keys;
    EXPECT_TRUE(crypto::make_session_keys(kSiv, c2s, s2c, keys));
    std::vector<std::vector<uint8_t>> cookies;
    for (size_t i = 0; i < n; ++i) {
      cookies.emplace_back(crypto::cookie_length(kSiv));
      EXPECT_EQ(crypto::seal_cookie(key ? *key : keys_->current(), keys, cookies.back()),
                cookies.back().size());
    }
    return make_session(kSiv, c2s, s2c, cookies);
  }

  // One request from build_nts_request.
  std::vector<uint8_t> request(NtsSession& s, RequestRecord& record, size_t in_flight = 0,
                               uint64_t transmit = 0x1111'2222'3333'4444ull,
                               uint8_t uid_fill = 0x42) {
    std::vector<uint8_t> out(kMaxRequestLength);
    const size_t n = build_nts_request(s, transmit, uid(uid_fill), in_flight, out, record);
    out.resize(n);
    return out;
  }

  // The server's answer (empty if dropped).
  std::vector<uint8_t> answer(const std::vector<uint8_t>& req) {
    std::vector<uint8_t> out(req.size());
    const server::Verdict v =
        server::respond(req, kRx, state_, out, server::NtsPolicy{keys_.get(), false}, kTx);
    out.resize(v.is_reply() ? v.reply_size : 0);
    return out;
  }

  // A genuine exchange: session with `cookies` cookies, request, server reply.
  struct Exchange {
    NtsSession session;
    RequestRecord record;
    std::vector<uint8_t> request, reply;
  };
  Exchange exchange(size_t cookies = kJarCapacity, size_t in_flight = 0) {
    Exchange e{session(cookies), {}, {}, {}};
    e.request = request(e.session, e.record, in_flight);
    EXPECT_FALSE(e.request.empty());
    e.reply = answer(e.request);
    EXPECT_FALSE(e.reply.empty());
    return e;
  }

  // Re-seals a reply's authenticator with `key` over `plaintext` (AD and nonce kept): what an
  // attacker without the key does, or (with the real S2C key) a server that edits its own reply.
  static std::vector<uint8_t> reseal(const std::vector<uint8_t>& reply, crypto::Bytes key,
                                     std::span<const uint8_t> plaintext) {
    const auto fields = proto::parse_extension_fields(reply);
    const auto& last = fields.fields[fields.count - 1];
    const auto auth = proto::parse_nts_authenticator(last.body).value();
    const std::vector<uint8_t> nonce(auth.nonce.begin(), auth.nonce.end());
    std::vector<uint8_t> out(reply.begin(), reply.begin() + last.offset);
    std::vector<uint8_t> sealed(crypto::aead_sealed_length(plaintext.size()));
    const crypto::Bytes ad[] = {crypto::Bytes(out)};
    EXPECT_TRUE(crypto::make_aead(kSiv, key)->seal(ad, nonce, plaintext, sealed));
    std::vector<uint8_t> field(proto::nts_authenticator_field_size(nonce.size(), sealed.size()));
    proto::write_nts_authenticator(field, nonce, sealed);
    out.insert(out.end(), field.begin(), field.end());
    return out;
  }

  // The reply's plaintext, opened with the real S2C key.
  std::vector<uint8_t> plaintext_of(const std::vector<uint8_t>& reply) {
    const auto fields = proto::parse_extension_fields(reply);
    const auto& last = fields.fields[fields.count - 1];
    const auto auth = proto::parse_nts_authenticator(last.body).value();
    std::vector<uint8_t> plain(auth.ciphertext.size() - crypto::kAeadTagLength);
    const crypto::Bytes ad[] = {crypto::Bytes(reply).first(last.offset)};
    EXPECT_TRUE(crypto::make_aead(kSiv, s2c_)->open(ad, auth.nonce, auth.ciphertext, plain));
    return plain;
  }

  // Checks that a bad reply fails and leaves the jar exactly as it was.
  void expect_rejected(Exchange& e, std::span<const uint8_t> reply,
                       ReplyVerdict want = ReplyVerdict::kFailed,
                       CookieCount count = CookieCount::kExact) {
    const CookieJar before = e.session.jar;
    EXPECT_EQ(verify_nts_reply(e.session, e.record, reply, count), want);
    CookieJar a = before, b = e.session.jar;
    EXPECT_EQ(drain(a), drain(b));
  }
};

// ---- CookieJar ----

TEST(CookieJar, TakesOldestFirstAndDropsOldestWhenFull) {
  CookieJar jar;
  std::array<uint8_t, kMaxCookieLength> out;
  EXPECT_TRUE(jar.empty());
  EXPECT_EQ(jar.take(out), 0u);
  for (uint8_t i = 0; i < 10; ++i) EXPECT_TRUE(jar.add(bytes(100 + i, i)));
  EXPECT_EQ(jar.size(), kJarCapacity);
  for (uint8_t i = 2; i < 10; ++i) {  // 0 and 1 were dropped
    ASSERT_EQ(jar.take(out), 100u + i);
    EXPECT_EQ(out[0], i);
    EXPECT_EQ(out[99 + i], i);
  }
  EXPECT_TRUE(jar.empty());
  EXPECT_EQ(jar.take(out), 0u);
}

TEST(CookieJar, RefusesEmptyAndOversizedCookies) {
  CookieJar jar;
  EXPECT_FALSE(jar.add({}));
  EXPECT_FALSE(jar.add(bytes(kMaxCookieLength + 1, 1)));
  EXPECT_TRUE(jar.add(bytes(kMaxCookieLength, 1)));
  EXPECT_EQ(jar.size(), 1u);
}

TEST(CookieJar, InterleavedAddAndTakeWrapAround) {
  CookieJar jar;
  std::array<uint8_t, kMaxCookieLength> out;
  for (uint8_t i = 0; i < 30; ++i) {
    jar.add(bytes(8, i));
    jar.add(bytes(8, static_cast<uint8_t>(i + 100)));
    ASSERT_EQ(jar.take(out), 8u);
  }
  // 60 added, 30 taken; once full each add drops the oldest, so after the last
  // take the newest 7 remain, oldest first.
  const auto left = drain(jar);
  ASSERT_EQ(left.size(), kJarCapacity - 1);
  EXPECT_EQ(left.back(), bytes(8, 129));
  EXPECT_EQ(left.front(), bytes(8, 126));
}

// ---- requests ----

TEST_F(NtsCodecTest, SteadyStateRequestHasNoPlaceholdersAndChronysLayout) {
  auto s = session(kJarCapacity);
  RequestRecord record;
  const auto req = request(s, record);
  // header 48 ‖ UID 36 ‖ cookie 108 ‖ authenticator 40 (16-byte nonce, tag only)
  ASSERT_EQ(req.size(), 48u + 36 + 108 + 40);
  EXPECT_EQ(req[0], 0x23);  // LI 0, version 4, mode 3
  EXPECT_EQ(proto::load_timestamp(req, proto::kOffsetTransmit).raw, 0x1111'2222'3333'4444ull);
  EXPECT_EQ(record.transmit, 0x1111'2222'3333'4444ull);
  EXPECT_TRUE(std::ranges::equal(record.uid(), uid(0x42)));
  EXPECT_EQ(record.cookies_requested, 1);
  EXPECT_FALSE(record.reused_cookie);
  EXPECT_EQ(s.jar.size(), kJarCapacity - 1);
  EXPECT_EQ(count_fields(req, proto::kEfNtsCookiePlaceholder), 0u);
  const auto fields = proto::parse_extension_fields(req);
  ASSERT_EQ(fields.status, proto::EfStatus::kOk);
  ASSERT_EQ(fields.count, 3u);
  const auto auth = proto::parse_nts_authenticator(fields.fields[2].body).value();
  EXPECT_EQ(auth.nonce.size(), 16u);
  EXPECT_EQ(auth.ciphertext.size(), 16u);
  // The server accepts it (authenticator verifies under C2S).
  EXPECT_FALSE(answer(req).empty());
}

TEST_F(NtsCodecTest, PlaceholdersRefillJarAndInFlightReplies) {
  const struct {
    size_t jar, in_flight, placeholders;
  } cases[] = {
      {8, 0, 0},  // sequential client: one out, one back
      {7, 1, 0},  // one request in flight, full jar minus one
      {6, 2, 0}, {8, 5, 0}, {1, 0, 7}, {2, 0, 6}, {4, 1, 3}, {1, 9, 0},
  };
  for (const auto& c : cases) {
    auto s = session(c.jar);
    RequestRecord record;
    const auto req = request(s, record, c.in_flight);
    ASSERT_FALSE(req.empty());
    EXPECT_EQ(record.cookies_requested, c.placeholders + 1) << c.jar << "/" << c.in_flight;
    EXPECT_EQ(count_fields(req, proto::kEfNtsCookiePlaceholder), c.placeholders);
  }
}

TEST_F(NtsCodecTest, EmptyJarResendsLastCookieWithSevenPlaceholders) {
  auto s = session(1);
  RequestRecord first, second;
  const auto req1 = request(s, first);
  EXPECT_EQ(first.cookies_requested, kJarCapacity);  // depleted: 7 placeholders
  EXPECT_FALSE(first.reused_cookie);
  const auto req2 = request(s, second);
  ASSERT_FALSE(req2.empty());
  EXPECT_TRUE(second.reused_cookie);
  EXPECT_EQ(second.cookies_requested, kJarCapacity);
  // The same cookie in both requests.
  const auto f1 = proto::parse_extension_fields(req1), f2 = proto::parse_extension_fields(req2);
  EXPECT_TRUE(std::ranges::equal(f1.fields[1].body, f2.fields[1].body));
  EXPECT_EQ(count_fields(req2, proto::kEfNtsCookiePlaceholder), 7u);
  // Placeholders are as long as the cookie.
  for (size_t i = 2; i < 9; ++i) EXPECT_EQ(f2.fields[i].length, f2.fields[1].length);

  auto none = session(0);
  RequestRecord record;
  std::vector<uint8_t> out(kMaxRequestLength);
  EXPECT_EQ(build_nts_request(none, 1, uid(1), 0, out, record), 0u);
}

TEST_F(NtsCodecTest, TooSmallBufferCostsNoCookie) {
  auto s = session(2);
  RequestRecord record;
  std::vector<uint8_t> out(48 + 36 + 108 + 39);
  EXPECT_EQ(build_nts_request(s, 1, uid(1), 0, out, record), 0u);
  EXPECT_EQ(s.jar.size(), 2u);
  // Room for the cookie but not all placeholders: as many as fit.
  out.resize(48 + 36 + 108 + 40 + 2 * 108);
  const size_t n = build_nts_request(s, 1, uid(1), 0, out, record);
  EXPECT_EQ(n, out.size());
  EXPECT_EQ(record.cookies_requested, 3);
}

// ---- replies ----

TEST_F(NtsCodecTest, GenuineReplyVerifiesAndAddsTheFreshCookie) {
  auto e = exchange();
  EXPECT_EQ(e.reply.size(), e.request.size());
  ASSERT_EQ(verify_nts_reply(e.session, e.record, e.reply), ReplyVerdict::kVerified);
  EXPECT_EQ(e.session.jar.size(), kJarCapacity);
  const auto cookies = drain(e.session.jar);
  EXPECT_NE(cookies.back(), e.session.last_cookie);  // a fresh one, not the one sent
  crypto::SessionKeys opened;
  ASSERT_EQ(crypto::open_cookie(*keys_, cookies.back(), opened), crypto::CookieStatus::kOk);
  EXPECT_TRUE(std::ranges::equal(opened.s2c_key(), s2c_));
}

TEST_F(NtsCodecTest, DepletedJarIsRefilledByOneReply) {
  auto e = exchange(2);
  EXPECT_EQ(e.record.cookies_requested, 7);
  ASSERT_EQ(verify_nts_reply(e.session, e.record, e.reply), ReplyVerdict::kVerified);
  EXPECT_EQ(e.session.jar.size(), kJarCapacity);
  // And the session keeps working with the server's cookies.
  RequestRecord next;
  const auto req = request(e.session, next, 0, 77, 0x11);
  EXPECT_EQ(verify_nts_reply(e.session, next, answer(req)), ReplyVerdict::kVerified);
}

TEST_F(NtsCodecTest, ForgedRepliesFailAndLeaveTheJarAlone) {
  auto e = exchange();
  // Single-byte edits after sealing: header, UID, authenticator lengths, nonce, tag, end.
  for (size_t at : {size_t{0}, size_t{2}, size_t{20}, size_t{47}, size_t{60}, size_t{84},
                    size_t{88}, size_t{90}, size_t{100}, size_t{140}, e.reply.size() - 1}) {
    auto forged = e.reply;
    forged[at] ^= 0x01;
    SCOPED_TRACE(at);
    expect_rejected(e, forged);
  }
  // An attacker's own authenticator under a random key, over a plausible plaintext.
  std::vector<uint8_t> fake_cookie(4 + 104);
  proto::write_extension_field(fake_cookie, proto::kEfNtsCookie, bytes(104, 0xee));
  expect_rejected(e, reseal(e.reply, bytes(32, 0x99), fake_cookie));
  // Control: the same reseal with the real S2C key and the real plaintext passes.
  EXPECT_EQ(verify_nts_reply(e.session, e.record, reseal(e.reply, s2c_, plaintext_of(e.reply))),
            ReplyVerdict::kVerified);
}

TEST_F(NtsCodecTest, WrongS2cKeyFails) {
  auto e = exchange();
  e.session.s2c = crypto::make_aead(kSiv, bytes(32, 0x2d));
  expect_rejected(e, e.reply);
  e.session.s2c = crypto::make_aead(kSiv, c2s_);  // the other direction's key
  expect_rejected(e, e.reply);
}

TEST_F(NtsCodecTest, WrongOriginOrUidFails) {
  auto e = exchange();
  RequestRecord other = e.record;
  other.transmit ^= 1;
  EXPECT_EQ(verify_nts_reply(e.session, other, e.reply), ReplyVerdict::kFailed);
  other = e.record;
  other.unique_id[31] ^= 1;
  EXPECT_EQ(verify_nts_reply(e.session, other, e.reply), ReplyVerdict::kFailed);
  // A reply whose UID was changed and then correctly re-sealed (a confused server).
  auto edited = e.reply;
  edited[48 + 4] ^= 1;
  expect_rejected(e, reseal(edited, s2c_, plaintext_of(e.reply)));
  // Control.
  EXPECT_EQ(verify_nts_reply(e.session, e.record, e.reply), ReplyVerdict::kVerified);
}

TEST_F(NtsCodecTest, WrongCookieCountOrContentFails) {
  auto e = exchange(3);  // 5 placeholders: 6 cookies asked for
  ASSERT_EQ(e.record.cookies_requested, 6);
  const auto plain = plaintext_of(e.reply);
  ASSERT_EQ(plain.size(), 6u * 108);
  // Authentic replies (sealed with the real S2C key) carrying the wrong cookies.
  expect_rejected(e, reseal(e.reply, s2c_, std::span(plain).first(5 * 108)));  // one short
  std::vector<uint8_t> extra = plain;
  extra.insert(extra.end(), plain.begin(), plain.begin() + 108);
  expect_rejected(e, reseal(e.reply, s2c_, extra));  // one too many
  std::vector<uint8_t> odd = plain;
  proto::write_extension_field_header(std::span(odd).subspan(108), proto::kEfNtsCookiePlaceholder,
                                      108);
  expect_rejected(e, reseal(e.reply, s2c_, odd));  // a field that is not a cookie
  expect_rejected(e,
                  reseal(e.reply, s2c_, std::span(plain).first(6 * 108 - 1)));  // not a field list
  // A record asking for fewer than the reply holds.
  RequestRecord fewer = e.record;
  fewer.cookies_requested = 1;
  EXPECT_EQ(verify_nts_reply(e.session, fewer, e.reply), ReplyVerdict::kFailed);
  // Control.
  EXPECT_EQ(verify_nts_reply(e.session, e.record, reseal(e.reply, s2c_, plain)),
            ReplyVerdict::kVerified);
  EXPECT_EQ(e.session.jar.size(), kJarCapacity);
}

TEST_F(NtsCodecTest, UnknownKeyCookieGetsNak) {
  crypto::KeyRing other_ring(bytes(32, 8));
  const auto other = other_ring.snapshot_at(kNow);
  Exchange e{session(4, &other->current()), {}, {}, {}};
  e.request = request(e.session, e.record);
  e.reply = answer(e.request);
  ASSERT_FALSE(e.reply.empty());
  EXPECT_EQ(e.reply[proto::kOffsetStratum], 0);
  expect_rejected(e, e.reply, ReplyVerdict::kNak);
  // A NTSN that does not carry our UID is not believed.
  RequestRecord other_uid = e.record;
  other_uid.unique_id[0] ^= 1;
  EXPECT_EQ(verify_nts_reply(e.session, other_uid, e.reply), ReplyVerdict::kFailed);
  // Another kiss code (RATE) at stratum 0 is a KoD.
  auto rate = e.reply;
  proto::store_u32(rate, proto::kOffsetReferenceId, proto::refid_from_ascii("RATE"));
  expect_rejected(e, rate, ReplyVerdict::kKod);
  // A kiss that authenticates (NTPsec's INIT before it is synchronised) is
  // believed and its cookies are kept; the same kiss under a wrong key is not.
  {
    auto ok = exchange();
    auto init = ok.reply;
    init[proto::kOffsetStratum] = 0;
    proto::store_u32(init, proto::kOffsetReferenceId, proto::refid_from_ascii("INIT"));
    const size_t jar_before = ok.session.jar.size();
    EXPECT_EQ(verify_nts_reply(ok.session, ok.record, reseal(init, s2c_, plaintext_of(ok.reply))),
              ReplyVerdict::kKodAuthenticated);
    EXPECT_EQ(ok.session.jar.size(), jar_before + 1);
    expect_rejected(ok, reseal(init, bytes(32, 0x99), plaintext_of(ok.reply)), ReplyVerdict::kKod);
  }
  // A stratum-0 reply still needs our origin.
  RequestRecord other_origin = e.record;
  other_origin.transmit ^= 1;
  EXPECT_EQ(verify_nts_reply(e.session, other_origin, e.reply), ReplyVerdict::kFailed);
}

TEST_F(NtsCodecTest, PlainRequestAndReply) {
  std::array<uint8_t, 48> req;
  EXPECT_EQ(build_plain_request(0x0102'0304'0506'0708ull, std::span(req).first(47)), 0u);
  ASSERT_EQ(build_plain_request(0x0102'0304'0506'0708ull, req), 48u);
  EXPECT_EQ(req[0], 0x23);
  const std::vector<uint8_t> r(req.begin(), req.end());
  auto reply = answer(r);
  ASSERT_EQ(reply.size(), 48u);
  EXPECT_EQ(verify_plain_reply(0x0102'0304'0506'0708ull, reply), ReplyVerdict::kVerified);
  EXPECT_EQ(verify_plain_reply(0x0102'0304'0506'0709ull, reply), ReplyVerdict::kFailed);
  EXPECT_EQ(verify_plain_reply(0x0102'0304'0506'0708ull, std::span(reply).first(47)),
            ReplyVerdict::kFailed);
  EXPECT_EQ(verify_plain_reply(0x0102'0304'0506'0708ull, r), ReplyVerdict::kFailed);  // mode 3
  reply[proto::kOffsetStratum] = 0;
  EXPECT_EQ(verify_plain_reply(0x0102'0304'0506'0708ull, reply), ReplyVerdict::kKod);
  // An unauthenticated reply to an NTS request is never verified.
  auto e = exchange();
  auto plain_answer = e.reply;
  plain_answer.resize(48);
  expect_rejected(e, plain_answer);
}

// Every truncation and every single-bit flip of a valid reply (and of a NAK)
// is handled without reading out of bounds (run under --config=asan) and is
// never verified.
TEST_F(NtsCodecTest, TruncationsAndBitFlipsNeverVerify) {
  auto e = exchange(2);  // a long reply: 7 cookies
  for (size_t n = 0; n < e.reply.size(); ++n) {
    // A copy of exactly n bytes, so ASan sees any read past the end.
    const std::vector<uint8_t> cut(e.reply.begin(), e.reply.begin() + n);
    ASSERT_NE(verify_nts_reply(e.session, e.record, cut), ReplyVerdict::kVerified) << n;
  }
  for (size_t at = 0; at < e.reply.size(); ++at) {
    for (int bit = 0; bit < 8; ++bit) {
      auto flipped = e.reply;
      flipped[at] ^= static_cast<uint8_t>(1u << bit);
      ASSERT_NE(verify_nts_reply(e.session, e.record, flipped), ReplyVerdict::kVerified)
          << at << "." << bit;
    }
  }
  EXPECT_EQ(e.session.jar.size(), 1u);
  EXPECT_EQ(verify_nts_reply(e.session, e.record, e.reply), ReplyVerdict::kVerified);
  // Random garbage of every length up to a full request, with our origin planted.
  std::mt19937 rng(5);
  for (size_t n = 0; n < 1100; ++n) {
    std::vector<uint8_t> junk(n);
    for (auto& b : junk) b = static_cast<uint8_t>(rng());
    if (n >= 48) {
      junk[0] = 0x24;
      proto::store_timestamp(junk, proto::kOffsetOrigin, NtpTimestamp{e.record.transmit});
    }
    ASSERT_NE(verify_nts_reply(e.session, e.record, junk), ReplyVerdict::kVerified) << n;
  }
}

// ---- split and batched (crypto::NtsCrypto) ----

// Every batch implementation this CPU has: EVP always, the fast path's lane widths if present.
std::vector<const crypto::NtsCrypto*> implementations() {
  std::vector<const crypto::NtsCrypto*> out = {&crypto::evp_nts_crypto()};
  for (auto lanes : {crypto::FastLanes::kXmm, crypto::FastLanes::kYmm}) {
    if (const auto* fast = crypto::fast_nts_crypto(lanes)) out.push_back(fast);
  }
  return out;
}

// The request's authenticator tag (its last 16 bytes: nonce 16, tag only).
std::vector<uint8_t> tag_of(std::span<const uint8_t> request) {
  return {request.end() - crypto::kAeadTagLength, request.end()};
}

// An unsealed request is build_nts_request's, tag zero; sealed in a batch (70
// requests from 3 sessions: two calls) it carries the tag the one-at-a-time
// AEAD gives for the same nonce, and the server accepts and answers it.
TEST_F(NtsCodecTest, BatchSealedRequestsMatchOneAtATimeAndAreAccepted) {
  for (const crypto::NtsCrypto* crypto : implementations()) {
    SCOPED_TRACE(crypto->name());
    std::vector<NtsSession> sessions = {session(kJarCapacity),
                                        session_with_keys(kJarCapacity, bytes(32, 3), bytes(32, 4)),
                                        session_with_keys(2, bytes(32, 5), bytes(32, 6))};
    NtsSession copy = sessions[0];  // the same cookies as the first request's session
    constexpr size_t kCount = 70;
    std::vector<std::vector<uint8_t>> packets(kCount, std::vector<uint8_t>(kMaxRequestLength));
    std::vector<RequestRecord> records(kCount);
    std::vector<RequestToSeal> to_seal;
    for (size_t i = 0; i < kCount; ++i) {
      NtsSession& s = sessions[i % sessions.size()];
      const size_t jar = s.jar.size();
      const size_t n = build_unsealed_nts_request(s, 1000 + i, uid(static_cast<uint8_t>(i)),
                                                  i / sessions.size(), packets[i], records[i]);
      ASSERT_GT(n, 0u) << i;
      EXPECT_EQ(s.jar.size(), jar == 0 ? 0 : jar - 1);
      packets[i].resize(n);
      EXPECT_EQ(tag_of(packets[i]), bytes(16, 0));
      {  // The server does not take an unsealed request for an authentic one.
        NtsSession copy = s;
        EXPECT_NE(verify_nts_reply(copy, records[i], answer(packets[i])), ReplyVerdict::kVerified);
      }
      to_seal.push_back({&s, packets[i]});
    }
    // The layout of build_nts_request's: a copy of the session builds the same bytes but for
    // nonce and tag.
    {
      RequestRecord record;
      const auto sealed = request(copy, record, 0, 1000, 0);
      ASSERT_EQ(sealed.size(), packets[0].size());
      const size_t nonce_at = sealed.size() - 32;
      EXPECT_TRUE(std::equal(sealed.begin(), sealed.begin() + nonce_at, packets[0].begin()));
      EXPECT_EQ(record.cookies_requested, records[0].cookies_requested);
    }
    bool ok[kCount];
    seal_nts_requests(*crypto, to_seal, ok);
    for (size_t i = 0; i < kCount; ++i) {
      ASSERT_TRUE(ok[i]) << i;
      const NtsSession& s = sessions[i % sessions.size()];
      // The one-at-a-time seal of the same AD and nonce gives the same tag.
      const crypto::Bytes ad[] = {crypto::Bytes(packets[i]).first(packets[i].size() - 40)};
      std::vector<uint8_t> tag(16);
      ASSERT_TRUE(
          s.c2s->seal(ad, crypto::Bytes(packets[i]).subspan(packets[i].size() - 32, 16), {}, tag));
      EXPECT_EQ(tag_of(packets[i]), tag) << i;
      const auto reply = answer(packets[i]);
      ASSERT_FALSE(reply.empty()) << i;
      NtsSession verifier = s;
      EXPECT_EQ(verify_nts_reply(verifier, records[i], reply), ReplyVerdict::kVerified) << i;
    }
  }
}

TEST_F(NtsCodecTest, UnsealedRequestNeedsUsableKeysAndCostsNoCookieWithout) {
  auto s = session(3);
  s.c2s_key = KeyBytes(bytes(16, 1));  // not an AES-SIV-CMAC-256 key
  RequestRecord record;
  std::vector<uint8_t> out(kMaxRequestLength);
  EXPECT_EQ(build_unsealed_nts_request(s, 1, uid(1), 0, out, record), 0u);
  EXPECT_EQ(build_unsealed_nts_request(s, 1, {}, 0, out, record), 0u);
  EXPECT_EQ(s.jar.size(), 3u);
  auto t = session(3);
  t.s2c_key = KeyBytes{};
  EXPECT_EQ(build_unsealed_nts_request(t, 1, uid(1), 0, out, record), 0u);
  EXPECT_EQ(t.jar.size(), 3u);
  // A packet too short to hold an authenticator is not sealed (nor written).
  auto good = session(3);
  std::vector<uint8_t> tiny(60, 0xaa);
  const RequestToSeal items[] = {{&good, tiny}, {&s, out}};
  bool ok[2] = {true, true};
  seal_nts_requests(crypto::auto_nts_crypto(), items, ok);
  EXPECT_FALSE(ok[0]);
  EXPECT_FALSE(ok[1]);
  EXPECT_EQ(tiny, bytes(60, 0xaa));
}

// The batch verifier gives verify_nts_reply's verdict for every kind of reply
// (genuine, forged, NAK, KoD, wrong origin/UID/cookie count, truncated) and
// leaves the jars exactly as one-at-a-time verification does, for every
// implementation; a forged reply never verifies and never feeds the jar.
TEST_F(NtsCodecTest, BatchVerifyGivesOneAtATimeVerdictsAndJars) {
  struct Case {
    std::string name;
    Exchange e;
    std::vector<uint8_t> reply;
    ReplyVerdict want;
  };
  std::vector<Case> cases;
  auto add = [&](std::string name, Exchange e, std::vector<uint8_t> reply, ReplyVerdict want) {
    cases.push_back({std::move(name), std::move(e), std::move(reply), want});
  };
  {
    auto e = exchange();
    auto reply = e.reply;
    add("genuine", std::move(e), std::move(reply), ReplyVerdict::kVerified);
  }
  {
    auto e = exchange(2);  // 7 cookies back
    auto reply = e.reply;
    add("genuine, 7 cookies", std::move(e), std::move(reply), ReplyVerdict::kVerified);
  }
  for (size_t at : {size_t{2}, size_t{60}, size_t{100}, size_t{140}, size_t{200}}) {
    auto e = exchange();
    auto forged = e.reply;
    forged[at] ^= 0x01;
    add("flip " + std::to_string(at), std::move(e), std::move(forged), ReplyVerdict::kFailed);
  }
  {
    auto e = exchange();
    std::vector<uint8_t> fake_cookie(4 + 104);
    proto::write_extension_field(fake_cookie, proto::kEfNtsCookie, bytes(104, 0xee));
    auto forged = reseal(e.reply, bytes(32, 0x99), fake_cookie);
    add("resealed under another key", std::move(e), std::move(forged), ReplyVerdict::kFailed);
  }
  {
    auto e = exchange();
    auto resealed = reseal(e.reply, s2c_, plaintext_of(e.reply));
    add("resealed under S2C", std::move(e), std::move(resealed), ReplyVerdict::kVerified);
  }
  {
    auto e = exchange(3);
    const auto plain = plaintext_of(e.reply);
    auto short_one = reseal(e.reply, s2c_, std::span(plain).first(5 * 108));
    add("one cookie short", std::move(e), std::move(short_one), ReplyVerdict::kFailed);
  }
  {
    auto e = exchange();
    e.record.transmit ^= 1;
    auto reply = e.reply;
    add("wrong origin", std::move(e), std::move(reply), ReplyVerdict::kFailed);
  }
  {
    auto e = exchange();
    auto cut = e.reply;
    cut.resize(cut.size() - 1);
    add("truncated", std::move(e), std::move(cut), ReplyVerdict::kFailed);
  }
  {
    auto e = exchange();
    e.session.s2c_key = KeyBytes(bytes(32, 0x2d));  // the batch path's key
    e.session.s2c = crypto::make_aead(kSiv, bytes(32, 0x2d));
    auto reply = e.reply;
    add("wrong S2C key", std::move(e), std::move(reply), ReplyVerdict::kFailed);
  }
  {
    crypto::KeyRing other_ring(bytes(32, 8));
    const auto other = other_ring.snapshot_at(kNow);
    Exchange e{session(4, &other->current()), {}, {}, {}};
    e.request = request(e.session, e.record);
    e.reply = answer(e.request);
    auto nak = e.reply;
    auto rate = e.reply;
    proto::store_u32(rate, proto::kOffsetReferenceId, proto::refid_from_ascii("RATE"));
    Exchange e2 = e;
    add("NAK", std::move(e), std::move(nak), ReplyVerdict::kNak);
    add("RATE", std::move(e2), std::move(rate), ReplyVerdict::kKod);
  }
  {
    auto e = exchange();
    auto init = e.reply;
    init[proto::kOffsetStratum] = 0;
    proto::store_u32(init, proto::kOffsetReferenceId, proto::refid_from_ascii("INIT"));
    auto authenticated = reseal(init, s2c_, plaintext_of(e.reply));
    Exchange e2 = e;
    auto forged = reseal(init, bytes(32, 0x99), plaintext_of(e.reply));
    add("INIT, authenticated", std::move(e), std::move(authenticated),
        ReplyVerdict::kKodAuthenticated);
    add("INIT, forged", std::move(e2), std::move(forged), ReplyVerdict::kKod);
  }
  {
    auto e = exchange();
    e.session.s2c_key = KeyBytes{};
    e.session.s2c.reset();
    auto reply = e.reply;
    add("no S2C key", std::move(e), std::move(reply), ReplyVerdict::kFailed);
  }

  for (const crypto::NtsCrypto* crypto : implementations()) {
    SCOPED_TRACE(crypto->name());
    std::vector<NtsSession> batch_sessions, single_sessions;
    for (const auto& c : cases) batch_sessions.push_back(c.e.session);
    single_sessions = batch_sessions;
    std::vector<ReplyToVerify> items;
    for (size_t i = 0; i < cases.size(); ++i) {
      items.push_back({&batch_sessions[i], &cases[i].e.record, cases[i].reply});
    }
    std::vector<ReplyVerdict> verdicts(cases.size(), ReplyVerdict::kVerified);
    verify_nts_replies(*crypto, items, verdicts);
    for (size_t i = 0; i < cases.size(); ++i) {
      SCOPED_TRACE(cases[i].name);
      EXPECT_EQ(verdicts[i], cases[i].want);
      EXPECT_EQ(verify_nts_reply(single_sessions[i], cases[i].e.record, cases[i].reply),
                cases[i].want);
      EXPECT_EQ(batch_sessions[i].jar.cookies(), single_sessions[i].jar.cookies());
      if (verdicts[i] != ReplyVerdict::kVerified &&
          verdicts[i] != ReplyVerdict::kKodAuthenticated) {
        EXPECT_EQ(batch_sessions[i].jar.cookies(), cases[i].e.session.jar.cookies());
      }
    }
  }
}

// Many replies to one session in one call (and more than one crypto call's
// worth, each with 7 cookies, so the plaintext arena fills and a chunk ends
// early): all verify and the jar ends as sequential verification leaves it.
TEST_F(NtsCodecTest, BatchVerifyManyRepliesOfOneSessionInOrder) {
  for (const crypto::NtsCrypto* crypto : implementations()) {
    SCOPED_TRACE(crypto->name());
    constexpr size_t kCount = 150;
    std::vector<NtsSession> senders;  // each request from a depleted jar: 7 placeholders
    std::vector<RequestRecord> records(kCount);
    std::vector<std::vector<uint8_t>> replies;
    for (size_t i = 0; i < kCount; ++i) {
      auto s = session(1);
      const auto req = request(s, records[i], 0, 5000 + i, static_cast<uint8_t>(i));
      ASSERT_EQ(records[i].cookies_requested, kJarCapacity);
      replies.push_back(answer(req));
      ASSERT_FALSE(replies.back().empty());
    }
    NtsSession batch = session(0), single = session(0);
    std::vector<ReplyToVerify> items;
    for (size_t i = 0; i < kCount; ++i) items.push_back({&batch, &records[i], replies[i]});
    // One forged reply in the middle fails alone.
    auto forged = replies[77];
    forged[forged.size() - 5] ^= 0x80;
    items[77].reply = forged;
    std::vector<ReplyVerdict> verdicts(kCount);
    verify_nts_replies(*crypto, items, verdicts);
    for (size_t i = 0; i < kCount; ++i) {
      const ReplyVerdict want = i == 77 ? ReplyVerdict::kFailed : ReplyVerdict::kVerified;
      EXPECT_EQ(verdicts[i], want) << i;
      EXPECT_EQ(verify_nts_reply(single, records[i], items[i].reply), want) << i;
    }
    EXPECT_EQ(batch.jar.size(), kJarCapacity);
    EXPECT_EQ(batch.jar.cookies(), single.jar.cookies());
  }
}

// ---- what an upstream client needs beyond ntsbench ----

// RFC 8915 §5.7 lets a server return fewer cookies than asked for: an upstream
// client accepts 1..asked (kAtMostAsked); ntsbench, measuring ntsd, wants exactly
// one per cookie + placeholder (kExact, the default).
TEST_F(NtsCodecTest, FewerCookiesAcceptedWhenLenientRefusedWhenStrict) {
  auto e = exchange(3);  // 6 cookies asked for
  ASSERT_EQ(e.record.cookies_requested, 6);
  const auto plain = plaintext_of(e.reply);
  ASSERT_EQ(plain.size(), 6u * 108);
  const auto two = reseal(e.reply, s2c_, std::span(plain).first(2 * 108));
  expect_rejected(e, two);  // strict by default
  expect_rejected(e, two, ReplyVerdict::kFailed, CookieCount::kExact);
  // Lenient still refuses none at all, more than asked, and anything not a cookie.
  expect_rejected(e, reseal(e.reply, s2c_, {}), ReplyVerdict::kFailed, CookieCount::kAtMostAsked);
  std::vector<uint8_t> seven = plain;
  seven.insert(seven.end(), plain.begin(), plain.begin() + 108);
  expect_rejected(e, reseal(e.reply, s2c_, seven), ReplyVerdict::kFailed,
                  CookieCount::kAtMostAsked);
  std::vector<uint8_t> odd(plain.begin(), plain.begin() + 2 * 108);
  proto::write_extension_field_header(std::span(odd).subspan(108), proto::kEfNtsCookiePlaceholder,
                                      108);
  expect_rejected(e, reseal(e.reply, s2c_, odd), ReplyVerdict::kFailed, CookieCount::kAtMostAsked);
  // A forged reply is no more welcome in lenient mode.
  auto forged = two;
  forged[forged.size() - 1] ^= 1;
  expect_rejected(e, forged, ReplyVerdict::kFailed, CookieCount::kAtMostAsked);

  const size_t before = e.session.jar.size();
  ASSERT_EQ(verify_nts_reply(e.session, e.record, two, CookieCount::kAtMostAsked),
            ReplyVerdict::kVerified);
  EXPECT_EQ(e.session.jar.size(), before + 2);
  // The genuine full reply passes in both modes.
  auto f = exchange(3);
  EXPECT_EQ(verify_nts_reply(f.session, f.record, f.reply, CookieCount::kAtMostAsked),
            ReplyVerdict::kVerified);
  EXPECT_EQ(f.session.jar.size(), kJarCapacity);
}

TEST_F(NtsCodecTest, ExplicitPlaceholderCountIsSentAndAnswered) {
  for (size_t want : {0u, 1u, 3u, 7u, 9u}) {
    auto s = session(kJarCapacity);
    RequestRecord record;
    std::vector<uint8_t> req(kMaxRequestLength);
    req.resize(build_nts_request_with_placeholders(s, 5, uid(3), want, req, record));
    ASSERT_FALSE(req.empty()) << want;
    const size_t sent = std::min<size_t>(want, 7);  // at most 7: a reply fills a jar of 8
    EXPECT_EQ(count_fields(req, proto::kEfNtsCookiePlaceholder), sent) << want;
    EXPECT_EQ(record.cookies_requested, sent + 1) << want;
    EXPECT_EQ(verify_nts_reply(s, record, answer(req)), ReplyVerdict::kVerified) << want;
  }
}

TEST_F(NtsCodecTest, UniqueIdentifierLengths) {
  auto s = session(kJarCapacity);
  RequestRecord record;
  std::vector<uint8_t> out(kMaxRequestLength);
  EXPECT_EQ(build_nts_request(s, 1, {}, 0, out, record), 0u);
  EXPECT_EQ(build_nts_request(s, 1, bytes(kMaxUniqueIdLength + 1, 1), 0, out, record), 0u);
  EXPECT_EQ(s.jar.size(), kJarCapacity);  // a refused request costs no cookie
  // Longer identifiers are echoed and checked in full.
  const auto long_uid = bytes(kMaxUniqueIdLength, 0x61);
  const size_t n = build_nts_request(s, 1, long_uid, 0, out, record);
  ASSERT_EQ(n, 48u + 4 + 64 + 108 + 40);
  EXPECT_TRUE(std::ranges::equal(record.uid(), long_uid));
  const auto reply = answer(std::vector<uint8_t>(out.begin(), out.begin() + n));
  RequestRecord other = record;
  other.unique_id[kMaxUniqueIdLength - 1] ^= 1;
  EXPECT_EQ(verify_nts_reply(s, other, reply), ReplyVerdict::kFailed);
  other = record;
  other.unique_id_length = kUniqueIdLength;  // a prefix of the echoed one is not ours
  EXPECT_EQ(verify_nts_reply(s, other, reply), ReplyVerdict::kFailed);
  EXPECT_EQ(verify_nts_reply(s, record, reply), ReplyVerdict::kVerified);
}

TEST_F(NtsCodecTest, JarCanBeReadWithoutTakingCookies) {
  CookieJar jar;
  EXPECT_TRUE(jar.peek(0).empty());
  EXPECT_TRUE(jar.cookies().empty());
  for (uint8_t i = 0; i < 10; ++i) jar.add(bytes(20 + i, i));  // 0 and 1 are dropped
  const auto all = jar.cookies();
  ASSERT_EQ(all.size(), kJarCapacity);
  for (size_t i = 0; i < kJarCapacity; ++i) {
    EXPECT_EQ(all[i], bytes(22 + i, static_cast<uint8_t>(i + 2)));
    EXPECT_TRUE(std::ranges::equal(jar.peek(i), all[i]));
  }
  EXPECT_TRUE(jar.peek(kJarCapacity).empty());
  EXPECT_EQ(jar.size(), kJarCapacity);
  EXPECT_EQ(drain(jar), all);
}

TEST_F(NtsCodecTest, SessionKeepsItsRawKeys) {
  auto s = session(1);
  EXPECT_TRUE(std::ranges::equal(s.c2s_key.bytes(), c2s_));
  EXPECT_TRUE(std::ranges::equal(s.s2c_key.bytes(), s2c_));
  const NtsSession copy = s;
  EXPECT_TRUE(std::ranges::equal(copy.c2s_key.bytes(), c2s_));
  KeyBytes k(bytes(64, 9));
  EXPECT_EQ(k.size(), 64u);
  k = KeyBytes(bytes(16, 3));
  EXPECT_TRUE(std::ranges::equal(k.bytes(), bytes(16, 3)));
  EXPECT_TRUE(KeyBytes(bytes(kMaxKeyLength + 1, 1)).empty());
  // Keys that do not fit the AEAD leave the session unkeyed: no request is built.
  auto bad = make_session(kSiv, bytes(16, 1), bytes(16, 2),
                          std::vector<std::vector<uint8_t>>{bytes(104, 1)});
  EXPECT_FALSE(bad.c2s);
  RequestRecord record;
  std::vector<uint8_t> out(kMaxRequestLength);
  EXPECT_EQ(build_nts_request(bad, 1, uid(1), 0, out, record), 0u);
}

// A session persisted as (AEAD, raw keys, cookies) — what a client writes to
// its cookie file — and restored with make_session works against ntsd's
// server exactly like the original: respond() and the BatchResponder accept
// its requests and the client verifies their replies.
TEST_F(NtsCodecTest, PersistedSessionRestoresAndIsAccepted) {
  auto e = exchange(3);
  ASSERT_EQ(verify_nts_reply(e.session, e.record, e.reply), ReplyVerdict::kVerified);
  const crypto::AeadId aead = e.session.aead;
  const std::vector<uint8_t> c2s(e.session.c2s_key.bytes().begin(),
                                 e.session.c2s_key.bytes().end());
  const std::vector<uint8_t> s2c(e.session.s2c_key.bytes().begin(),
                                 e.session.s2c_key.bytes().end());
  const auto cookies = e.session.jar.cookies();
  ASSERT_EQ(cookies.size(), kJarCapacity);

  NtsSession restored = make_session(aead, c2s, s2c, cookies);
  ASSERT_TRUE(restored.c2s && restored.s2c);
  EXPECT_EQ(restored.jar.cookies(), cookies);
  EXPECT_EQ(restored.cookie_length, crypto::cookie_length(kSiv));
  EXPECT_TRUE(std::ranges::equal(restored.s2c_key.bytes(), s2c_));

  // respond().
  RequestRecord record;
  auto req = request(restored, record, 0, 0x7777, 0x21);
  ASSERT_FALSE(req.empty());
  EXPECT_EQ(verify_nts_reply(restored, record, answer(req)), ReplyVerdict::kVerified);

  // The batched path, with a request from the original session beside it.
  RequestRecord r1, r2;
  const auto q1 = request(restored, r1, 0, 0x8888, 0x22);
  const auto q2 = request(e.session, r2, 0, 0x9999, 0x23);
  std::vector<uint8_t> b1(q1.size()), b2(q2.size());
  const server::Request in[] = {{q1, kRx}, {q2, kRx}};
  server::Reply out[] = {{b1, {}}, {b2, {}}};
  server::BatchResponder responder;
  responder.prepare(in, state_, server::NtsPolicy{keys_.get(), false}, out);
  responder.finish(kTx, out);
  ASSERT_TRUE(out[0].verdict.is_reply());
  ASSERT_TRUE(out[1].verdict.is_reply());
  EXPECT_EQ(out[0].verdict.kind, server::ReplyKind::kNts);
  EXPECT_EQ(verify_nts_reply(restored, r1, std::span(b1).first(out[0].verdict.reply_size)),
            ReplyVerdict::kVerified);
  EXPECT_EQ(verify_nts_reply(e.session, r2, std::span(b2).first(out[1].verdict.reply_size)),
            ReplyVerdict::kVerified);
  // Same keys, same association: the original's reply verifies under the restored session too.
  EXPECT_EQ(verify_nts_reply(restored, r2, std::span(b2).first(out[1].verdict.reply_size)),
            ReplyVerdict::kVerified);
}

}  // namespace
}  // namespace ntsd::clock
