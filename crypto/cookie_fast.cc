// The S2V vector of a cookie is fixed: (key id: 4 bytes, nonce: 16 bytes,
// plaintext: 68 bytes), so every block is known at compile time. The key id
// is the master key's own, so its CMAC is cached in the key (SivKey::id_d,
// siv_cache_id_prefix); per cookie that leaves one nonce block, five CTR
// blocks and a five-block final CMAC chain, twelve blocks in six YMM
// registers per two cookies with no empty half. No lane records, no copies
// through memory; cookies are taken in key order, so a register's two halves
// mostly share a master key and use its doubled schedule as it is.
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

NTSD_VAES void final_chains(const __m128i (*t)[5], const SivKey* const* keys,
                            const uint8_t* order, size_t n, __m128i* v) {
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

// A pair's schedules: the key's doubled one when both halves share it, else
// both keys' round keys side by side in `buf`.
NTSD_VAES inline const __m256i* pair_rk(const SivKey& a, const SivKey& b, bool ctr,
                                        __m256i* buf) {
  if (&a == &b) return rk2(ctr ? a.ctr_rk2 : a.mac_rk2);
  const __m128i* ra = reinterpret_cast<const __m128i*>(ctr ? a.ctr_rk : a.mac_rk);
  const __m128i* rb = reinterpret_cast<const __m128i*>(ctr ? b.ctr_rk : b.mac_rk);
  for (int r = 0; r < 11; ++r) buf[r] = _mm256_set_m128i(_mm_load_si128(rb + r), _mm_load_si128(ra + r));
  return buf;
}

// Indices 0..n-1 in key order (stable insertion sort, n <= 16).
void order_by_key(const SivKey* const* keys, size_t n, uint8_t* order) {
  for (size_t i = 0; i < n; ++i) {
    size_t j = i;
    for (; j > 0 && std::less<const SivKey*>()(keys[i], keys[order[j - 1]]); --j)
      order[j] = order[j - 1];
    order[j] = static_cast<uint8_t>(i);
  }
}

// The nonce block of a cookie (complete: subkey k1).
NTSD_VAES inline __m128i nonce_block(const uint8_t* cookie, const SivKey& k) {
  return _mm_xor_si128(load(cookie + 4), load(k.cmac_k1));
}

}  // namespace

NTSD_VAES void open104(const uint8_t* const* cookies, const SivKey* const* keys, size_t n,
                       uint8_t (*pt)[kPlain], bool* ok) {
  alignas(16) __m128i t[16][5];
  uint8_t order[16] = {};  // (g++ 12 cannot tell order_by_key fills the first n)
  order_by_key(keys, n, order);
  // Two cookies per iteration, six registers: both nonce blocks, four
  // keystream pairs, and both fifth keystream blocks.
  for (size_t q = 0; q < n; q += 2) {
    const size_t i = order[q];
    const size_t j = order[q + 1 < n ? q + 1 : q];
    const SivKey& ki = *keys[i];
    const SivKey& kj = *keys[j];
    __m256i mac_buf[11];
    __m256i ctr_buf[11];
    __m256i x[6];
    const __m256i* rk[6];
    __m256i qi[3];
    __m256i qj[3];
    counters(load(cookies[i] + 20), qi);
    counters(load(cookies[j] + 20), qj);
    x[0] = _mm256_set_m128i(nonce_block(cookies[j], kj), nonce_block(cookies[i], ki));
    x[1] = qi[0];
    x[2] = qi[1];
    x[3] = qj[0];
    x[4] = qj[1];
    x[5] = _mm256_permute2x128_si256(qi[2], qj[2], 0x20);  // (Qi+4, Qj+4)
    rk[0] = pair_rk(ki, kj, false, mac_buf);
    rk[1] = rk[2] = rk2(ki.ctr_rk2);
    rk[3] = rk[4] = rk2(kj.ctr_rk2);
    rk[5] = pair_rk(ki, kj, true, ctr_buf);
    aes<6>(x, rk);
    for (int h = 0; h < 2; ++h) {
      const size_t m = h == 0 ? i : j;
      if (h == 1 && m == i) break;
      const uint8_t* c = cookies[m] + 36;  // ciphertext
      const __m256i ks01 = x[1 + 2 * h];
      const __m256i ks23 = x[2 + 2 * h];
      const __m128i ks4 = h == 0 ? _mm256_castsi256_si128(x[5]) : _mm256_extracti128_si256(x[5], 1);
      __m128i p[5];
      p[0] = _mm_xor_si128(load(c), _mm256_castsi256_si128(ks01));
      p[1] = _mm_xor_si128(load(c + 16), _mm256_extracti128_si256(ks01, 1));
      p[2] = _mm_xor_si128(load(c + 32), _mm256_castsi256_si128(ks23));
      p[3] = _mm_xor_si128(load(c + 48), _mm256_extracti128_si256(ks23, 1));
      // Only 4 bytes of the last block: keep the rest zero for the padding.
      p[4] = _mm_cvtsi32_si128(_mm_cvtsi128_si32(_mm_xor_si128(load32(c + 64), ks4)));
      store(pt[m], p[0]);
      store(pt[m] + 16, p[1]);
      store(pt[m] + 32, p[2]);
      store(pt[m] + 48, p[3]);
      const int last = _mm_cvtsi128_si32(p[4]);
      std::memcpy(pt[m] + 64, &last, 4);
      const __m128i e_nonce = h == 0 ? _mm256_castsi256_si128(x[0]) : _mm256_extracti128_si256(x[0], 1);
      const SivKey& k = *keys[m];
      final_blocks(p, _mm_xor_si128(load(k.id_d), e_nonce), k, t[m]);
    }
  }
  __m128i v[16];
  final_chains(t, keys, order, n, v);
  for (size_t i = 0; i < n; ++i) {
    const __m128i diff = _mm_xor_si128(v[i], load(cookies[i] + 20));
    ok[i] = _mm_testz_si128(diff, diff) != 0;  // constant time
    if (!ok[i]) std::memset(pt[i], 0, kPlain);
  }
}

namespace {

// E(nonce xor k1) of n <= 2P cookies under one key, two per register.
template <int P>
NTSD_VAES void nonce_macs(const SivKey& key, uint8_t* const* out, size_t n, __m128i* e) {
  __m256i x[P];
  const __m256i* rk[P];
  for (size_t p = 0; p < static_cast<size_t>(P); ++p) {
    const size_t a = std::min<size_t>(2 * p, n - 1);
    const size_t b = std::min<size_t>(2 * p + 1, n - 1);
    x[p] = _mm256_set_m128i(nonce_block(out[b], key), nonce_block(out[a], key));
    rk[p] = rk2(key.mac_rk2);
  }
  aes<P>(x, rk);
  for (size_t p = 0; p < static_cast<size_t>(P); ++p) {
    if (2 * p < n) e[2 * p] = _mm256_castsi256_si128(x[p]);
    if (2 * p + 1 < n) e[2 * p + 1] = _mm256_extracti128_si256(x[p], 1);
  }
}

}  // namespace

NTSD_VAES void seal104(const SivKey& key, const uint8_t (*pt)[kPlain], uint8_t* const* out,
                       size_t n) {
  alignas(16) __m128i t[16][5];
  // Zeroed: g++ 12 cannot tell the loop below fills the first n.
  const SivKey* keys[16] = {};
  uint8_t order[16] = {};
  __m128i e_nonce[16];
  if (n > 8) {
    nonce_macs<8>(key, out, n, e_nonce);
  } else if (n > 4) {
    nonce_macs<4>(key, out, n, e_nonce);
  } else if (n > 2) {
    nonce_macs<2>(key, out, n, e_nonce);
  } else {
    nonce_macs<1>(key, out, n, e_nonce);
  }
  for (size_t m = 0; m < n; ++m) {
    keys[m] = &key;
    order[m] = static_cast<uint8_t>(m);
    __m128i p[5];
    for (int b = 0; b < 4; ++b) p[b] = load(pt[m] + 16 * b);
    p[4] = load32(pt[m] + 64);
    final_blocks(p, _mm_xor_si128(load(key.id_d), e_nonce[m]), key, t[m]);
  }
  __m128i v[16];
  final_chains(t, keys, order, n, v);
  // CTR under the key's second half, two cookies per five registers.
  const __m256i* ctr = rk2(key.ctr_rk2);
  for (size_t i = 0; i < n; i += 2) {
    const size_t j = i + 1 < n ? i + 1 : i;
    __m256i qi[3];
    __m256i qj[3];
    counters(v[i], qi);
    counters(v[j], qj);
    __m256i x[5] = {qi[0], qi[1], qj[0], qj[1], _mm256_permute2x128_si256(qi[2], qj[2], 0x20)};
    const __m256i* rk[5] = {ctr, ctr, ctr, ctr, ctr};
    aes<5>(x, rk);
    for (int h = 0; h < 2; ++h) {
      const size_t m = h == 0 ? i : j;
      if (h == 1 && m == i) break;
      const __m256i ks01 = x[2 * h];
      const __m256i ks23 = x[1 + 2 * h];
      const __m128i ks4 = h == 0 ? _mm256_castsi256_si128(x[4]) : _mm256_extracti128_si256(x[4], 1);
      uint8_t* c = out[m];
      store(c + 20, v[m]);
      store(c + 36, _mm_xor_si128(load(pt[m]), _mm256_castsi256_si128(ks01)));
      store(c + 52, _mm_xor_si128(load(pt[m] + 16), _mm256_extracti128_si256(ks01, 1)));
      store(c + 68, _mm_xor_si128(load(pt[m] + 32), _mm256_castsi256_si128(ks23)));
      store(c + 84, _mm_xor_si128(load(pt[m] + 48), _mm256_extracti128_si256(ks23, 1)));
      const int last = _mm_cvtsi128_si32(_mm_xor_si128(load32(pt[m] + 64), ks4));
      std::memcpy(c + 100, &last, 4);
    }
  }
}

}  // namespace ntsd::crypto::cookie_fast
