#include "server/batch_responder.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

#include "proto/byte_order.h"
#include "proto/extension_field.h"
#include "proto/ntp_packet.h"
#include "server/plain_reply.h"

namespace ntsd::server {
namespace {

using proto::kEfHeaderSize;
using proto::kNtpHeaderSize;
using proto::pad4;

constexpr size_t kMaxRequestPlaintext = 1500;
constexpr size_t kMaxCookieField = kEfHeaderSize + crypto::kMaxCookieLength;
constexpr size_t kMaxFreshCookies = kMaxBatch * kMaxCookiesPerReply;

NakReason nak_reason_of(crypto::CookieStatus status) {
  switch (status) {
    case crypto::CookieStatus::kExpiredKey: return NakReason::kExpiredKey;
    case crypto::CookieStatus::kTampered: return NakReason::kTampered;
    case crypto::CookieStatus::kBadLength: return NakReason::kBadLength;
    case crypto::CookieStatus::kUnsupportedAead: return NakReason::kUnsupportedAead;
    default: return NakReason::kUnknownKey;
  }
}

// The Unique Identifier field of a reply: the request's UID echoed, padded
// to 4 bytes (what proto::write_extension_field writes). The reply buffer is
// request-sized and the UID came from the request, so it fits. A 32-byte UID
// (every client's) is two fixed-size copies; other lengths go through memcpy.
void write_uid_field(std::span<uint8_t> reply, std::span<const uint8_t> uid) {
  uint8_t* field = reply.data() + kNtpHeaderSize;
  const size_t padded = pad4(uid.size());
  proto::store_be16(field, proto::kEfUniqueIdentifier);
  proto::store_be16(field + 2, static_cast<uint16_t>(kEfHeaderSize + padded));
  if (uid.size() == kMinUniqueIdLength) {
    std::memcpy(field + kEfHeaderSize, uid.data(), kMinUniqueIdLength);
    return;
  }
  std::memcpy(field + kEfHeaderSize, uid.data(), uid.size());
  std::memset(field + kEfHeaderSize + uid.size(), 0, padded - uid.size());
}

KeyAge key_age_of(int32_t age) {
  return age <= 0 ? KeyAge::kCurrent : age == 1 ? KeyAge::kPrevious : KeyAge::kOlder;
}

// Looks at what follows the header: extension fields (v4 only), perhaps a
// legacy MAC. Returns the drop reason, or kCount with `shape` set.
DropReason classify(std::span<const uint8_t> request, NtsRequest* nts, NtsShape* shape) {
  *shape = NtsShape::kNotNts;
  if (request.size() == kNtpHeaderSize) return DropReason::kCount;
  if (proto::version_of(request[0]) != 4) {
    return proto::looks_like_legacy_mac(request.subspan(kNtpHeaderSize))
               ? DropReason::kCount
               : DropReason::kMalformedExtensions;
  }
  const NtsScan scan = scan_nts_request(request, nts);
  if (!scan.fields_ok &&
      !proto::looks_like_legacy_mac(request.subspan(std::min(scan.parsed_end, request.size())))) {
    return DropReason::kMalformedExtensions;
  }
  *shape = scan.shape;
  // NTS and a legacy MAC together is no real client's packet.
  if (*shape != NtsShape::kNotNts && !scan.fields_ok) *shape = NtsShape::kBadAuthenticator;
  return DropReason::kCount;
}

}  // namespace

// Session keys (and the decrypted request fields) live in this per-worker
// scratch only for the batch that needs them: finish() wipes what the batch
// used, prepare() wipes anything a batch left behind without a finish(), and
// the destructor wipes it all (crypto::wipe_session_keys). They are held once,
// in `sessions`: every later crypto call points at them, none copies them.
// Cache-line aligned: it is written every batch, and without it a heap chunk
// need only be 16-byte aligned (glibc serves it from the heap, not mmap,
// once the dynamic mmap threshold has risen past its size).
struct alignas(64) BatchResponder::Scratch {
  ~Scratch() { wipe(kMaxBatch, kMaxBatch); }
  void wipe(size_t opened, size_t verifying);

  const crypto::KeySnapshot* keys = nullptr;
  const ServerState* state = nullptr;

  // Phase 1: the NTS requests of the batch, in order.
  size_t nts_count = 0;
  std::array<size_t, kMaxBatch> reply_of{};  // NTS request j answers replies[reply_of[j]]
  std::array<NtsRequest, kMaxBatch> parsed{};
  std::array<crypto::Bytes, kMaxBatch> cookies{};
  std::array<crypto::SessionKeys, kMaxBatch> sessions{};
  std::array<crypto::CookieStatus, kMaxBatch> statuses{};
  std::array<size_t, kMaxBatch> verify_of{};  // verify slot m is NTS request verify_of[m]
  std::array<crypto::AuthToVerify, kMaxBatch> to_verify{};
  std::array<bool, kMaxBatch> verified{};
  size_t verify_count = 0;
  std::array<size_t, kMaxBatch> plaintext_length{};

  // Replies waiting for finish(): fresh cookies and the authenticator.
  struct Pending {
    size_t reply;
    size_t request;  // NTS request index (its session keys)
    size_t cookies;
    size_t auth_offset;
    size_t nonce_length;
    size_t cookie_length;
  };
  size_t pending_count = 0;
  std::array<Pending, kMaxBatch> pending{};

  // Phase 2.
  std::array<const crypto::SessionKeys*, kMaxFreshCookies> cookie_session{};
  std::array<uint8_t, (kMaxFreshCookies + kMaxBatch) * 16> nonces{};  // cookies', then replies'
  std::array<uint8_t*, kMaxFreshCookies> cookie_out{};
  std::array<size_t, kMaxFreshCookies> cookie_lengths{};
  std::array<size_t, kMaxBatch> plaintext_at{};
  std::array<crypto::ReplyToSeal, kMaxBatch> to_seal{};
  std::array<bool, kMaxBatch> sealed{};

  // The two large buffers last, after everything every batch touches, so
  // that stays on few pages and cache sets. The replies' plaintexts (their
  // cookie fields) sit back to back: a batch of one-cookie replies touches a
  // few KiB, not a row of the largest size per reply. Decrypted request
  // fields (rare: most requests carry a tag only) get a row each.
  std::array<uint8_t, kMaxFreshCookies * kMaxCookieField> reply_plaintext{};
  std::array<std::array<uint8_t, kMaxRequestPlaintext>, kMaxBatch> request_plaintext{};
};

void BatchResponder::Scratch::wipe(size_t opened, size_t verifying) {
  crypto::wipe_session_keys(std::span(sessions.data(), opened));
  for (size_t m = 0; m < verifying; ++m) {
    if (plaintext_length[m] > 0) OPENSSL_cleanse(request_plaintext[m].data(), plaintext_length[m]);
    plaintext_length[m] = 0;
  }
}

void BatchResponder::wipe_batch() {
  Scratch& s = *scratch_;
  s.wipe(s.nts_count, s.verify_count);
  s.nts_count = s.verify_count = s.pending_count = 0;
}

BatchResponder::BatchResponder(const crypto::NtsCrypto& crypto)
    : crypto_(crypto), scratch_(std::make_unique<Scratch>()) {}
BatchResponder::BatchResponder() : BatchResponder(crypto::auto_nts_crypto()) {}
BatchResponder::BatchResponder(const crypto::NtsCrypto& crypto,
                               std::span<const uint8_t, 16> fixed_nonce_key)
    : crypto_(crypto), scratch_(std::make_unique<Scratch>()), nonces_(fixed_nonce_key) {}
BatchResponder::~BatchResponder() = default;

void BatchResponder::prepare(std::span<const Request> requests, const ServerState& state,
                             const NtsPolicy& nts, std::span<Reply> replies) {
  wipe_batch();  // a previous batch that never reached finish()
  Scratch& s = *scratch_;
  s.keys = nts.keys;
  s.state = &state;
  const size_t count = std::min({requests.size(), replies.size(), kMaxBatch});
  for (size_t i = 0; i < count; ++i) {
    const std::span<const uint8_t> request = requests[i].bytes;
    Reply& reply = replies[i];
    if (const auto why = check_request_header(request)) {
      reply.verdict = Verdict::drop(*why);
      continue;
    }
    if (requests[i].kiss_rate) {
      // RFC 5905 §7.4: a RATE kiss tells the client to slow down; plain and
      // 48 bytes (never larger than the request), as NTPsec sends it.
      write_kod_header(request, requests[i].rx_time, proto::refid_from_ascii("RATE"), reply.buffer);
      reply.verdict = Verdict::reply(kNtpHeaderSize, ReplyKind::kKissRate);
      continue;
    }
    NtsShape shape;
    if (const DropReason why = classify(request, &s.parsed[s.nts_count], &shape);
        why != DropReason::kCount) {
      reply.verdict = Verdict::drop(why);
    } else if (shape == NtsShape::kNotNts) {
      if (nts.require_nts || requests[i].nts_only) {
        reply.verdict = Verdict::drop(DropReason::kNtsRequired);
      } else if (reply.buffer.size() < kNtpHeaderSize) {
        reply.verdict = Verdict::drop(DropReason::kTooShort);
      } else {
        write_reply_header(request, requests[i].rx_time, state, reply.buffer);
        reply.verdict = Verdict::reply(kNtpHeaderSize);
      }
    } else if (shape != NtsShape::kOk) {
      reply.verdict = Verdict::drop(DropReason::kNtsMalformed);
    } else if (nts.keys == nullptr) {
      reply.verdict = Verdict::drop(DropReason::kNtsNotAvailable);
    } else {
      s.cookies[s.nts_count] = s.parsed[s.nts_count].cookie;
      s.reply_of[s.nts_count] = i;
      ++s.nts_count;
    }
  }
  if (s.nts_count > 0) answer_nts(requests, nts, replies);
}

// NTS NAK: a Kiss-o'-Death NTSN echoing the Unique Identifier and nothing
// else (RFC 8915 §5.7: no cookie, no authenticator). It is no larger than the
// request, which carried that Unique Identifier plus a cookie and an
// authenticator.
void BatchResponder::write_nak(const Request& request, const NtsRequest& parsed, NakReason why, Reply& reply) {
  const size_t uid_field = kEfHeaderSize + pad4(parsed.unique_id.size());
  write_kod_header(request.bytes, request.rx_time, proto::refid_from_ascii("NTSN"), reply.buffer);
  proto::write_extension_field(reply.buffer.subspan(kNtpHeaderSize), proto::kEfUniqueIdentifier,
                               parsed.unique_id);
  reply.verdict = Verdict::reply(kNtpHeaderSize + uid_field, ReplyKind::kNak);
  reply.verdict.nak = why;
}

void BatchResponder::answer_nts(std::span<const Request> requests, const NtsPolicy& nts,
                                std::span<Reply> replies) {
  Scratch& s = *scratch_;
  const size_t n = s.nts_count;
  if (!nts.keys->current().valid) {
    // Fail closed: with no valid key to seal fresh cookies there is no reply
    // to give; counted, never sealed with a zero or stale key.
    for (size_t j = 0; j < n; ++j)
      replies[s.reply_of[j]].verdict = Verdict::drop(DropReason::kNtsNoSealKey);
    return;
  }
  crypto_.open_cookies(std::span(s.cookies.data(), n), *nts.keys, std::span(s.sessions.data(), n),
                       std::span(s.statuses.data(), n));

  // Opened cookies: check each request's authenticator under its C2S key.
  // Unopenable ones: NTS NAK — KoD NTSN echoing the Unique Identifier.
  size_t m = 0;
  for (size_t j = 0; j < n; ++j) {
    const size_t r = s.reply_of[j];
    const NtsRequest& req = s.parsed[j];
    if (s.statuses[j] != crypto::CookieStatus::kOk) {
      write_nak(requests[r], req, nak_reason_of(s.statuses[j]), replies[r]);
      continue;
    }
    const size_t sealed_length = req.ciphertext.size();
    if (sealed_length - crypto::kAeadTagLength > kMaxRequestPlaintext ||
        !nonce_room_ok(req, s.sessions[j].aead)) {
      replies[r].verdict = Verdict::drop(DropReason::kNtsMalformed);
      continue;
    }
    s.plaintext_length[m] = sealed_length - crypto::kAeadTagLength;
    s.to_verify[m] = {req.associated_data, req.nonce, req.ciphertext,
                      s.request_plaintext[m].data(), &s.sessions[j]};
    s.verify_of[m] = j;
    ++m;
  }
  s.verify_count = m;
  crypto_.verify_authenticators(std::span(s.to_verify.data(), m), std::span(s.verified.data(), m));

  for (size_t v = 0; v < m; ++v) {
    const size_t j = s.verify_of[v];
    const size_t r = s.reply_of[j];
    Reply& reply = replies[r];
    if (!s.verified[v]) {
      write_nak(requests[r], s.parsed[j], NakReason::kBadAuthenticator, reply);
      continue;
    }
    const NtsRequest& req = s.parsed[j];
    const crypto::SessionKeys& session = s.sessions[j];
    // Most requests carry a tag only: nothing encrypted to look through.
    size_t encrypted_placeholders = 0;
    if (s.plaintext_length[v] > 0) {
      const auto counted = count_encrypted_placeholders(
          std::span(s.request_plaintext[v].data(), s.plaintext_length[v]), req.cookie.size());
      if (!counted) {
        reply.verdict = Verdict::drop(DropReason::kNtsMalformed);
        continue;
      }
      encrypted_placeholders = *counted;
    }
    const size_t asked = std::min(req.cookies_asked + encrypted_placeholders, kMaxCookiesPerReply);
    const size_t nonce_length = crypto::aead_nonce_length(session.aead);
    const size_t cookie_length = crypto::cookie_length(session.aead);
    const size_t auth_offset = kNtpHeaderSize + kEfHeaderSize + pad4(req.unique_id.size());
    // Header + UID + authenticator (lengths, nonce, tag) + one field per cookie;
    // as many fresh cookies as were asked for and fit in the request's size.
    const size_t fixed = auth_offset + kEfHeaderSize + 4 + pad4(nonce_length) + crypto::kAeadTagLength;
    const size_t per_cookie = kEfHeaderSize + cookie_length;
    if (reply.buffer.size() < fixed + per_cookie) {
      reply.verdict = Verdict::drop(DropReason::kNtsNoRoom);
      continue;
    }
    // As many as asked when they fit (no division in the common case).
    const size_t cookies = fixed + asked * per_cookie <= reply.buffer.size()
                               ? asked
                               : (reply.buffer.size() - fixed) / per_cookie;
    write_reply_header(requests[r].bytes, requests[r].rx_time, *s.state, reply.buffer);
    write_uid_field(reply.buffer, req.unique_id);
    s.pending[s.pending_count++] = {r, j, cookies, auth_offset, nonce_length, cookie_length};
    reply.verdict = Verdict::reply(fixed + cookies * per_cookie, ReplyKind::kNts);
    reply.verdict.key_age = key_age_of(session.key_age);
  }
}

void BatchResponder::finish(proto::NtpTimestamp tx_time, std::span<Reply> replies) {
  for (Reply& reply : replies) {
    if (reply.verdict.is_reply()) {
      proto::store_timestamp(reply.buffer, proto::kOffsetTransmit, tx_time);
    }
  }
  Scratch& s = *scratch_;
  if (s.pending_count == 0) {
    wipe_batch();
    return;
  }

  // Fresh cookies, each inside its NTS Cookie field in the reply's plaintext.
  size_t k = 0;
  size_t at = 0;
  for (size_t p = 0; p < s.pending_count; ++p) {
    const Scratch::Pending& pending = s.pending[p];
    s.plaintext_at[p] = at;
    for (size_t c = 0; c < pending.cookies; ++c) {
      uint8_t* field = s.reply_plaintext.data() + at;
      at += kEfHeaderSize + pending.cookie_length;
      proto::store_be16(field, proto::kEfNtsCookie);
      proto::store_be16(field + 2, static_cast<uint16_t>(kEfHeaderSize + pending.cookie_length));
      s.cookie_session[k] = &s.sessions[pending.request];
      s.cookie_out[k] = field + kEfHeaderSize;
      ++k;
    }
  }
  // One draw for every nonce of the batch: the cookies' first, then the replies'.
  const size_t cookie_nonce_bytes = k * crypto::kCookieNonceLength;
  const uint8_t* reply_nonces = s.nonces.data() + cookie_nonce_bytes;
  const bool nonces_ok =
      nonces_.fill(std::span(s.nonces.data(), cookie_nonce_bytes + s.pending_count * 16));
  // Sealed with the current key; the crypto refuses it (length 0) if it is not valid.
  crypto_.seal_cookies(std::span(s.cookie_session.data(), k), s.keys->current(),
                       std::span(s.nonces.data(), cookie_nonce_bytes),
                       std::span(s.cookie_out.data(), k), std::span(s.cookie_lengths.data(), k));

  // The authenticator: AD = the reply up to this field, plaintext = the cookie fields.
  k = 0;
  for (size_t p = 0; p < s.pending_count; ++p) {
    const Scratch::Pending& pending = s.pending[p];
    Reply& reply = replies[pending.reply];
    bool cookies_ok = nonces_ok;
    for (size_t c = 0; c < pending.cookies; ++c, ++k) {
      cookies_ok &= s.cookie_lengths[k] == pending.cookie_length;
    }
    if (!cookies_ok) reply.verdict = Verdict::drop(DropReason::kNtsCryptoFailure);
    const size_t plaintext_length = pending.cookies * (kEfHeaderSize + pending.cookie_length);
    uint8_t* auth = reply.buffer.data() + pending.auth_offset;
    s.to_seal[p] = {reply.buffer.first(pending.auth_offset),
                    crypto::Bytes(reply_nonces + p * 16, pending.nonce_length),
                    crypto::Bytes(s.reply_plaintext.data() + s.plaintext_at[p], plaintext_length),
                    auth + kEfHeaderSize + 4 + pad4(pending.nonce_length),
                    &s.sessions[pending.request]};
  }
  crypto_.seal_replies(std::span(s.to_seal.data(), s.pending_count),
                       std::span(s.sealed.data(), s.pending_count));

  for (size_t p = 0; p < s.pending_count; ++p) {
    const Scratch::Pending& pending = s.pending[p];
    Reply& reply = replies[pending.reply];
    if (!s.sealed[p]) reply.verdict = Verdict::drop(DropReason::kNtsCryptoFailure);
    if (!reply.verdict.is_reply()) continue;
    const size_t ciphertext_length = crypto::kAeadTagLength + s.to_seal[p].plaintext.size();
    uint8_t* auth = reply.buffer.data() + pending.auth_offset;
    const size_t field_length = kEfHeaderSize + 4 + pad4(pending.nonce_length) + ciphertext_length;
    proto::store_be16(auth, proto::kEfNtsAuthenticator);
    proto::store_be16(auth + 2, static_cast<uint16_t>(field_length));
    proto::store_be16(auth + 4, static_cast<uint16_t>(pending.nonce_length));
    proto::store_be16(auth + 6, static_cast<uint16_t>(ciphertext_length));
    if (pending.nonce_length == 16) {  // SIV (fixed size: a vector move, not a call)
      std::memcpy(auth + 8, s.to_seal[p].nonce.data(), 16);
    } else {
      std::memcpy(auth + 8, s.to_seal[p].nonce.data(), pending.nonce_length);
      std::memset(auth + 8 + pending.nonce_length, 0, pad4(pending.nonce_length) - pending.nonce_length);
    }
  }
  wipe_batch();
}

}  // namespace ntsd::server
