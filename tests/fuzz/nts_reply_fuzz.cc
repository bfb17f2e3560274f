// The NTS client codec's reply verifier (clock/nts_codec.h) on hostile replies. The first
// input byte picks the mode: even → the rest is the reply as is (with our
// origin stamp planted, so the checks past the header run); odd → the rest is
// XORed over a genuine reply made by ntsd's own request path. Invariants: a
// reply verifies only if it is byte for byte the genuine one, and a reply that
// fails leaves the cookie jar as it was.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "clock/exchange.h"
#include "clock/nts_codec.h"
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
  clock::NtsSession session;
  clock::RequestRecord record;
  std::vector<uint8_t> reply;

  Fixture() {
    crypto::SessionKeys session_keys;
    check(crypto::make_session_keys(kSiv, c2s, s2c, session_keys));
    std::vector<std::vector<uint8_t>> cookies(8, std::vector<uint8_t>(crypto::cookie_length(kSiv)));
    for (auto& cookie : cookies) check(crypto::seal_cookie(keys->current(), session_keys, cookie) == cookie.size());
    session = clock::make_session(kSiv, c2s, s2c, cookies);
    std::array<uint8_t, clock::kUniqueIdLength> uid{};
    uid.fill(0x42);
    std::vector<uint8_t> request(clock::kMaxRequestLength);
    request.resize(clock::build_nts_request(session, kTransmit, uid, 0, request, record));
    check(!request.empty());
    reply.resize(request.size());
    const server::Verdict v = server::respond(request, kRx, server::local_reference_state(), reply,
                                              server::NtsPolicy{keys.get(), false}, kTx);
    check(v.is_reply());
    reply.resize(v.reply_size);
    clock::NtsSession copy = session;
    check(clock::verify_nts_reply(copy, record, reply) == clock::ReplyVerdict::kVerified);
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
  // Both cookie-count policies: strict (ntsbench) and lenient (an upstream client).
  for (const auto count : {clock::CookieCount::kExact, clock::CookieCount::kAtMostAsked}) {
    clock::NtsSession session = fixture.session;
    const auto jar_before = session.jar.cookies();
    const clock::ReplyVerdict verdict =
        clock::verify_nts_reply(session, fixture.record, reply, count);
    // Anything that authenticates (a reply or a kiss) must be the genuine reply.
    if (verdict == clock::ReplyVerdict::kVerified || verdict == clock::ReplyVerdict::kKodAuthenticated) {
      check(reply == fixture.reply);
    } else {
      check(session.jar.cookies() == jar_before);
    }
  }
  // The plain verifier on the same bytes: only a server-mode reply to our stamp passes.
  if (clock::verify_plain_reply(kTransmit, reply) == clock::ReplyVerdict::kVerified) {
    check(reply.size() >= 48 && (reply[0] & 7) == 4);
  }
  // The upstream client's header parser on the same bytes: a sample is finite,
  // has a non-negative delay and comes only from a synchronised server reply.
  constexpr int64_t kT1 = 1'790'000'000'000'000'000;
  const clock::ExchangeResult r = clock::sample_from_reply(reply, kT1, kT1 + 20'000'000, 1e-7);
  if (r.reject == clock::SampleReject::kNone) {
    check(std::isfinite(r.sample.offset) && std::isfinite(r.sample.delay) && r.sample.delay >= 0);
    check(r.sample.header.stratum >= 1 && r.sample.header.stratum < 16 && (reply[0] & 7) == 4);
  }
  return 0;
}
