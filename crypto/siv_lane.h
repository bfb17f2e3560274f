// Internal to siv_ni.cc / siv_vaes.cc: one CMAC chain of the batched S2V engine.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace ntsd::crypto::siv_internal {

// One CMAC chain: `nblocks` blocks read in place from `data`, then the prepared
// tail blocks (the final one already xored with its CMAC subkey) up to `steps`.
struct alignas(16) Lane {
  const __m128i* rk;   // 11 AES-128 round keys
  const __m256i* rk2;  // the same keys doubled into both YMM halves (for VAES pairs of one key)
  const uint8_t* data;
  uint32_t nblocks;
  uint32_t steps;
  alignas(16) uint8_t tail[32];
  __m128i state;  // in: chaining value (zero); out: the MAC
};

alignas(16) inline constexpr uint8_t kZeroBlock[16] = {};

// The block a chain absorbs at step s, chosen without branches (cmov): in
// place, from the prepared tail, or a zero block once the chain is done.
// The tail holds two blocks and a running chain is at most one past its
// in-place blocks, so `& 1` keeps even a discarded pointer inside the tail
// (a pointer past an array is undefined behaviour even if never read).
inline const uint8_t* block_at(const Lane& l, uint32_t s) {
  const uint8_t* p =
      s < l.nblocks ? l.data + 16 * static_cast<size_t>(s) : l.tail + 16 * ((s - l.nblocks) & 1);
  return s < l.steps ? p : kZeroBlock;
}

// Most lanes one engine call takes (the CTR stream and the S2V stages stay below it).
inline constexpr size_t kMaxLanes = 160;

// Runs the chains in `order` (sorted longest first) with VAES on YMM, two
// chains per instruction; `single` when every chain is exactly one block.
void run_lanes_vaes(Lane* const* order, size_t n, bool single);

// One message's SIV CTR: keystream from V (bits 63 and 31 cleared) under rk, xored into out.
struct CtrJob {
  const __m128i* rk;
  __m128i v;
  const uint8_t* in;
  uint8_t* out;
  size_t len;
};

// CTR for several messages with VAES, two blocks of one message per register.
void ctr_vaes(const CtrJob* jobs, size_t n);

// AES-128 key schedules for n keys (16 bytes each), sixteen at a time with VAES.
void expand_keys_vaes(const uint8_t* const* in, uint8_t (*const* out)[16], size_t n);
// out[i] = AES(rk[i], in[i]) for n blocks, two per YMM register.
void encrypt_blocks_vaes(const __m128i* const* rk, const __m128i* in, __m128i* out, size_t n);

}  // namespace ntsd::crypto::siv_internal
