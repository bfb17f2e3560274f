// RFC 8915 §5.3–§5.7 and RFC 7822 rules for NTS requests, one negative test
// (`*_reject_*`) per rule the server enforces and a positive one beside it
// where the RFC allows a form real clients do not send. Requests are built
// field by field here (the tree's client codec only builds well-formed ones)
// and sealed under the session's C2S key, so each rule is reached with a
// valid cookie and a valid authenticator: only the rule under test is broken.
// Replies are verified with the client codec (testing::verified_cookies).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "crypto/key_ring.h"
#include "proto/byte_order.h"
#include "proto/extension_field.h"
#include "proto/ntp_packet.h"
#include "server/batch_responder.h"
#include "server/nts_request.h"
#include "testing/nts_test_client.h"

namespace ntsd::server {
namespace {

using clock::NtsSession;
using clock::RequestRecord;
using proto::NtpTimestamp;

constexpr int64_t kNow = 1'900'000'000;
constexpr NtpTimestamp kRx{0xeb2a'5f10'8000'0000ull};
constexpr NtpTimestamp kTx{0xeb2a'5f10'9000'0000ull};
constexpr uint64_t kTransmit = 0x0102'0304'0506'0708ull;

std::vector<uint8_t> field(uint16_t type, size_t body_length, uint8_t fill = 0) {
  std::vector<uint8_t> body(body_length, fill);
  std::vector<uint8_t> out(4 + proto::pad4(body_length));
  EXPECT_EQ(proto::write_extension_field(out, type, body), out.size());
  return out;
}

void append(std::vector<uint8_t>& to, const std::vector<uint8_t>& bytes) {
  to.insert(to.end(), bytes.begin(), bytes.end());
}

// What to put in a request; the defaults give chrony's layout.
struct Shape {
  size_t uid_length = 32;
  size_t uids = 1;
  size_t cookies = 1;
  size_t placeholders = 0;
  long placeholder_delta = 0;  // placeholder body length - cookie length
  size_t nonce_length = 16;
  size_t additional_padding = 0;
  bool authenticator = true;
  std::vector<std::vector<uint8_t>>
      before_auth;  // fields after the cookie, before the authenticator
  std::vector<std::vector<uint8_t>> after_auth;  // fields after the authenticator
  size_t encrypted_placeholders = 0;
  long encrypted_placeholder_delta = 0;
  std::optional<std::vector<uint8_t>> raw_plaintext;  // replaces the encrypted fields
};

class NtsConformance : public ::testing::Test {
 protected:
  crypto::KeyRing ring_{std::vector<uint8_t>(32, 5)};
  std::unique_ptr<const crypto::KeySnapshot> keys_ = ring_.snapshot_at(kNow);
  ServerState state_ = local_reference_state();

  NtsSession session(crypto::AeadId aead = crypto::AeadId::kAesSivCmac256) const {
    return testing::sealed_session(keys_->current(), 17, aead);
  }

  // Builds a request of `shape` for `s`, sealed under its C2S key; *record gets what it asked for.
  std::vector<uint8_t> build(const NtsSession& s, const Shape& shape, RequestRecord* record) {
    std::vector<uint8_t> p(48, 0);
    p[0] = proto::li_vn_mode(proto::Leap::kNone, 4, proto::Mode::kClient);
    proto::store_timestamp(p, proto::kOffsetTransmit, NtpTimestamp{kTransmit});
    const std::vector<uint8_t> uid(shape.uid_length, 0x42);
    for (size_t i = 0; i < shape.uids; ++i) {
      std::vector<uint8_t> f(4 + uid.size());
      proto::write_extension_field(f, proto::kEfUniqueIdentifier, uid);
      append(p, f);
    }
    const auto cookie = s.jar.peek(0);
    for (size_t i = 0; i < shape.cookies; ++i) {
      std::vector<uint8_t> f(4 + cookie.size());
      proto::write_extension_field(f, proto::kEfNtsCookie, cookie);
      append(p, f);
    }
    const size_t placeholder =
        static_cast<size_t>(static_cast<long>(cookie.size()) + shape.placeholder_delta);
    for (size_t i = 0; i < shape.placeholders; ++i) {
      append(p, field(proto::kEfNtsCookiePlaceholder, placeholder));
    }
    for (const auto& f : shape.before_auth) append(p, f);
    std::vector<uint8_t> plaintext;
    const size_t encrypted =
        static_cast<size_t>(static_cast<long>(cookie.size()) + shape.encrypted_placeholder_delta);
    for (size_t i = 0; i < shape.encrypted_placeholders; ++i) {
      append(plaintext, field(proto::kEfNtsCookiePlaceholder, encrypted));
    }
    if (shape.raw_plaintext) plaintext = *shape.raw_plaintext;
    if (shape.authenticator) {
      std::vector<uint8_t> nonce(shape.nonce_length);
      for (size_t i = 0; i < nonce.size(); ++i) nonce[i] = static_cast<uint8_t>(0xa0 + i);
      std::vector<uint8_t> sealed(crypto::aead_sealed_length(plaintext.size()));
      const crypto::Bytes ad[] = {p};
      EXPECT_TRUE(s.c2s->seal(ad, nonce, plaintext, sealed));
      const size_t body =
          4 + proto::pad4(nonce.size()) + proto::pad4(sealed.size()) + shape.additional_padding;
      std::vector<uint8_t> auth(4 + body, 0);
      proto::store_be16(auth.data(), proto::kEfNtsAuthenticator);
      proto::store_be16(auth.data() + 2, static_cast<uint16_t>(auth.size()));
      proto::store_be16(auth.data() + 4, static_cast<uint16_t>(nonce.size()));
      proto::store_be16(auth.data() + 6, static_cast<uint16_t>(sealed.size()));
      std::copy(nonce.begin(), nonce.end(), auth.begin() + 8);
      std::copy(sealed.begin(), sealed.end(), auth.begin() + 8 + proto::pad4(nonce.size()));
      append(p, auth);
    }
    for (const auto& f : shape.after_auth) append(p, f);
    if (record != nullptr) {
      *record = RequestRecord{};
      record->transmit = kTransmit;
      std::copy(uid.begin(), uid.end(), record->unique_id.begin());
      record->unique_id_length = static_cast<uint8_t>(uid.size());
      record->cookies_requested =
          static_cast<uint8_t>(1 + shape.placeholders + shape.encrypted_placeholders);
    }
    return p;
  }

  // Answers with a reply buffer twice the request's size, so a reply larger
  // than the request would show (the workers hand in request-sized buffers;
  // this checks the rules, not the buffer, keep replies small).
  Verdict answer(const std::vector<uint8_t>& request, std::vector<uint8_t>& reply) {
    BatchResponder responder;
    reply.assign(2 * request.size(), 0);
    const Request in{request, kRx};
    Reply out{reply, {}};
    responder.prepare(std::span(&in, 1), state_, NtsPolicy{keys_.get(), false}, std::span(&out, 1));
    responder.finish(kTx, std::span(&out, 1));
    if (out.verdict.is_reply()) {
      EXPECT_LE(out.verdict.reply_size, request.size()) << "reply larger than the request";
      reply.resize(out.verdict.reply_size);
    }
    return out.verdict;
  }

  // The request is answered, the reply verifies, and it carries `cookies` fresh cookies.
  void expect_served(const NtsSession& s, const Shape& shape, size_t cookies) {
    RequestRecord record;
    const auto request = build(s, shape, &record);
    record.cookies_requested = static_cast<uint8_t>(cookies);
    std::vector<uint8_t> reply;
    const Verdict v = answer(request, reply);
    ASSERT_TRUE(v.is_reply()) << drop_reason_name(v.reason);
    ASSERT_EQ(v.kind, ReplyKind::kNts);
    const auto fresh = testing::verified_cookies(s, record, reply);
    ASSERT_TRUE(fresh) << "reply does not verify";
    EXPECT_EQ(fresh->size(), cookies);
  }

  void expect_dropped(const NtsSession& s, const Shape& shape,
                      DropReason why = DropReason::kNtsMalformed) {
    const auto request = build(s, shape, nullptr);
    std::vector<uint8_t> reply;
    const Verdict v = answer(request, reply);
    EXPECT_FALSE(v.is_reply());
    EXPECT_EQ(v.reason, why) << drop_reason_name(v.reason);
  }
};

TEST_F(NtsConformance, serves_the_reference_layout) { expect_served(session(), Shape{}, 1); }

// §5.6: N_REQ = 16 for AES-SIV-CMAC; a padded nonce shorter than that needs
// Additional Padding making up the difference, and "Servers MUST enforce this
// requirement by discarding any packet that does not conform to it".
TEST_F(NtsConformance, nonce_reject_shorter_than_16_without_additional_padding) {
  const auto s = session();
  expect_dropped(s, Shape{.nonce_length = 12});
  expect_dropped(s, Shape{.nonce_length = 8});
  expect_dropped(s, Shape{.nonce_length = 1});
}

TEST_F(NtsConformance, nonce_reject_additional_padding_too_short) {
  const auto s = session();
  expect_dropped(s, Shape{.nonce_length = 8, .additional_padding = 4});
  expect_dropped(s, Shape{.nonce_length = 1, .additional_padding = 8});  // pad4(1) = 4: 4 short
}

TEST_F(NtsConformance, nonce_shorter_than_16_with_enough_additional_padding_is_served) {
  const auto s = session();
  expect_served(s, Shape{.nonce_length = 12, .additional_padding = 4}, 1);
  expect_served(s, Shape{.nonce_length = 4, .additional_padding = 12}, 1);
  expect_served(s, Shape{.nonce_length = 1, .additional_padding = 12}, 1);
  expect_served(s, Shape{.nonce_length = 13}, 1);  // N_LEN is the padded length: 16
  expect_served(s, Shape{.nonce_length = 32}, 1);
}

// N_REQ = 12 for AES-128-GCM-SIV (its only nonce length).
TEST_F(NtsConformance, gcm_siv_nonce_of_12_needs_no_additional_padding) {
  expect_served(session(crypto::AeadId::kAes128GcmSiv), Shape{.nonce_length = 12}, 1);
}

TEST_F(NtsConformance, nonce_reject_empty) {
  expect_dropped(session(), Shape{.nonce_length = 0, .additional_padding = 16});
}

// §5.6: nonce and ciphertext lengths must fit the field's body.
TEST_F(NtsConformance, authenticator_reject_lengths_past_its_body) {
  const auto s = session();
  auto request = build(s, Shape{}, nullptr);
  const size_t auth = request.size() - 40;
  ASSERT_EQ(proto::load_be16(request.data() + auth), proto::kEfNtsAuthenticator);
  auto longer_ciphertext = request;
  proto::store_be16(longer_ciphertext.data() + auth + 6, 20);
  std::vector<uint8_t> reply;
  EXPECT_EQ(answer(longer_ciphertext, reply).reason, DropReason::kNtsMalformed);
  auto longer_nonce = request;
  proto::store_be16(longer_nonce.data() + auth + 4, 17);
  EXPECT_EQ(answer(longer_nonce, reply).reason, DropReason::kNtsMalformed);
}

TEST_F(NtsConformance, authenticator_reject_ciphertext_shorter_than_a_tag) {
  const auto s = session();
  auto request = build(s, Shape{}, nullptr);
  const size_t auth = request.size() - 40;
  proto::store_be16(request.data() + auth + 6, 12);  // the rest reads as Additional Padding
  std::vector<uint8_t> reply;
  EXPECT_EQ(answer(request, reply).reason, DropReason::kNtsMalformed);
}

// §5.5/§5.7: "the body length of the NTS Cookie Placeholder … MUST be the same
// as the body length of the NTS Cookie"; that is what keeps the reply (one
// cookie per cookie + placeholder) no larger than the request.
TEST_F(NtsConformance, placeholder_reject_other_length_than_the_cookie) {
  const auto s = session();
  expect_dropped(s, Shape{.placeholders = 1, .placeholder_delta = -4});
  expect_dropped(s, Shape{.placeholders = 2, .placeholder_delta = 4});
  expect_dropped(s, Shape{.placeholders = 1, .placeholder_delta = -104});  // empty body
}

TEST_F(NtsConformance, placeholders_each_get_a_cookie) {
  const auto s = session();
  expect_served(s, Shape{.placeholders = 3}, 4);
  expect_served(s, Shape{.placeholders = 7}, 8);
}

// At most 8 cookies per reply (§5.7: a client SHOULD NOT send more than seven placeholders).
TEST_F(NtsConformance, placeholder_reject_more_than_seven) {
  expect_dropped(session(), Shape{.placeholders = 8});
}

// §5.7: placeholders MAY be encrypted; they count like the ones in the clear.
TEST_F(NtsConformance, encrypted_placeholders_each_get_a_cookie) {
  const auto s = session();
  expect_served(s, Shape{.encrypted_placeholders = 2}, 3);
  expect_served(s, Shape{.placeholders = 1, .encrypted_placeholders = 2}, 4);
}

TEST_F(NtsConformance, encrypted_placeholder_reject_other_length_than_the_cookie) {
  expect_dropped(session(), Shape{.encrypted_placeholders = 1, .encrypted_placeholder_delta = -8});
}

TEST_F(NtsConformance, encrypted_fields_reject_malformed) {
  const auto s = session();
  // A field whose length (3) is no whole number of words, and one that overruns.
  expect_dropped(s, Shape{.raw_plaintext = std::vector<uint8_t>{0x20, 0x05, 0x00, 0x03}});
  expect_dropped(s, Shape{.raw_plaintext = std::vector<uint8_t>{0x20, 0x05, 0x00, 0x08}});
  expect_dropped(s, Shape{.raw_plaintext = std::vector<uint8_t>{0x20, 0x05}});
  // Short encrypted fields are allowed (§5.6: "MAY be arbitrarily short").
  expect_served(s, Shape{.raw_plaintext = std::vector<uint8_t>{0x20, 0x05, 0x00, 0x04}}, 1);
}

// §5.3: "The string MUST be at least 32 octets long."
TEST_F(NtsConformance, unique_id_reject_shorter_than_32) {
  const auto s = session();
  expect_dropped(s, Shape{.uid_length = 28});
  expect_dropped(s, Shape{.uid_length = 4});
  expect_served(s, Shape{.uid_length = 64}, 1);
}

// §5.7: exactly one Unique Identifier, one cookie and one authenticator.
TEST_F(NtsConformance, unique_id_reject_duplicate) { expect_dropped(session(), Shape{.uids = 2}); }

TEST_F(NtsConformance, unique_id_reject_missing) { expect_dropped(session(), Shape{.uids = 0}); }

TEST_F(NtsConformance, cookie_reject_duplicate) { expect_dropped(session(), Shape{.cookies = 2}); }

TEST_F(NtsConformance, cookie_reject_missing) { expect_dropped(session(), Shape{.cookies = 0}); }

TEST_F(NtsConformance, authenticator_reject_missing) {
  expect_dropped(session(), Shape{.authenticator = false});
}

// RFC 7822 §3: an unknown field type is ignored; before the authenticator it is authenticated.
TEST_F(NtsConformance, unknown_fields_before_the_authenticator_are_ignored) {
  const auto s = session();
  expect_served(s, Shape{.before_auth = {field(0x2005, 28), field(0x7fff, 0)}}, 1);
}

// A tampered unknown field before the authenticator breaks the authenticator;
// §5.7: unable to authenticate the request -> NTS NAK.
TEST_F(NtsConformance, unknown_field_reject_tampered_before_the_authenticator) {
  const auto s = session();
  auto request = build(s, Shape{.before_auth = {field(0x2005, 28, 0x11)}}, nullptr);
  request[48 + 36 + 108 + 10] ^= 1;
  std::vector<uint8_t> reply;
  const Verdict v = answer(request, reply);
  ASSERT_TRUE(v.is_reply());
  EXPECT_EQ(v.kind, ReplyKind::kNak);
  EXPECT_EQ(v.nak, NakReason::kBadAuthenticator);
}

// §5.7: "The server MUST discard any unauthenticated extension fields and
// process the packet as though they were not present." Placeholders, cookies,
// Unique Identifiers and authenticators after the authenticator change nothing.
TEST_F(NtsConformance, fields_after_the_authenticator_are_ignored) {
  const auto s = session();
  const auto cookie = s.jar.peek(0);
  expect_served(s,
                Shape{.after_auth = {field(proto::kEfNtsCookiePlaceholder, cookie.size()),
                                     field(proto::kEfNtsCookiePlaceholder, cookie.size())}},
                1);
  expect_served(s,
                Shape{.after_auth = {field(proto::kEfNtsCookie, cookie.size()),
                                     field(proto::kEfUniqueIdentifier, 32),
                                     field(proto::kEfNtsAuthenticator, 36), field(0x2005, 12)}},
                1);
  // A placeholder of the wrong length there is ignored too, not an error.
  expect_served(s, Shape{.after_auth = {field(proto::kEfNtsCookiePlaceholder, 4)}}, 1);
}

// ... so a required field that only appears after the authenticator is missing.
TEST_F(NtsConformance, unique_id_reject_only_after_the_authenticator) {
  const auto s = session();
  expect_dropped(s, Shape{.uids = 0, .after_auth = {field(proto::kEfUniqueIdentifier, 32)}});
}

// RFC 7822: fields are whole words and fit the packet; anything else is not NTS at all.
TEST_F(NtsConformance, extension_field_reject_malformed_after_the_authenticator) {
  const auto s = session();
  const auto request =
      build(s, Shape{.after_auth = {{0x20, 0x05, 0x00, 0x0a, 0, 0, 0, 0}}}, nullptr);
  std::vector<uint8_t> reply;
  EXPECT_EQ(answer(request, reply).reason, DropReason::kMalformedExtensions);
}

// §5.7: an unopenable cookie gets a NAK carrying only the Unique Identifier.
TEST_F(NtsConformance, unopenable_cookie_gets_a_nak_no_larger_than_the_request) {
  const auto s = testing::with_tampered_cookie(session(), 50, 0x10);
  const auto request = build(s, Shape{.uid_length = 64}, nullptr);
  std::vector<uint8_t> reply;
  const Verdict v = answer(request, reply);
  ASSERT_TRUE(v.is_reply());
  EXPECT_EQ(v.kind, ReplyKind::kNak);
  EXPECT_EQ(reply.size(), 48u + 4 + 64);
  const auto fields = proto::parse_extension_fields(reply);
  ASSERT_EQ(fields.count, 1u);
  EXPECT_EQ(fields.fields[0].type, proto::kEfUniqueIdentifier);
}

TEST(NtsRequestRules, required_nonce_room_per_aead) {
  EXPECT_EQ(required_nonce_room(crypto::AeadId::kAesSivCmac256), 16u);
  EXPECT_EQ(required_nonce_room(crypto::AeadId::kAesSivCmac384), 16u);
  EXPECT_EQ(required_nonce_room(crypto::AeadId::kAesSivCmac512), 16u);
  EXPECT_EQ(required_nonce_room(crypto::AeadId::kAes128GcmSiv), 12u);
}

}  // namespace
}  // namespace ntsd::server
