#include "bench/nts_client.h"

#include <algorithm>
#include <cstring>

#include "crypto/nonce_source.h"
#include "ke/client.h"
#include "proto/extension_field.h"
#include "proto/ke_record.h"
#include "proto/ntp_packet.h"

namespace ntsd::bench {

namespace {

constexpr size_t kMaxPlaceholders = kJarCapacity - 1;
// Largest authenticated plaintext a reply may carry: one Cookie field per cookie requested.
constexpr size_t kMaxPlaintext = kJarCapacity * (proto::kEfHeaderSize + kMaxCookieLength);

size_t cookie_field_size(size_t cookie_length) {
  return proto::kEfHeaderSize + proto::pad4(cookie_length);
}

// Header fields other than mode, version and transmit stay zero: like chrony,
// the client reveals nothing about its clock (WIRE-NOTES.md §2).
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
  return field.type == proto::kEfUniqueIdentifier && field.body.size() == kUniqueIdLength &&
         std::equal(field.body.begin(), field.body.end(), record.unique_id.begin());
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

// The decrypted plaintext must be exactly the cookies we asked for. It is
// parsed behind a zeroed 48-byte header because the field parser expects a packet.
bool inner_cookies_ok(std::span<const uint8_t> packet, const RequestRecord& record,
                      proto::ExtensionFieldList& inner) {
  inner = proto::parse_extension_fields(packet);
  if (inner.status != proto::EfStatus::kOk || inner.count != record.cookies_requested) return false;
  for (size_t i = 0; i < inner.count; ++i) {
    const auto& f = inner.fields[i];
    if (f.type != proto::kEfNtsCookie || f.body.empty() || f.body.size() > kMaxCookieLength)
      return false;
  }
  return true;
}

}  // namespace

// ---- CookieJar ----

size_t CookieJar::size() const { return count_; }

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

// ---- sessions ----

NtsSession make_session(crypto::AeadId aead, crypto::Bytes c2s_key, crypto::Bytes s2c_key,
                        std::span<const std::vector<uint8_t>> cookies) {
  NtsSession session;
  session.aead = aead;
  session.c2s = crypto::make_aead(aead, c2s_key);
  session.s2c = crypto::make_aead(aead, s2c_key);
  for (const auto& cookie : cookies) session.jar.add(cookie);
  session.cookie_length = cookies.empty() ? 0 : cookies.front().size();
  return session;
}

namespace {

std::string check_ke_response(const proto::KeResponse& r, const KeTarget& target,
                              uint16_t exported) {
  if (!r.errors.empty()) return "server sent NTS-KE Error " + std::to_string(r.errors.front());
  if (r.next_protocols.size() != 1 || r.next_protocols[0] != proto::kKeProtocolNtpV4) {
    return "server did not accept NTPv4 as next protocol";
  }
  if (r.aeads.size() != 1 ||
      std::find(target.aeads.begin(), target.aeads.end(), r.aeads[0]) == target.aeads.end()) {
    return "server picked no AEAD or one that was not offered";
  }
  if (exported != r.aeads[0]) return "keys were not exported for the negotiated AEAD";
  if (r.cookies.empty()) return "server sent no cookies";
  for (const auto& cookie : r.cookies) {
    if (cookie.empty() || cookie.size() > kMaxCookieLength) {
      return "server sent a cookie of " + std::to_string(cookie.size()) + " bytes";
    }
  }
  return {};
}

}  // namespace

ke::KeClientOptions ke_client_options(const KeTarget& target) {
  ke::KeClientOptions options;
  options.address = target.host;
  options.port = target.port;
  options.ca_file = target.insecure ? std::string() : target.ca_file;
  options.verify_host = target.verify_name.empty() ? target.host : target.verify_name;
  // GCM-SIV is only negotiated with the RFC-compliant exporter record (ke/negotiate.cc).
  const bool gcm_siv =
      std::find(target.aeads.begin(), target.aeads.end(),
                static_cast<uint16_t>(crypto::AeadId::kAes128GcmSiv)) != target.aeads.end();
  options.request = ke::make_ke_request(target.aeads, gcm_siv);
  options.export_negotiated = true;
  options.timeout_ms = target.timeout_ms;
  return options;
}

namespace {

std::string ke_where(const KeTarget& target) {
  return "NTS-KE " + target.host + ":" + std::to_string(target.port) + ": ";
}

}  // namespace

std::optional<NtsSession> establish_session(const KeTarget& target, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<NtsSession> {
    if (error) *error = ke_where(target) + why;
    return std::nullopt;
  };
  if (target.aeads.empty()) return fail("no AEAD to offer");
  for (uint16_t id : target.aeads) {
    if (!crypto::aead_from_wire(id))
      return fail("AEAD " + std::to_string(id) + " is not implemented");
  }
  if (!target.insecure && target.ca_file.empty()) {
    return fail("no CA file to verify the server against (give one, or choose insecure)");
  }
  return session_from_ke_result(target, ke::run_ke_client(ke_client_options(target)), error);
}

std::optional<NtsSession> session_from_ke_result(const KeTarget& target, const ke::KeClientResult& result,
                                                 std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<NtsSession> {
    if (error) *error = ke_where(target) + why;
    return std::nullopt;
  };
  if (!result.handshake_ok) return fail(result.error);
  if (result.alpn != "ntske/1") return fail("server did not select ALPN ntske/1");
  proto::KeResponse response;
  if (proto::parse_ke_response(result.response, response) != proto::KeResponseStatus::kOk) {
    return fail("malformed or incomplete NTS-KE response");
  }
  if (std::string why = check_ke_response(response, target, result.exported_aead); !why.empty()) {
    return fail(why);
  }
  const auto aead = *crypto::aead_from_wire(response.aeads[0]);
  NtsSession session = make_session(aead, result.c2s, result.s2c, response.cookies);
  if (!session.c2s || !session.s2c) return fail("could not key the negotiated AEAD");
  session.ntp_host = response.server.empty() ? target.host : response.server;
  session.ntp_port = response.port >= 0 ? static_cast<uint16_t>(response.port) : 123;
  return session;
}

// ---- requests ----

size_t build_plain_request(uint64_t transmit, std::span<uint8_t> out) {
  if (out.size() < proto::kNtpHeaderSize) return 0;
  write_client_header(transmit, out);
  return proto::kNtpHeaderSize;
}

size_t build_nts_request(NtsSession& session, uint64_t transmit,
                         std::span<const uint8_t, kUniqueIdLength> unique_id, size_t in_flight,
                         std::span<uint8_t> out, RequestRecord& record) {
  if (!session.c2s) return 0;
  const size_t nonce_length = crypto::aead_nonce_length(session.aead);
  const size_t fixed = proto::kNtpHeaderSize + proto::kEfHeaderSize + kUniqueIdLength +
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
  size_t placeholders = placeholders_for(session.jar.size(), in_flight);
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
  thread_local crypto::NonceSource nonces;  // one per load thread: no RNG call per request
  const size_t nonce_at = at + proto::kEfHeaderSize + 4;
  const size_t tag_at = nonce_at + proto::pad4(nonce_length);
  const auto nonce = out.subspan(nonce_at, nonce_length);
  const auto tag = out.subspan(tag_at, crypto::kAeadTagLength);
  const crypto::Bytes ad[] = {out.first(at)};
  if (!nonces.fill(nonce) || !session.c2s->seal(ad, nonce, {}, tag)) return 0;
  at += proto::write_nts_authenticator(out.subspan(at), nonce, tag);

  record.transmit = transmit;
  std::copy(unique_id.begin(), unique_id.end(), record.unique_id.begin());
  record.cookies_requested = static_cast<uint8_t>(1 + placeholders);
  return at;
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
                              std::span<const uint8_t> reply) {
  if (!session.s2c || !is_server_reply_to(record.transmit, reply)) return ReplyVerdict::kFailed;
  const proto::ExtensionFieldList fields = proto::parse_extension_fields(reply);
  if (reply[proto::kOffsetStratum] == 0) return classify_kiss(fields, record, reply);
  if (!outer_fields_ok(fields, record)) return ReplyVerdict::kFailed;

  const proto::ExtensionField& last = fields.fields[fields.count - 1];
  const auto auth = proto::parse_nts_authenticator(last.body);
  if (!auth || auth->nonce.empty() || auth->ciphertext.size() < crypto::kAeadTagLength) {
    return ReplyVerdict::kFailed;
  }
  const size_t plaintext_length = auth->ciphertext.size() - crypto::kAeadTagLength;
  if (plaintext_length > kMaxPlaintext) return ReplyVerdict::kFailed;
  // Decrypt behind a zeroed header so the plaintext parses as a packet's fields.
  std::array<uint8_t, proto::kNtpHeaderSize + kMaxPlaintext> inner_packet;
  std::memset(inner_packet.data(), 0, proto::kNtpHeaderSize);
  const auto plaintext = std::span(inner_packet).subspan(proto::kNtpHeaderSize, plaintext_length);
  const crypto::Bytes ad[] = {reply.first(last.offset)};
  if (!session.s2c->open(ad, auth->nonce, auth->ciphertext, plaintext))
    return ReplyVerdict::kFailed;

  proto::ExtensionFieldList inner;
  if (!inner_cookies_ok(std::span(inner_packet).first(proto::kNtpHeaderSize + plaintext_length),
                        record, inner)) {
    return ReplyVerdict::kFailed;
  }
  for (size_t i = 0; i < inner.count; ++i) session.jar.add(inner.fields[i].body);
  return ReplyVerdict::kVerified;
}

}  // namespace ntsd::bench
