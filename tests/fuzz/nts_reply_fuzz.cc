// ntsbench's reply verifier (bench/nts_client.h) on hostile replies. The first
// input byte picks the mode: even → the rest is the reply as is (with our
// origin stamp planted, so the checks past the header run); odd → the rest is
// XORed over a genuine reply made by ntsd's own request path. Invariants: a
// reply verifies only if it is byte for byte the genuine one, and a reply that
// fails leaves the cookie jar as it was.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "bench/nts_client.h"
#include "crypto/cookie.h"
#include "crypto/key_ring.h"
#include "proto/ntp_packet.h"
#include "server/respond.h"

namespace {

using namespace ntsd;

constexpr int64_t kNow = 1'900'000'000;
constexpr uint64_t kTransmit = 0x1111'2222'3333'4444ull;
constexpr proto::NtpTimestamp kRx{0xeb2a'5f10'8000'0000ull};
constexpr proto::NtpTimestamp kTx{0xeb2a'5f10'9000'0000ull};
constexpr crypto::AeadId kSiv = crypto::AeadId::kAesSivCmac256;

void check(bool condition) {
  if (!condition) std::abort();
}

// One client session, its request and the server's genuine reply, made once.
struct Fixture {
  crypto::KeyRing ring{std::vector<uint8_t>(32, 0x5e)};
  std::unique_ptr<const crypto::KeySnapshot> keys = ring.snapshot_at(kNow);
  std::vector<uint8_t> c2s = std::vector<uint8_t>(32, 0xc2), s2c = std::vector<uint8_t>(32, 0x2c);
  bench::NtsSession session;
  bench::RequestRecord record;
  std::vector<uint8_t> reply;

  Fixture() {
    crypto::SessionKeys session_keys;
    check(crypto::make_session_keys(kSiv, c2s, s2c, session_keys));
    std::vector<std::vector<uint8_t>> cookies(8, std::vector<uint8_t>(crypto::cookie_length(kSiv)));
    for (auto& cookie : cookies) check(crypto::seal_cookie(keys->current(), session_keys, cookie) == cookie.size());
    session = bench::make_session(kSiv, c2s, s2c, cookies);
    std::array<uint8_t, bench::kUniqueIdLength> uid{};
    uid.fill(0x42);
    std::vector<uint8_t> request(bench::kMaxRequestLength);
    request.resize(bench::build_nts_request(session, kTransmit, uid, 0, request, record));
    check(!request.empty());
    reply.resize(request.size());
    const server::Verdict v = server::respond(request, kRx, server::local_reference_state(), reply,
                                              server::NtsPolicy{keys.get(), false}, kTx);
    check(v.is_reply());
    reply.resize(v.reply_size);
    bench::NtsSession copy = session;
    check(bench::verify_nts_reply(copy, record, reply) == bench::ReplyVerdict::kVerified);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fixture;
  if (size == 0) return 0;
  std::vector<uint8_t> reply;
  if (data[0] & 1) {
    reply = fixture.reply;
    for (size_t i = 1; i < size && i - 1 < reply.size(); ++i) reply[i - 1] ^= data[i];
    // Longer inputs append bytes past the genuine end.
    if (size - 1 > reply.size()) reply.insert(reply.end(), data + 1 + reply.size(), data + size);
  } else {
    reply.assign(data + 1, data + size);
    if (reply.size() >= proto::kOffsetOrigin + 8) {
      proto::store_timestamp(reply, proto::kOffsetOrigin, proto::NtpTimestamp{kTransmit});
    }
  }
  bench::NtsSession session = fixture.session;
  const size_t jar_before = session.jar.size();
  const bench::ReplyVerdict verdict = bench::verify_nts_reply(session, fixture.record, reply);
  if (verdict == bench::ReplyVerdict::kVerified) {
    check(reply == fixture.reply);
  } else {
    check(session.jar.size() == jar_before);
  }
  // The plain verifier on the same bytes: only a server-mode reply to our stamp passes.
  if (bench::verify_plain_reply(kTransmit, reply) == bench::ReplyVerdict::kVerified) {
    check(reply.size() >= 48 && (reply[0] & 7) == 4);
  }
  return 0;
}
