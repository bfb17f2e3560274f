#pragma once
// A minimal NTS client for tests and fuzzing of the request path: builds
// requests the way chrony and NTPsec do (WIRE-NOTES.md) and checks replies.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "crypto/cookie.h"
#include "crypto/key_snapshot.h"
#include "proto/ntp_time.h"

namespace ntsd::server::testing {

struct NtsTestSession {
  crypto::SessionKeys keys;
  std::vector<uint8_t> cookie;
};

// A session with fixed-seed pseudo-random keys and a cookie sealed with `sealing_key`.
NtsTestSession make_session(const crypto::MasterKey& sealing_key, uint32_t seed,
                            crypto::AeadId aead = crypto::AeadId::kAesSivCmac256);

// header (transmit = `transmit`) ‖ UID ‖ cookie ‖ placeholders ‖ authenticator (tag only).
std::vector<uint8_t> make_nts_request(const NtsTestSession& session, uint64_t transmit,
                                      std::span<const uint8_t> unique_id, size_t placeholders = 0);

struct CheckedReply {
  bool authentic = false;
  std::vector<std::vector<uint8_t>> cookies;  // the fresh cookies inside the authenticator
  std::vector<uint8_t> unique_id;
};

// Parses an NTS reply and opens its authenticator with the session's S2C key.
CheckedReply check_nts_reply(const NtsTestSession& session, std::span<const uint8_t> reply);

}  // namespace ntsd::server::testing
