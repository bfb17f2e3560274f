// The whole request path on both crypto implementations: BatchResponder over
// the EVP reference and over the fast path (XMM and YMM lanes, where the CPU
// has them), fed the same random and mutated batches, with nonces from the
// same fixed key. Every lane must get the same verdict and the same reply
// bytes (the whole request-sized buffer, so nothing differs past the reply
// either); genuine requests' replies must verify under the client codec, and
// their fresh cookies must open to the client's session under the server's
// keys.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "crypto/cpu.h"
#include "crypto/key_ring.h"
#include "crypto/nts_crypto.h"
#include "proto/ntp_packet.h"
#include "server/batch_responder.h"
#include "testing/nts_test_client.h"

namespace ntsd::server {
namespace {

constexpr int64_t kNow = 1'900'000'000;
constexpr proto::NtpTimestamp kRx{0xeb2a'5f10'8000'0000ull};
constexpr proto::NtpTimestamp kTx{0xeb2a'5f10'9000'0000ull};
constexpr std::array<uint8_t, 16> kNonceKey = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

// How a lane of a generated batch is made.
enum class LaneKind {
  kGenuine,          // a client codec request, untouched: an NTS reply that verifies
  kOldKey,           // the same with a cookie under yesterday's key: key age "previous"
  kTamperedCookie,   // one cookie byte flipped: NAK (tampered, or unknown key when in the id)
  kBadAuth,          // one authenticator byte flipped: NAK (bad authenticator)
  kMutated,          // 1..8 random bytes anywhere flipped: whatever it becomes, both agree
  kTruncated,        // cut short at a random length
  kPlain,            // 48-byte client request
  kRandom,           // random bytes
  kCount,
};

struct Lane {
  LaneKind kind = LaneKind::kRandom;
  const clock::NtsSession* session = nullptr;
  clock::RequestRecord record;
  std::vector<uint8_t> request;
};

struct Outcome {
  std::vector<Verdict> verdicts;
  std::vector<std::vector<uint8_t>> buffers;  // request-sized, 0xee before the call
};

class BatchResponderDifferential : public ::testing::Test {
 protected:
  void SetUp() override {
    if (crypto::fast_nts_crypto() == nullptr) GTEST_SKIP() << "no AES-NI: only the EVP implementation here";
    for (crypto::FastLanes lanes : {crypto::FastLanes::kXmm, crypto::FastLanes::kYmm}) {
      if (const crypto::NtsCrypto* fast = crypto::fast_nts_crypto(lanes)) fast_.push_back(fast);
    }
    // Sessions for each AEAD the server serves, under today's and yesterday's key.
    const crypto::AeadId aeads[] = {crypto::AeadId::kAesSivCmac256, crypto::AeadId::kAes128GcmSiv,
                                    crypto::AeadId::kAesSivCmac512, crypto::AeadId::kAesSivCmac384};
    for (uint32_t i = 0; i < 24; ++i) {
      const crypto::AeadId aead = aeads[i % 8 < 4 ? 0 : (i % 8 < 6 ? 1 : i % 8 - 4)];
      current_.push_back(testing::sealed_session(keys_->current(), 100 + i, aead));
      old_.push_back(testing::sealed_session(yesterday_->current(), 200 + i, aead));
    }
  }

  Lane make_lane(std::mt19937_64& rng) const {
    Lane lane;
    lane.kind = static_cast<LaneKind>(rng() % static_cast<size_t>(LaneKind::kCount));
    if (lane.kind == LaneKind::kPlain) {
      lane.request.assign(48, 0);
      lane.request[0] = proto::li_vn_mode(proto::Leap::kNone, 4, proto::Mode::kClient);
      proto::store_timestamp(lane.request, proto::kOffsetTransmit, proto::NtpTimestamp{rng() | 1});
      return lane;
    }
    if (lane.kind == LaneKind::kRandom) {
      lane.request.resize(rng() % 300);
      for (auto& b : lane.request) b = static_cast<uint8_t>(rng());
      return lane;
    }
    const auto& pool = lane.kind == LaneKind::kOldKey ? old_ : current_;
    lane.session = &pool[rng() % pool.size()];
    const std::vector<uint8_t> uid(32 + 4 * (rng() % 4), static_cast<uint8_t>(rng()));
    lane.request = testing::request_bytes(*lane.session, rng() | 1, uid, rng() % 4, &lane.record);
    EXPECT_FALSE(lane.request.empty());
    const size_t cookie_at = 48 + 4 + uid.size() + 4;  // UID field, then the cookie's body
    switch (lane.kind) {
      case LaneKind::kTamperedCookie:
        lane.request[cookie_at + rng() % 24] ^= static_cast<uint8_t>(1u << (rng() % 8));
        break;
      case LaneKind::kBadAuth:
        lane.request[lane.request.size() - 1 - rng() % 16] ^= 0x40;
        break;
      case LaneKind::kMutated:
        for (size_t n = 1 + rng() % 8; n > 0; --n) {
          lane.request[rng() % lane.request.size()] ^= static_cast<uint8_t>(rng() | 1);
        }
        break;
      case LaneKind::kTruncated:
        lane.request.resize(rng() % lane.request.size());
        break;
      default:
        break;
    }
    return lane;
  }

  Outcome run(const crypto::NtsCrypto& crypto, const std::vector<Lane>& lanes) const {
    BatchResponder responder(crypto, kNonceKey);
    Outcome out;
    out.buffers.reserve(lanes.size());
    std::vector<Request> requests;
    std::vector<Reply> replies;
    for (const Lane& lane : lanes) {
      out.buffers.emplace_back(lane.request.size(), 0xee);
      requests.push_back({lane.request, kRx});
    }
    for (auto& b : out.buffers) replies.push_back({b, {}});
    responder.prepare(requests, state_, NtsPolicy{keys_.get(), false}, replies);
    responder.finish(kTx, replies);
    for (const Reply& r : replies) out.verdicts.push_back(r.verdict);
    return out;
  }

  // The reference and every fast variant on one batch; genuine lanes checked end to end.
  void compare(const std::vector<Lane>& lanes, const std::string& what) {
    const Outcome want = run(crypto::evp_nts_crypto(), lanes);
    for (const crypto::NtsCrypto* fast : fast_) {
      const Outcome got = run(*fast, lanes);
      for (size_t i = 0; i < lanes.size(); ++i) {
        const Verdict& a = want.verdicts[i];
        const Verdict& b = got.verdicts[i];
        SCOPED_TRACE(what + " lane " + std::to_string(i) + " kind " +
                     std::to_string(static_cast<int>(lanes[i].kind)) + " on " +
                     std::string(fast->name()));
        ASSERT_EQ(a.action, b.action);
        if (a.is_reply()) {
          EXPECT_EQ(a.kind, b.kind);
          EXPECT_EQ(a.reply_size, b.reply_size);
          if (a.kind == ReplyKind::kNak) {
            EXPECT_EQ(a.nak, b.nak);
          }
          if (a.kind == ReplyKind::kNts) {
            EXPECT_EQ(a.key_age, b.key_age);
          }
        } else {
          EXPECT_EQ(a.reason, b.reason);
        }
        EXPECT_EQ(want.buffers[i], got.buffers[i]);
      }
    }
    for (size_t i = 0; i < lanes.size(); ++i) {
      const Lane& lane = lanes[i];
      if (lane.kind != LaneKind::kGenuine && lane.kind != LaneKind::kOldKey) continue;
      SCOPED_TRACE(what + " genuine lane " + std::to_string(i));
      const Verdict& v = want.verdicts[i];
      ASSERT_TRUE(v.is_reply());
      ASSERT_EQ(v.kind, ReplyKind::kNts);
      EXPECT_EQ(v.key_age, lane.kind == LaneKind::kOldKey ? KeyAge::kPrevious : KeyAge::kCurrent);
      const auto cookies =
          testing::verified_cookies(*lane.session, lane.record,
                                    std::span<const uint8_t>(want.buffers[i]).first(v.reply_size));
      ASSERT_TRUE(cookies.has_value());
      ASSERT_FALSE(cookies->empty());
      for (const auto& cookie : *cookies) {
        crypto::SessionKeys opened;
        const crypto::Bytes view(cookie);
        crypto::CookieStatus status;
        crypto::evp_nts_crypto().open_cookies(std::span(&view, 1), *keys_, std::span(&opened, 1),
                                              std::span(&status, 1));
        ASSERT_EQ(status, crypto::CookieStatus::kOk);
        EXPECT_EQ(opened.aead, lane.session->aead);
        EXPECT_TRUE(std::ranges::equal(opened.c2s_key(), lane.session->c2s_key.bytes()));
        EXPECT_TRUE(std::ranges::equal(opened.s2c_key(), lane.session->s2c_key.bytes()));
      }
    }
  }

  crypto::KeyRing ring_{std::vector<uint8_t>(32, 0x3c)};
  std::unique_ptr<const crypto::KeySnapshot> yesterday_ = ring_.snapshot_at(kNow - 86400);
  std::unique_ptr<const crypto::KeySnapshot> keys_ = ring_.snapshot_at(kNow, yesterday_.get());
  ServerState state_ = local_reference_state();
  std::vector<const crypto::NtsCrypto*> fast_;
  std::vector<clock::NtsSession> current_, old_;
};

// Random batches of every size up to kMaxBatch, every lane kind mixed in.
TEST_F(BatchResponderDifferential, random_batches_agree_byte_for_byte) {
  std::mt19937_64 rng(1);
  for (int round = 0; round < 60; ++round) {
    const size_t n = round < 8 ? static_cast<size_t>(round + 1) : 1 + rng() % kMaxBatch;
    std::vector<Lane> lanes;
    for (size_t i = 0; i < n; ++i) lanes.push_back(make_lane(rng));
    compare(lanes, "round " + std::to_string(round));
  }
}

// Full batches of genuine requests only (the common case), per AEAD and mixed.
TEST_F(BatchResponderDifferential, full_batches_of_genuine_requests_agree) {
  std::mt19937_64 rng(2);
  for (size_t pick = 0; pick < 3; ++pick) {
    std::vector<Lane> lanes;
    for (size_t i = 0; i < kMaxBatch; ++i) {
      Lane lane;
      lane.kind = LaneKind::kGenuine;
      // pick 0: AEAD 15 only; 1: AEAD 30 only; 2: the whole pool.
      size_t at = rng() % current_.size();
      while (pick < 2 && current_[at].aead != (pick == 0 ? crypto::AeadId::kAesSivCmac256
                                                          : crypto::AeadId::kAes128GcmSiv)) {
        at = rng() % current_.size();
      }
      lane.session = &current_[at];
      const std::vector<uint8_t> uid(32, static_cast<uint8_t>(i));
      lane.request = testing::request_bytes(*lane.session, 0x1000 + i, uid, i % 8, &lane.record);
      lanes.push_back(std::move(lane));
    }
    compare(lanes, "pick " + std::to_string(pick));
  }
}

// One full batch of one request shape (AEAD 15, one cookie, no placeholders:
// the fast path pairs neighbours of a shape in one register) mixing distinct
// sessions, one session's cookie sent by many lanes (the same session keys
// opened again and again), and requests whose authenticator is made under
// another session's C2S key in the same batch (its cookie, someone else's
// keys): those get a bad-authenticator NAK on every implementation, the
// others an NTS reply, and every lane's bytes agree.
TEST_F(BatchResponderDifferential, one_shape_mixing_sessions_reused_cookies_and_wrong_keys) {
  std::mt19937_64 rng(3);
  std::vector<size_t> siv;  // the AEAD 15 sessions of the pool
  for (size_t i = 0; i < current_.size(); ++i) {
    if (current_[i].aead == crypto::AeadId::kAesSivCmac256) siv.push_back(i);
  }
  ASSERT_GE(siv.size(), 3u);
  // Per wrong-key lane, a session with one session's cookie and another's keys.
  std::vector<clock::NtsSession> wrong;
  wrong.reserve(kMaxBatch);
  for (int round = 0; round < 6; ++round) {
    std::vector<Lane> lanes;
    std::vector<bool> wrong_key;
    const size_t reused = siv[rng() % siv.size()];  // a session whose cookie many lanes send
    for (size_t i = 0; i < kMaxBatch; ++i) {
      Lane lane;
      lane.kind = LaneKind::kGenuine;
      const int how = static_cast<int>(rng() % 3);  // 0: any session, 1: the reused one, 2: wrong key
      const size_t h = how == 1 ? reused : siv[rng() % siv.size()];
      const clock::NtsSession& holder = current_[h];
      lane.session = &holder;
      if (how == 2) {
        // The keys of the lane before it (its likely register partner), unless they are the
        // holder's own; then another session's.
        const clock::NtsSession* giver = lanes.empty() ? nullptr : lanes.back().session;
        if (giver == nullptr || std::ranges::equal(giver->c2s_key.bytes(), holder.c2s_key.bytes())) {
          giver = &current_[h == siv[0] ? siv[1] : siv[0]];
        }
        wrong.push_back(clock::make_session(holder.aead, giver->c2s_key.bytes(),
                                            giver->s2c_key.bytes(), holder.jar.cookies()));
        lane.kind = LaneKind::kBadAuth;
        lane.session = &wrong.back();
      }
      const std::vector<uint8_t> uid(32, static_cast<uint8_t>(i));
      lane.request = testing::request_bytes(*lane.session, 0x2000 + i, uid, 0, &lane.record);
      ASSERT_FALSE(lane.request.empty());
      wrong_key.push_back(how == 2);
      lanes.push_back(std::move(lane));
    }
    ASSERT_EQ(lanes.front().request.size(), lanes.back().request.size());
    compare(lanes, "round " + std::to_string(round));
    const Outcome got = run(*crypto::fast_nts_crypto(), lanes);
    for (size_t i = 0; i < lanes.size(); ++i) {
      SCOPED_TRACE("round " + std::to_string(round) + " lane " + std::to_string(i));
      ASSERT_TRUE(got.verdicts[i].is_reply());
      if (wrong_key[i]) {
        EXPECT_EQ(got.verdicts[i].kind, ReplyKind::kNak);
        EXPECT_EQ(got.verdicts[i].nak, NakReason::kBadAuthenticator);
      } else {
        EXPECT_EQ(got.verdicts[i].kind, ReplyKind::kNts);
      }
    }
    wrong.clear();
  }
}

// The differential depends on the fixed nonce key: with it two responders
// give the same bytes, and the reply nonces really come from it (a different
// key changes the reply, and every reply still verifies).
TEST_F(BatchResponderDifferential, fixed_nonce_key_decides_the_reply_bytes) {
  Lane lane;
  lane.kind = LaneKind::kGenuine;
  lane.session = &current_[0];
  lane.request =
      testing::request_bytes(current_[0], 77, std::vector<uint8_t>(32, 9), 1, &lane.record);
  const std::vector<Lane> lanes = {lane};
  const Outcome a = run(crypto::evp_nts_crypto(), lanes);
  const Outcome b = run(crypto::evp_nts_crypto(), lanes);
  EXPECT_EQ(a.buffers, b.buffers);
  std::array<uint8_t, 16> other = kNonceKey;
  other[0] ^= 1;
  BatchResponder responder(crypto::evp_nts_crypto(), other);
  std::vector<uint8_t> buffer(lane.request.size());
  Request request{lane.request, kRx};
  Reply reply{buffer, {}};
  responder.prepare(std::span(&request, 1), state_, NtsPolicy{keys_.get(), false}, std::span(&reply, 1));
  responder.finish(kTx, std::span(&reply, 1));
  ASSERT_TRUE(reply.verdict.is_reply());
  EXPECT_NE(buffer, a.buffers[0]);
  EXPECT_TRUE(
      testing::verified_cookies(*lane.session, lane.record,
                                std::span<const uint8_t>(buffer).first(reply.verdict.reply_size)));
}

}  // namespace
}  // namespace ntsd::server
