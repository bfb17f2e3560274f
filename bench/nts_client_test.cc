// ntsbench's NTS client against ntsd's own server code: replies come from the
// real request path (//server:respond) and sessions from a real in-process
// NTS-KE server; forged, truncated and mismatched replies must all fail.
#include "bench/nts_client.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

#include "crypto/cookie.h"
#include "crypto/key_ring.h"
#include "ke/ke_server.h"
#include "ke/negotiate.h"
#include "ke/test_options.h"
#include "ke/test_pki.h"
#include "proto/extension_field.h"
#include "proto/ntp_packet.h"
#include "server/respond.h"

namespace ntsd::bench {
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

class NtsClientTest : public ::testing::Test {
 protected:
  crypto::KeyRing ring_{bytes(32, 7)};
  std::unique_ptr<const crypto::KeySnapshot> keys_ = ring_.snapshot_at(kNow);
  server::ServerState state_ = server::local_reference_state();
  std::vector<uint8_t> c2s_ = bytes(32, 0xc2), s2c_ = bytes(32, 0x2c);

  // A session with `n` cookies sealed by `key` (the server's current key unless told otherwise).
  NtsSession session(size_t n, const crypto::MasterKey* key = nullptr) {
    crypto::SessionKeys keys;
    EXPECT_TRUE(crypto::make_session_keys(kSiv, c2s_, s2c_, keys));
    std::vector<std::vector<uint8_t>> cookies;
    for (size_t i = 0; i < n; ++i) {
      cookies.emplace_back(crypto::cookie_length(kSiv));
      EXPECT_EQ(crypto::seal_cookie(key ? *key : keys_->current(), keys, cookies.back()),
                cookies.back().size());
    }
    return make_session(kSiv, c2s_, s2c_, cookies);
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
                       ReplyVerdict want = ReplyVerdict::kFailed) {
    const CookieJar before = e.session.jar;
    EXPECT_EQ(verify_nts_reply(e.session, e.record, reply), want);
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

TEST_F(NtsClientTest, SteadyStateRequestHasNoPlaceholdersAndChronysLayout) {
  auto s = session(kJarCapacity);
  RequestRecord record;
  const auto req = request(s, record);
  // header 48 ‖ UID 36 ‖ cookie 108 ‖ authenticator 40 (16-byte nonce, tag only)
  ASSERT_EQ(req.size(), 48u + 36 + 108 + 40);
  EXPECT_EQ(req[0], 0x23);  // LI 0, version 4, mode 3
  EXPECT_EQ(proto::load_timestamp(req, proto::kOffsetTransmit).raw, 0x1111'2222'3333'4444ull);
  EXPECT_EQ(record.transmit, 0x1111'2222'3333'4444ull);
  EXPECT_EQ(record.unique_id, uid(0x42));
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

TEST_F(NtsClientTest, PlaceholdersRefillJarAndInFlightReplies) {
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

TEST_F(NtsClientTest, EmptyJarResendsLastCookieWithSevenPlaceholders) {
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

TEST_F(NtsClientTest, TooSmallBufferCostsNoCookie) {
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

TEST_F(NtsClientTest, GenuineReplyVerifiesAndAddsTheFreshCookie) {
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

TEST_F(NtsClientTest, DepletedJarIsRefilledByOneReply) {
  auto e = exchange(2);
  EXPECT_EQ(e.record.cookies_requested, 7);
  ASSERT_EQ(verify_nts_reply(e.session, e.record, e.reply), ReplyVerdict::kVerified);
  EXPECT_EQ(e.session.jar.size(), kJarCapacity);
  // And the session keeps working with the server's cookies.
  RequestRecord next;
  const auto req = request(e.session, next, 0, 77, 0x11);
  EXPECT_EQ(verify_nts_reply(e.session, next, answer(req)), ReplyVerdict::kVerified);
}

TEST_F(NtsClientTest, ForgedRepliesFailAndLeaveTheJarAlone) {
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

TEST_F(NtsClientTest, WrongS2cKeyFails) {
  auto e = exchange();
  e.session.s2c = crypto::make_aead(kSiv, bytes(32, 0x2d));
  expect_rejected(e, e.reply);
  e.session.s2c = crypto::make_aead(kSiv, c2s_);  // the other direction's key
  expect_rejected(e, e.reply);
}

TEST_F(NtsClientTest, WrongOriginOrUidFails) {
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

TEST_F(NtsClientTest, WrongCookieCountOrContentFails) {
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

TEST_F(NtsClientTest, UnknownKeyCookieGetsNak) {
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
  // A stratum-0 reply still needs our origin.
  RequestRecord other_origin = e.record;
  other_origin.transmit ^= 1;
  EXPECT_EQ(verify_nts_reply(e.session, other_origin, e.reply), ReplyVerdict::kFailed);
}

TEST_F(NtsClientTest, PlainRequestAndReply) {
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
TEST_F(NtsClientTest, TruncationsAndBitFlipsNeverVerify) {
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

// ---- NTS-KE ----

class EstablishTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    pki_ = new ke::testing::TestPki;
    other_pki_ = new ke::testing::TestPki;
    const std::string dir = ke::testing::test_tmpdir();
    ASSERT_TRUE(
        ke::testing::make_test_pki(dir + "/pki", ke::testing::KeyKind::kEcdsaP256, *pki_, &error))
        << error;
    ASSERT_TRUE(ke::testing::make_test_pki(dir + "/other", ke::testing::KeyKind::kEcdsaP256,
                                           *other_pki_, &error))
        << error;
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete other_pki_;
  }

  void start(uint16_t ntp_port = 123) {
    auto options = ke::testing::loopback_options(*pki_);
    options.reload_poll = std::chrono::milliseconds(0);
    options.ntp_port = ntp_port;
    std::string error;
    server_ = ke::KeServer::start(options, keys_, &error);
    ASSERT_TRUE(server_) << error;
  }
  KeTarget target() const {
    KeTarget t;
    t.port = server_->port();
    t.ca_file = pki_->ca_cert;
    return t;
  }

  // One NTS exchange with the session against the request path, using the KE server's keys.
  ReplyVerdict round_trip(NtsSession& s) {
    RequestRecord record;
    std::vector<uint8_t> req(kMaxRequestLength);
    req.resize(build_nts_request(s, 12345, uid(9), 0, req, record));
    EXPECT_FALSE(req.empty());
    std::vector<uint8_t> reply(req.size());
    const auto v = server::respond(req, kRx, server::local_reference_state(), reply,
                                   server::NtsPolicy{keys_.load(), false}, kTx);
    reply.resize(v.is_reply() ? v.reply_size : 0);
    return verify_nts_reply(s, record, reply);
  }

  static ke::testing::TestPki* pki_;
  static ke::testing::TestPki* other_pki_;
  crypto::KeyPublisher keys_{crypto::KeyRing(bytes(32, 0x5e)).snapshot_at(kNow)};
  std::unique_ptr<ke::KeServer> server_;
};

ke::testing::TestPki* EstablishTest::pki_ = nullptr;
ke::testing::TestPki* EstablishTest::other_pki_ = nullptr;

TEST_F(EstablishTest, GetsEightCookiesAndWorkingKeys) {
  start();
  std::string error;
  auto s = establish_session(target(), &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->aead, kSiv);
  EXPECT_EQ(s->jar.size(), kJarCapacity);
  EXPECT_EQ(s->cookie_length, crypto::cookie_length(kSiv));
  EXPECT_EQ(s->ntp_port, 123);
  EXPECT_EQ(s->ntp_host, "127.0.0.1");
  EXPECT_EQ(round_trip(*s), ReplyVerdict::kVerified);
  EXPECT_EQ(s->jar.size(), kJarCapacity);
}

TEST_F(EstablishTest, PortRecordAndNegotiatedAeadAreUsed) {
  start(11500);
  KeTarget t = target();
  t.aeads = {30, 16, 15};
  std::string error;
  auto s = establish_session(t, &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->ntp_port, 11500);
  // The server's first implemented choice among ours; keys exported for it.
  const auto usable = ke::usable_aeads({});
  const uint16_t want =
      *std::find_first_of(t.aeads.begin(), t.aeads.end(), usable.begin(), usable.end());
  EXPECT_EQ(static_cast<uint16_t>(s->aead), want);
  EXPECT_EQ(s->cookie_length, crypto::cookie_length(s->aead));
  EXPECT_EQ(round_trip(*s), ReplyVerdict::kVerified);
}

TEST_F(EstablishTest, WrongCaOrMissingCaFails) {
  start();
  KeTarget t = target();
  t.ca_file = other_pki_->ca_cert;
  std::string error;
  EXPECT_FALSE(establish_session(t, &error));
  EXPECT_NE(error.find("handshake failed"), std::string::npos) << error;
  EXPECT_NE(error.find("certificate verify failed"), std::string::npos) << error;

  t.ca_file.clear();
  error.clear();
  EXPECT_FALSE(establish_session(t, &error));
  EXPECT_NE(error.find("CA"), std::string::npos) << error;

  t.insecure = true;
  EXPECT_TRUE(establish_session(t, &error)) << error;
}

TEST_F(EstablishTest, WrongNameOrNoServerFails) {
  start();
  KeTarget t = target();
  t.verify_name = "not-this-server.example";
  std::string error;
  EXPECT_FALSE(establish_session(t, &error));
  EXPECT_NE(error.find("handshake failed"), std::string::npos) << error;

  const uint16_t port = server_->port();
  server_->stop();
  t = KeTarget{};
  t.port = port;
  t.insecure = true;
  t.timeout_ms = 1000;
  EXPECT_FALSE(establish_session(t, &error));
  EXPECT_NE(error.find("connect failed"), std::string::npos) << error;

  t.aeads = {99};
  EXPECT_FALSE(establish_session(t, &error));
  EXPECT_NE(error.find("99"), std::string::npos) << error;
}

}  // namespace
}  // namespace ntsd::bench
