// The batched S2V engine on VAES with 256-bit vectors: each vaesenc works on
// two 128-bit lanes with two different round keys, so two CMAC chains (of
// different messages, under different keys) advance per instruction. Reached
// only when CPUID reports VAES + AVX2 and the OS saves YMM state.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "crypto/siv_lane.h"

#define NTSD_VAES __attribute__((target("aes,pclmul,sse4.1,ssse3,avx,avx2,vaes,vpclmulqdq")))

namespace ntsd::crypto::siv_internal {
namespace {

alignas(16) const uint8_t kZeroSchedule[11][16] = {};

// Round keys of two chains side by side (a broadcast when they share a key).
NTSD_VAES inline void pair_keys(const __m128i* a, const __m128i* b, __m256i out[11]) {
  if (a == b) {
    for (int r = 0; r < 11; ++r) out[r] = _mm256_broadcastsi128_si256(_mm_load_si128(a + r));
  } else {
    for (int r = 0; r < 11; ++r)
      out[r] = _mm256_set_m128i(_mm_load_si128(b + r), _mm_load_si128(a + r));
  }
}

// P pairs of chains (2P chains) in lock step; pair round keys are built once
// per group unless both chains share a key.
template <int P>
NTSD_VAES void run_pairs(Lane* const* lanes) {
  __m256i paired[P][11];
  const __m256i* rk[P];
  __m256i st[P];
  __m256i steps[P];
  uint32_t max_steps = 0;
  for (int p = 0; p < P; ++p) {
    const Lane& a = *lanes[2 * p];
    const Lane& b = *lanes[2 * p + 1];
    // Two chains under one key (common: the components of one message, or
    // cookies under one master key) use the key's doubled schedule as is.
    if (a.rk == b.rk && a.rk2 != nullptr) {
      rk[p] = a.rk2;
    } else {
      pair_keys(a.rk, b.rk, paired[p]);
      rk[p] = paired[p];
    }
    st[p] = _mm256_set_m128i(b.state, a.state);
    steps[p] = _mm256_set_epi32(static_cast<int>(b.steps), static_cast<int>(b.steps),
                                static_cast<int>(b.steps), static_cast<int>(b.steps),
                                static_cast<int>(a.steps), static_cast<int>(a.steps),
                                static_cast<int>(a.steps), static_cast<int>(a.steps));
    max_steps = std::max({max_steps, a.steps, b.steps});
  }
  // Phase A: while every chain still reads its message in place, the block is
  // simply data + 16 s and every chain is running.
  uint32_t in_place = max_steps;
  const uint8_t* data[2 * P];
  for (int j = 0; j < 2 * P; ++j) {
    in_place = std::min(in_place, lanes[j]->nblocks);
    data[j] = lanes[j]->data;
  }
  for (uint32_t s = 0; s < in_place; ++s) {
    __m256i x[P];
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      const __m128i lo = _mm_loadu_si128(
          reinterpret_cast<const __m128i*>(data[2 * p] + 16 * static_cast<size_t>(s)));
      const __m128i hi = _mm_loadu_si128(
          reinterpret_cast<const __m128i*>(data[2 * p + 1] + 16 * static_cast<size_t>(s)));
      x[p] = _mm256_xor_si256(_mm256_xor_si256(st[p], _mm256_set_m128i(hi, lo)), rk[p][0]);
    }
#pragma GCC unroll 9
    for (int r = 1; r < 10; ++r) {
#pragma GCC unroll 8
      for (int p = 0; p < P; ++p) x[p] = _mm256_aesenc_epi128(x[p], rk[p][r]);
    }
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) st[p] = _mm256_aesenclast_epi128(x[p], rk[p][10]);
  }
  // Phase B: tails and finished chains, block chosen per chain.
  for (uint32_t s = in_place; s < max_steps; ++s) {
    __m256i x[P];
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      const __m128i lo =
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(block_at(*lanes[2 * p], s)));
      const __m128i hi =
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(block_at(*lanes[2 * p + 1], s)));
      x[p] = _mm256_xor_si256(_mm256_xor_si256(st[p], _mm256_set_m128i(hi, lo)), rk[p][0]);
    }
#pragma GCC unroll 9
    for (int r = 1; r < 10; ++r) {
#pragma GCC unroll 8
      for (int p = 0; p < P; ++p) x[p] = _mm256_aesenc_epi128(x[p], rk[p][r]);
    }
    const __m256i now = _mm256_set1_epi32(static_cast<int>(s));
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      x[p] = _mm256_aesenclast_epi128(x[p], rk[p][10]);
      // Keep the new value only in the halves whose chain is still running.
      st[p] = _mm256_blendv_epi8(st[p], x[p], _mm256_cmpgt_epi32(steps[p], now));
    }
  }
  for (int p = 0; p < P; ++p) {
    lanes[2 * p]->state = _mm256_castsi256_si128(st[p]);
    lanes[2 * p + 1]->state = _mm256_extracti128_si256(st[p], 1);
  }
}

// Pairs of one-block chains: one AES each, no step bookkeeping. Round keys
// are formed on the fly (a pair is used for one block only, so building a
// paired schedule in memory would cost as much as the AES itself).
template <int P>
NTSD_VAES void single_pairs(Lane* const* lanes) {
  const __m128i* ra[P];
  const __m128i* rb[P];
  __m256i x[P];
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) {
    const Lane& a = *lanes[2 * p];
    const Lane& b = *lanes[2 * p + 1];
    ra[p] = a.rk;
    rb[p] = b.rk;
    const __m128i lo =
        _mm_xor_si128(a.state, _mm_load_si128(reinterpret_cast<const __m128i*>(a.tail)));
    const __m128i hi =
        _mm_xor_si128(b.state, _mm_load_si128(reinterpret_cast<const __m128i*>(b.tail)));
    x[p] = _mm256_xor_si256(_mm256_set_m128i(hi, lo),
                            _mm256_set_m128i(_mm_load_si128(rb[p]), _mm_load_si128(ra[p])));
  }
#pragma GCC unroll 9
  for (int r = 1; r < 10; ++r) {
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      x[p] = _mm256_aesenc_epi128(
          x[p], _mm256_set_m128i(_mm_load_si128(rb[p] + r), _mm_load_si128(ra[p] + r)));
    }
  }
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) {
    x[p] = _mm256_aesenclast_epi128(
        x[p], _mm256_set_m128i(_mm_load_si128(rb[p] + 10), _mm_load_si128(ra[p] + 10)));
    lanes[2 * p]->state = _mm256_castsi256_si128(x[p]);
    lanes[2 * p + 1]->state = _mm256_extracti128_si256(x[p], 1);
  }
}

template <int P>
NTSD_VAES void run(Lane* const* lanes, bool single) {
  if (single) {
    single_pairs<P>(lanes);
  } else {
    run_pairs<P>(lanes);
  }
}

}  // namespace

NTSD_VAES void run_lanes_vaes(Lane* const* order, size_t n, bool single) {
  // Per call, not static: every thread that seals writes into its idle lanes.
  Lane dummy = {
      reinterpret_cast<const __m128i*>(kZeroSchedule), nullptr, kZeroBlock, 0, 0, {}, {}};
  size_t i = 0;
  for (; i + 16 <= n; i += 16) run<8>(order + i, single);
  const size_t r = n - i;
  if (r == 0) return;
  Lane* rest[16];
  const size_t width = r > 8 ? 16 : r > 4 ? 8 : r > 2 ? 4 : 2;
  for (size_t j = 0; j < width; ++j) rest[j] = j < r ? order[i + j] : &dummy;
  switch (width) {
    case 16:
      run<8>(rest, single);
      break;
    case 8:
      run<4>(rest, single);
      break;
    case 4:
      run<2>(rest, single);
      break;
    default:
      run<1>(rest, single);
      break;
  }
}

namespace {

// Eight registers of two counter blocks each (one message per register).
struct CtrBatch {
  __m256i x[8];
  const __m128i* rk[8];
  const uint8_t* in[16];
  uint8_t* out[16];
  uint32_t len[16];
  int n = 0;
};

NTSD_VAES void ctr_flush8(CtrBatch& c) {
  alignas(16) static const uint8_t kZeroSchedule[11][16] = {};
  for (int k = c.n; k < 8; ++k) {
    c.x[k] = _mm256_setzero_si256();
    c.rk[k] = reinterpret_cast<const __m128i*>(kZeroSchedule);
    c.len[2 * k] = c.len[2 * k + 1] = 0;
  }
#pragma GCC unroll 8
  for (int k = 0; k < 8; ++k)
    c.x[k] = _mm256_xor_si256(c.x[k], _mm256_broadcastsi128_si256(_mm_load_si128(c.rk[k])));
#pragma GCC unroll 9
  for (int r = 1; r < 10; ++r) {
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) {
      c.x[k] =
          _mm256_aesenc_epi128(c.x[k], _mm256_broadcastsi128_si256(_mm_load_si128(c.rk[k] + r)));
    }
  }
#pragma GCC unroll 8
  for (int k = 0; k < 8; ++k) {
    c.x[k] =
        _mm256_aesenclast_epi128(c.x[k], _mm256_broadcastsi128_si256(_mm_load_si128(c.rk[k] + 10)));
  }
  for (int k = 0; k < c.n; ++k) {
    const __m128i ks[2] = {_mm256_castsi256_si128(c.x[k]), _mm256_extracti128_si256(c.x[k], 1)};
    for (int h = 0; h < 2; ++h) {
      const int i = 2 * k + h;
      if (c.len[i] == 16) {
        _mm_storeu_si128(
            reinterpret_cast<__m128i*>(c.out[i]),
            _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c.in[i])), ks[h]));
      } else if (c.len[i] > 0) {
        // A message's last, partial block: through a small buffer, never past either end.
        alignas(16) uint8_t buf[16] = {};
        std::memcpy(buf, c.in[i], c.len[i]);
        _mm_store_si128(
            reinterpret_cast<__m128i*>(buf),
            _mm_xor_si128(_mm_load_si128(reinterpret_cast<const __m128i*>(buf)), ks[h]));
        std::memcpy(c.out[i], buf, c.len[i]);
      }
    }
  }
  c.n = 0;
}

}  // namespace

// AES-128 key schedules, two per YMM register, sixteen at a time, without
// aeskeygenassist (which has no VEX-256 form): RotWord(w3) is broadcast to
// every column with a byte shuffle, so vaesenclast's ShiftRows is a no-op and
// it yields SubWord(RotWord(w3)) xor rcon in each column.
NTSD_VAES void expand_keys_vaes(const uint8_t* const* in, uint8_t (*const* out)[16], size_t n) {
  static const uint8_t kRcon[10] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1b, 0x36};
  alignas(16) static const uint8_t kZeroKey[16] = {};
  alignas(16) static thread_local uint8_t scratch[16][11][16];
  const __m256i rot =
      _mm256_setr_epi8(13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15,
                       12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 12);
  for (size_t base = 0; base < n; base += 16) {
    uint8_t(*dst[16])[16];
    __m256i k[8];
    for (size_t j = 0; j < 8; ++j) {
      const size_t a = base + 2 * j;
      const size_t b = a + 1;
      dst[2 * j] = a < n ? out[a] : scratch[2 * j];
      dst[2 * j + 1] = b < n ? out[b] : scratch[2 * j + 1];
      k[j] = _mm256_set_m128i(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(b < n ? in[b] : kZeroKey)),
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(a < n ? in[a] : kZeroKey)));
    }
    for (int r = 0; r <= 10; ++r) {
      if (r > 0) {
        const __m256i rcon = _mm256_set1_epi32(kRcon[r - 1]);
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
          const __m256i t = _mm256_aesenclast_epi128(_mm256_shuffle_epi8(k[j], rot), rcon);
          __m256i x = _mm256_xor_si256(k[j], _mm256_slli_si256(k[j], 4));
          x = _mm256_xor_si256(x, _mm256_slli_si256(x, 8));
          k[j] = _mm256_xor_si256(x, t);
        }
      }
      for (int j = 0; j < 8; ++j) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst[2 * j][r]), _mm256_castsi256_si128(k[j]));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst[2 * j + 1][r]),
                         _mm256_extracti128_si256(k[j], 1));
      }
    }
  }
}

// One AES-128 block each under its own schedule, two per register.
NTSD_VAES void encrypt_blocks_vaes(const __m128i* const* rk, const __m128i* in, __m128i* out,
                                   size_t n) {
  for (size_t base = 0; base < n; base += 16) {
    const __m128i* ra[8];
    const __m128i* rb[8];
    __m256i x[8];
    for (size_t j = 0; j < 8; ++j) {
      const size_t a = base + 2 * j < n ? base + 2 * j : base;
      const size_t b = base + 2 * j + 1 < n ? base + 2 * j + 1 : a;
      ra[j] = rk[a];
      rb[j] = rk[b];
      x[j] = _mm256_xor_si256(_mm256_set_m128i(in[b], in[a]),
                              _mm256_set_m128i(_mm_load_si128(rb[j]), _mm_load_si128(ra[j])));
    }
#pragma GCC unroll 9
    for (int r = 1; r < 10; ++r) {
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        x[j] = _mm256_aesenc_epi128(
            x[j], _mm256_set_m128i(_mm_load_si128(rb[j] + r), _mm_load_si128(ra[j] + r)));
      }
    }
    for (size_t j = 0; j < 8; ++j) {
      x[j] = _mm256_aesenclast_epi128(
          x[j], _mm256_set_m128i(_mm_load_si128(rb[j] + 10), _mm_load_si128(ra[j] + 10)));
      if (base + 2 * j < n) out[base + 2 * j] = _mm256_castsi256_si128(x[j]);
      if (base + 2 * j + 1 < n) out[base + 2 * j + 1] = _mm256_extracti128_si256(x[j], 1);
    }
  }
}

NTSD_VAES void ctr_vaes(const CtrJob* jobs, size_t n) {
  const __m128i mask =
      _mm_set_epi8(-1, -1, -1, 0x7f, -1, -1, -1, 0x7f, -1, -1, -1, -1, -1, -1, -1, -1);
  CtrBatch c;
  for (size_t i = 0; i < n; ++i) {
    const CtrJob& job = jobs[i];
    const __m128i q = _mm_and_si128(job.v, mask);
    const uint32_t base = __builtin_bswap32(static_cast<uint32_t>(_mm_extract_epi32(q, 3)));
    for (size_t off = 0, b = 0; off < job.len; off += 32, b += 2) {
      const int k = c.n++;
      const __m128i c0 = _mm_insert_epi32(
          q, static_cast<int>(__builtin_bswap32(base + static_cast<uint32_t>(b))), 3);
      const __m128i c1 = _mm_insert_epi32(
          q, static_cast<int>(__builtin_bswap32(base + static_cast<uint32_t>(b + 1))), 3);
      c.x[k] = _mm256_set_m128i(c1, c0);
      c.rk[k] = job.rk;
      const size_t left = job.len - off;
      c.in[2 * k] = job.in + off;
      c.out[2 * k] = job.out + off;
      c.len[2 * k] = static_cast<uint32_t>(left < 16 ? left : 16);
      c.in[2 * k + 1] = job.in + off + 16;
      c.out[2 * k + 1] = job.out + off + 16;
      c.len[2 * k + 1] = static_cast<uint32_t>(left <= 16 ? 0 : left < 32 ? left - 16 : 16);
      if (c.n == 8) ctr_flush8(c);
    }
  }
  if (c.n > 0) ctr_flush8(c);
}

}  // namespace ntsd::crypto::siv_internal
