// AES-128-GCM-SIV (RFC 8452, NTS AEAD 30) with AES-NI + PCLMULQDQ (POLYVAL).
// OpenSSL 3.0 lacks it. Private to crypto/; callers make sure the CPU has
// AES-NI (the fast NtsCrypto and make_aead's native backend exist only then).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "crypto/bytes.h"

namespace ntsd::crypto {

// An expanded 16-byte key-generating key.
struct alignas(16) GcmSivKey {
  uint8_t rk[11][16];
};

// Expands a 16-byte key; false if the length is wrong.
bool gcm_siv_expand_key(Bytes key, GcmSivKey& out);
// Seals: out = ciphertext ‖ tag (plaintext.size() + 16 bytes); nonce must be 12 bytes.
bool gcm_siv_seal(const GcmSivKey& key, Bytes ad, Bytes nonce, Bytes plaintext, MutableBytes out);
// Opens ciphertext ‖ tag; false (plaintext_out zeroed) if not authentic.
bool gcm_siv_open(const GcmSivKey& key, Bytes ad, Bytes nonce, Bytes sealed,
                  MutableBytes plaintext_out);

// One message of a batch: a per-request session key (16 raw bytes), one AD string, a 12-byte
// nonce.
struct GcmSivJob {
  const uint8_t* key = nullptr;
  Bytes ad;
  Bytes nonce;
  Bytes input;                // plaintext (seal) or ciphertext ‖ tag (open)
  uint8_t* output = nullptr;  // input.size() + 16 bytes (seal) or input.size() - 16 (open)
  bool ok = false;            // set by the call: sealed, or opened and authentic
};

// Most messages one batched call interleaves; longer spans are done in chunks of this.
inline constexpr size_t kGcmSivBatch = 16;

// Seals every job, the AES and POLYVAL work of the jobs interleaved; the expanded keys are wiped.
void gcm_siv_seal_batch(std::span<GcmSivJob> jobs);
// Opens every job the same way; a job that is not authentic gets ok = false and zeroed output.
void gcm_siv_open_batch(std::span<GcmSivJob> jobs);

}  // namespace ntsd::crypto
