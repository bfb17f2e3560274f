#include "proto/extension_field.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "proto/ntp_packet.h"

namespace ntsd::proto {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes client_header() {
  Bytes p(48, 0);
  p[0] = 0x23;
  p[2] = 6;
  p[3] = 0x20;
  for (size_t i = 40; i < 48; ++i) p[i] = static_cast<uint8_t>(0x90 + i);
  return p;
}

// Appends a raw field header with any length value, then body_bytes of filler.
void append_raw(Bytes& p, uint16_t type, uint16_t length, size_t body_bytes, uint8_t fill) {
  p.push_back(static_cast<uint8_t>(type >> 8));
  p.push_back(static_cast<uint8_t>(type));
  p.push_back(static_cast<uint8_t>(length >> 8));
  p.push_back(static_cast<uint8_t>(length));
  p.insert(p.end(), body_bytes, fill);
}

void append_field(Bytes& p, uint16_t type, size_t body_bytes, uint8_t fill) {
  append_raw(p, type, static_cast<uint16_t>(4 + body_bytes), body_bytes, fill);
}

void append_authenticator(Bytes& p, size_t nonce_len, size_t ciphertext_len) {
  Bytes body;
  body.push_back(static_cast<uint8_t>(nonce_len >> 8));
  body.push_back(static_cast<uint8_t>(nonce_len));
  body.push_back(static_cast<uint8_t>(ciphertext_len >> 8));
  body.push_back(static_cast<uint8_t>(ciphertext_len));
  body.insert(body.end(), nonce_len, 0x4e);
  body.insert(body.end(), pad4(nonce_len) - nonce_len, 0);
  body.insert(body.end(), ciphertext_len, 0xc7);
  body.insert(body.end(), pad4(ciphertext_len) - ciphertext_len, 0);
  append_raw(p, kEfNtsAuthenticator, static_cast<uint16_t>(4 + body.size()), 0, 0);
  p.insert(p.end(), body.begin(), body.end());
}

// chrony 4.3 request (WIRE-NOTES §2): header 48 + UID 36 + cookie 104 + authenticator 40.
Bytes chrony_nts_request() {
  Bytes p = client_header();
  append_field(p, kEfUniqueIdentifier, 32, 0xa5);
  append_field(p, kEfNtsCookie, 100, 0xc0);
  append_authenticator(p, 16, 16);
  return p;
}

// ntpsec 1.2.2 after missed replies: UID + cookie + N placeholders (104 each) + authenticator.
Bytes ntpsec_request_with_placeholders(int placeholders) {
  Bytes p = client_header();
  append_field(p, kEfUniqueIdentifier, 32, 0xa5);
  append_field(p, kEfNtsCookie, 100, 0xc0);
  for (int i = 0; i < placeholders; ++i) append_field(p, kEfNtsCookiePlaceholder, 100, 0);
  append_authenticator(p, 16, 16);
  return p;
}

void expect_contiguous(const Bytes& p, const ExtensionFieldList& list) {
  size_t expected = kNtpHeaderSize;
  for (size_t i = 0; i < list.count; ++i) {
    const ExtensionField& f = list.fields[i];
    EXPECT_EQ(f.offset, expected) << i;
    EXPECT_EQ(f.body.data(), p.data() + f.offset + 4) << i;
    EXPECT_EQ(f.body.size() + 4, f.length) << i;
    expected += f.length;
  }
  EXPECT_EQ(list.parsed_end, expected);
}

TEST(ExtensionField, chrony_nts_request_228_bytes) {
  const Bytes p = chrony_nts_request();
  ASSERT_EQ(p.size(), 228u);
  const ExtensionFieldList list = parse_extension_fields(p);
  EXPECT_EQ(list.status, EfStatus::kOk);
  ASSERT_EQ(list.count, 3u);
  expect_contiguous(p, list);
  EXPECT_EQ(list.parsed_end, 228u);
  EXPECT_EQ(list.fields[0].type, kEfUniqueIdentifier);
  EXPECT_EQ(list.fields[0].length, 36);
  EXPECT_EQ(list.fields[0].offset, 48u);
  EXPECT_EQ(list.fields[1].type, kEfNtsCookie);
  EXPECT_EQ(list.fields[1].length, 104);
  EXPECT_EQ(list.fields[1].offset, 84u);
  EXPECT_EQ(list.fields[2].type, kEfNtsAuthenticator);
  EXPECT_EQ(list.fields[2].length, 40);
  // Associated data is the packet up to the authenticator: 188 bytes (WIRE-NOTES §2).
  EXPECT_EQ(list.fields[2].offset, 188u);

  const auto auth = parse_nts_authenticator(list.fields[2].body);
  ASSERT_TRUE(auth.has_value());
  EXPECT_EQ(auth->nonce.size(), 16u);
  EXPECT_EQ(auth->ciphertext.size(), 16u);
  EXPECT_EQ(auth->nonce.data(), p.data() + 188 + 8);
  EXPECT_EQ(auth->ciphertext.data(), p.data() + 188 + 8 + 16);
  EXPECT_EQ(auth->nonce[0], 0x4e);
  EXPECT_EQ(auth->ciphertext[15], 0xc7);
}

TEST(ExtensionField, ntpsec_layout_with_placeholders) {
  for (int n : {1, 2, 3, 7}) {
    const Bytes p = ntpsec_request_with_placeholders(n);
    EXPECT_EQ(p.size(), 228u + 104u * static_cast<size_t>(n));  // 332, 436, 540, 956
    const ExtensionFieldList list = parse_extension_fields(p);
    EXPECT_EQ(list.status, EfStatus::kOk);
    ASSERT_EQ(list.count, 3u + static_cast<size_t>(n));
    expect_contiguous(p, list);
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(list.fields[2 + i].type, kEfNtsCookiePlaceholder);
      EXPECT_EQ(list.fields[2 + i].length, 104);
    }
    EXPECT_EQ(list.fields[list.count - 1].type, kEfNtsAuthenticator);
  }
}

TEST(ExtensionField, header_only_has_no_fields) {
  const Bytes p = client_header();
  const ExtensionFieldList list = parse_extension_fields(p);
  EXPECT_EQ(list.status, EfStatus::kOk);
  EXPECT_EQ(list.count, 0u);
  EXPECT_EQ(list.parsed_end, 48u);
}

TEST(ExtensionField, parse_rejects_packet_shorter_than_header) {
  Bytes p = client_header();
  p.resize(47);
  const ExtensionFieldList list = parse_extension_fields(p);
  EXPECT_EQ(list.status, EfStatus::kPacketTooShort);
  EXPECT_EQ(list.count, 0u);
  EXPECT_EQ(parse_extension_fields({}).status, EfStatus::kPacketTooShort);
}

TEST(ExtensionField, parse_rejects_truncated_field_header) {
  for (size_t extra = 1; extra <= 3; ++extra) {
    Bytes p = chrony_nts_request();
    p.insert(p.end(), extra, 0x01);
    const ExtensionFieldList list = parse_extension_fields(p);
    EXPECT_EQ(list.status, EfStatus::kTruncatedHeader) << extra;
    EXPECT_EQ(list.count, 3u);
    EXPECT_EQ(list.parsed_end, 228u);
  }
}

TEST(ExtensionField, parse_rejects_zero_length_field) {
  Bytes p = client_header();
  append_field(p, kEfUniqueIdentifier, 32, 0xa5);
  append_raw(p, kEfNtsCookie, 0, 100, 0xc0);
  const ExtensionFieldList list = parse_extension_fields(p);
  EXPECT_EQ(list.status, EfStatus::kLengthTooSmall);
  EXPECT_EQ(list.count, 1u);
  EXPECT_EQ(list.parsed_end, 84u);
}

TEST(ExtensionField, parse_rejects_length_below_header_size) {
  for (uint16_t length : {1, 2, 3}) {
    Bytes p = client_header();
    append_raw(p, 0x1234, length, 12, 0);
    EXPECT_EQ(parse_extension_fields(p).status, EfStatus::kLengthTooSmall) << length;
  }
}

TEST(ExtensionField, empty_body_field_of_length_4_is_valid) {
  Bytes p = client_header();
  append_raw(p, 0x2005, 4, 0, 0);
  append_field(p, kEfUniqueIdentifier, 32, 0xa5);
  const ExtensionFieldList list = parse_extension_fields(p);
  EXPECT_EQ(list.status, EfStatus::kOk);
  ASSERT_EQ(list.count, 2u);
  EXPECT_TRUE(list.fields[0].body.empty());
  expect_contiguous(p, list);
}

TEST(ExtensionField, parse_rejects_length_not_multiple_of_4) {
  for (uint16_t length : {5, 6, 7, 37, 103}) {
    Bytes p = client_header();
    append_raw(p, kEfUniqueIdentifier, length, 120, 0xa5);
    const ExtensionFieldList list = parse_extension_fields(p);
    EXPECT_EQ(list.status, EfStatus::kLengthNotMultipleOf4) << length;
    EXPECT_EQ(list.count, 0u);
    EXPECT_EQ(list.parsed_end, 48u);
  }
}

TEST(ExtensionField, parse_rejects_overrunning_field) {
  Bytes p = client_header();
  append_field(p, kEfUniqueIdentifier, 32, 0xa5);
  append_raw(p, kEfNtsCookie, 104, 96, 0xc0);  // claims 104, has 100
  const ExtensionFieldList list = parse_extension_fields(p);
  EXPECT_EQ(list.status, EfStatus::kOverrun);
  EXPECT_EQ(list.count, 1u);
  EXPECT_EQ(list.parsed_end, 84u);
}

TEST(ExtensionField, parse_rejects_oversized_length) {
  Bytes p = client_header();
  append_raw(p, kEfNtsCookie, 0xfffc, 100, 0xc0);
  EXPECT_EQ(parse_extension_fields(p).status, EfStatus::kOverrun);
}

TEST(ExtensionField, field_ending_exactly_at_packet_end_is_valid) {
  Bytes p = client_header();
  append_field(p, kEfNtsCookie, 100, 0xc0);
  ExtensionFieldList list = parse_extension_fields(p);
  EXPECT_EQ(list.status, EfStatus::kOk);
  EXPECT_EQ(list.count, 1u);
  EXPECT_EQ(list.parsed_end, p.size());
  p.pop_back();  // one byte short: overrun
  list = parse_extension_fields(p);
  EXPECT_EQ(list.status, EfStatus::kOverrun);
  EXPECT_EQ(list.count, 0u);
}

TEST(ExtensionField, exactly_max_fields_is_valid) {
  Bytes p = client_header();
  for (size_t i = 0; i < kMaxExtensionFields; ++i) append_field(p, kEfNtsCookiePlaceholder, 12, 0);
  const ExtensionFieldList list = parse_extension_fields(p);
  EXPECT_EQ(list.status, EfStatus::kOk);
  EXPECT_EQ(list.count, kMaxExtensionFields);
  expect_contiguous(p, list);
  EXPECT_EQ(list.parsed_end, p.size());
}

TEST(ExtensionField, parse_rejects_too_many_fields) {
  Bytes p = client_header();
  for (size_t i = 0; i < kMaxExtensionFields + 1; ++i) append_field(p, 0x0304, 0, 0);
  const ExtensionFieldList list = parse_extension_fields(p);
  EXPECT_EQ(list.status, EfStatus::kTooMany);
  EXPECT_EQ(list.count, kMaxExtensionFields);
  EXPECT_EQ(list.parsed_end, 48u + 4u * kMaxExtensionFields);
}

TEST(ExtensionField, legacy_mac_trailer_after_fields) {
  // MD5 MAC: key id 1 reads as type 0, length 1 -> stops with the 20 bytes left.
  Bytes p = client_header();
  append_field(p, 0x2005, 28, 0x11);
  const size_t fields_end = p.size();
  append_raw(p, 0x0000, 0x0001, 16, 0xdd);
  ExtensionFieldList list = parse_extension_fields(p);
  EXPECT_EQ(list.status, EfStatus::kLengthTooSmall);
  EXPECT_EQ(list.count, 1u);
  EXPECT_EQ(list.parsed_end, fields_end);
  EXPECT_TRUE(looks_like_legacy_mac(std::span<const uint8_t>(p).subspan(list.parsed_end)));

  // SHA-1 MAC whose key id low half is a large "length": overrun, 24 bytes left.
  p.resize(fields_end);
  append_raw(p, 0x0000, 0x0100, 20, 0xdd);
  list = parse_extension_fields(p);
  EXPECT_EQ(list.status, EfStatus::kOverrun);
  EXPECT_TRUE(looks_like_legacy_mac(std::span<const uint8_t>(p).subspan(list.parsed_end)));

  // Crypto-NAK: plain header + 4 zero bytes.
  p = client_header();
  p.insert(p.end(), 4, 0);
  list = parse_extension_fields(p);
  EXPECT_EQ(list.status, EfStatus::kLengthTooSmall);
  EXPECT_EQ(list.parsed_end, 48u);
  EXPECT_TRUE(looks_like_legacy_mac(std::span<const uint8_t>(p).subspan(list.parsed_end)));
}

TEST(ExtensionField, legacy_mac_rejects_other_sizes) {
  const Bytes big(64, 0);
  for (size_t n = 0; n <= 64; ++n) {
    const bool mac = looks_like_legacy_mac(std::span<const uint8_t>(big.data(), n));
    EXPECT_EQ(mac, n == 4 || n == 20 || n == 24) << n;
  }
}

TEST(ExtensionField, status_names) {
  EXPECT_STREQ(ef_status_name(EfStatus::kOk), "ok");
  EXPECT_STREQ(ef_status_name(EfStatus::kTruncatedHeader), "truncated_header");
  EXPECT_STREQ(ef_status_name(EfStatus::kLengthTooSmall), "length_too_small");
  EXPECT_STREQ(ef_status_name(EfStatus::kLengthNotMultipleOf4), "length_not_multiple_of_4");
  EXPECT_STREQ(ef_status_name(EfStatus::kOverrun), "overrun");
  EXPECT_STREQ(ef_status_name(EfStatus::kTooMany), "too_many");
  EXPECT_STREQ(ef_status_name(EfStatus::kPacketTooShort), "packet_too_short");
  EXPECT_STREQ(ef_status_name(static_cast<EfStatus>(200)), "unknown");
}

Bytes auth_body(uint16_t nonce_len, uint16_t ciphertext_len, size_t actual_size) {
  Bytes b(actual_size, 0x77);
  b[0] = static_cast<uint8_t>(nonce_len >> 8);
  b[1] = static_cast<uint8_t>(nonce_len);
  b[2] = static_cast<uint8_t>(ciphertext_len >> 8);
  b[3] = static_cast<uint8_t>(ciphertext_len);
  return b;
}

TEST(NtsAuthenticator, unaligned_lengths_use_padding) {
  const Bytes b = auth_body(13, 17, 4 + 16 + 20);
  const auto a = parse_nts_authenticator(b);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->nonce.data(), b.data() + 4);
  EXPECT_EQ(a->nonce.size(), 13u);
  EXPECT_EQ(a->ciphertext.data(), b.data() + 20);
  EXPECT_EQ(a->ciphertext.size(), 17u);
}

TEST(NtsAuthenticator, parse_rejects_missing_padding) {
  EXPECT_FALSE(parse_nts_authenticator(auth_body(13, 17, 4 + 16 + 19)).has_value());
  EXPECT_FALSE(parse_nts_authenticator(auth_body(13, 17, 4 + 13 + 17)).has_value());
}

TEST(NtsAuthenticator, parse_rejects_nonce_overrun) {
  EXPECT_FALSE(parse_nts_authenticator(auth_body(16, 0, 16)).has_value());
  EXPECT_FALSE(parse_nts_authenticator(auth_body(0xffff, 0, 64)).has_value());
}

TEST(NtsAuthenticator, parse_rejects_ciphertext_overrun) {
  EXPECT_FALSE(parse_nts_authenticator(auth_body(16, 17, 4 + 16 + 16)).has_value());
  EXPECT_FALSE(parse_nts_authenticator(auth_body(16, 0xffff, 4 + 16 + 100)).has_value());
  EXPECT_FALSE(parse_nts_authenticator(auth_body(0xffff, 0xffff, 4 + 16 + 100)).has_value());
}

TEST(NtsAuthenticator, parse_rejects_truncated_body) {
  for (size_t n = 0; n < 4; ++n) {
    EXPECT_FALSE(parse_nts_authenticator(Bytes(n, 0)).has_value()) << n;
  }
}

TEST(NtsAuthenticator, exact_bound_and_extra_padding_accepted) {
  EXPECT_TRUE(parse_nts_authenticator(auth_body(16, 16, 36)).has_value());
  EXPECT_TRUE(parse_nts_authenticator(auth_body(0, 0, 4)).has_value());
  const auto a = parse_nts_authenticator(auth_body(16, 16, 36 + 16));  // RFC 8915 extra padding
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->ciphertext.size(), 16u);
}

TEST(WriteExtensionField, pads_body_with_zeros) {
  Bytes out(16, 0xee);
  const uint8_t body[5] = {1, 2, 3, 4, 5};
  ASSERT_EQ(write_extension_field(out, 0x0104, body), 12u);
  const Bytes want = {0x01, 0x04, 0x00, 0x0c, 1, 2, 3, 4, 5, 0, 0, 0, 0xee, 0xee, 0xee, 0xee};
  EXPECT_EQ(out, want);
}

TEST(WriteExtensionField, empty_body_and_exact_fit) {
  Bytes out(4, 0xee);
  EXPECT_EQ(write_extension_field(out, 0x0304, {}), 4u);
  EXPECT_EQ(out, (Bytes{0x03, 0x04, 0x00, 0x04}));
  const Bytes body(100, 0xc0);
  Bytes exact(104);
  EXPECT_EQ(write_extension_field(exact, kEfNtsCookie, body), 104u);
}

TEST(WriteExtensionField, write_rejects_when_it_does_not_fit) {
  const Bytes body(101, 0xc0);
  Bytes out(107, 0xee);  // needs 108
  EXPECT_EQ(write_extension_field(out, kEfNtsCookie, body), 0u);
  EXPECT_EQ(out, Bytes(107, 0xee));  // untouched
  Bytes small(3);
  EXPECT_EQ(write_extension_field(small, 0x0304, {}), 0u);
  EXPECT_EQ(write_extension_field_header(small, 0x0304, 4), 0u);
}

TEST(WriteExtensionField, write_rejects_body_too_large_for_u16_length) {
  const Bytes body(0xfff9, 0);  // padded 0xfffc + 4 header > 0xffff
  Bytes out(0x10008);
  EXPECT_EQ(write_extension_field(out, 0x1234, body), 0u);
  const Bytes ok_body(0xfff8, 0);
  EXPECT_EQ(write_extension_field(out, 0x1234, ok_body), 0xfffcu);
}

TEST(WriteExtensionField, body_already_in_place) {
  Bytes out(40, 0);
  for (size_t i = 0; i < 32; ++i) out[4 + i] = static_cast<uint8_t>(i);
  ASSERT_EQ(
      write_extension_field(out, kEfUniqueIdentifier, std::span<const uint8_t>(out.data() + 4, 32)),
      36u);
  const ExtensionFieldList list = [&] {
    Bytes p = client_header();
    p.insert(p.end(), out.begin(), out.begin() + 36);
    return parse_extension_fields(p);
  }();
  EXPECT_EQ(list.status, EfStatus::kOk);
  EXPECT_EQ(out[4 + 31], 31);
}

TEST(WriteExtensionField, written_fields_parse_back) {
  Bytes p = client_header();
  p.resize(228 + 8);
  size_t at = 48;
  const Bytes uid(32, 0xa5), cookie(100, 0xc0), nonce(16, 0x4e), tag(16, 0xc7);
  at += write_extension_field(std::span<uint8_t>(p).subspan(at), kEfUniqueIdentifier, uid);
  at += write_extension_field(std::span<uint8_t>(p).subspan(at), kEfNtsCookie, cookie);
  at += write_nts_authenticator(std::span<uint8_t>(p).subspan(at), nonce, tag);
  ASSERT_EQ(at, 228u);
  p.resize(at);
  EXPECT_EQ(p, chrony_nts_request());
}

TEST(WriteNtsAuthenticator, pads_and_round_trips) {
  EXPECT_EQ(nts_authenticator_field_size(16, 16), 40u);
  EXPECT_EQ(nts_authenticator_field_size(16, 120), 144u);  // chrony reply, WIRE-NOTES §2
  EXPECT_EQ(nts_authenticator_field_size(13, 17), 44u);
  Bytes out(44, 0xee);
  const Bytes nonce(13, 0x4e), ct(17, 0xc7);
  ASSERT_EQ(write_nts_authenticator(out, nonce, ct), 44u);
  Bytes p = client_header();
  p.insert(p.end(), out.begin(), out.end());
  const ExtensionFieldList list = parse_extension_fields(p);
  ASSERT_EQ(list.status, EfStatus::kOk);
  ASSERT_EQ(list.count, 1u);
  EXPECT_EQ(list.fields[0].type, kEfNtsAuthenticator);
  const auto a = parse_nts_authenticator(list.fields[0].body);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(Bytes(a->nonce.begin(), a->nonce.end()), nonce);
  EXPECT_EQ(Bytes(a->ciphertext.begin(), a->ciphertext.end()), ct);
  // Padding bytes are zero.
  EXPECT_EQ(out[8 + 13], 0);
  EXPECT_EQ(out[8 + 15], 0);
  EXPECT_EQ(out[8 + 16 + 17], 0);
  EXPECT_EQ(out[43], 0);
}

TEST(WriteNtsAuthenticator, ciphertext_encrypted_in_place) {
  Bytes out(40, 0);
  for (size_t i = 0; i < 16; ++i) out[24 + i] = static_cast<uint8_t>(0xc0 + i);
  const Bytes nonce(16, 0x4e);
  ASSERT_EQ(write_nts_authenticator(out, nonce, std::span<const uint8_t>(out.data() + 24, 16)),
            40u);
  EXPECT_EQ(out[24], 0xc0);
  EXPECT_EQ(out[39], 0xcf);
  EXPECT_EQ(out[8], 0x4e);
}

TEST(WriteNtsAuthenticator, write_rejects_when_it_does_not_fit) {
  Bytes out(39, 0xee);
  const Bytes nonce(16, 0x4e), ct(16, 0xc7);
  EXPECT_EQ(write_nts_authenticator(out, nonce, ct), 0u);
  EXPECT_EQ(out, Bytes(39, 0xee));
}

}  // namespace
}  // namespace ntsd::proto
