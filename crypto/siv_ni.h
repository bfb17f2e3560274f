// AES-SIV-CMAC-256 (RFC 5297, NTS AEAD 15) with AES-NI: cached key schedules,
// single-buffer and batched seal/open. Callers check cpu_features().aesni first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "crypto/aead.h"

namespace ntsd::crypto {

// An expanded 32-byte SIV key; build it once wherever a key repeats (master keys).
struct alignas(64) SivKey {
  uint8_t mac_rk[11][16];  // AES-128 schedule of K1 (S2V / CMAC)
  uint8_t ctr_rk[11][16];  // AES-128 schedule of K2 (CTR); absent in MAC-only session keys
  uint8_t cmac_k1[16];     // CMAC subkey for a complete final block
  uint8_t cmac_k2[16];     // CMAC subkey for a padded final block
  uint8_t d0[16];          // CMAC(K1, 0^128): where every S2V starts
  uint8_t flags;           // kSivKeyHasCtr | kSivKeyDoubled
  // Both schedules doubled into 32 bytes, so VAES lanes of one key need no
  // shuffling; filled for master keys only (siv_expand_key).
  alignas(32) uint8_t mac_rk2[11][32];
  uint8_t ctr_rk2[11][32];
};
inline constexpr uint8_t kSivKeyHasCtr = 1;
inline constexpr uint8_t kSivKeyDoubled = 2;

// Most messages one batched call interleaves; longer spans are done in chunks of this.
inline constexpr size_t kSivBatch = 16;

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
// Expands per-request session keys together (interleaved), without the doubled schedules; with_ctr
// false skips K2 (enough to verify a tag-only message). False if a key is not 32 bytes.
bool siv_expand_session_keys(std::span<const Bytes> keys, SivKey* const* out, bool with_ctr);
// Zeroes what siv_expand_session_keys wrote.
void siv_wipe_session_key(SivKey& key);
// Single-buffer seal: out = V ‖ C, aead_sealed_length(plaintext.size()) bytes.
bool siv_seal(const SivKey& key, std::span<const Bytes> ad, Bytes nonce, Bytes plaintext,
              MutableBytes out);
// Single-buffer open of V ‖ C; false (and plaintext_out zeroed) if not authentic.
bool siv_open(const SivKey& key, std::span<const Bytes> ad, Bytes nonce, Bytes sealed,
              MutableBytes plaintext_out);
// Seals every job, interleaving AES across jobs; each job's ok says whether it was well-formed.
void siv_seal_batch(std::span<SivJob> jobs);
// Opens every job, interleaving AES across jobs; each job's ok says whether it is authentic.
void siv_open_batch(std::span<SivJob> jobs);

// Which lane engine the batched calls use: 0 = AES-NI (xmm), 1 = VAES (ymm, two lanes per
// instruction).
int siv_engine();
// Forces an engine for tests and benchmarks (-1 = automatic by CPUID).
void siv_force_engine(int engine);

}  // namespace ntsd::crypto
