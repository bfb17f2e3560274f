// AES-128 with AES-NI intrinsics, shared by the SIV and GCM-SIV code: block
// loads/stores, the key schedule and a single-block encryption. Internal to
// crypto/ (the private //crypto:fast); callers make sure the CPU has AES-NI. Intrinsics are
// enabled per function (NTSD_AESNI), never per file or globally.
#pragma once

#include <immintrin.h>

#include <cstdint>

#define NTSD_AESNI __attribute__((target("aes,pclmul,sse4.1,ssse3")))

namespace ntsd::crypto::aes_ni {

NTSD_AESNI inline __m128i load(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

NTSD_AESNI inline void store(uint8_t* p, __m128i v) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v);
}

NTSD_AESNI inline __m128i expand_step(__m128i key, __m128i assist) {
  assist = _mm_shuffle_epi32(assist, 0xff);
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  return _mm_xor_si128(key, assist);
}

// The AES-128 key schedule of `key` (11 round keys).
NTSD_AESNI inline void expand128(__m128i key, __m128i rk[11]) {
  rk[0] = key;
  // aeskeygenassist needs the round constant as an immediate, hence no loop.
  rk[1] = expand_step(rk[0], _mm_aeskeygenassist_si128(rk[0], 0x01));
  rk[2] = expand_step(rk[1], _mm_aeskeygenassist_si128(rk[1], 0x02));
  rk[3] = expand_step(rk[2], _mm_aeskeygenassist_si128(rk[2], 0x04));
  rk[4] = expand_step(rk[3], _mm_aeskeygenassist_si128(rk[3], 0x08));
  rk[5] = expand_step(rk[4], _mm_aeskeygenassist_si128(rk[4], 0x10));
  rk[6] = expand_step(rk[5], _mm_aeskeygenassist_si128(rk[5], 0x20));
  rk[7] = expand_step(rk[6], _mm_aeskeygenassist_si128(rk[6], 0x40));
  rk[8] = expand_step(rk[7], _mm_aeskeygenassist_si128(rk[7], 0x80));
  rk[9] = expand_step(rk[8], _mm_aeskeygenassist_si128(rk[8], 0x1b));
  rk[10] = expand_step(rk[9], _mm_aeskeygenassist_si128(rk[9], 0x36));
}

NTSD_AESNI inline __m128i encrypt1(const __m128i* rk, __m128i x) {
  x = _mm_xor_si128(x, rk[0]);
  for (int r = 1; r < 10; ++r) x = _mm_aesenc_si128(x, rk[r]);
  return _mm_aesenclast_si128(x, rk[10]);
}

}  // namespace ntsd::crypto::aes_ni
