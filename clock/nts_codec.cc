#include "clock/nts_codec.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>

#include "crypto/cookie.h"
#include "crypto/nonce_source.h"
#include "proto/extension_field.h"
#include "proto/ntp_packet.h"

namespace ntsd::clock {

namespace {

constexpr size_t kMaxPlaceholders = kJarCapacity - 1;
// Largest authenticated plaintext a reply may carry: one Cookie field per cookie requested.
constexpr size_t kMaxPlaintext = kJarCapacity * (proto::kEfHeaderSize + kMaxCookieLength);

size_t cookie_field_size(size_t cookie_length) {
  return proto::kEfHeaderSize + proto::pad4(cookie_length);
}

// Header fields other than mode, version and transmit stay zero: like chrony,
// the client reveals nothing about its clock (../shared/WIRE-NOTES.md §2).
void write_client_header(uint64_t transmit, std::span<uint8_t> out) {
  std::memset(out.data(), 0, proto::kNtpHeaderSize);
  out[proto::kOffsetLiVnMode] = proto::li_vn_mode(proto::Leap::kNone, 4, proto::Mode::kClient);
  proto::store_timestamp(out, proto::kOffsetTransmit, proto::NtpTimestamp{transmit});
}

// One cookie comes back per cookie sent, so without placeholders the jar only
// keeps its level. Ask for what brings jar + in-flight replies + this reply back
// to the capacity: 0 in steady state, up to 7 for a depleted jar.
size_t placeholders_for(size_t jar_after_take, size_t in_flight) {
  const size_t expected = jar_after_take + in_flight + 1;
  return expected >= kJarCapacity ? 0 : std::min(kJarCapacity - expected, kMaxPlaceholders);
}

// Reply origin must echo our transmit; anything else is not an answer to this request.
bool is_server_reply_to(uint64_t transmit, std::span<const uint8_t> reply) {
  return reply.size() >= proto::kNtpHeaderSize &&
         proto::mode_of(reply[proto::kOffsetLiVnMode]) == proto::Mode::kServer &&
         proto::load_timestamp(reply, proto::kOffsetOrigin).raw == transmit;
}

bool is_our_uid(const proto::ExtensionField& field, const RequestRecord& record) {
  return field.type == proto::kEfUniqueIdentifier && record.unique_id_length != 0 &&
         std::ranges::equal(field.body, record.uid());
}

// RFC 8915 §5.7: a NAK is only believed when it carries our Unique Identifier;
// an NTSN without it is an unauthenticated forgery, not a NAK.
ReplyVerdict classify_kiss(const proto::ExtensionFieldList& fields, const RequestRecord& record,
                           std::span<const uint8_t> reply) {
  if (proto::load_u32(reply, proto::kOffsetReferenceId) != proto::refid_from_ascii("NTSN")) {
    return ReplyVerdict::kKod;
  }
  for (size_t i = 0; i < fields.count; ++i) {
    if (is_our_uid(fields.fields[i], record)) return ReplyVerdict::kNak;
  }
  return ReplyVerdict::kFailed;
}

// The fields before the authenticator must be exactly our Unique Identifier:
// everything else there is unauthenticated and a server of ours never sends it.
bool outer_fields_ok(const proto::ExtensionFieldList& fields, const RequestRecord& record) {
  return fields.status == proto::EfStatus::kOk && fields.count == 2 &&
         is_our_uid(fields.fields[0], record) &&
         fields.fields[1].type == proto::kEfNtsAuthenticator;
}

// The decrypted plaintext must be cookies only, as many as we asked for
// (kExact) or at least one and no more (kAtMostAsked: RFC 8915 §5.7 lets a
// server return fewer; never more, which only a confused or hostile server
// sends). It is parsed behind a zeroed 48-byte header because the field
// parser expects a packet.
bool inner_cookies_ok(std::span<const uint8_t> packet, const RequestRecord& record,
                      CookieCount count, proto::ExtensionFieldList& inner) {
  inner = proto::parse_extension_fields(packet);
  if (inner.status != proto::EfStatus::kOk) return false;
  const bool count_ok = count == CookieCount::kExact
                            ? inner.count == record.cookies_requested
                            : inner.count >= 1 && inner.count <= record.cookies_requested;
  if (!count_ok) return false;
  for (size_t i = 0; i < inner.count; ++i) {
    const auto& f = inner.fields[i];
    if (f.type != proto::kEfNtsCookie || f.body.empty() || f.body.size() > kMaxCookieLength)
      return false;
  }
  return true;
}

}  // namespace

// ---- KeyBytes ----

KeyBytes::KeyBytes(crypto::Bytes key) {
  if (key.size() > kMaxKeyLength) return;
  std::copy(key.begin(), key.end(), bytes_.begin());
  length_ = key.size();
}

KeyBytes::KeyBytes(const KeyBytes& other) : bytes_(other.bytes_), length_(other.length_) {}

KeyBytes& KeyBytes::operator=(const KeyBytes& other) {
  if (this != &other) {
    OPENSSL_cleanse(bytes_.data(), bytes_.size());
    bytes_ = other.bytes_;
    length_ = other.length_;
  }
  return *this;
}

// OPENSSL_cleanse, not memset: a store to memory about to die may be optimised away.
KeyBytes::~KeyBytes() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

// ---- CookieJar ----

bool CookieJar::add(std::span<const uint8_t> cookie) {
  if (cookie.empty() || cookie.size() > kMaxCookieLength) return false;
  if (count_ == kJarCapacity) {  // full: the oldest goes, as a client keeps the newest
    head_ = (head_ + 1) % kJarCapacity;
    --count_;
  }
  Slot& slot = slots_[(head_ + count_) % kJarCapacity];
  slot.length = static_cast<uint16_t>(cookie.size());
  std::copy(cookie.begin(), cookie.end(), slot.bytes.begin());
  ++count_;
  return true;
}

size_t CookieJar::take(std::span<uint8_t, kMaxCookieLength> out) {
  if (count_ == 0) return 0;
  Slot& slot = slots_[head_];
  const size_t length = slot.length;
  std::copy_n(slot.bytes.begin(), length, out.begin());
  slot.length = 0;
  head_ = (head_ + 1) % kJarCapacity;
  --count_;
  return length;
}

std::span<const uint8_t> CookieJar::peek(size_t i) const {
  if (i >= count_) return {};
  const Slot& slot = slots_[(head_ + i) % kJarCapacity];
  return {slot.bytes.data(), slot.length};
}

std::vector<std::vector<uint8_t>> CookieJar::cookies() const {
  std::vector<std::vector<uint8_t>> out;
  out.reserve(count_);
  for (size_t i = 0; i < count_; ++i) {
    const auto cookie = peek(i);
    out.emplace_back(cookie.begin(), cookie.end());
  }
  return out;
}

// ---- sessions ----

NtsSession make_session(crypto::AeadId aead, crypto::Bytes c2s_key, crypto::Bytes s2c_key,
                        std::span<const std::vector<uint8_t>> cookies) {
  NtsSession session;
  session.aead = aead;
  session.c2s = crypto::make_aead(aead, c2s_key);
  session.s2c = crypto::make_aead(aead, s2c_key);
  session.c2s_key = KeyBytes(c2s_key);
  session.s2c_key = KeyBytes(s2c_key);
  for (const auto& cookie : cookies) session.jar.add(cookie);
  session.cookie_length = cookies.empty() ? 0 : cookies.front().size();
  return session;
}

// ---- requests ----

size_t build_plain_request(uint64_t transmit, std::span<uint8_t> out) {
  if (out.size() < proto::kNtpHeaderSize) return 0;
  write_client_header(transmit, out);
  return proto::kNtpHeaderSize;
}

namespace {

// A cookie taken from the jar for a request being built, put back if the request fails.
struct TakenCookie {
  std::array<uint8_t, kMaxCookieLength> bytes;
  size_t length = 0;
  bool reused = false;  // session.last_cookie again: nothing to put back
  void put_back(NtsSession& session) const {
    if (!reused) session.jar.add(std::span(bytes).first(length));
  }
};

// The authenticator field at the end of a request: AD (all before it), nonce and tag in place.
struct RequestAuth {
  crypto::Bytes ad, nonce;
  std::span<uint8_t> tag;
};

std::optional<RequestAuth> request_auth(std::span<uint8_t> packet, crypto::AeadId aead) {
  const size_t nonce_length = crypto::aead_nonce_length(aead);
  const size_t field = proto::nts_authenticator_field_size(nonce_length, crypto::kAeadTagLength);
  if (packet.size() < proto::kNtpHeaderSize + field) return std::nullopt;
  const size_t at = packet.size() - field;
  const size_t nonce_at = at + proto::kEfHeaderSize + 4;
  const size_t tag_at = nonce_at + proto::pad4(nonce_length);
  return RequestAuth{packet.first(at), packet.subspan(nonce_at, nonce_length),
                     packet.subspan(tag_at, crypto::kAeadTagLength)};
}

// Everything of a request but the tag (zeros): header, UID, cookie, placeholders (the refill
// policy with `count` requests in flight when `refill`, else exactly `count`), authenticator with
// a fresh nonce. Returns the length; 0 with the jar untouched on failure.
size_t write_request(NtsSession& session, uint64_t transmit, std::span<const uint8_t> unique_id,
                     bool refill, size_t count, std::span<uint8_t> out, RequestRecord& record,
                     TakenCookie& cookie) {
  if (unique_id.empty() || unique_id.size() > kMaxUniqueIdLength) return 0;
  const size_t nonce_length = crypto::aead_nonce_length(session.aead);
  const size_t fixed = proto::kNtpHeaderSize + proto::kEfHeaderSize +
                       proto::pad4(unique_id.size()) +
                       proto::nts_authenticator_field_size(nonce_length, crypto::kAeadTagLength);
  const size_t limit = std::min(out.size(), kMaxRequestLength);

  // Take the oldest cookie; with an empty jar resend the last one (the server
  // may still accept it, and its reply refills the jar).
  size_t length = session.jar.take(cookie.bytes);
  cookie.length = length;
  cookie.reused = length == 0;
  record.reused_cookie = cookie.reused;
  if (cookie.reused) {
    length = session.last_cookie.size();
    if (length == 0 || length > kMaxCookieLength) return 0;
    std::copy(session.last_cookie.begin(), session.last_cookie.end(), cookie.bytes.begin());
    cookie.length = length;
  }
  const auto cookie_bytes = std::span(cookie.bytes).first(length);
  if (fixed + cookie_field_size(length) > limit) {
    cookie.put_back(session);  // keep it
    return 0;
  }
  // Placeholders as wanted, but only as many as fit (large cookies, small buffers).
  size_t placeholders =
      refill ? placeholders_for(session.jar.size(), count) : std::min(count, kMaxPlaceholders);
  placeholders = std::min(placeholders, (limit - fixed) / cookie_field_size(length) - 1);

  write_client_header(transmit, out);
  size_t at = proto::kNtpHeaderSize;
  at += proto::write_extension_field(out.subspan(at), proto::kEfUniqueIdentifier, unique_id);
  at += proto::write_extension_field(out.subspan(at), proto::kEfNtsCookie, cookie_bytes);
  for (size_t i = 0; i < placeholders; ++i) {
    // RFC 8915 §5.5: the placeholder body is zeros, as long as the cookie.
    const size_t field = cookie_field_size(length);
    std::memset(out.data() + at, 0, field);
    proto::write_extension_field_header(out.subspan(at), proto::kEfNtsCookiePlaceholder,
                                        static_cast<uint16_t>(field));
    at += field;
  }

  // The authenticator in place: nonce now, the tag (empty plaintext: tag only) when sealed.
  thread_local crypto::NonceSource nonces;  // one per thread: no RNG call per request
  const size_t nonce_at = at + proto::kEfHeaderSize + 4;
  const auto nonce = out.subspan(nonce_at, nonce_length);
  const auto tag = out.subspan(nonce_at + proto::pad4(nonce_length), crypto::kAeadTagLength);
  if (!nonces.fill(nonce)) {
    cookie.put_back(session);
    return 0;
  }
  std::memset(tag.data(), 0, tag.size());
  at += proto::write_nts_authenticator(out.subspan(at), nonce, tag);

  // assign() keeps the vector's capacity: no allocation after the first request.
  if (!cookie.reused) session.last_cookie.assign(cookie_bytes.begin(), cookie_bytes.end());
  record.transmit = transmit;
  std::copy(unique_id.begin(), unique_id.end(), record.unique_id.begin());
  record.unique_id_length = static_cast<uint8_t>(unique_id.size());
  record.cookies_requested = static_cast<uint8_t>(1 + placeholders);
  return at;
}

// A request sealed at once with the session's C2S AEAD; a failed seal costs no cookie.
size_t build_request(NtsSession& session, uint64_t transmit, std::span<const uint8_t> unique_id,
                     bool refill, size_t count, std::span<uint8_t> out, RequestRecord& record) {
  if (!session.c2s) return 0;
  TakenCookie cookie;
  const size_t length =
      write_request(session, transmit, unique_id, refill, count, out, record, cookie);
  if (length == 0) return 0;
  const auto auth = request_auth(out.first(length), session.aead);
  const crypto::Bytes ad[] = {auth->ad};
  if (!session.c2s->seal(ad, auth->nonce, {}, auth->tag)) {
    cookie.put_back(session);
    return 0;
  }
  return length;
}

// crypto::NtsCrypto names its key slots from the server's side: it opens what
// arrives under `c2s` (verify_authenticators) and seals what leaves under `s2c`
// (seal_replies). A client's arrivals are under S2C and its departures under
// C2S, so its keys go in mirrored: the NtsCrypto calls then do the client's
// operations unchanged (the same AEAD, AD = the packet up to the authenticator).
bool client_keys(const NtsSession& session, crypto::SessionKeys& out) {
  return crypto::make_session_keys(session.aead, session.s2c_key.bytes(), session.c2s_key.bytes(),
                                   out);
}

constexpr size_t kCryptoBatch = 64;  // items per NtsCrypto call

// The batch calls' scratch, allocated once per thread that uses them: SessionKeys
// and the crypto items have member initialisers, so arrays of them on the stack
// would be zeroed (9 KB of keys) on every call; and in static TLS they would
// cost every thread of every program that links the codec.
template <typename Scratch>
Scratch& thread_scratch() {
  thread_local const std::unique_ptr<Scratch> scratch = std::make_unique<Scratch>();
  return *scratch;
}

struct SealScratch {
  crypto::ReplyToSeal items[kCryptoBatch];
  crypto::SessionKeys keys[kCryptoBatch];
  bool sealed[kCryptoBatch];
  size_t index[kCryptoBatch];
};

}  // namespace

size_t build_nts_request(NtsSession& session, uint64_t transmit, std::span<const uint8_t> unique_id,
                         size_t in_flight, std::span<uint8_t> out, RequestRecord& record) {
  return build_request(session, transmit, unique_id, true, in_flight, out, record);
}

size_t build_nts_request_with_placeholders(NtsSession& session, uint64_t transmit,
                                           std::span<const uint8_t> unique_id, size_t placeholders,
                                           std::span<uint8_t> out, RequestRecord& record) {
  return build_request(session, transmit, unique_id, false, placeholders, out, record);
}

size_t build_unsealed_nts_request(NtsSession& session, uint64_t transmit,
                                  std::span<const uint8_t> unique_id, size_t in_flight,
                                  std::span<uint8_t> out, RequestRecord& record) {
  // The keys seal_nts_requests needs (client_keys) are checked here, not only
  // there, so that a session that cannot seal never gives up a cookie.
  const size_t key_length = crypto::aead_key_length(session.aead);
  if (session.c2s_key.size() != key_length || session.s2c_key.size() != key_length) return 0;
  TakenCookie cookie;
  return write_request(session, transmit, unique_id, true, in_flight, out, record, cookie);
}

void seal_nts_requests(const crypto::NtsCrypto& crypto, std::span<const RequestToSeal> requests,
                       std::span<bool> ok) {
  auto& [items, keys, sealed, index] = thread_scratch<SealScratch>();
  for (size_t base = 0; base < requests.size(); base += kCryptoBatch) {
    const size_t n = std::min(kCryptoBatch, requests.size() - base);
    size_t m = 0;
    for (size_t i = base; i < base + n; ++i) {
      ok[i] = false;
      const NtsSession& session = *requests[i].session;
      const auto auth = request_auth(requests[i].packet, session.aead);
      if (!auth || !client_keys(session, keys[m])) continue;
      items[m] = crypto::ReplyToSeal{auth->ad, auth->nonce, {}, auth->tag.data(), &keys[m]};
      index[m++] = i;
    }
    crypto.seal_replies(std::span(items, m), std::span(sealed, m));
    for (size_t j = 0; j < m; ++j) ok[index[j]] = sealed[j];
    crypto::wipe_session_keys(std::span(keys, m));
  }
}

// ---- replies ----

const char* reply_verdict_name(ReplyVerdict verdict) {
  switch (verdict) {
    case ReplyVerdict::kVerified:
      return "verified";
    case ReplyVerdict::kNak:
      return "nak";
    case ReplyVerdict::kKod:
      return "kod";
    case ReplyVerdict::kKodAuthenticated:
      return "kod_authenticated";
    case ReplyVerdict::kFailed:
      return "failed";
  }
  return "unknown";
}

ReplyVerdict verify_plain_reply(uint64_t transmit, std::span<const uint8_t> reply) {
  if (!is_server_reply_to(transmit, reply)) return ReplyVerdict::kFailed;
  return reply[proto::kOffsetStratum] == 0 ? ReplyVerdict::kKod : ReplyVerdict::kVerified;
}

namespace {

// What verify_nts_reply decides before the crypto, and what the crypto needs.
struct ReplyCheck {
  bool open = false;  // the authenticator is to be opened; else `verdict` is final
  bool kiss = false;
  ReplyVerdict verdict = ReplyVerdict::kFailed;  // final, or the verdict if it does not open
  crypto::Bytes ad, nonce, sealed;
  size_t plaintext_length = 0;
};

// verify_nts_replies' scratch (see thread_scratch). Plaintexts, each behind its
// zeroed header, share one arena: 64 steady-state replies (one cookie each)
// take 10 KB; a chunk ends early when it is full.
struct VerifyScratch {
  static constexpr size_t kArena = 32 * 1024;
  static_assert(kArena >= proto::kNtpHeaderSize + kMaxPlaintext);
  alignas(16) uint8_t arena[kArena];
  ReplyCheck checks[kCryptoBatch];
  size_t inner_at[kCryptoBatch];
  crypto::AuthToVerify items[kCryptoBatch];
  crypto::SessionKeys keys[kCryptoBatch];
  bool opened[kCryptoBatch];
};

// Every check that needs no key: mode, origin, kiss codes, the outer fields,
// the authenticator's shape.
ReplyCheck check_reply(const RequestRecord& record, std::span<const uint8_t> reply) {
  ReplyCheck c;
  if (!is_server_reply_to(record.transmit, reply)) return c;
  const proto::ExtensionFieldList fields = proto::parse_extension_fields(reply);
  // A kiss code is only believed when the reply authenticates (RFC 8915
  // §5.7 leaves NTSN as the one unauthenticated kiss; NTPsec answers with an
  // authenticated INIT before it is synchronised, RATE may come either way).
  c.kiss = reply[proto::kOffsetStratum] == 0;
  if (c.kiss) {
    c.verdict = classify_kiss(fields, record, reply);
    if (c.verdict != ReplyVerdict::kKod) return c;  // NAK, or an NTSN forgery
    if (!outer_fields_ok(fields, record)) return c;
  } else if (!outer_fields_ok(fields, record)) {
    return c;
  }
  const proto::ExtensionField& last = fields.fields[fields.count - 1];
  const auto auth = proto::parse_nts_authenticator(last.body);
  if (!auth || auth->nonce.empty() || auth->ciphertext.size() < crypto::kAeadTagLength) return c;
  c.plaintext_length = auth->ciphertext.size() - crypto::kAeadTagLength;
  if (c.plaintext_length > kMaxPlaintext) return c;
  c.ad = reply.first(last.offset);
  c.nonce = auth->nonce;
  c.sealed = auth->ciphertext;
  c.open = true;
  return c;
}

// After the authenticator opened into inner_packet (the plaintext behind a
// zeroed 48-byte header, so that it parses as a packet's fields): the cookies,
// the jar, the verdict.
ReplyVerdict finish_reply(NtsSession& session, const RequestRecord& record, const ReplyCheck& c,
                          std::span<const uint8_t> inner_packet, CookieCount count) {
  proto::ExtensionFieldList inner;
  if (!inner_cookies_ok(inner_packet, record, count, inner)) return c.verdict;
  for (size_t i = 0; i < inner.count; ++i) session.jar.add(inner.fields[i].body);
  return c.kiss ? ReplyVerdict::kKodAuthenticated : ReplyVerdict::kVerified;
}

}  // namespace

ReplyVerdict verify_nts_reply(NtsSession& session, const RequestRecord& record,
                              std::span<const uint8_t> reply, CookieCount count) {
  if (!session.s2c) return ReplyVerdict::kFailed;
  const ReplyCheck c = check_reply(record, reply);
  if (!c.open) return c.verdict;
  std::array<uint8_t, proto::kNtpHeaderSize + kMaxPlaintext> inner_packet;
  std::memset(inner_packet.data(), 0, proto::kNtpHeaderSize);
  const auto plaintext = std::span(inner_packet).subspan(proto::kNtpHeaderSize, c.plaintext_length);
  const crypto::Bytes ad[] = {c.ad};
  if (!session.s2c->open(ad, c.nonce, c.sealed, plaintext)) return c.verdict;
  return finish_reply(session, record, c,
                      std::span(inner_packet).first(proto::kNtpHeaderSize + c.plaintext_length),
                      count);
}

void verify_nts_replies(const crypto::NtsCrypto& crypto, std::span<const ReplyToVerify> replies,
                        std::span<ReplyVerdict> verdicts, CookieCount count) {
  auto& [arena, checks, inner_at, items, keys, opened] = thread_scratch<VerifyScratch>();
  constexpr size_t kArena = VerifyScratch::kArena;
  size_t base = 0;
  while (base < replies.size()) {
    size_t used = 0, m = 0, n = 0;
    for (; base + n < replies.size() && n < kCryptoBatch; ++n) {
      const ReplyToVerify& r = replies[base + n];
      ReplyCheck& c = checks[n];
      if (!client_keys(*r.session, keys[m])) {  // as verify_nts_reply without its S2C AEAD
        c = ReplyCheck{};
        continue;
      }
      c = check_reply(*r.record, r.reply);
      if (!c.open) continue;
      const size_t inner = proto::kNtpHeaderSize + c.plaintext_length;
      if (used + inner > kArena) break;  // the next chunk
      std::memset(arena + used, 0, proto::kNtpHeaderSize);
      inner_at[n] = used;
      // Not `items[m++] = {..., &keys[m]}`: g++ 12 evaluates the left side's
      // m++ before the braced right side for a class-type assignment (C++17
      // says right first), and every item then pointed at the next reply's keys.
      items[m] = crypto::AuthToVerify{c.ad, c.nonce, c.sealed,
                                      arena + used + proto::kNtpHeaderSize, &keys[m]};
      ++m;
      used += (inner + 15) & ~size_t{15};
    }
    crypto.verify_authenticators(std::span(items, m), std::span(opened, m));
    // keys[m] too: it may hold the keys of a reply that failed its checks.
    crypto::wipe_session_keys(std::span(keys, std::min(m + 1, kCryptoBatch)));
    for (size_t i = 0, j = 0; i < n; ++i) {
      const ReplyToVerify& r = replies[base + i];
      const ReplyCheck& c = checks[i];
      if (!c.open) {
        verdicts[base + i] = c.verdict;
        continue;
      }
      verdicts[base + i] = opened[j++]
                               ? finish_reply(*r.session, *r.record, c,
                                              std::span(arena + inner_at[i],
                                                        proto::kNtpHeaderSize + c.plaintext_length),
                                              count)
                               : c.verdict;
    }
    base += n;
  }
}

}  // namespace ntsd::clock
