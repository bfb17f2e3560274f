#include "testing/nts_test_client.h"

#include <array>
#include <random>

#include "crypto/cookie.h"

namespace ntsd::testing {

using clock::NtsSession;
using clock::RequestRecord;

NtsSession sealed_session(const crypto::MasterKey& sealing_key, uint32_t seed, crypto::AeadId aead,
                          size_t cookies) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> c2s(crypto::aead_key_length(aead)), s2c(c2s.size());
  for (auto& b : c2s) b = static_cast<uint8_t>(rng());
  for (auto& b : s2c) b = static_cast<uint8_t>(rng());
  crypto::SessionKeys keys;
  crypto::make_session_keys(aead, c2s, s2c, keys);
  std::vector<std::vector<uint8_t>> sealed(cookies);
  for (auto& cookie : sealed) {
    std::vector<uint8_t> nonce(crypto::kCookieNonceLength);
    for (auto& b : nonce) b = static_cast<uint8_t>(rng());
    cookie.resize(crypto::cookie_length(aead));
    cookie.resize(crypto::seal_cookie(sealing_key, keys, nonce, cookie));
  }
  return clock::make_session(aead, c2s, s2c, sealed);
}

std::vector<uint8_t> request_bytes(const NtsSession& session, uint64_t transmit,
                                   std::span<const uint8_t> unique_id, size_t placeholders,
                                   RequestRecord* record) {
  NtsSession copy = session;
  RequestRecord local;
  std::vector<uint8_t> out(clock::kMaxRequestLength);
  out.resize(clock::build_nts_request_with_placeholders(copy, transmit, unique_id, placeholders,
                                                        out, record ? *record : local));
  return out;
}

std::optional<std::vector<std::vector<uint8_t>>> verified_cookies(const NtsSession& session,
                                                                  const RequestRecord& record,
                                                                  std::span<const uint8_t> reply) {
  NtsSession client = session;
  std::array<uint8_t, clock::kMaxCookieLength> scratch;
  while (client.jar.take(scratch) != 0) {
  }
  if (clock::verify_nts_reply(client, record, reply) != clock::ReplyVerdict::kVerified)
    return std::nullopt;
  return client.jar.cookies();
}

NtsSession with_tampered_cookie(const NtsSession& session, size_t at, uint8_t mask) {
  auto cookies = session.jar.cookies();
  if (!cookies.empty() && at < cookies.front().size()) cookies.front()[at] ^= mask;
  NtsSession out =
      clock::make_session(session.aead, session.c2s_key.bytes(), session.s2c_key.bytes(), cookies);
  out.ntp_host = session.ntp_host;
  out.ntp_port = session.ntp_port;
  return out;
}

}  // namespace ntsd::testing
