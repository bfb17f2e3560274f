#include "proto/ke_record.h"

#include <gtest/gtest.h>

#include <vector>

namespace ntsd::proto {
namespace {

using Bytes = std::vector<uint8_t>;

// chrony 4.3's request (WIRE-NOTES §1): NPN 0, AEAD 15, EOM, all critical.
const Bytes kChronyRequest = {0x80, 0x01, 0x00, 0x02, 0x00, 0x00, 0x80, 0x04,
                              0x00, 0x02, 0x00, 0x0f, 0x80, 0x00, 0x00, 0x00};

Bytes rec(uint16_t word, Bytes body) {
  Bytes out = {static_cast<uint8_t>(word >> 8), static_cast<uint8_t>(word), static_cast<uint8_t>(body.size() >> 8),
               static_cast<uint8_t>(body.size())};
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

const Bytes kNp = rec(0x8001, {0, 0});
const Bytes kAead15 = rec(0x8004, {0, 15});
const Bytes kEom = rec(0x8000, {});

TEST(KeRecord, ParsesChronyRequest) {
  const KeRequestParse p = parse_ke_request(kChronyRequest);
  ASSERT_EQ(p.status, KeRequestStatus::kOk);
  EXPECT_EQ(p.consumed, 16u);
  EXPECT_EQ(p.request.next_protocols, std::vector<uint16_t>{0});
  EXPECT_EQ(p.request.aeads, std::vector<uint16_t>{15});
  EXPECT_FALSE(p.request.compliant_gcm_siv_export);
  EXPECT_EQ(p.request.port, -1);
}

TEST(KeRecord, EveryPrefixIsIncomplete) {
  for (size_t n = 0; n < kChronyRequest.size(); ++n) {
    const KeRequestParse p = parse_ke_request(std::span(kChronyRequest).first(n));
    EXPECT_EQ(p.status, KeRequestStatus::kIncomplete) << n;
  }
}

TEST(KeRecord, AeadListKeepsClientOrderAnd1024Flag) {
  const Bytes req = cat({kNp, rec(0x0004, {0, 30, 0, 15}), rec(1024, {}), kEom});
  const KeRequestParse p = parse_ke_request(req);
  ASSERT_EQ(p.status, KeRequestStatus::kOk);
  EXPECT_EQ(p.request.aeads, (std::vector<uint16_t>{30, 15}));
  EXPECT_TRUE(p.request.compliant_gcm_siv_export);
}

TEST(KeRecord, UnknownNonCriticalIsIgnored) {
  const Bytes req = cat({rec(0x4000, {1, 2, 3}), kNp, kAead15, rec(0x0123, {}), kEom});
  const KeRequestParse p = parse_ke_request(req);
  ASSERT_EQ(p.status, KeRequestStatus::kOk);
  EXPECT_EQ(p.request.unknown_ignored, 2);
}

TEST(KeRecord, ClientPortAndServerAccepted) {
  const Bytes req = cat({kNp, kAead15, rec(0x8007, {0x01, 0x7b}), rec(0x8006, {'a', '.', 'b'}), kEom});
  const KeRequestParse p = parse_ke_request(req);
  ASSERT_EQ(p.status, KeRequestStatus::kOk);
  EXPECT_EQ(p.request.port, 379);
  EXPECT_EQ(p.request.server, "a.b");
}

TEST(KeRecord, rejects_unknown_critical_with_error_0) {
  const Bytes req = cat({kNp, rec(0xc000, {}), kAead15, kEom});
  const KeRequestParse p = parse_ke_request(req);
  EXPECT_EQ(p.status, KeRequestStatus::kUnrecognizedCritical);
  EXPECT_EQ(ke_error_code_for(p.status), kKeErrorUnrecognizedCritical);
  // Reported as soon as the record is seen, before End of Message arrives.
  EXPECT_EQ(parse_ke_request(cat({kNp, rec(0xc000, {})})).status, KeRequestStatus::kUnrecognizedCritical);
}

TEST(KeRecord, rejects_missing_next_protocol) {
  const KeRequestParse p = parse_ke_request(cat({kAead15, kEom}));
  EXPECT_EQ(p.status, KeRequestStatus::kMissingNextProtocol);
  EXPECT_EQ(ke_error_code_for(p.status), kKeErrorBadRequest);
}

TEST(KeRecord, rejects_missing_aead) {
  EXPECT_EQ(parse_ke_request(cat({kNp, kEom})).status, KeRequestStatus::kMissingAead);
}

TEST(KeRecord, rejects_duplicates) {
  EXPECT_EQ(parse_ke_request(cat({kNp, kNp, kAead15, kEom})).status, KeRequestStatus::kDuplicateRecord);
  EXPECT_EQ(parse_ke_request(cat({kNp, kAead15, kAead15, kEom})).status, KeRequestStatus::kDuplicateRecord);
  EXPECT_EQ(parse_ke_request(cat({kNp, kAead15, rec(1024, {}), rec(1024, {}), kEom})).status,
            KeRequestStatus::kDuplicateRecord);
  EXPECT_EQ(parse_ke_request(cat({kNp, kAead15, rec(0x8007, {0, 1}), rec(0x8007, {0, 1}), kEom})).status,
            KeRequestStatus::kDuplicateRecord);
}

TEST(KeRecord, rejects_records_after_end_of_message) {
  const KeRequestParse p = parse_ke_request(cat({kChronyRequest, kNp}));
  EXPECT_EQ(p.status, KeRequestStatus::kDataAfterEnd);
  EXPECT_EQ(ke_error_code_for(p.status), kKeErrorBadRequest);
  EXPECT_EQ(parse_ke_request(cat({kChronyRequest, Bytes{0}})).status, KeRequestStatus::kDataAfterEnd);
}

TEST(KeRecord, rejects_oversized_request) {
  // One large unknown non-critical record pushes the request over the cap.
  const Bytes big = cat({kNp, kAead15, rec(0x0100, Bytes(1100, 0x55)), kEom});
  EXPECT_EQ(parse_ke_request(big).status, KeRequestStatus::kTooLarge);
  // Exactly at the cap without End of Message is already too large.
  Bytes at_cap = cat({kNp, kAead15, rec(0x0100, Bytes(kMaxKeRequestSize - 16, 0))});
  ASSERT_EQ(at_cap.size(), kMaxKeRequestSize);
  EXPECT_EQ(parse_ke_request(at_cap).status, KeRequestStatus::kTooLarge);
  // Ending exactly at the cap is fine.
  Bytes fits = cat({kNp, kAead15, rec(0x0100, Bytes(kMaxKeRequestSize - 20, 0)), kEom});
  ASSERT_EQ(fits.size(), kMaxKeRequestSize);
  EXPECT_EQ(parse_ke_request(fits).status, KeRequestStatus::kOk);
}

TEST(KeRecord, rejects_malformed_bodies) {
  EXPECT_EQ(parse_ke_request(cat({rec(0x8001, {0}), kAead15, kEom})).status, KeRequestStatus::kMalformedBody);
  EXPECT_EQ(parse_ke_request(cat({kNp, rec(0x8004, {0, 15, 0}), kEom})).status, KeRequestStatus::kMalformedBody);
  EXPECT_EQ(parse_ke_request(cat({kNp, kAead15, rec(0x8007, {1}), kEom})).status, KeRequestStatus::kMalformedBody);
  EXPECT_EQ(parse_ke_request(cat({kNp, kAead15, rec(0x8000, {0})})).status, KeRequestStatus::kMalformedBody);
}

TEST(KeRecord, rejects_server_only_records) {
  EXPECT_EQ(parse_ke_request(cat({kNp, kAead15, rec(0x8002, {0, 1}), kEom})).status,
            KeRequestStatus::kUnexpectedRecord);
  EXPECT_EQ(parse_ke_request(cat({kNp, kAead15, rec(0x0005, Bytes(100, 1)), kEom})).status,
            KeRequestStatus::kUnexpectedRecord);
}

TEST(KeRecord, RefusedRequestCarriesNoFields) {
  const KeRequestParse p = parse_ke_request(cat({kNp, kNp}));
  EXPECT_TRUE(p.request.next_protocols.empty());
}

TEST(KeRecord, WritersRoundTripThroughResponseParser) {
  Bytes out;
  const uint16_t np[] = {0};
  const uint16_t aead[] = {15};
  const uint16_t port[] = {11500};
  ASSERT_TRUE(append_ke_u16_record(out, true, kKeNextProtocol, np));
  ASSERT_TRUE(append_ke_u16_record(out, false, kKeAead, aead));
  ASSERT_TRUE(append_ke_u16_record(out, true, kKePort, port));
  const std::string name = "ntp.example";
  ASSERT_TRUE(append_ke_record(out, true, kKeServer, std::span(reinterpret_cast<const uint8_t*>(name.data()), name.size())));
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(append_ke_record(out, false, kKeNewCookie, Bytes(104, static_cast<uint8_t>(i))));
  append_ke_end(out);
  EXPECT_EQ(out.size(), 6u + 6 + 6 + 4 + name.size() + 8 * 108 + 4);
  EXPECT_EQ(out[6], 0x00);  // AEAD record written non-critical
  KeResponse r;
  ASSERT_EQ(parse_ke_response(out, r), KeResponseStatus::kOk);
  EXPECT_EQ(r.next_protocols, std::vector<uint16_t>{0});
  EXPECT_EQ(r.aeads, std::vector<uint16_t>{15});
  EXPECT_EQ(r.port, 11500);
  EXPECT_EQ(r.server, name);
  ASSERT_EQ(r.cookies.size(), 8u);
  EXPECT_EQ(r.cookies[7], Bytes(104, 7));
  EXPECT_FALSE(append_ke_record(out, false, kKeNewCookie, Bytes(70000, 0)));
}

TEST(KeRecord, ResponseParserReportsErrorRecordAndIncomplete) {
  Bytes out;
  const uint16_t code[] = {kKeErrorBadRequest};
  append_ke_u16_record(out, true, kKeError, code);
  KeResponse r;
  EXPECT_EQ(parse_ke_response(out, r), KeResponseStatus::kIncomplete);
  append_ke_end(out);
  ASSERT_EQ(parse_ke_response(out, r), KeResponseStatus::kOk);
  EXPECT_EQ(r.errors, std::vector<uint16_t>{1});
  EXPECT_EQ(parse_ke_response(cat({rec(0xc0ff, {}), kEom}), r), KeResponseStatus::kUnrecognizedCritical);
}

TEST(KeRecord, StatusNamesAreStable) {
  EXPECT_STREQ(ke_request_status_name(KeRequestStatus::kTooLarge), "too_large");
  EXPECT_STREQ(ke_request_status_name(KeRequestStatus::kUnrecognizedCritical), "unrecognized_critical");
}

}  // namespace
}  // namespace ntsd::proto
