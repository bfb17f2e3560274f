// The S2V vector of a cookie is fixed: (key id: 4 bytes, nonce: 16 bytes,
// plaintext: 68 bytes), so every block is known at compile time: two one-block
// CMACs, five CTR blocks and a five-block final CMAC chain. No lane records,
// no copies through memory; each YMM register carries two blocks that share a
// key (the two S2V components of one cookie, two counters of one cookie, or
// the final chains of two cookies under one master key).
#include "crypto/cookie_fast.h"

#include <immintrin.h>

#include <cstring>
#include <functional>

#define NTSD_VAES __attribute__((target("aes,pclmul,sse4.1,ssse3,avx,avx2,vaes,vpclmulqdq")))

namespace ntsd::crypto::cookie_fast {
namespace {

NTSD_VAES inline __m128i load(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}
NTSD_VAES inline void store(uint8_t* p, __m128i v) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v);
}
NTSD_VAES inline __m128i load32(const uint8_t* p) {
  int v;
  std::memcpy(&v, p, 4);
  return _mm_cvtsi32_si128(v);
}

NTSD_VAES inline __m128i dbl(__m128i v) {
  const __m128i bswap = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m128i x = _mm_shuffle_epi8(v, bswap);
  const __m128i carries = _mm_srli_epi64(x, 63);
  __m128i y = _mm_or_si128(_mm_slli_epi64(x, 1), _mm_slli_si128(carries, 8));
  const __m128i top = _mm_sub_epi64(_mm_setzero_si128(), _mm_srli_si128(carries, 8));
  y = _mm_xor_si128(y, _mm_and_si128(top, _mm_set_epi64x(0, 0x87)));
  return _mm_shuffle_epi8(y, bswap);
}

NTSD_VAES inline const __m256i* rk2(const uint8_t (*rk)[32]) {
  return reinterpret_cast<const __m256i*>(rk);
}

// 0x80 padding right after a 4-byte string (the key id, and the plaintext's last 4 bytes).
NTSD_VAES inline __m128i pad_after4() { return _mm_set_epi32(0, 0, 0x80, 0); }

// SIV counter blocks Q+0..Q+4 (RFC 5297 §2.5: bits 63 and 31 of V cleared),
// as pairs (Q, Q+1), (Q+2, Q+3), (Q+4, Q+4). The low 32-bit word is
// big-endian: swap it, add, swap back; bit 31 is clear, so it never carries.
NTSD_VAES inline void counters(__m128i v, __m256i q[3]) {
  const __m128i mask =
      _mm_set_epi8(-1, -1, -1, 0x7f, -1, -1, -1, 0x7f, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m256i swap = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 14, 13, 12, 0, 1,
                                        2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 14, 13, 12);
  const __m256i base =
      _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_and_si128(v, mask)), swap);
  q[0] =
      _mm256_shuffle_epi8(_mm256_add_epi32(base, _mm256_setr_epi32(0, 0, 0, 0, 0, 0, 0, 1)), swap);
  q[1] =
      _mm256_shuffle_epi8(_mm256_add_epi32(base, _mm256_setr_epi32(0, 0, 0, 2, 0, 0, 0, 3)), swap);
  q[2] =
      _mm256_shuffle_epi8(_mm256_add_epi32(base, _mm256_setr_epi32(0, 0, 0, 4, 0, 0, 0, 4)), swap);
}

// AES-128 of K ymm registers, each under its own doubled schedule.
template <int K>
NTSD_VAES inline void aes(__m256i x[K], const __m256i* const rk[K]) {
#pragma GCC unroll 16
  for (int k = 0; k < K; ++k) x[k] = _mm256_xor_si256(x[k], rk[k][0]);
#pragma GCC unroll 9
  for (int r = 1; r < 10; ++r) {
#pragma GCC unroll 16
    for (int k = 0; k < K; ++k) x[k] = _mm256_aesenc_epi128(x[k], rk[k][r]);
  }
#pragma GCC unroll 16
  for (int k = 0; k < K; ++k) x[k] = _mm256_aesenclast_epi128(x[k], rk[k][10]);
}

// The final S2V chains of up to 16 messages: five blocks each (t[i][0..4]),
// two messages per register, paired in `order` (sorted by key, so a pair
// mostly shares a master key and uses its doubled schedule directly; a pair
// with two keys gets its round keys combined once).
template <int P>
NTSD_VAES void final_chains_w(const __m128i (*t)[5], const SivKey* const* keys,
                              const uint8_t* order, size_t n, __m128i* v) {
  __m256i paired[P][11];
  const __m256i* rk[P];
  __m256i st[P];
  size_t a[P];
  size_t b[P];
  const size_t pairs = (n + 1) / 2;
  for (size_t p = 0; p < P; ++p) {
    // Unused pairs (fixed width keeps the registers allocated) redo pair 0.
    a[p] = p < pairs ? order[2 * p] : order[0];
    b[p] = p < pairs && 2 * p + 1 < n ? order[2 * p + 1] : a[p];
    if (keys[a[p]] == keys[b[p]]) {
      rk[p] = rk2(keys[a[p]]->mac_rk2);
    } else {
      const __m128i* ra = reinterpret_cast<const __m128i*>(keys[a[p]]->mac_rk);
      const __m128i* rb = reinterpret_cast<const __m128i*>(keys[b[p]]->mac_rk);
      for (int r = 0; r < 11; ++r) paired[p][r] = _mm256_set_m128i(rb[r], ra[r]);
      rk[p] = paired[p];
    }
    st[p] = _mm256_setzero_si256();
  }
  for (int s = 0; s < 5; ++s) {
    __m256i x[P];
#pragma GCC unroll 8
    for (size_t p = 0; p < P; ++p)
      x[p] = _mm256_xor_si256(st[p], _mm256_set_m128i(t[b[p]][s], t[a[p]][s]));
    aes<P>(x, rk);
#pragma GCC unroll 8
    for (size_t p = 0; p < P; ++p) st[p] = x[p];
  }
  for (size_t p = 0; p < pairs; ++p) {
    v[a[p]] = _mm256_castsi256_si128(st[p]);
    if (b[p] != a[p]) v[b[p]] = _mm256_extracti128_si256(st[p], 1);
  }
}

NTSD_VAES void final_chains(const __m128i (*t)[5], const SivKey* const* keys, size_t n,
                            __m128i* v) {
  // Stable insertion sort of the indices by key (at most 16).
  uint8_t order[16];
  for (size_t i = 0; i < n; ++i) {
    size_t j = i;
    for (; j > 0 && std::less<const SivKey*>()(keys[i], keys[order[j - 1]]); --j)
      order[j] = order[j - 1];
    order[j] = static_cast<uint8_t>(i);
  }
  const size_t pairs = (n + 1) / 2;
  if (pairs > 4) {
    final_chains_w<8>(t, keys, order, n, v);
  } else if (pairs > 2) {
    final_chains_w<4>(t, keys, order, n, v);
  } else if (pairs > 1) {
    final_chains_w<2>(t, keys, order, n, v);
  } else {
    final_chains_w<1>(t, keys, order, n, v);
  }
}

// T for a 68-byte final string: blocks 0..2 as they are; the last 16 bytes
// (offsets 52..67) xored with D, which spans block 3 (bytes 4..15) and block 4
// (bytes 0..3); block 4 is then padded and takes subkey k2.
NTSD_VAES inline void final_blocks(const __m128i p[5], __m128i d, const SivKey& k, __m128i t[5]) {
  t[0] = p[0];
  t[1] = p[1];
  t[2] = p[2];
  t[3] = _mm_xor_si128(p[3], _mm_slli_si128(d, 4));
  t[4] = _mm_xor_si128(_mm_or_si128(_mm_xor_si128(p[4], _mm_srli_si128(d, 12)), pad_after4()),
                       load(k.cmac_k2));
}

// D after the key id and nonce components: dbl(dbl(d0) ^ E(keyid)) ^ E(nonce).
NTSD_VAES inline __m128i s2v_d(const SivKey& k, __m128i e_keyid, __m128i e_nonce) {
  return _mm_xor_si128(dbl(_mm_xor_si128(dbl(load(k.d0)), e_keyid)), e_nonce);
}

// Key id block (padded, subkey k2) and nonce block (complete, subkey k1) of one cookie.
NTSD_VAES inline __m256i component_blocks(const uint8_t* c, const SivKey& k) {
  const __m128i keyid = _mm_xor_si128(_mm_or_si128(load32(c), pad_after4()), load(k.cmac_k2));
  const __m128i nonce = _mm_xor_si128(load(c + 4), load(k.cmac_k1));
  return _mm256_set_m128i(nonce, keyid);
}

}  // namespace

NTSD_VAES void open104(const uint8_t* const* cookies, const SivKey* const* keys, size_t n,
                       uint8_t (*pt)[kPlain], bool* ok) {
  alignas(16) __m128i t[16][5];
  __m128i d[16];
  // Phase 1, two cookies per iteration (8 independent registers): the two
  // component CMACs and the five keystream blocks.
  for (size_t i = 0; i < n; i += 2) {
    const size_t j = i + 1 < n ? i + 1 : i;
    __m256i x[8];
    const __m256i* rk[8];
    for (int h = 0; h < 2; ++h) {
      const size_t m = h == 0 ? i : j;
      const uint8_t* c = cookies[m];
      const SivKey& k = *keys[m];
      x[4 * h] = component_blocks(c, k);
      counters(load(c + 20), x + 4 * h + 1);
      rk[4 * h] = rk2(k.mac_rk2);
      rk[4 * h + 1] = rk[4 * h + 2] = rk[4 * h + 3] = rk2(k.ctr_rk2);
    }
    aes<8>(x, rk);
    for (int h = 0; h < 2; ++h) {
      const size_t m = h == 0 ? i : j;
      if (h == 1 && m == i) break;
      const uint8_t* c = cookies[m] + 36;  // ciphertext
      __m128i p[5];
      p[0] = _mm_xor_si128(load(c), _mm256_castsi256_si128(x[4 * h + 1]));
      p[1] = _mm_xor_si128(load(c + 16), _mm256_extracti128_si256(x[4 * h + 1], 1));
      p[2] = _mm_xor_si128(load(c + 32), _mm256_castsi256_si128(x[4 * h + 2]));
      p[3] = _mm_xor_si128(load(c + 48), _mm256_extracti128_si256(x[4 * h + 2], 1));
      // Only 4 bytes of the last block: keep the rest zero for the padding.
      p[4] = _mm_cvtsi32_si128(
          _mm_cvtsi128_si32(_mm_xor_si128(load32(c + 64), _mm256_castsi256_si128(x[4 * h + 3]))));
      store(pt[m], p[0]);
      store(pt[m] + 16, p[1]);
      store(pt[m] + 32, p[2]);
      store(pt[m] + 48, p[3]);
      const int last = _mm_cvtsi128_si32(p[4]);
      std::memcpy(pt[m] + 64, &last, 4);
      d[m] =
          s2v_d(*keys[m], _mm256_castsi256_si128(x[4 * h]), _mm256_extracti128_si256(x[4 * h], 1));
      final_blocks(p, d[m], *keys[m], t[m]);
    }
  }
  __m128i v[16];
  final_chains(t, keys, n, v);
  for (size_t i = 0; i < n; ++i) {
    const __m128i diff = _mm_xor_si128(v[i], load(cookies[i] + 20));
    ok[i] = _mm_testz_si128(diff, diff) != 0;  // constant time
    if (!ok[i]) std::memset(pt[i], 0, kPlain);
  }
}

NTSD_VAES void seal104(const SivKey& key, const uint8_t (*pt)[kPlain], uint8_t* const* out,
                       size_t n) {
  alignas(16) __m128i t[16][5];
  const SivKey* keys[16] = {};
  // S2V components: key id and nonce of two cookies per register pair.
  for (size_t i = 0; i < n; i += 4) {
    __m256i x[4];
    const __m256i* rk[4];
    for (size_t h = 0; h < 4; ++h) {
      const size_t m = i + h < n ? i + h : i;
      x[h] = component_blocks(out[m], key);
      rk[h] = rk2(key.mac_rk2);
    }
    aes<4>(x, rk);
    for (size_t h = 0; h < 4 && i + h < n; ++h) {
      const size_t m = i + h;
      keys[m] = &key;
      __m128i p[5];
      for (int b = 0; b < 4; ++b) p[b] = load(pt[m] + 16 * b);
      p[4] = load32(pt[m] + 64);
      const __m128i d = s2v_d(key, _mm256_castsi256_si128(x[h]), _mm256_extracti128_si256(x[h], 1));
      final_blocks(p, d, key, t[m]);
    }
  }
  __m128i v[16];
  final_chains(t, keys, n, v);
  // CTR under the key's second half, two cookies per iteration.
  for (size_t i = 0; i < n; i += 2) {
    const size_t j = i + 1 < n ? i + 1 : i;
    __m256i x[6];
    const __m256i* rk[6];
    for (int h = 0; h < 2; ++h) {
      counters(v[h == 0 ? i : j], x + 3 * h);
      rk[3 * h] = rk[3 * h + 1] = rk[3 * h + 2] = rk2(key.ctr_rk2);
    }
    aes<6>(x, rk);
    for (int h = 0; h < 2; ++h) {
      const size_t m = h == 0 ? i : j;
      if (h == 1 && m == i) break;
      uint8_t* c = out[m];
      store(c + 20, v[m]);
      store(c + 36, _mm_xor_si128(load(pt[m]), _mm256_castsi256_si128(x[3 * h])));
      store(c + 52, _mm_xor_si128(load(pt[m] + 16), _mm256_extracti128_si256(x[3 * h], 1)));
      store(c + 68, _mm_xor_si128(load(pt[m] + 32), _mm256_castsi256_si128(x[3 * h + 1])));
      store(c + 84, _mm_xor_si128(load(pt[m] + 48), _mm256_extracti128_si256(x[3 * h + 1], 1)));
      const int last = _mm_cvtsi128_si32(
          _mm_xor_si128(load32(pt[m] + 64), _mm256_castsi256_si128(x[3 * h + 2])));
      std::memcpy(c + 100, &last, 4);
    }
  }
}

}  // namespace ntsd::crypto::cookie_fast
