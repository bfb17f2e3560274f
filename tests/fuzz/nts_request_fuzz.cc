// server::parse_nts_request() on hostile packets (and scan_nts_request, the
// request path's one-pass form, held to its answers): the first input byte picks
// raw bytes (even) or a valid NTS request from the tree's client codec with
// the rest XORed over it (odd). Invariants: it never reads outside the
// packet; an accepted request's spans all lie inside it, in order (UID and
// cookie before the authenticator, associated data = everything before the
// authenticator field), with a UID of at least 32 bytes and 1..8 cookies asked.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "clock/nts_codec.h"
#include "crypto/key_ring.h"
#include "proto/extension_field.h"
#include "server/nts_request.h"
#include "testing/nts_test_client.h"

namespace {

using namespace ntsd;

void check(bool condition) {
  if (!condition) std::abort();
}

bool inside(std::span<const uint8_t> part, std::span<const uint8_t> whole) {
  return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const crypto::KeyRing ring{std::vector<uint8_t>(32, 0x33)};
  static const auto keys = ring.snapshot_at(1'900'000'000);
  if (size == 0) return 0;
  std::vector<uint8_t> packet;
  if ((data[0] & 1) && size >= 2) {
    const auto session = testing::sealed_session(keys->current(), data[1]);
    const std::vector<uint8_t> uid(32 + (data[1] & 0x1c), data[1]);
    packet = testing::request_bytes(session, 0x0102'0304'0506'0708ull, uid, (data[1] >> 5) & 7);
    check(!packet.empty());
    for (size_t i = 2; i < size && i - 2 < packet.size(); ++i) packet[i - 2] ^= data[i];
  } else {
    packet.assign(data + 1, data + size);
  }
  const std::span<const uint8_t> whole(packet);
  const proto::ExtensionFieldList fields = proto::parse_extension_fields(whole);
  // The request path's one-pass form gives the same answers, malformed lists included.
  server::NtsRequest listed, scanned;
  const server::NtsShape shape = server::parse_nts_request(whole, fields, &listed);
  const server::NtsScan scan = server::scan_nts_request(whole, &scanned);
  check(scan.shape == shape);
  check(scan.fields_ok == (fields.status == proto::EfStatus::kOk));
  check(scan.parsed_end == fields.parsed_end);
  if (shape == server::NtsShape::kOk) {
    const auto same = [](std::span<const uint8_t> a, std::span<const uint8_t> b) {
      return a.data() == b.data() && a.size() == b.size();
    };
    check(same(scanned.unique_id, listed.unique_id) && same(scanned.cookie, listed.cookie));
    check(same(scanned.associated_data, listed.associated_data));
    check(same(scanned.nonce, listed.nonce) && same(scanned.ciphertext, listed.ciphertext));
    check(scanned.cookies_asked == listed.cookies_asked && scanned.nonce_room == listed.nonce_room);
  }
  if (fields.status != proto::EfStatus::kOk) return 0;
  server::NtsRequest request;
  if (server::parse_nts_request(whole, fields, &request) != server::NtsShape::kOk) return 0;
  check(inside(request.unique_id, whole) && inside(request.cookie, whole));
  check(inside(request.associated_data, whole) && inside(request.nonce, whole) && inside(request.ciphertext, whole));
  check(request.associated_data.data() == whole.data());
  check(request.unique_id.size() >= server::kMinUniqueIdLength);
  check(!request.cookie.empty());
  check(request.cookies_asked >= 1 && request.cookies_asked <= server::kMaxCookiesPerReply);
  check(request.unique_id.data() + request.unique_id.size() <= whole.data() + request.associated_data.size());
  check(request.cookie.data() + request.cookie.size() <= whole.data() + request.associated_data.size());
  check(request.nonce.data() >= whole.data() + request.associated_data.size());
  return 0;
}
