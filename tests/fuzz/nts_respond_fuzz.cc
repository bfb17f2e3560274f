// Random and mutated NTS requests through respond(), with real keys. The
// first input byte picks the mode: even → the rest is the packet as is; odd →
// a valid NTS request (session and placeholder count from bytes 1-2) with the
// rest of the input XORed over it, so mutations reach deep into the crypto
// path; requests come from the tree's NTS client codec (//clock:nts_codec).
// Invariants: a reply is never larger than its request, and its kind fits its
// shape (NTS replies authenticate; NAKs carry the request's UID).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "clock/nts_codec.h"
#include "crypto/key_ring.h"
#include "proto/extension_field.h"
#include "proto/ntp_packet.h"
#include "server/respond.h"
#include "testing/nts_test_client.h"

namespace {

using namespace ntsd;

constexpr int64_t kNow = 1'900'000'000;

struct Fixture {
  crypto::KeyRing ring{std::vector<uint8_t>(32, 0x5e)};
  std::unique_ptr<const crypto::KeySnapshot> keys = ring.snapshot_at(kNow);
  server::ServerState state = server::local_reference_state();
};

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fixture;
  if (size == 0) return 0;
  std::vector<uint8_t> request;
  clock::NtsSession session;
  clock::RequestRecord record;
  const bool built = (data[0] & 1) != 0 && size >= 3;
  if (built) {
    const auto aead = (data[1] & 1) ? crypto::AeadId::kAes128GcmSiv : crypto::AeadId::kAesSivCmac256;
    session = testing::sealed_session(fixture.keys->current(), data[1], aead);
    const std::vector<uint8_t> uid(32 + (data[2] & 0x1c), data[2]);
    request = testing::request_bytes(session, 0x0102'0304'0506'0708ull + data[1], uid,
                                     (data[2] >> 5) & 7, &record);
    check(!request.empty());
    for (size_t i = 3; i < size && i - 3 < request.size(); ++i) request[i - 3] ^= data[i];
  } else {
    request.assign(data + 1, data + size);
  }
  std::vector<uint8_t> out(request.size() + 64, 0xee);  // room beyond the request: must stay unused
  const server::NtsPolicy policy{fixture.keys.get(), false};
  const server::Verdict verdict =
      server::respond(request, proto::NtpTimestamp{0xeb2a'5f10'0000'0000ull},
                      fixture.state, std::span(out).first(request.size()), policy,
                      proto::NtpTimestamp{0xeb2a'5f10'1000'0000ull});
  for (size_t i = request.size(); i < out.size(); ++i) check(out[i] == 0xee);
  if (!verdict.is_reply()) return 0;
  check(verdict.reply_size <= request.size());
  check(verdict.reply_size >= proto::kNtpHeaderSize);
  const std::span<const uint8_t> reply(out.data(), verdict.reply_size);
  check(proto::mode_of(reply[0]) == proto::Mode::kServer);
  if (verdict.kind == server::ReplyKind::kNts) {
    const auto fields = proto::parse_extension_fields(reply);
    check(fields.status == proto::EfStatus::kOk && fields.count == 2);
    check(fields.fields[1].type == proto::kEfNtsAuthenticator);
    // Unmutated key material: the client must be able to check the reply.
    if (built && size <= 3) check(testing::verified_cookies(session, record, reply).has_value());
  }
  if (verdict.kind == server::ReplyKind::kNak) {
    check(reply[1] == 0);  // stratum 0
    check(proto::load_u32(reply, proto::kOffsetReferenceId) == proto::refid_from_ascii("NTSN"));
  }
  return 0;
}
