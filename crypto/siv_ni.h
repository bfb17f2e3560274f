// AES-SIV-CMAC-256 (RFC 5297, NTS AEAD 15) with AES-NI: cached key schedules,
// single-buffer and batched seal/open. Private to crypto/ (the fast
// NtsCrypto, make_aead's native backend and the key ring call it); callers
// make sure the CPU has AES-NI, and VAES for SivLanes::kYmm.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "crypto/bytes.h"
#include "crypto/siv_key.h"

namespace ntsd::crypto {

// Most messages one batched call interleaves; longer spans are done in chunks of this.
inline constexpr size_t kSivBatch = 16;

// The lane engine of the batched calls, chosen by the caller (the fast NtsCrypto, once).
enum class SivLanes : uint8_t {
  kXmm,  // AES-NI on XMM registers: 8 lanes
  kYmm,  // VAES on YMM registers: two lanes per instruction, 16 lanes
};

// One message of a batch. ad holds ad_count components; a non-empty nonce is the last S2V
// component.
struct SivJob {
  const SivKey* key = nullptr;
  Bytes ad[kMaxAdComponents];
  uint8_t ad_count = 0;
  Bytes nonce;
  Bytes input;                // plaintext (seal) or tag ‖ ciphertext (open)
  uint8_t* output = nullptr;  // input.size() + 16 bytes (seal) or input.size() - 16 (open)
  bool ok = false;            // set by the call: sealed, or opened and authentic
};

// Expands a 32-byte AES-SIV-CMAC-256 key fully (for cached master keys); false if key is not 32
// bytes.
bool siv_expand_key(Bytes key, SivKey& out);
// Caches in a fully expanded key the S2V state after a first component that is
// `id` as 4 bytes big-endian (an NTS cookie's key id, the same in every cookie
// sealed under a master key): the cookie kernel then starts from it, one AES
// block less per cookie.
void siv_cache_id_prefix(SivKey& key, uint32_t id);
// Expands per-request session keys together (interleaved), without the doubled schedules; with_ctr
// false skips K2 (enough to verify a tag-only message). False if a key is not 32 bytes.
bool siv_expand_session_keys(std::span<const Bytes> keys, SivKey* const* out, bool with_ctr,
                             SivLanes lanes);
// Zeroes what siv_expand_session_keys wrote.
void siv_wipe_session_key(SivKey& key);
// Single-buffer seal: out = V ‖ C, aead_sealed_length(plaintext.size()) bytes.
bool siv_seal(const SivKey& key, std::span<const Bytes> ad, Bytes nonce, Bytes plaintext,
              MutableBytes out);
// Single-buffer open of V ‖ C; false (and plaintext_out zeroed) if not authentic.
bool siv_open(const SivKey& key, std::span<const Bytes> ad, Bytes nonce, Bytes sealed,
              MutableBytes plaintext_out);
// Seals every job, interleaving AES across jobs; each job's ok says whether it was well-formed.
void siv_seal_batch(std::span<SivJob> jobs, SivLanes lanes);
// Opens every job, interleaving AES across jobs; each job's ok says whether it is authentic.
void siv_open_batch(std::span<SivJob> jobs, SivLanes lanes);

}  // namespace ntsd::crypto
