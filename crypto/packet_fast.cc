// The VAES kernels of packet_fast.h. Messages are sorted by shape (AD length,
// text length) and neighbours of one shape are paired; a pair shares one YMM
// register from start to end:
//   1. both session keys' AES-128 schedules are expanded side by side (K1,
//      and K2 when some message has text), so a pair's round key is one load;
//   2. CMAC subkeys: L = E(0), k1 = dbl(L), k2 = dbl(k1), D0 = E(k1);
//   3. S2V (RFC 5297 §2.4): the AD chain, the nonce's one block, and the
//      text's leading blocks, none of which needs D, two chains at a time;
//      then D and the text's last one or two blocks (the ones D is xored
//      into), giving V;
//   4. CTR (§2.5), the same counter index of both messages per register.
// Four pairs advance in lock step (groups of eight messages); a pair whose
// chain is shorter keeps its state. Eight pairs would keep more AES
// instructions in flight, but their states, CTR counters and last blocks
// overflow the sixteen YMM registers: measured, a reply seal took 10 % longer
// (crypto_bench BM_ReplySealBatched/16, 73 -> 65 ns per reply with four).
// Four registers alone leave VAES waiting on its latency, so S2V's
// independent chains run two at a time (eight registers): authenticator
// verify 48 -> 44.6 ns, reply seal 64.2 -> 60.3 ns (4 interleaved rounds).
// A message with no partner of its shape is paired with itself (half the
// register wasted, no per-half bookkeeping anywhere).
#include "crypto/packet_fast.h"

#include <immintrin.h>
#include <string.h>  // explicit_bzero

#include <algorithm>
#include <cstring>

#define NTSD_VAES __attribute__((target("aes,pclmul,sse4.1,ssse3,avx,avx2,vaes,vpclmulqdq")))

namespace ntsd::crypto::packet_fast {
namespace {

using Y = __m256i;  // a pair: the first message's block in the low half, the second's in the high

NTSD_VAES inline __m128i load(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}
NTSD_VAES inline void store(uint8_t* p, __m128i v) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v);
}
NTSD_VAES inline Y load2(const uint8_t* a, const uint8_t* b) {
  return _mm256_set_m128i(load(b), load(a));
}
NTSD_VAES inline Y both(__m128i v) { return _mm256_broadcastsi128_si256(v); }
NTSD_VAES inline __m128i low(Y v) { return _mm256_castsi256_si128(v); }
NTSD_VAES inline __m128i high(Y v) { return _mm256_extracti128_si256(v, 1); }
NTSD_VAES inline Y vxor(Y a, Y b) { return _mm256_xor_si256(a, b); }

alignas(16) constexpr uint8_t kZero[16] = {};

// Doubling in GF(2^128) on big-endian blocks (RFC 5297 §2.3), both halves, branch-free.
NTSD_VAES inline Y dbl(Y v) {
  const Y bswap = _mm256_setr_epi8(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 15, 14,
                                   13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const Y x = _mm256_shuffle_epi8(v, bswap);
  const Y carries = _mm256_srli_epi64(x, 63);
  Y y = _mm256_or_si256(_mm256_slli_epi64(x, 1), _mm256_slli_si256(carries, 8));
  const Y top = _mm256_sub_epi64(_mm256_setzero_si256(), _mm256_srli_si256(carries, 8));
  y = vxor(y, _mm256_and_si256(top, _mm256_set_epi64x(0, 0x87, 0, 0x87)));
  return _mm256_shuffle_epi8(y, bswap);
}

// Byte shifts by a run-time count: a 16-byte window of kShift is a vpshufb
// mask (0x80 makes a zero byte).
alignas(16) constexpr uint8_t kShift[48] = {
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0,    1,    2,    3,    4,    5,    6,    7,    8,    9,    10,   11,   12,   13,   14,   15,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};
// Byte i of the shuffled block is byte i + k (k <= 16).
NTSD_VAES inline Y down(Y v, size_t k) { return _mm256_shuffle_epi8(v, both(load(kShift + 16 + k))); }
// Byte i of the shuffled block is byte i - k (k <= 16).
NTSD_VAES inline Y up(Y v, size_t k) { return _mm256_shuffle_epi8(v, both(load(kShift + 16 - k))); }
alignas(16) constexpr uint8_t kPad[32] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80};
// The 10* padding after k bytes (k < 16): 0x80 at byte k.
NTSD_VAES inline Y pad_at(size_t k) { return both(load(kPad + 16 - k)); }

// Two strings of len < 16 bytes, zero-extended to a block each.
NTSD_VAES inline Y load_short(const uint8_t* a, const uint8_t* b, size_t len) {
  alignas(16) uint8_t buf[2][16] = {};
  if (len > 0) {
    std::memcpy(buf[0], a, len);
    std::memcpy(buf[1], b, len);
  }
  return load2(buf[0], buf[1]);
}

// The S2V keys of a group: pair p's K1 schedules in mac[p] (one base
// register addresses every round key of the group), its CMAC subkeys, D0.
template <int P>
struct alignas(32) PairKeys {
  Y mac[P][11];
  Y k1[P], k2[P];  // CMAC subkeys: complete and padded final block
  Y d0[P];         // CMAC(K1, 0^128), where S2V starts
};

// The group's schedules stay in memory (44 round keys do not fit in
// registers): an empty asm "changing" the base pointer once per step keeps
// the compiler from hoisting every load out of a step loop only to spill
// them all to a stack copy at the loop's start.
template <typename T>
inline void keep_in_memory(T*& base) {
  asm("" : "+r"(base));
}

// AES-128 of K * P registers, register k * P + p under pair p's schedule
// (K independent blocks of every pair), rounds interleaved.
template <int P, int K = 1>
NTSD_VAES inline void aes(Y* v, const Y (*rk)[11]) {
#pragma GCC unroll 16
  for (int q = 0; q < K * P; ++q) v[q] = vxor(v[q], rk[q % P][0]);
#pragma GCC unroll 9
  for (int r = 1; r < 10; ++r) {
#pragma GCC unroll 16
    for (int q = 0; q < K * P; ++q) v[q] = _mm256_aesenc_epi128(v[q], rk[q % P][r]);
  }
#pragma GCC unroll 16
  for (int q = 0; q < K * P; ++q) v[q] = _mm256_aesenclast_epi128(v[q], rk[q % P][10]);
}

// AES-128 key schedules of both keys of every pair (bytes offset..offset+15
// of each 32-byte key), without aeskeygenassist (no VEX-256 form): RotWord(w3)
// broadcast to every column makes vaesenclast's ShiftRows a no-op, so it
// yields SubWord(RotWord(w3)) xor rcon in each column.
template <int P>
NTSD_VAES void expand(const uint8_t* const* a, const uint8_t* const* b, size_t offset,
                      Y (*rk)[11]) {
  static constexpr int kRcon[10] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1b, 0x36};
  const Y rot = _mm256_setr_epi8(13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 12,
                                 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 12);
  Y w[P];
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) {
    w[p] = load2(a[p] + offset, b[p] + offset);
    rk[p][0] = w[p];
  }
#pragma GCC unroll 10
  for (int r = 1; r <= 10; ++r) {
    const Y rcon = _mm256_set1_epi32(kRcon[r - 1]);
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      const Y t = _mm256_aesenclast_epi128(_mm256_shuffle_epi8(w[p], rot), rcon);
      Y s = vxor(w[p], _mm256_slli_si256(w[p], 4));
      s = vxor(s, _mm256_slli_si256(s, 8));
      w[p] = vxor(s, t);
      rk[p][r] = w[p];
    }
  }
}

// L = E(0), the CMAC subkeys, and D0 = E(k1).
template <int P>
NTSD_VAES void subkeys(PairKeys<P>& k) {
  Y v[P];
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) v[p] = _mm256_setzero_si256();
  aes<P>(v, k.mac);
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) {
    k.k1[p] = dbl(v[p]);
    k.k2[p] = dbl(k.k1[p]);
    v[p] = k.k1[p];
  }
  aes<P>(v, k.mac);
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) k.d0[p] = v[p];
}

// CMAC chaining (st = E(st xor block)) of K * P chains, chain k * P + p under
// pair p's schedule (K > 1: K independent strings of every pair, chained
// together, keep twice the AES instructions in flight), over n[q] blocks
// read in place from a[q] and b[q]; a chain with a smaller n keeps its state
// for the extra steps.
// While every pair has blocks left, the next block is folded into the last
// round key (E ends by xoring it, so aesenclast(x, k10 ^ k0 ^ block) is the
// next step's whitened input): the chain is AES instructions only. States and
// pointers are worked on in locals: through the caller's arrays, every byte
// load might alias them and they would go through memory at every step.
template <int P, int K = 1>
NTSD_VAES void absorb(Y* st, const Y (*rk)[11], const uint8_t* const* a,
                      const uint8_t* const* b, const size_t* n) {
  constexpr int Q = K * P;
  Y x[Q];
  const uint8_t* pa[Q];
  const uint8_t* pb[Q];
  size_t all = n[0];
  size_t most = n[0];
#pragma GCC unroll 16
  for (int q = 0; q < Q; ++q) {
    x[q] = st[q];
    pa[q] = a[q];
    pb[q] = b[q];
    all = std::min(all, n[q]);
    most = std::max(most, n[q]);
  }
  if (all > 0) {
    Y fold[P];  // k10 xor k0
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) fold[p] = vxor(rk[p][10], rk[p][0]);
#pragma GCC unroll 16
    for (int q = 0; q < Q; ++q) x[q] = vxor(x[q], vxor(load2(pa[q], pb[q]), rk[q % P][0]));
    for (size_t s = 1;; ++s) {
      keep_in_memory(rk);
#pragma GCC unroll 9
      for (int r = 1; r < 10; ++r) {
#pragma GCC unroll 16
        for (int q = 0; q < Q; ++q) x[q] = _mm256_aesenc_epi128(x[q], rk[q % P][r]);
      }
      if (s == all) break;
#pragma GCC unroll 16
      for (int q = 0; q < Q; ++q) {
        pa[q] += 16;
        pb[q] += 16;
        x[q] = _mm256_aesenclast_epi128(x[q], vxor(fold[q % P], load2(pa[q], pb[q])));
      }
    }
#pragma GCC unroll 16
    for (int q = 0; q < Q; ++q) {
      x[q] = _mm256_aesenclast_epi128(x[q], rk[q % P][10]);
      pa[q] += 16;
      pb[q] += 16;
    }
  }
  for (size_t s = all; s < most; ++s) {
    keep_in_memory(rk);
    Y v[Q];
#pragma GCC unroll 16
    for (int q = 0; q < Q; ++q) {
      const bool run = s < n[q];
      v[q] = vxor(x[q], load2(run ? pa[q] : kZero, run ? pb[q] : kZero));
      pa[q] += run ? 16 : 0;
      pb[q] += run ? 16 : 0;
    }
    aes<P, K>(v, rk);
#pragma GCC unroll 16
    for (int q = 0; q < Q; ++q) {
      if (s < n[q]) x[q] = v[q];
    }
  }
#pragma GCC unroll 16
  for (int q = 0; q < Q; ++q) st[q] = x[q];
}

// One chaining step of K * P chains (as absorb) with a prepared block each;
// only chains with run[q] (all if null) advance.
template <int P, int K = 1>
NTSD_VAES void step(Y* st, const Y (*rk)[11], const Y* block, const bool* run) {
  Y v[K * P];
#pragma GCC unroll 16
  for (int q = 0; q < K * P; ++q) v[q] = vxor(st[q], block[q]);
  aes<P, K>(v, rk);
#pragma GCC unroll 16
  for (int q = 0; q < K * P; ++q) {
    if (run == nullptr || run[q]) st[q] = v[q];
  }
}

// The last CMAC block of a string of len bytes at a and at b: complete → xor
// k1; partial or empty → 10* padded, xor k2. Never reads outside the strings.
NTSD_VAES inline Y last_block(const uint8_t* a, const uint8_t* b, size_t len, Y k1, Y k2) {
  if (len == 0) return vxor(pad_at(0), k2);
  const size_t rem = len - 16 * ((len - 1) / 16);  // 1..16
  if (rem == 16) return vxor(load2(a + len - 16, b + len - 16), k1);
  // The rem bytes, moved down from the 16 bytes that end the string.
  const Y u = len >= 16 ? down(load2(a + len - 16, b + len - 16), 16 - rem) : load_short(a, b, len);
  return vxor(_mm256_or_si256(u, pad_at(rem)), k2);
}

// Keystream block i of every pair: AES of its counter block (base + i in the
// low 32-bit word). The barrier keeps the round keys read from memory in
// place rather than held in (too few) registers across the loop.
template <int P>
NTSD_VAES inline void keystream(const Y (*rk)[11], const Y* base, Y swap, size_t i, Y* ks) {
  keep_in_memory(rk);
  const int c = static_cast<int>(i);
  const Y add = _mm256_setr_epi32(0, 0, 0, c, 0, 0, 0, c);
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) ks[p] = _mm256_shuffle_epi8(_mm256_add_epi32(base[p], add), swap);
  aes<P>(ks, rk);
}

// CTR: out = in xor the keystream from V (bits 63 and 31 cleared: the low
// 32-bit word, big-endian, never carries), len[p] bytes for each message of
// the first `real` pairs; the second message only where has_b[p]. Whole
// blocks are xored in pairs; a text's partial last block is written as the
// 16 bytes that end it (overlapping the block before with the same bytes),
// so nothing is copied through a buffer unless the text is under 16 bytes.
template <int P>
NTSD_VAES void ctr_xor(const Y (*rk)[11], const Y* v, const uint8_t* const* in_a,
                       const uint8_t* const* in_b, uint8_t* const* out_a, uint8_t* const* out_b,
                       const size_t* len, size_t real, const bool* has_b) {
  const Y mask = both(_mm_set_epi8(-1, -1, -1, 0x7f, -1, -1, -1, 0x7f, -1, -1, -1, -1, -1, -1, -1, -1));
  const Y swap = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 14, 13, 12, 0, 1, 2, 3,
                                  4, 5, 6, 7, 8, 9, 10, 11, 15, 14, 13, 12);
  Y base[P];
  Y prev[P];
  size_t blocks = 0;
  size_t whole = len[0] / 16;  // blocks every pair has complete
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) {
    base[p] = _mm256_shuffle_epi8(_mm256_and_si256(v[p], mask), swap);
    prev[p] = _mm256_setzero_si256();
    blocks = std::max(blocks, (len[p] + 15) / 16);
    whole = std::min(whole, len[p] / 16);
  }
  // Blocks every pair has complete: no conditions. A message paired with
  // itself, and a pair repeated to fill the group, write the same bytes to
  // the same place twice.
  for (size_t i = 0; i < whole; ++i) {
    Y ks[P];
    keystream<P>(rk, base, swap, i, ks);
    const size_t off = 16 * i;
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      const Y o = vxor(ks[p], load2(in_a[p] + off, in_b[p] + off));
      store(out_a[p] + off, low(o));
      store(out_b[p] + off, high(o));
      prev[p] = ks[p];
    }
  }
  for (size_t i = whole; i < blocks; ++i) {
    Y ks[P];
    keystream<P>(rk, base, swap, i, ks);
    const size_t off = 16 * i;
    for (size_t p = 0; p < real; ++p) {
      const size_t l = len[p];
      if (off + 16 <= l) {
        const Y o = vxor(ks[p], load2(in_a[p] + off, in_b[p] + off));
        store(out_a[p] + off, low(o));
        if (has_b[p]) store(out_b[p] + off, high(o));
      } else if (off < l && l >= 16) {
        const size_t r = l - off;  // 1..15 bytes in this block
        const Y tail = _mm256_or_si256(down(prev[p], r), up(ks[p], 16 - r));
        const Y o = vxor(tail, load2(in_a[p] + l - 16, in_b[p] + l - 16));
        store(out_a[p] + l - 16, low(o));
        if (has_b[p]) store(out_b[p] + l - 16, high(o));
      } else if (off < l) {
        alignas(16) uint8_t buf[16] = {};
        std::memcpy(buf, in_a[p], l);
        store(buf, _mm_xor_si128(load(buf), low(ks[p])));
        std::memcpy(out_a[p], buf, l);
        if (has_b[p]) {
          std::memcpy(buf, in_b[p], l);
          store(buf, _mm_xor_si128(load(buf), high(ks[p])));
          std::memcpy(out_b[p], buf, l);
        }
      }
      prev[p] = ks[p];
    }
  }
}

// One group of up to P pairs (a[q], b[q]) for q < real; the register count is
// fixed at P, so missing pairs repeat the last one and their results are dropped.
template <int P>
NTSD_VAES void run_group(Job* jobs, const uint8_t* a_in, const uint8_t* b_in, size_t real,
                         bool sealing) {
  Job* ja[P];
  Job* jb[P];
  bool has_b[P];
  size_t ad_len[P];
  size_t text_len[P];
  const uint8_t* key_a[P];
  const uint8_t* key_b[P];
  bool any_text = false;
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) {
    const size_t q = std::min<size_t>(static_cast<size_t>(p), real - 1);
    ja[p] = &jobs[a_in[q]];
    jb[p] = &jobs[b_in[q]];
    has_b[p] = ja[p] != jb[p];
    ad_len[p] = ja[p]->ad_len;
    text_len[p] = sealing ? ja[p]->in_len : ja[p]->in_len - 16;
    any_text = any_text || text_len[p] != 0;
    key_a[p] = ja[p]->key;
    key_b[p] = jb[p]->key;
  }
  // Wiped at the end (the K2 schedules only if expanded).
  PairKeys<P> k;
  alignas(32) Y ctr[P][11];  // K2 schedules (CTR)
  const auto& mac = k.mac;
  expand<P>(key_a, key_b, 0, k.mac);
  if (any_text) expand<P>(key_a, key_b, 16, ctr);
  subkeys<P>(k);

  // CTR's input and output of each pair: open decrypts the ciphertext after
  // the received V into `out`; seal encrypts the plaintext into `out` after
  // its V. The S2V text is the plaintext either way, so open decrypts first
  // (CTR needs only the received V), then runs S2V over what it wrote.
  const uint8_t* in_a[P];
  const uint8_t* in_b[P];
  uint8_t* out_a[P];
  uint8_t* out_b[P];
  const uint8_t* text_a[P];
  const uint8_t* text_b[P];
  Y received[P];
  const size_t in_skip = sealing ? 0 : 16;
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) {
    in_a[p] = ja[p]->in + in_skip;
    in_b[p] = jb[p]->in + in_skip;
    out_a[p] = ja[p]->out + (16 - in_skip);
    out_b[p] = jb[p]->out + (16 - in_skip);
    text_a[p] = sealing ? in_a[p] : out_a[p];
    text_b[p] = sealing ? in_b[p] : out_b[p];
    received[p] = sealing ? _mm256_setzero_si256() : load2(ja[p]->in, jb[p]->in);
  }
  if (!sealing && any_text) ctr_xor<P>(ctr, received, in_a, in_b, out_a, out_b, text_len, real, has_b);

  // S2V: D = dbl(dbl(D0) xor CMAC(AD)) xor CMAC(nonce), then the text. Until
  // D is known there are three independent CMAC chains: the AD's, the
  // nonce's (one block) and the text's blocks before its last 16 bytes (the
  // ones D is not xored into). They run two at a time, chains p and P + p
  // under pair p's schedule, so four pairs keep eight registers of AES in
  // flight: the AD with the text, then the AD's last block with the nonce.
  Y st[2 * P];
  Y block[2 * P];
  Y d[P];
  size_t n[2 * P];
  const uint8_t* chain_a[2 * P];
  const uint8_t* chain_b[2 * P];
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) {
    chain_a[p] = ja[p]->ad;
    chain_b[p] = jb[p]->ad;
    n[p] = ad_len[p] == 0 ? 0 : (ad_len[p] - 1) / 16;
    chain_a[P + p] = text_a[p];
    chain_b[P + p] = text_b[p];
    n[P + p] = text_len[p] >= 16 ? (text_len[p] - 16) / 16 : 0;
    st[p] = st[P + p] = _mm256_setzero_si256();
  }
  // With no text every second chain is empty, and absorb's fast loop runs
  // only while every chain has a block: the AD chains alone then.
  if (any_text) {
    absorb<P, 2>(st, mac, chain_a, chain_b, n);
  } else {
    absorb<P>(st, mac, chain_a, chain_b, n);
  }
  Y ends[2 * P];  // the AD chain's last step, the nonce's one step
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) {
    ends[p] = st[p];
    ends[P + p] = _mm256_setzero_si256();
    block[p] = last_block(chain_a[p], chain_b[p], ad_len[p], k.k1[p], k.k2[p]);
    block[P + p] = vxor(load2(ja[p]->nonce, jb[p]->nonce), k.k1[p]);  // a complete block
  }
  step<P, 2>(ends, mac, block, nullptr);
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) {
    d[p] = vxor(dbl(vxor(dbl(k.d0[p]), ends[p])), ends[P + p]);
    st[p] = st[P + p];  // the text's chain, continued below
  }

  // The text's end: the last 16 bytes are xored with D (spanning one or two
  // blocks), or, for a text shorter than 16 bytes, T = dbl(D) xor pad(text)
  // is the one block.
  Y second[P];
  bool two[P];
  bool any_two = false;
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) second[p] = _mm256_setzero_si256();
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) {
    const size_t len = text_len[p];
    two[p] = false;
    if (len < 16) {
      const Y padded = _mm256_or_si256(load_short(text_a[p], text_b[p], len), pad_at(len));
      block[p] = vxor(vxor(dbl(d[p]), padded), k.k1[p]);
      continue;
    }
    const size_t o = len - 16 - 16 * n[P + p];  // where the last 16 bytes start in block n
    const Y last16 = vxor(load2(text_a[p] + len - 16, text_b[p] + len - 16), d[p]);
    if (o == 0) {
      block[p] = vxor(last16, k.k1[p]);
      continue;
    }
    block[p] = vxor(load2(text_a[p] + 16 * n[P + p], text_b[p] + 16 * n[P + p]), up(d[p], o));
    second[p] = vxor(_mm256_or_si256(down(last16, 16 - o), pad_at(o)), k.k2[p]);
    two[p] = true;
    any_two = true;
  }
  step<P>(st, mac, block, nullptr);
  if (any_two) step<P>(st, mac, second, two);

  if (sealing) {
    for (size_t p = 0; p < real; ++p) {
      store(ja[p]->out, low(st[p]));
      if (has_b[p]) store(jb[p]->out, high(st[p]));
    }
    if (any_text) ctr_xor<P>(ctr, st, in_a, in_b, out_a, out_b, text_len, real, has_b);
  } else {
    for (size_t p = 0; p < real; ++p) {
      // Constant time: one test of both halves' differences.
      const Y diff = vxor(st[p], received[p]);
      const __m128i dl = low(diff);
      const __m128i dh = high(diff);
      ja[p]->ok = _mm_testz_si128(dl, dl) != 0;
      if (has_b[p]) jb[p]->ok = _mm_testz_si128(dh, dh) != 0;
      if (!ja[p]->ok && text_len[p] > 0) std::memset(ja[p]->out, 0, text_len[p]);
      if (has_b[p] && !jb[p]->ok && text_len[p] > 0) std::memset(jb[p]->out, 0, text_len[p]);
    }
  }
  explicit_bzero(&k, sizeof k);
  if (any_text) explicit_bzero(ctr, sizeof ctr);
}

bool usable(const Job& job, bool sealing) {
  if (job.key == nullptr || job.nonce == nullptr) return false;
  if (sealing) return job.out != nullptr;
  return job.in_len >= 16 && (job.out != nullptr || job.in_len == 16);
}

void run(Job* jobs, size_t n, bool sealing) {
  // Sort by shape (insertion sort: n <= 16, no allocation), then pair neighbours of one shape.
  uint8_t order[kMaxJobs];
  size_t m = 0;
  const auto before = [&](const Job& x, const Job& y) {
    return x.ad_len < y.ad_len || (x.ad_len == y.ad_len && x.in_len < y.in_len);
  };
  n = std::min(n, kMaxJobs);
  bool sorted = true;  // the common batch: every job of one shape, so in order already
  for (size_t i = 0; i < n; ++i) {
    jobs[i].ok = false;
    if (!usable(jobs[i], sealing)) continue;
    jobs[i].ok = sealing;
    if (m > 0) sorted = sorted && !before(jobs[i], jobs[order[m - 1]]);
    order[m++] = static_cast<uint8_t>(i);
  }
  if (!sorted) {
    // Insertion sort, stable and allocation-free (n <= 16).
    for (size_t i = 1; i < m; ++i) {
      const uint8_t x = order[i];
      size_t j = i;
      for (; j > 0 && before(jobs[x], jobs[order[j - 1]]); --j) order[j] = order[j - 1];
      order[j] = x;
    }
  }
  uint8_t a[kMaxJobs];
  uint8_t b[kMaxJobs];
  size_t pairs = 0;
  for (size_t i = 0; i < m;) {
    const Job& x = jobs[order[i]];
    const bool twin = i + 1 < m && x.ad_len == jobs[order[i + 1]].ad_len &&
                      x.in_len == jobs[order[i + 1]].in_len;
    a[pairs] = order[i];
    b[pairs] = twin ? order[i + 1] : order[i];
    ++pairs;
    i += twin ? 2 : 1;
  }
  for (size_t g = 0; g < pairs; g += 4) {
    const size_t left = std::min<size_t>(4, pairs - g);
    if (left > 2) {
      run_group<4>(jobs, a + g, b + g, left, sealing);
    } else if (left > 1) {
      run_group<2>(jobs, a + g, b + g, left, sealing);
    } else {
      run_group<1>(jobs, a + g, b + g, left, sealing);
    }
  }
}

}  // namespace

void seal(Job* jobs, size_t n) { run(jobs, n, true); }
void open(Job* jobs, size_t n) { run(jobs, n, false); }

}  // namespace ntsd::crypto::packet_fast
