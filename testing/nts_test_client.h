#pragma once
// Test-only: an NTS client for tests, fuzzers and benchmarks of the server's
// request path, on the client codec (clock/nts_codec.h): sessions whose cookies
// are sealed with a given master key, requests built without consuming them.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "clock/nts_codec.h"
#include "crypto/key_snapshot.h"

namespace ntsd::testing {

// A session with keys from a fixed-seed generator and `cookies` cookies sealed with `sealing_key`.
clock::NtsSession sealed_session(const crypto::MasterKey& sealing_key, uint32_t seed,
                                 crypto::AeadId aead = crypto::AeadId::kAesSivCmac256,
                                 size_t cookies = 1);

// A request from a copy of `session` (so the session keeps its cookies): its
// oldest cookie and exactly `placeholders` placeholders; *record gets what it
// asked for. Empty if the codec refuses.
std::vector<uint8_t> request_bytes(const clock::NtsSession& session, uint64_t transmit,
                                   std::span<const uint8_t> unique_id, size_t placeholders = 0,
                                   clock::RequestRecord* record = nullptr);

// Verifies `reply` to the request of `record` with a copy of `session`
// (CookieCount::kExact) and returns the fresh cookies it carried, oldest
// first; nullopt if it does not verify.
std::optional<std::vector<std::vector<uint8_t>>> verified_cookies(
    const clock::NtsSession& session, const clock::RequestRecord& record,
    std::span<const uint8_t> reply);

// A copy of `session` whose oldest cookie has byte `at` XORed with `mask`.
clock::NtsSession with_tampered_cookie(const clock::NtsSession& session, size_t at, uint8_t mask);

}  // namespace ntsd::testing
