// Batches of 1..64 mixed requests through server::BatchResponder, with real
// keys: the batched crypto must treat every lane exactly as the one-request
// path does. The input is cut into requests: each starts with a control byte
// (kind: valid NTS request from the tree's client codec — mutated or not —,
// plain request, or raw bytes; session seed, AEAD, placeholders) and a length
// byte, then mutation/raw bytes. Invariants: every reply is no larger than
// its request and bytes past it are untouched; each lane's verdict equals
// server::respond()'s for the same request alone; an unmutated NTS request's
// reply verifies under the client's S2C key and carries one fresh cookie per
// cookie + placeholder. The same batch through the EVP NtsCrypto (the
// reference) and the fast one, both with nonces from one fixed key, gives the
// same verdicts and the same bytes in every reply buffer.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <vector>

#include "clock/nts_codec.h"
#include "crypto/key_ring.h"
#include "crypto/nts_crypto.h"
#include "proto/ntp_packet.h"
#include "server/batch_responder.h"
#include "server/respond.h"
#include "testing/nts_test_client.h"

namespace {

using namespace ntsd;

constexpr int64_t kNow = 1'900'000'000;
constexpr proto::NtpTimestamp kRx{0xeb2a'5f10'0000'0000ull};
constexpr proto::NtpTimestamp kTx{0xeb2a'5f10'1000'0000ull};

struct Fixture {
  crypto::KeyRing ring{std::vector<uint8_t>(32, 0x5e)};
  std::unique_ptr<const crypto::KeySnapshot> keys = ring.snapshot_at(kNow);
  server::ServerState state = server::local_reference_state();
  server::BatchResponder responder;
  // The differential pair: same nonce key, the two implementations.
  static constexpr std::array<uint8_t, 16> kNonceKey = {0x6e, 0x74, 0x73, 0x64};
  server::BatchResponder evp{crypto::evp_nts_crypto(), kNonceKey};
  server::BatchResponder fast{crypto::auto_nts_crypto(), kNonceKey};
};

void check(bool condition) {
  if (!condition) std::abort();
}

struct Lane {
  std::vector<uint8_t> request;
  std::vector<uint8_t> out;  // request-sized plus a guard area
  bool genuine = false;      // an unmutated NTS request with key material we know
  const clock::NtsSession* session = nullptr;  // in the static map below: stable, never copied per lane
  clock::RequestRecord record;
  size_t placeholders = 0;
};

constexpr size_t kGuard = 32;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fixture;
  std::vector<Lane> lanes;
  lanes.reserve(server::kMaxBatch);
  size_t at = 0;
  while (at + 2 <= size && lanes.size() < server::kMaxBatch) {
    const uint8_t control = data[at];
    const size_t length = data[at + 1];
    at += 2;
    const size_t take = std::min(length, size - at);
    const uint8_t* bytes = data + at;
    at += take;
    Lane lane;
    switch (control & 3) {
      case 0:
      case 1: {  // an NTS request, mutated by the bytes (none: genuine)
        const auto aead = (control & 4) ? crypto::AeadId::kAes128GcmSiv : crypto::AeadId::kAesSivCmac256;
        // Sessions are deterministic per (seed, AEAD): made once, copied per lane.
        static std::map<int, clock::NtsSession> sessions;
        const int key = (control >> 3) * 2 + ((control & 4) ? 1 : 0);
        auto it = sessions.find(key);
        if (it == sessions.end()) {
          it = sessions
                   .emplace(key,
                            testing::sealed_session(fixture.keys->current(), control >> 3, aead))
                   .first;
        }
        lane.session = &it->second;
        const std::vector<uint8_t> uid(32 + (control & 0x18), control);
        lane.placeholders = (control >> 5) & 7;
        lane.request = testing::request_bytes(*lane.session, 0x0102'0304'0506'0708ull + control,
                                              uid, lane.placeholders, &lane.record);
        check(!lane.request.empty());
        for (size_t i = 0; i < take && i < lane.request.size(); ++i) {
          lane.request[(i * 7 + control) % lane.request.size()] ^= bytes[i];
        }
        lane.genuine = take == 0;
        break;
      }
      case 2: {  // a plain client request
        lane.request.assign(48, 0);
        lane.request[0] = proto::li_vn_mode(proto::Leap::kNone, 4, proto::Mode::kClient);
        proto::store_timestamp(lane.request, proto::kOffsetTransmit, proto::NtpTimestamp{0x1111'2222'3333'0000ull + control});
        for (size_t i = 0; i < take && i < 48; ++i) lane.request[i] ^= bytes[i] & ((control & 8) ? 0xff : 0);
        break;
      }
      default:  // raw bytes
        lane.request.assign(bytes, bytes + take);
        break;
    }
    lane.out.assign(lane.request.size() + kGuard, 0xee);
    lanes.push_back(std::move(lane));
  }
  if (lanes.empty()) return 0;

  std::vector<server::Request> requests(lanes.size());
  std::vector<server::Reply> replies(lanes.size());
  for (size_t i = 0; i < lanes.size(); ++i) {
    requests[i].bytes = lanes[i].request;
    requests[i].rx_time = kRx;
    replies[i].buffer = std::span(lanes[i].out).first(lanes[i].request.size());
  }
  const server::NtsPolicy policy{fixture.keys.get(), false};
  fixture.responder.prepare(requests, fixture.state, policy, replies);
  fixture.responder.finish(kTx, replies);

  // Differential: EVP against fast (auto; EVP again where the CPU has no AES-NI).
  std::vector<std::vector<uint8_t>> evp_out(lanes.size()), fast_out(lanes.size());
  std::vector<server::Reply> evp_replies(lanes.size()), fast_replies(lanes.size());
  for (size_t i = 0; i < lanes.size(); ++i) {
    evp_out[i].assign(lanes[i].request.size(), 0xee);
    fast_out[i].assign(lanes[i].request.size(), 0xee);
    evp_replies[i].buffer = evp_out[i];
    fast_replies[i].buffer = fast_out[i];
  }
  fixture.evp.prepare(requests, fixture.state, policy, evp_replies);
  fixture.evp.finish(kTx, evp_replies);
  fixture.fast.prepare(requests, fixture.state, policy, fast_replies);
  fixture.fast.finish(kTx, fast_replies);
  for (size_t i = 0; i < lanes.size(); ++i) {
    const server::Verdict& a = evp_replies[i].verdict;
    const server::Verdict& b = fast_replies[i].verdict;
    check(a.action == b.action && a.reason == b.reason && a.kind == b.kind && a.nak == b.nak &&
          a.key_age == b.key_age && a.reply_size == b.reply_size);
    check(a.action == replies[i].verdict.action && a.reply_size == replies[i].verdict.reply_size);
    check(evp_out[i] == fast_out[i]);
  }

  for (size_t i = 0; i < lanes.size(); ++i) {
    const Lane& lane = lanes[i];
    const server::Verdict& v = replies[i].verdict;
    for (size_t j = lane.request.size(); j < lane.out.size(); ++j) check(lane.out[j] == 0xee);
    // The same request alone through respond(): the same decision.
    std::vector<uint8_t> alone(lane.request.size());
    const server::Verdict single = server::respond(lane.request, kRx, fixture.state, alone, policy, kTx);
    check(single.action == v.action);
    if (v.is_reply()) {
      check(single.kind == v.kind && single.reply_size == v.reply_size);
      check(v.reply_size <= lane.request.size() && v.reply_size >= proto::kNtpHeaderSize);
    } else {
      check(single.reason == v.reason);
    }
    if (lane.genuine) {
      check(v.is_reply() && v.kind == server::ReplyKind::kNts);
      const auto cookies = testing::verified_cookies(
          *lane.session, lane.record, std::span<const uint8_t>(lane.out.data(), v.reply_size));
      check(cookies.has_value() && cookies->size() == 1 + lane.placeholders);
    }
  }
  return 0;
}
