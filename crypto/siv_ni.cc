#include "crypto/siv_ni.h"

#include <immintrin.h>
#include <string.h>  // explicit_bzero

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "crypto/aes_ni.h"
#include "crypto/siv_lane.h"

// Intrinsics are enabled per function (NTSD_AESNI, aes_ni.h), never per file
// or globally: this file is built for baseline x86-64 and only reached
// through the fast NtsCrypto (or make_aead's native backend), which exist
// only on a CPU with AES-NI. The lane engine is the caller's SivLanes:
// 0 = XMM, 1 = YMM below.

namespace ntsd::crypto {
namespace siv_internal {

using aes_ni::encrypt1;
using aes_ni::expand_step;
using aes_ni::load;
using aes_ni::store;

NTSD_AESNI void expand128(const uint8_t* key, uint8_t out[11][16]) {
  __m128i rk[11];
  aes_ni::expand128(load(key), rk);
  for (int i = 0; i < 11; ++i) store(out[i], rk[i]);
}

// Doubling in GF(2^128) on a big-endian block (RFC 5297 §2.3), branch-free.
NTSD_AESNI static inline __m128i dbl(__m128i v) {
  const __m128i bswap = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m128i x = _mm_shuffle_epi8(v, bswap);   // now a little-endian 128-bit integer
  const __m128i carries = _mm_srli_epi64(x, 63);  // top bit of each 64-bit half
  __m128i y =
      _mm_or_si128(_mm_slli_epi64(x, 1), _mm_slli_si128(carries, 8));  // low half's carry moves up
  // The bit shifted out of the top folds back as 0x87 (x^128 = x^7 + x^2 + x + 1).
  const __m128i top = _mm_sub_epi64(_mm_setzero_si128(), _mm_srli_si128(carries, 8));
  y = _mm_xor_si128(y, _mm_and_si128(top, _mm_set_epi64x(0, 0x87)));
  return _mm_shuffle_epi8(y, bswap);
}

// A partial block followed by the 10* padding of RFC 5297 §2.1 / CMAC.
NTSD_AESNI static inline __m128i pad_block(const uint8_t* p, size_t n) {
  alignas(16) uint8_t buf[16] = {};
  if (n > 0) std::memcpy(buf, p, n);
  buf[n] = 0x80;
  return load(buf);
}

static const __m128i* rk128(const uint8_t (*rk)[16]) {
  return reinterpret_cast<const __m128i*>(rk);
}
static const __m256i* rk256(const uint8_t (*rk)[32]) {
  return reinterpret_cast<const __m256i*>(rk);
}

alignas(16) static const uint8_t kZeroSchedule[11][16] = {};

// G chains advance in lock step, one AES block each per step, with the rounds
// interleaved across chains: one chain is latency bound (about 4 cycles per
// aesenc), G independent chains fill the AES pipes. Chains that are finished
// compute on a zero block and their result is discarded.
template <int G>
NTSD_AESNI static void run_group(Lane* const* lanes) {
  uint32_t max_steps = 0;
  __m128i st[G];
  const __m128i* rk[G];
  for (int j = 0; j < G; ++j) {
    max_steps = std::max(max_steps, lanes[j]->steps);
    st[j] = lanes[j]->state;
    rk[j] = lanes[j]->rk;
  }
  // Phase A: while every chain still reads its message in place (no selection, all running).
  uint32_t in_place = max_steps;
  const uint8_t* data[G];
  for (int j = 0; j < G; ++j) {
    in_place = std::min(in_place, lanes[j]->nblocks);
    data[j] = lanes[j]->data;
  }
  for (uint32_t s = 0; s < in_place; ++s) {
    __m128i x[G];
#pragma GCC unroll 16
    for (int j = 0; j < G; ++j) {
      x[j] = _mm_xor_si128(_mm_xor_si128(st[j], load(data[j] + 16 * static_cast<size_t>(s))),
                           rk[j][0]);
    }
#pragma GCC unroll 16
    for (int r = 1; r < 10; ++r) {
#pragma GCC unroll 16
      for (int j = 0; j < G; ++j) x[j] = _mm_aesenc_si128(x[j], rk[j][r]);
    }
#pragma GCC unroll 16
    for (int j = 0; j < G; ++j) st[j] = _mm_aesenclast_si128(x[j], rk[j][10]);
  }
  // Phase B: tails and finished chains, block chosen per chain.
  for (uint32_t s = in_place; s < max_steps; ++s) {
    __m128i x[G];
#pragma GCC unroll 16
    for (int j = 0; j < G; ++j)
      x[j] = _mm_xor_si128(_mm_xor_si128(st[j], load(block_at(*lanes[j], s))), rk[j][0]);
#pragma GCC unroll 16
    for (int r = 1; r < 10; ++r) {
#pragma GCC unroll 16
      for (int j = 0; j < G; ++j) x[j] = _mm_aesenc_si128(x[j], rk[j][r]);
    }
#pragma GCC unroll 16
    for (int j = 0; j < G; ++j) {
      x[j] = _mm_aesenclast_si128(x[j], rk[j][10]);
      // Keep the result only while the chain runs (a blend, not a branch).
      const __m128i keep = _mm_set1_epi32(s < lanes[j]->steps ? -1 : 0);
      st[j] = _mm_blendv_epi8(st[j], x[j], keep);
    }
  }
  for (int j = 0; j < G; ++j) lanes[j]->state = st[j];
}

// Chains of exactly one block (CTR blocks, short S2V components): one AES
// each, no step bookkeeping.
template <int G>
NTSD_AESNI static void run_single(Lane* const* lanes) {
  __m128i x[G];
#pragma GCC unroll 16
  for (int j = 0; j < G; ++j) {
    x[j] = _mm_xor_si128(_mm_xor_si128(lanes[j]->state, load(lanes[j]->tail)), lanes[j]->rk[0]);
  }
#pragma GCC unroll 16
  for (int r = 1; r < 10; ++r) {
#pragma GCC unroll 16
    for (int j = 0; j < G; ++j) x[j] = _mm_aesenc_si128(x[j], lanes[j]->rk[r]);
  }
#pragma GCC unroll 16
  for (int j = 0; j < G; ++j) lanes[j]->state = _mm_aesenclast_si128(x[j], lanes[j]->rk[10]);
}

template <bool kSingle>
NTSD_AESNI static void run_lanes_aesni(Lane* const* order, size_t n) {
  // Per call, not static: every thread that seals writes into its idle lanes.
  Lane dummy = {rk128(kZeroSchedule), nullptr, kZeroBlock, 0, 0, {}, {}};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) kSingle ? run_single<8>(order + i) : run_group<8>(order + i);
  const size_t r = n - i;
  if (r == 0) return;
  // Pad the remainder with idle chains rather than splitting it, so the
  // leftover chains still overlap each other.
  Lane* rest[8];
  const size_t width = r > 4 ? 8 : r > 2 ? 4 : r;
  for (size_t j = 0; j < width; ++j) rest[j] = j < r ? order[i + j] : &dummy;
  switch (width) {
    case 8:
      kSingle ? run_single<8>(rest) : run_group<8>(rest);
      break;
    case 4:
      kSingle ? run_single<4>(rest) : run_group<4>(rest);
      break;
    case 2:
      kSingle ? run_single<2>(rest) : run_group<2>(rest);
      break;
    default:
      kSingle ? run_single<1>(rest) : run_group<1>(rest);
      break;
  }
}

// Runs every chain. One-block chains (most of an NTS batch: CTR blocks, key
// ids, nonces) take the lean path; longer chains run longest first, so a
// group's chains have similar lengths. Lanes keep their natural order
// otherwise, which keeps the chains of one key (one message, one master key)
// adjacent, so VAES pairs mostly share a key.
static void run_lanes(Lane* lanes, size_t n, int engine) {
  Lane* singles[kMaxLanes];
  Lane* multi[kMaxLanes];
  size_t n_single = 0;
  size_t n_multi = 0;
  for (size_t i = 0; i < n; ++i) {
    if (lanes[i].steps == 1) {
      singles[n_single++] = &lanes[i];
    } else if (lanes[i].steps > 1) {
      multi[n_multi++] = &lanes[i];
    }
  }
  // Insertion sort, stable and allocation-free (std::stable_sort may allocate);
  // a batch has few multi-block chains, mostly of similar lengths already.
  for (size_t i = 1; i < n_multi; ++i) {
    Lane* x = multi[i];
    size_t j = i;
    for (; j > 0 && multi[j - 1]->steps < x->steps; --j) multi[j] = multi[j - 1];
    multi[j] = x;
  }
  if (engine == 1) {
    run_lanes_vaes(multi, n_multi, false);
    run_lanes_vaes(singles, n_single, true);
  } else {
    run_lanes_aesni<false>(multi, n_multi);
    run_lanes_aesni<true>(singles, n_single);
  }
}

// CMAC(K1, s) as a chain (RFC 4493): the last block takes subkey k1 when
// complete, or 10* padding and subkey k2 when partial or empty.
NTSD_AESNI static void cmac_lane(const SivKey& k, Bytes s, Lane& l) {
  l.rk = rk128(k.mac_rk);
  l.rk2 = (k.flags & kSivKeyDoubled) ? rk256(k.mac_rk2) : nullptr;
  l.data = s.data();
  l.state = _mm_setzero_si128();
  const size_t len = s.size();
  if (len == 0) {
    l.nblocks = 0;
    store(l.tail, _mm_xor_si128(pad_block(nullptr, 0), load(k.cmac_k2)));
  } else {
    const size_t m = (len + 15) / 16;
    l.nblocks = static_cast<uint32_t>(m - 1);
    const uint8_t* last = s.data() + 16 * (m - 1);
    const size_t rem = len - 16 * (m - 1);
    store(l.tail, rem == 16 ? _mm_xor_si128(load(last), load(k.cmac_k1))
                            : _mm_xor_si128(pad_block(last, rem), load(k.cmac_k2)));
  }
  l.steps = l.nblocks + 1;
}

// The final S2V chain (RFC 5297 §2.4): V = CMAC(K1, T) with T = Sn xorend D for
// |Sn| >= 16, else T = dbl(D) xor pad(Sn). Blocks wholly before the last 16
// bytes are read in place; the rest (one or two blocks) is prepared here.
NTSD_AESNI static void final_lane(const SivKey& k, Bytes s, __m128i d, Lane& l) {
  l.rk = rk128(k.mac_rk);
  l.rk2 = (k.flags & kSivKeyDoubled) ? rk256(k.mac_rk2) : nullptr;
  l.data = s.data();
  l.state = _mm_setzero_si128();
  const size_t len = s.size();
  if (len < 16) {
    l.nblocks = 0;
    l.steps = 1;
    // T is exactly one complete block, so CMAC uses subkey k1.
    store(l.tail, _mm_xor_si128(_mm_xor_si128(dbl(d), pad_block(s.data(), len)), load(k.cmac_k1)));
    return;
  }
  const size_t p = (len - 16) / 16;
  const size_t rem = len - 16 * p;  // 16..31 bytes left
  alignas(16) uint8_t buf[32] = {};
  std::memcpy(buf, s.data() + 16 * p, rem);
  store(buf + rem - 16, _mm_xor_si128(load(buf + rem - 16), d));
  l.nblocks = static_cast<uint32_t>(p);
  if (rem == 16) {
    store(l.tail, _mm_xor_si128(load(buf), load(k.cmac_k1)));
    l.steps = l.nblocks + 1;
  } else {
    store(l.tail, load(buf));
    store(l.tail + 16, _mm_xor_si128(pad_block(buf + 16, rem - 16), load(k.cmac_k2)));
    l.steps = l.nblocks + 2;
  }
}

// CTR keystream blocks for several messages go through the same lane engine
// as one-block chains (AES of the counter block, chaining value zero), so
// blocks of different messages and keys overlap, paired on VAES.
struct CtrStream {
  static constexpr int kCapacity = 64;
  explicit CtrStream(int e) : engine(e) {}
  Lane lanes[kCapacity];
  const uint8_t* in[kCapacity];
  uint8_t* out[kCapacity];
  uint32_t len[kCapacity];
  int n = 0;
  int engine;
};

NTSD_AESNI static void ctr_flush(CtrStream& c) {
  run_lanes(c.lanes, static_cast<size_t>(c.n), c.engine);
  for (int j = 0; j < c.n; ++j) {
    const __m128i ks = c.lanes[j].state;
    if (c.len[j] == 16) {
      store(c.out[j], _mm_xor_si128(ks, load(c.in[j])));
    } else {
      alignas(16) uint8_t buf[16];
      store(buf, ks);
      for (uint32_t b = 0; b < c.len[j]; ++b) c.out[j][b] = c.in[j][b] ^ buf[b];
    }
  }
  c.n = 0;
}

// SIV's CTR (RFC 5297 §2.5): Q = V with bits 63 and 31 cleared, so the low
// 32-bit word never carries for messages under 2^31 blocks.
NTSD_AESNI static void ctr_add(CtrStream& c, const SivKey& k, __m128i v, const uint8_t* in,
                               uint8_t* out, size_t len) {
  const __m128i mask =
      _mm_set_epi8(-1, -1, -1, 0x7f, -1, -1, -1, 0x7f, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i q = _mm_and_si128(v, mask);
  const uint32_t base = __builtin_bswap32(static_cast<uint32_t>(_mm_extract_epi32(q, 3)));
  for (size_t off = 0, i = 0; off < len; off += 16, ++i) {
    const int j = c.n++;
    Lane& l = c.lanes[j];
    l.rk = rk128(k.ctr_rk);
    l.rk2 = (k.flags & kSivKeyDoubled) ? rk256(k.ctr_rk2) : nullptr;
    l.data = kZeroBlock;
    l.nblocks = 0;
    l.steps = 1;
    l.state = _mm_setzero_si128();
    store(l.tail, _mm_insert_epi32(
                      q, static_cast<int>(__builtin_bswap32(base + static_cast<uint32_t>(i))), 3));
    c.in[j] = in + off;
    c.out[j] = out + off;
    c.len[j] = static_cast<uint32_t>(std::min<size_t>(16, len - off));
    if (c.n == CtrStream::kCapacity) ctr_flush(c);
  }
}

static bool job_valid(const SivJob& job, bool open) {
  if (job.key == nullptr || job.ad_count > kMaxAdComponents) return false;
  // A MAC-only key can handle only messages with no plaintext.
  if (!(job.key->flags & kSivKeyHasCtr) && job.input.size() > (open ? kAeadTagLength : 0))
    return false;
  if (open)
    return job.input.size() >= kAeadTagLength &&
           (job.output != nullptr || job.input.size() == kAeadTagLength);
  return job.output != nullptr;
}

// S2V over the components of each valid job (all but the last string), then D.
NTSD_AESNI static void s2v_prefix(std::span<SivJob> jobs, const bool* active, __m128i* d,
                                  int engine) {
  static_assert(kSivBatch * (kMaxAdComponents + 1) <= kMaxLanes);
  Lane lanes[kSivBatch * (kMaxAdComponents + 1)];
  size_t first[kSivBatch + 1];
  size_t n = 0;
  for (size_t j = 0; j < jobs.size(); ++j) {
    first[j] = n;
    if (!active[j]) continue;
    const SivJob& job = jobs[j];
    for (size_t c = 0; c < job.ad_count; ++c) cmac_lane(*job.key, job.ad[c], lanes[n++]);
    if (!job.nonce.empty()) cmac_lane(*job.key, job.nonce, lanes[n++]);
  }
  first[jobs.size()] = n;
  run_lanes(lanes, n, engine);
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (!active[j]) continue;
    __m128i acc = load(jobs[j].key->d0);
    for (size_t i = first[j]; i < first[j + 1]; ++i) acc = _mm_xor_si128(dbl(acc), lanes[i].state);
    d[j] = acc;
  }
}

// V for each valid job over its final string (plaintext).
NTSD_AESNI static void s2v_final(std::span<SivJob> jobs, const bool* active, const __m128i* d,
                                 const Bytes* last, __m128i* v, int engine) {
  Lane lanes[kSivBatch];
  size_t index[kSivBatch];
  size_t n = 0;
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (!active[j]) continue;
    index[j] = n;
    final_lane(*jobs[j].key, last[j], d[j], lanes[n++]);
  }
  run_lanes(lanes, n, engine);
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (active[j]) v[j] = lanes[index[j]].state;
  }
}

NTSD_AESNI static void seal_chunk(std::span<SivJob> jobs, int engine) {
  bool active[kSivBatch] = {};
  __m128i d[kSivBatch];
  __m128i v[kSivBatch];
  Bytes last[kSivBatch];
  for (size_t j = 0; j < jobs.size(); ++j) {
    active[j] = job_valid(jobs[j], false);
    jobs[j].ok = active[j];
    last[j] = jobs[j].input;
  }
  s2v_prefix(jobs, active, d, engine);
  s2v_final(jobs, active, d, last, v, engine);
  if (engine == 1) {
    CtrJob ctr[kSivBatch];
    size_t m = 0;
    for (size_t j = 0; j < jobs.size(); ++j) {
      if (!active[j]) continue;
      store(jobs[j].output, v[j]);
      ctr[m++] = {rk128(jobs[j].key->ctr_rk), v[j], jobs[j].input.data(), jobs[j].output + 16,
                  jobs[j].input.size()};
    }
    ctr_vaes(ctr, m);
    return;
  }
  CtrStream c(engine);
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (!active[j]) continue;
    store(jobs[j].output, v[j]);
    ctr_add(c, *jobs[j].key, v[j], jobs[j].input.data(), jobs[j].output + 16, jobs[j].input.size());
  }
  if (c.n > 0) ctr_flush(c);
}

NTSD_AESNI static void open_chunk(std::span<SivJob> jobs, int engine) {
  bool active[kSivBatch] = {};
  __m128i d[kSivBatch];
  __m128i v[kSivBatch];
  Bytes last[kSivBatch];
  CtrStream c(engine);
  CtrJob ctr[kSivBatch];
  size_t m = 0;
  // Decrypt first: CTR needs only the received V, and S2V then runs over the plaintext.
  for (size_t j = 0; j < jobs.size(); ++j) {
    active[j] = job_valid(jobs[j], true);
    if (!active[j]) {
      jobs[j].ok = false;
      continue;
    }
    const size_t pt_len = jobs[j].input.size() - kAeadTagLength;
    last[j] = Bytes(jobs[j].output, pt_len);
    if (pt_len == 0) continue;
    if (engine == 1) {
      ctr[m++] = {rk128(jobs[j].key->ctr_rk), load(jobs[j].input.data()), jobs[j].input.data() + 16,
                  jobs[j].output, pt_len};
    } else {
      ctr_add(c, *jobs[j].key, load(jobs[j].input.data()), jobs[j].input.data() + 16,
              jobs[j].output, pt_len);
    }
  }
  if (m > 0) ctr_vaes(ctr, m);
  if (c.n > 0) ctr_flush(c);
  s2v_prefix(jobs, active, d, engine);
  s2v_final(jobs, active, d, last, v, engine);
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (!active[j]) continue;
    const __m128i diff = _mm_xor_si128(v[j], load(jobs[j].input.data()));
    jobs[j].ok = _mm_testz_si128(diff, diff) != 0;  // constant time
    if (!jobs[j].ok && !last[j].empty()) std::memset(jobs[j].output, 0, last[j].size());
  }
}

NTSD_AESNI static void finish_subkeys(SivKey& out) {
  const __m128i* rk = rk128(out.mac_rk);
  const __m128i l = encrypt1(rk, _mm_setzero_si128());
  const __m128i k1 = dbl(l);
  store(out.cmac_k1, k1);
  store(out.cmac_k2, dbl(k1));
  // CMAC of one complete zero block: AES(0 xor k1).
  store(out.d0, encrypt1(rk, k1));
}

NTSD_AESNI static bool expand_key(Bytes key, SivKey& out) {
  if (key.size() != 32) return false;
  expand128(key.data(), out.mac_rk);
  expand128(key.data() + 16, out.ctr_rk);
  for (int r = 0; r < 11; ++r) {
    std::memcpy(out.mac_rk2[r], out.mac_rk[r], 16);
    std::memcpy(out.mac_rk2[r] + 16, out.mac_rk[r], 16);
    std::memcpy(out.ctr_rk2[r], out.ctr_rk[r], 16);
    std::memcpy(out.ctr_rk2[r] + 16, out.ctr_rk[r], 16);
  }
  finish_subkeys(out);
  out.flags = kSivKeyHasCtr | kSivKeyDoubled;
  return true;
}

// Eight AES-128 key schedules at once: one schedule is a serial chain of ten
// aeskeygenassist steps, eight of them overlap.
#define NTSD_EXPAND_ROUND(r, rcon)                                   \
  _Pragma("GCC unroll 8") for (int j = 0; j < 8; ++j) {              \
    k[j] = expand_step(k[j], _mm_aeskeygenassist_si128(k[j], rcon)); \
    store(out[j][r], k[j]);                                          \
  }

NTSD_AESNI static void expand8(const uint8_t* const* in, uint8_t (*const* out)[16]) {
  __m128i k[8];
  for (int j = 0; j < 8; ++j) {
    k[j] = load(in[j]);
    store(out[j][0], k[j]);
  }
  NTSD_EXPAND_ROUND(1, 0x01)
  NTSD_EXPAND_ROUND(2, 0x02)
  NTSD_EXPAND_ROUND(3, 0x04)
  NTSD_EXPAND_ROUND(4, 0x08)
  NTSD_EXPAND_ROUND(5, 0x10)
  NTSD_EXPAND_ROUND(6, 0x20)
  NTSD_EXPAND_ROUND(7, 0x40)
  NTSD_EXPAND_ROUND(8, 0x80)
  NTSD_EXPAND_ROUND(9, 0x1b)
  NTSD_EXPAND_ROUND(10, 0x36)
}
#undef NTSD_EXPAND_ROUND

// L = AES(K1, 0) and d0 = AES(K1, dbl(L)) for eight keys, interleaved.
NTSD_AESNI static void subkeys8(SivKey* const* keys) {
  __m128i x[8];
  for (int pass = 0; pass < 2; ++pass) {
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      const __m128i in = pass == 0 ? _mm_setzero_si128() : load(keys[j]->cmac_k1);
      x[j] = _mm_xor_si128(in, rk128(keys[j]->mac_rk)[0]);
    }
#pragma GCC unroll 9
    for (int r = 1; r < 10; ++r) {
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) x[j] = _mm_aesenc_si128(x[j], rk128(keys[j]->mac_rk)[r]);
    }
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      x[j] = _mm_aesenclast_si128(x[j], rk128(keys[j]->mac_rk)[10]);
      if (pass == 0) {
        const __m128i k1 = dbl(x[j]);
        store(keys[j]->cmac_k1, k1);
        store(keys[j]->cmac_k2, dbl(k1));
      } else {
        store(keys[j]->d0, x[j]);
      }
    }
  }
}

// The VAES form of the same: all schedules in one pass, then L and d0 for all keys.
NTSD_AESNI static void expand_sessions_vaes(std::span<const Bytes> keys, SivKey* const* out,
                                            bool with_ctr) {
  const size_t n = keys.size();
  // Zeroed: g++ 12 at -O2 otherwise takes them for uninitialised once the
  // lane count is the caller's argument (-Wmaybe-uninitialized).
  const uint8_t* in[2 * kSivBatch] = {};
  uint8_t(*dst[2 * kSivBatch])[16] = {};
  for (size_t i = 0; i < n; ++i) {
    in[i] = keys[i].data();
    dst[i] = out[i]->mac_rk;
    if (with_ctr) {
      in[n + i] = keys[i].data() + 16;
      dst[n + i] = out[i]->ctr_rk;
    }
  }
  expand_keys_vaes(in, dst, with_ctr ? 2 * n : n);
  const __m128i* rk[kSivBatch];
  __m128i blocks[kSivBatch];
  __m128i l[kSivBatch];
  for (size_t i = 0; i < n; ++i) {
    rk[i] = rk128(out[i]->mac_rk);
    blocks[i] = _mm_setzero_si128();
  }
  encrypt_blocks_vaes(rk, blocks, l, n);
  for (size_t i = 0; i < n; ++i) {
    blocks[i] = dbl(l[i]);  // k1
    store(out[i]->cmac_k1, blocks[i]);
    store(out[i]->cmac_k2, dbl(blocks[i]));
  }
  encrypt_blocks_vaes(rk, blocks, l, n);  // d0 = AES(k1)
  for (size_t i = 0; i < n; ++i) {
    store(out[i]->d0, l[i]);
    out[i]->flags = with_ctr ? kSivKeyHasCtr : 0;
  }
  explicit_bzero(l, sizeof l);
  explicit_bzero(blocks, sizeof blocks);
}

NTSD_AESNI static bool expand_sessions(std::span<const Bytes> keys, SivKey* const* out,
                                       bool with_ctr, int engine) {
  for (Bytes k : keys) {
    if (k.size() != 32) return false;
  }
  if (engine == 1 && keys.size() <= kSivBatch) {
    expand_sessions_vaes(keys, out, with_ctr);
    return true;
  }
  // Streams: every key's K1, and K2 when wanted; padded to a multiple of 8 with scratch.
  alignas(16) static thread_local uint8_t scratch[8][11][16];
  static const uint8_t kZeroKey[32] = {};
  const size_t n = keys.size();
  const size_t streams = with_ctr ? 2 * n : n;
  for (size_t base = 0; base < streams; base += 8) {
    const uint8_t* in[8];
    uint8_t(*dst[8])[16];
    for (size_t j = 0; j < 8; ++j) {
      const size_t s = base + j;
      if (s >= streams) {
        in[j] = kZeroKey;
        dst[j] = scratch[j];
      } else if (s < n) {
        in[j] = keys[s].data();
        dst[j] = out[s]->mac_rk;
      } else {
        in[j] = keys[s - n].data() + 16;
        dst[j] = out[s - n]->ctr_rk;
      }
    }
    expand8(in, dst);
  }
  alignas(64) static thread_local SivKey scratch_key;
  for (size_t base = 0; base < n; base += 8) {
    SivKey* group[8];
    for (size_t j = 0; j < 8; ++j) group[j] = base + j < n ? out[base + j] : &scratch_key;
    subkeys8(group);
  }
  for (size_t i = 0; i < n; ++i) out[i]->flags = with_ctr ? kSivKeyHasCtr : 0;
  explicit_bzero(scratch, sizeof scratch);
  return true;
}

}  // namespace siv_internal

bool siv_expand_key(Bytes key, SivKey& out) { return siv_internal::expand_key(key, out); }

namespace siv_internal {

// The id is a partial block: 10* padded, CMAC subkey k2.
NTSD_AESNI static void cache_id_prefix(SivKey& key, uint32_t id) {
  const uint8_t block[4] = {static_cast<uint8_t>(id >> 24), static_cast<uint8_t>(id >> 16),
                            static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)};
  const __m128i mac =
      encrypt1(rk128(key.mac_rk), _mm_xor_si128(pad_block(block, 4), load(key.cmac_k2)));
  store(key.id_d, dbl(_mm_xor_si128(dbl(load(key.d0)), mac)));
  key.flags |= kSivKeyIdPrefix;
}

}  // namespace siv_internal

void siv_cache_id_prefix(SivKey& key, uint32_t id) { siv_internal::cache_id_prefix(key, id); }

bool siv_expand_session_keys(std::span<const Bytes> keys, SivKey* const* out, bool with_ctr,
                             SivLanes lanes) {
  return siv_internal::expand_sessions(keys, out, with_ctr, static_cast<int>(lanes));
}

void siv_wipe_session_key(SivKey& key) { explicit_bzero(&key, offsetof(SivKey, mac_rk2)); }

void siv_seal_batch(std::span<SivJob> jobs, SivLanes lanes) {
  const int engine = static_cast<int>(lanes);
  for (size_t i = 0; i < jobs.size(); i += kSivBatch) {
    siv_internal::seal_chunk(jobs.subspan(i, std::min(kSivBatch, jobs.size() - i)), engine);
  }
}

void siv_open_batch(std::span<SivJob> jobs, SivLanes lanes) {
  const int engine = static_cast<int>(lanes);
  for (size_t i = 0; i < jobs.size(); i += kSivBatch) {
    siv_internal::open_chunk(jobs.subspan(i, std::min(kSivBatch, jobs.size() - i)), engine);
  }
}

static bool fill_job(SivJob& job, const SivKey& key, std::span<const Bytes> ad, Bytes nonce,
                     Bytes input, uint8_t* output) {
  if (ad.size() > kMaxAdComponents) return false;
  job.key = &key;
  for (size_t i = 0; i < ad.size(); ++i) job.ad[i] = ad[i];
  job.ad_count = static_cast<uint8_t>(ad.size());
  job.nonce = nonce;
  job.input = input;
  job.output = output;
  return true;
}

// Single-buffer calls are a batch of one: the chains of one message (its AD
// components) still overlap each other inside the engine.
bool siv_seal(const SivKey& key, std::span<const Bytes> ad, Bytes nonce, Bytes plaintext,
              MutableBytes out) {
  SivJob job;
  if (out.size() < aead_sealed_length(plaintext.size()) ||
      !fill_job(job, key, ad, nonce, plaintext, out.data())) {
    return false;
  }
  siv_internal::seal_chunk(std::span<SivJob>(&job, 1), 0);
  return job.ok;
}

bool siv_open(const SivKey& key, std::span<const Bytes> ad, Bytes nonce, Bytes sealed,
              MutableBytes plaintext_out) {
  SivJob job;
  if (sealed.size() < kAeadTagLength || plaintext_out.size() < sealed.size() - kAeadTagLength ||
      !fill_job(job, key, ad, nonce, sealed, plaintext_out.data())) {
    return false;
  }
  siv_internal::open_chunk(std::span<SivJob>(&job, 1), 0);
  return job.ok;
}

}  // namespace ntsd::crypto
