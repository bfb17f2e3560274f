#include "ke/request_reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace ntsd::ke {
namespace {

using proto::KeRequestStatus;

// Next Protocol (NTPv4), AEAD (AES-SIV-CMAC-256), End of Message; all critical.
const std::vector<uint8_t> kRequest = {0x80, 0x01, 0x00, 0x02, 0x00, 0x00, 0x80, 0x04, 0x00,
                                       0x02, 0x00, 0x0f, 0x80, 0x00, 0x00, 0x00};

KeRequestStatus feed(RequestReader& reader, const std::vector<uint8_t>& bytes) {
  auto space = reader.space();
  const size_t n = std::min(space.size(), bytes.size());
  std::memcpy(space.data(), bytes.data(), n);
  return reader.add(n).status;
}

TEST(RequestReader, request_in_one_chunk_is_complete) {
  RequestReader reader;
  EXPECT_EQ(feed(reader, kRequest), KeRequestStatus::kOk);
}

TEST(RequestReader, request_split_anywhere_completes_at_end_of_message) {
  for (size_t cut = 1; cut < kRequest.size(); ++cut) {
    RequestReader reader;
    EXPECT_EQ(feed(reader, {kRequest.begin(), kRequest.begin() + cut}), KeRequestStatus::kIncomplete) << cut;
    EXPECT_EQ(feed(reader, {kRequest.begin() + cut, kRequest.end()}), KeRequestStatus::kOk) << cut;
  }
}

// Bytes after End of Message are not the request's: the answer is the same
// whether they came in End of Message's chunk or would have come later.
TEST(RequestReader, bytes_after_end_of_message_are_ignored_whatever_the_split) {
  std::vector<uint8_t> with_trailer = kRequest;
  with_trailer.insert(with_trailer.end(), {0x80, 0x01, 0x00, 0x02, 0x00, 0x00, 0xde, 0xad});
  RequestReader reader;
  EXPECT_EQ(feed(reader, with_trailer), KeRequestStatus::kOk);
}

TEST(RequestReader, reject_no_end_of_message_within_the_limit) {
  RequestReader reader;
  // Records of 0x7f bytes each (a non-critical unknown type), never End of Message.
  std::vector<uint8_t> records;
  while (records.size() <= proto::kMaxKeRequestSize) {
    records.insert(records.end(), {0x12, 0x34, 0x00, 0x7f});
    records.insert(records.end(), 0x7f, 0);
  }
  EXPECT_EQ(feed(reader, records), KeRequestStatus::kTooLarge);
}

}  // namespace
}  // namespace ntsd::ke
