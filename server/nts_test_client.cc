#include "server/nts_test_client.h"

#include <random>

#include "crypto/aead.h"
#include "proto/extension_field.h"
#include "proto/ntp_packet.h"

namespace ntsd::server::testing {

NtsTestSession make_session(const crypto::MasterKey& sealing_key, uint32_t seed,
                            crypto::AeadId aead) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> c2s(crypto::aead_key_length(aead)), s2c(c2s.size());
  for (auto& b : c2s) b = static_cast<uint8_t>(rng());
  for (auto& b : s2c) b = static_cast<uint8_t>(rng());
  NtsTestSession session;
  crypto::make_session_keys(aead, c2s, s2c, session.keys);
  session.cookie.resize(crypto::cookie_length(aead));
  std::vector<uint8_t> nonce(crypto::kCookieNonceLength);
  for (auto& b : nonce) b = static_cast<uint8_t>(rng());
  session.cookie.resize(crypto::seal_cookie(sealing_key, session.keys, nonce, session.cookie));
  return session;
}

std::vector<uint8_t> make_nts_request(const NtsTestSession& session, uint64_t transmit,
                                      std::span<const uint8_t> unique_id, size_t placeholders) {
  std::vector<uint8_t> packet(48, 0);
  packet[0] = proto::li_vn_mode(proto::Leap::kNone, 4, proto::Mode::kClient);
  packet[2] = 6;
  packet[3] = 0x20;
  proto::store_timestamp(packet, proto::kOffsetTransmit, proto::NtpTimestamp{transmit});
  auto append = [&packet](uint16_t type, std::span<const uint8_t> body) {
    std::vector<uint8_t> field(4 + proto::pad4(body.size()));
    proto::write_extension_field(field, type, body);
    packet.insert(packet.end(), field.begin(), field.end());
  };
  append(proto::kEfUniqueIdentifier, unique_id);
  append(proto::kEfNtsCookie, session.cookie);
  const std::vector<uint8_t> zeros(session.cookie.size(), 0);
  for (size_t i = 0; i < placeholders; ++i) append(proto::kEfNtsCookiePlaceholder, zeros);
  const size_t nonce_length = crypto::aead_nonce_length(session.keys.aead);
  std::vector<uint8_t> nonce(nonce_length, 0x5c);
  nonce[0] = static_cast<uint8_t>(transmit);
  std::vector<uint8_t> tag(crypto::kAeadTagLength);
  auto aead = crypto::make_aead(session.keys.aead, session.keys.c2s_key());
  const crypto::Bytes ad[] = {crypto::Bytes(packet)};
  aead->seal(ad, nonce, {}, tag);
  std::vector<uint8_t> auth(proto::nts_authenticator_field_size(nonce.size(), tag.size()));
  proto::write_nts_authenticator(auth, nonce, tag);
  packet.insert(packet.end(), auth.begin(), auth.end());
  return packet;
}

CheckedReply check_nts_reply(const NtsTestSession& session, std::span<const uint8_t> reply) {
  CheckedReply checked;
  const auto fields = proto::parse_extension_fields(reply);
  if (fields.status != proto::EfStatus::kOk || fields.count == 0) return checked;
  for (size_t i = 0; i < fields.count; ++i) {
    const auto& field = fields.fields[i];
    if (field.type == proto::kEfUniqueIdentifier) {
      checked.unique_id.assign(field.body.begin(), field.body.end());
    }
  }
  const auto& last = fields.fields[fields.count - 1];
  if (last.type != proto::kEfNtsAuthenticator) return checked;
  const auto auth = proto::parse_nts_authenticator(last.body);
  if (!auth || auth->ciphertext.size() < crypto::kAeadTagLength) return checked;
  auto aead = crypto::make_aead(session.keys.aead, session.keys.s2c_key());
  const crypto::Bytes ad[] = {reply.first(last.offset)};
  std::vector<uint8_t> plaintext(auth->ciphertext.size() - crypto::kAeadTagLength);
  if (!aead->open(ad, auth->nonce, auth->ciphertext, plaintext)) return checked;
  checked.authentic = true;
  // The plaintext is a sequence of extension fields: parse it behind a dummy header.
  std::vector<uint8_t> inner(48, 0);
  inner.insert(inner.end(), plaintext.begin(), plaintext.end());
  const auto inner_fields = proto::parse_extension_fields(inner);
  for (size_t i = 0; i < inner_fields.count; ++i) {
    if (inner_fields.fields[i].type == proto::kEfNtsCookie) {
      checked.cookies.emplace_back(inner_fields.fields[i].body.begin(), inner_fields.fields[i].body.end());
    }
  }
  return checked;
}

}  // namespace ntsd::server::testing
