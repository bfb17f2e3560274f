#include "crypto/gcm_siv.h"

#include <immintrin.h>

#include <string.h>  // explicit_bzero

#include <algorithm>
#include <cstring>

#include "crypto/aes_ni.h"

namespace ntsd::crypto {
namespace {

using aes_ni::encrypt1;
using aes_ni::load;
using aes_ni::store;

// POLYVAL's dot(a, b) = a·b·x^-128 in GF(2^128) mod x^128+x^127+x^126+x^121+1
// (RFC 8452 §3), with POLYVAL's little-endian bit order, which is carry-less
// multiplication's own, so no byte reflection is needed. The 256-bit product
// is reduced by two Montgomery steps of 64 bits: the polynomial is 1 modulo
// x^64, so adding L·P cancels the low word L, and L·(x^121+x^126+x^127)/x^64
// is one clmul of L by 0xc2000000_00000000 plus L moved to the high word.
NTSD_AESNI __m128i dot(__m128i a, __m128i b) {
  const __m128i poly = _mm_set_epi64x(static_cast<int64_t>(0xc200000000000000ULL), 1);
  __m128i lo = _mm_clmulepi64_si128(a, b, 0x00);
  __m128i hi = _mm_clmulepi64_si128(a, b, 0x11);
  const __m128i mid =
      _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x01), _mm_clmulepi64_si128(a, b, 0x10));
  lo = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
  hi = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));
  for (int step = 0; step < 2; ++step) {
    const __m128i t = _mm_clmulepi64_si128(lo, poly, 0x10);
    lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), t);
  }
  return _mm_xor_si128(hi, lo);
}

NTSD_AESNI __m128i polyval_absorb(__m128i s, __m128i h, const uint8_t* p, size_t len) {
  for (; len >= 16; p += 16, len -= 16) s = dot(_mm_xor_si128(s, load(p)), h);
  if (len > 0) {
    alignas(16) uint8_t buf[16] = {};
    std::memcpy(buf, p, len);
    s = dot(_mm_xor_si128(s, load(buf)), h);
  }
  return s;
}

// Per-nonce keys (RFC 8452 §4): the first 8 bytes of AES(K, LE32(i) ‖ nonce)
// for i = 0..3 give the 16-byte authentication and encryption keys.
NTSD_AESNI void derive(const GcmSivKey& key, const uint8_t* nonce, __m128i& auth,
                       __m128i enc_rk[11]) {
  const __m128i* rk = reinterpret_cast<const __m128i*>(key.rk);
  alignas(16) uint8_t block[16] = {};
  std::memcpy(block + 4, nonce, 12);
  __m128i out[4];
  for (int i = 0; i < 4; ++i) {
    block[0] = static_cast<uint8_t>(i);
    out[i] = encrypt1(rk, load(block));
  }
  auth = _mm_unpacklo_epi64(out[0], out[1]);
  aes_ni::expand128(_mm_unpacklo_epi64(out[2], out[3]), enc_rk);
}

NTSD_AESNI __m128i tag_of(__m128i auth, const __m128i* enc_rk, const uint8_t* nonce, Bytes ad,
                          const uint8_t* pt, size_t pt_len) {
  __m128i s = _mm_setzero_si128();
  if (!ad.empty()) s = polyval_absorb(s, auth, ad.data(), ad.size());
  if (pt_len > 0) s = polyval_absorb(s, auth, pt, pt_len);
  const __m128i lengths =
      _mm_set_epi64x(static_cast<int64_t>(pt_len * 8), static_cast<int64_t>(ad.size() * 8));
  s = dot(_mm_xor_si128(s, lengths), auth);
  alignas(16) uint8_t n[16] = {};
  std::memcpy(n, nonce, 12);
  s = _mm_xor_si128(s, load(n));
  s = _mm_and_si128(s,
                    _mm_set_epi8(0x7f, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1));
  return encrypt1(enc_rk, s);
}

// CTR from the tag with its top bit set; the first 32 bits count, little-endian, mod 2^32.
NTSD_AESNI void ctr(const __m128i* enc_rk, __m128i tag, const uint8_t* in, uint8_t* out,
                    size_t len) {
  __m128i c = _mm_or_si128(
      tag, _mm_set_epi8(static_cast<char>(0x80), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
  const __m128i one = _mm_set_epi32(0, 0, 0, 1);
  for (size_t off = 0; off < len; off += 16) {
    const __m128i ks = encrypt1(enc_rk, c);
    c = _mm_add_epi32(c, one);
    if (len - off >= 16) {
      store(out + off, _mm_xor_si128(ks, load(in + off)));
    } else {
      alignas(16) uint8_t buf[16];
      store(buf, ks);
      for (size_t i = 0; i < len - off; ++i) out[off + i] = in[off + i] ^ buf[i];
    }
  }
}

NTSD_AESNI bool seal_impl(const GcmSivKey& key, Bytes ad, Bytes nonce, Bytes pt, MutableBytes out) {
  __m128i auth;
  __m128i enc_rk[11];
  derive(key, nonce.data(), auth, enc_rk);
  const __m128i tag = tag_of(auth, enc_rk, nonce.data(), ad, pt.data(), pt.size());
  ctr(enc_rk, tag, pt.data(), out.data(), pt.size());
  store(out.data() + pt.size(), tag);
  return true;
}

NTSD_AESNI bool open_impl(const GcmSivKey& key, Bytes ad, Bytes nonce, Bytes sealed,
                          MutableBytes out) {
  const size_t pt_len = sealed.size() - kAeadTagLength;
  __m128i auth;
  __m128i enc_rk[11];
  derive(key, nonce.data(), auth, enc_rk);
  const __m128i want = load(sealed.data() + pt_len);
  ctr(enc_rk, want, sealed.data(), out.data(), pt_len);
  const __m128i got = tag_of(auth, enc_rk, nonce.data(), ad, out.data(), pt_len);
  const __m128i diff = _mm_xor_si128(got, want);
  const bool ok = _mm_testz_si128(diff, diff) != 0;  // constant time
  if (!ok && pt_len > 0) std::memset(out.data(), 0, pt_len);
  return ok;
}

NTSD_AESNI void expand_kgk(const uint8_t* key, GcmSivKey& out) {
  __m128i rk[11];
  aes_ni::expand128(load(key), rk);
  for (int i = 0; i < 11; ++i) store(out.rk[i], rk[i]);
}

// ---- Batches ---------------------------------------------------------------
//
// A request's GCM-SIV work is a chain: key schedule → four per-nonce key
// blocks → encryption key schedule → POLYVAL over AD and plaintext (one
// carry-less dot per block, each depending on the last) → tag → CTR. One
// message keeps the multipliers and AES units mostly idle waiting on that
// chain; a batch runs each stage for every message before the next stage, so
// the stages' independent work sits side by side: the per-nonce blocks of all
// messages in one interleaved AES loop, and the POLYVAL chains in lock step
// (block s of every message, then block s + 1), which the CPU overlaps.

struct alignas(16) GcmLane {
  __m128i kgk[11];     // key-generating key schedule
  __m128i enc_rk[11];  // per-nonce encryption key schedule
  __m128i auth;        // per-nonce POLYVAL key
  __m128i s;           // POLYVAL state
  const uint8_t* ad;
  size_t ad_len;
  const uint8_t* pt;  // plaintext: the input (seal) or the decrypted output (open)
  size_t pt_len;
  uint32_t steps;     // AD blocks + plaintext blocks + the length block
};

// Block s of a lane's POLYVAL input: AD (zero-padded), plaintext (zero-padded), lengths.
NTSD_AESNI inline __m128i polyval_block(const GcmLane& l, uint32_t s) {
  const uint32_t ad_blocks = static_cast<uint32_t>((l.ad_len + 15) / 16);
  const uint8_t* p;
  size_t left;
  if (s < ad_blocks) {
    p = l.ad + 16 * static_cast<size_t>(s);
    left = l.ad_len - 16 * static_cast<size_t>(s);
  } else if (s + 1 < l.steps) {
    p = l.pt + 16 * static_cast<size_t>(s - ad_blocks);
    left = l.pt_len - 16 * static_cast<size_t>(s - ad_blocks);
  } else {
    return _mm_set_epi64x(static_cast<int64_t>(l.pt_len * 8), static_cast<int64_t>(l.ad_len * 8));
  }
  if (left >= 16) return load(p);
  alignas(16) uint8_t buf[16] = {};
  std::memcpy(buf, p, left);
  return load(buf);
}

// Stages 1–3 for n lanes: both key schedules and the POLYVAL key.
NTSD_AESNI void derive_lanes(GcmLane* lanes, GcmSivJob* const* jobs, size_t n) {
  for (size_t j = 0; j < n; ++j) aes_ni::expand128(load(jobs[j]->key), lanes[j].kgk);
  // Four blocks per message, all messages' blocks through the rounds together.
  __m128i x[4 * kGcmSivBatch];
  for (size_t j = 0; j < n; ++j) {
    alignas(16) uint8_t block[16] = {};
    std::memcpy(block + 4, jobs[j]->nonce.data(), 12);
    for (int i = 0; i < 4; ++i) {
      block[0] = static_cast<uint8_t>(i);
      x[4 * j + i] = _mm_xor_si128(load(block), lanes[j].kgk[0]);
    }
  }
  for (int r = 1; r < 10; ++r) {
    for (size_t j = 0; j < n; ++j) {
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) x[4 * j + i] = _mm_aesenc_si128(x[4 * j + i], lanes[j].kgk[r]);
    }
  }
  for (size_t j = 0; j < n; ++j) {
    __m128i out[4];
    for (int i = 0; i < 4; ++i) out[i] = _mm_aesenclast_si128(x[4 * j + i], lanes[j].kgk[10]);
    lanes[j].auth = _mm_unpacklo_epi64(out[0], out[1]);
    aes_ni::expand128(_mm_unpacklo_epi64(out[2], out[3]), lanes[j].enc_rk);
  }
  explicit_bzero(x, sizeof x[0] * 4 * n);
}

// Stage 4 for n lanes in lock step; leaves each lane's POLYVAL result in s.
NTSD_AESNI void polyval_lanes(GcmLane* lanes, size_t n) {
  uint32_t max_steps = 0;
  for (size_t j = 0; j < n; ++j) {
    lanes[j].steps = static_cast<uint32_t>((lanes[j].ad_len + 15) / 16 + (lanes[j].pt_len + 15) / 16 + 1);
    lanes[j].s = _mm_setzero_si128();
    max_steps = std::max(max_steps, lanes[j].steps);
  }
  for (uint32_t step = 0; step < max_steps; ++step) {
    for (size_t j = 0; j < n; ++j) {
      if (step < lanes[j].steps) {
        lanes[j].s = dot(_mm_xor_si128(lanes[j].s, polyval_block(lanes[j], step)), lanes[j].auth);
      }
    }
  }
}

// Stage 5: the tag from a lane's POLYVAL result.
NTSD_AESNI __m128i lane_tag(const GcmLane& l, const uint8_t* nonce) {
  alignas(16) uint8_t nb[16] = {};
  std::memcpy(nb, nonce, 12);
  __m128i s = _mm_xor_si128(l.s, load(nb));
  s = _mm_and_si128(s,
                    _mm_set_epi8(0x7f, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1));
  return encrypt1(l.enc_rk, s);
}

// Checks lengths and nonce; false leaves the job out of the batch (ok = false).
bool job_well_formed(const GcmSivJob& job, bool open) {
  return job.key != nullptr && job.nonce.size() == 12 && (!open || job.input.size() >= kAeadTagLength) &&
         (job.output != nullptr || (open ? job.input.size() == kAeadTagLength : false));
}

NTSD_AESNI void seal_chunk(std::span<GcmSivJob> jobs) {
  alignas(16) GcmLane lanes[kGcmSivBatch];
  GcmSivJob* live[kGcmSivBatch] = {};
  size_t n = 0;
  for (GcmSivJob& job : jobs) {
    job.ok = job_well_formed(job, false);
    if (job.ok) live[n++] = &job;
  }
  derive_lanes(lanes, live, n);
  for (size_t j = 0; j < n; ++j) {
    lanes[j].ad = live[j]->ad.data();
    lanes[j].ad_len = live[j]->ad.size();
    lanes[j].pt = live[j]->input.data();
    lanes[j].pt_len = live[j]->input.size();
  }
  polyval_lanes(lanes, n);
  for (size_t j = 0; j < n; ++j) {
    const __m128i tag = lane_tag(lanes[j], live[j]->nonce.data());
    ctr(lanes[j].enc_rk, tag, live[j]->input.data(), live[j]->output, live[j]->input.size());
    store(live[j]->output + live[j]->input.size(), tag);
  }
  explicit_bzero(lanes, sizeof lanes[0] * n);
}

NTSD_AESNI void open_chunk(std::span<GcmSivJob> jobs) {
  alignas(16) GcmLane lanes[kGcmSivBatch];
  GcmSivJob* live[kGcmSivBatch] = {};
  size_t n = 0;
  for (GcmSivJob& job : jobs) {
    job.ok = job_well_formed(job, true);
    if (job.ok) live[n++] = &job;
  }
  derive_lanes(lanes, live, n);
  __m128i want[kGcmSivBatch];
  for (size_t j = 0; j < n; ++j) {
    const size_t pt_len = live[j]->input.size() - kAeadTagLength;
    want[j] = load(live[j]->input.data() + pt_len);
    ctr(lanes[j].enc_rk, want[j], live[j]->input.data(), live[j]->output, pt_len);
    lanes[j].ad = live[j]->ad.data();
    lanes[j].ad_len = live[j]->ad.size();
    lanes[j].pt = live[j]->output;
    lanes[j].pt_len = pt_len;
  }
  polyval_lanes(lanes, n);
  for (size_t j = 0; j < n; ++j) {
    const __m128i diff = _mm_xor_si128(lane_tag(lanes[j], live[j]->nonce.data()), want[j]);
    const bool ok = _mm_testz_si128(diff, diff) != 0;  // constant time
    live[j]->ok = ok;
    if (!ok && lanes[j].pt_len > 0) std::memset(live[j]->output, 0, lanes[j].pt_len);
  }
  explicit_bzero(lanes, sizeof lanes[0] * n);
}

}  // namespace

void gcm_siv_seal_batch(std::span<GcmSivJob> jobs) {
  for (size_t i = 0; i < jobs.size(); i += kGcmSivBatch) {
    seal_chunk(jobs.subspan(i, std::min(kGcmSivBatch, jobs.size() - i)));
  }
}

void gcm_siv_open_batch(std::span<GcmSivJob> jobs) {
  for (size_t i = 0; i < jobs.size(); i += kGcmSivBatch) {
    open_chunk(jobs.subspan(i, std::min(kGcmSivBatch, jobs.size() - i)));
  }
}

bool gcm_siv_expand_key(Bytes key, GcmSivKey& out) {
  if (key.size() != 16) return false;
  expand_kgk(key.data(), out);
  return true;
}

bool gcm_siv_seal(const GcmSivKey& key, Bytes ad, Bytes nonce, Bytes plaintext, MutableBytes out) {
  // RFC 8452 limits: plaintext and AD below 2^36 bytes; NTS packets are far smaller.
  if (nonce.size() != 12 || out.size() < aead_sealed_length(plaintext.size())) return false;
  return seal_impl(key, ad, nonce, plaintext, out);
}

bool gcm_siv_open(const GcmSivKey& key, Bytes ad, Bytes nonce, Bytes sealed,
                  MutableBytes plaintext_out) {
  if (nonce.size() != 12 || sealed.size() < kAeadTagLength ||
      plaintext_out.size() < sealed.size() - kAeadTagLength) {
    return false;
  }
  return open_impl(key, ad, nonce, sealed, plaintext_out);
}

}  // namespace ntsd::crypto
