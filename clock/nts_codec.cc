#include "clock/nts_codec.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

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

// Placeholders: the refill policy (`refill`, with `count` requests in flight)
// or exactly `count`.
size_t build_request(NtsSession& session, uint64_t transmit, std::span<const uint8_t> unique_id,
                     bool refill, size_t count, std::span<uint8_t> out, RequestRecord& record) {
  if (!session.c2s || unique_id.empty() || unique_id.size() > kMaxUniqueIdLength) return 0;
  const size_t nonce_length = crypto::aead_nonce_length(session.aead);
  const size_t fixed = proto::kNtpHeaderSize + proto::kEfHeaderSize +
                       proto::pad4(unique_id.size()) +
                       proto::nts_authenticator_field_size(nonce_length, crypto::kAeadTagLength);
  const size_t limit = std::min(out.size(), kMaxRequestLength);

  // Take the oldest cookie; with an empty jar resend the last one (the server
  // may still accept it, and its reply refills the jar).
  std::array<uint8_t, kMaxCookieLength> cookie;
  size_t length = session.jar.take(cookie);
  record.reused_cookie = length == 0;
  if (record.reused_cookie) {
    length = session.last_cookie.size();
    if (length == 0 || length > kMaxCookieLength) return 0;
    std::copy(session.last_cookie.begin(), session.last_cookie.end(), cookie.begin());
  }
  if (fixed + cookie_field_size(length) > limit) {
    if (!record.reused_cookie) session.jar.add(std::span(cookie).first(length));  // keep it
    return 0;
  }
  // assign() keeps the vector's capacity: no allocation after the first request.
  if (!record.reused_cookie) session.last_cookie.assign(cookie.begin(), cookie.begin() + length);
  // Placeholders as wanted, but only as many as fit (large cookies, small buffers).
  size_t placeholders =
      refill ? placeholders_for(session.jar.size(), count) : std::min(count, kMaxPlaceholders);
  placeholders = std::min(placeholders, (limit - fixed) / cookie_field_size(length) - 1);

  write_client_header(transmit, out);
  size_t at = proto::kNtpHeaderSize;
  at += proto::write_extension_field(out.subspan(at), proto::kEfUniqueIdentifier, unique_id);
  at += proto::write_extension_field(out.subspan(at), proto::kEfNtsCookie,
                                     std::span(cookie).first(length));
  for (size_t i = 0; i < placeholders; ++i) {
    // RFC 8915 §5.5: the placeholder body is zeros, as long as the cookie.
    const size_t field = cookie_field_size(length);
    std::memset(out.data() + at, 0, field);
    proto::write_extension_field_header(out.subspan(at), proto::kEfNtsCookiePlaceholder,
                                        static_cast<uint16_t>(field));
    at += field;
  }

  // Authenticator in place: nonce and tag go straight to where the field puts
  // them; AD = everything before it; empty plaintext (tag only).
  thread_local crypto::NonceSource nonces;  // one per thread: no RNG call per request
  const size_t nonce_at = at + proto::kEfHeaderSize + 4;
  const size_t tag_at = nonce_at + proto::pad4(nonce_length);
  const auto nonce = out.subspan(nonce_at, nonce_length);
  const auto tag = out.subspan(tag_at, crypto::kAeadTagLength);
  const crypto::Bytes ad[] = {out.first(at)};
  if (!nonces.fill(nonce) || !session.c2s->seal(ad, nonce, {}, tag)) {
    if (!record.reused_cookie) session.jar.add(std::span(cookie).first(length));  // keep it
    return 0;
  }
  at += proto::write_nts_authenticator(out.subspan(at), nonce, tag);

  record.transmit = transmit;
  std::copy(unique_id.begin(), unique_id.end(), record.unique_id.begin());
  record.unique_id_length = static_cast<uint8_t>(unique_id.size());
  record.cookies_requested = static_cast<uint8_t>(1 + placeholders);
  return at;
}

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

ReplyVerdict verify_nts_reply(NtsSession& session, const RequestRecord& record,
                              std::span<const uint8_t> reply, CookieCount count) {
  if (!session.s2c || !is_server_reply_to(record.transmit, reply)) return ReplyVerdict::kFailed;
  const proto::ExtensionFieldList fields = proto::parse_extension_fields(reply);
  // A kiss code is only believed when the reply authenticates (RFC 8915
  // §5.7 leaves NTSN as the one unauthenticated kiss; NTPsec answers with an
  // authenticated INIT before it is synchronised, RATE may come either way).
  const bool kiss = reply[proto::kOffsetStratum] == 0;
  if (kiss) {
    const ReplyVerdict unauthenticated = classify_kiss(fields, record, reply);
    if (unauthenticated != ReplyVerdict::kKod) return unauthenticated;  // NAK, or an NTSN forgery
    if (!outer_fields_ok(fields, record)) return ReplyVerdict::kKod;
  } else if (!outer_fields_ok(fields, record)) {
    return ReplyVerdict::kFailed;
  }
  const ReplyVerdict failed = kiss ? ReplyVerdict::kKod : ReplyVerdict::kFailed;

  const proto::ExtensionField& last = fields.fields[fields.count - 1];
  const auto auth = proto::parse_nts_authenticator(last.body);
  if (!auth || auth->nonce.empty() || auth->ciphertext.size() < crypto::kAeadTagLength) {
    return failed;
  }
  const size_t plaintext_length = auth->ciphertext.size() - crypto::kAeadTagLength;
  if (plaintext_length > kMaxPlaintext) return failed;
  // Decrypt behind a zeroed header so the plaintext parses as a packet's fields.
  std::array<uint8_t, proto::kNtpHeaderSize + kMaxPlaintext> inner_packet;
  std::memset(inner_packet.data(), 0, proto::kNtpHeaderSize);
  const auto plaintext = std::span(inner_packet).subspan(proto::kNtpHeaderSize, plaintext_length);
  const crypto::Bytes ad[] = {reply.first(last.offset)};
  if (!session.s2c->open(ad, auth->nonce, auth->ciphertext, plaintext)) return failed;

  proto::ExtensionFieldList inner;
  if (!inner_cookies_ok(std::span(inner_packet).first(proto::kNtpHeaderSize + plaintext_length),
                        record, count, inner)) {
    return failed;
  }
  for (size_t i = 0; i < inner.count; ++i) session.jar.add(inner.fields[i].body);
  return kiss ? ReplyVerdict::kKodAuthenticated : ReplyVerdict::kVerified;
}

}  // namespace ntsd::clock
