#include "crypto/nonce_source.h"

#include "crypto/aes_ni.h"

#include <immintrin.h>
#include <openssl/rand.h>
#include <string.h>  // explicit_bzero

#include <cstring>

#include "crypto/cpu.h"
#include "crypto/gcm_siv.h"


namespace ntsd::crypto {
namespace {

constexpr uint64_t kBlocksPerKey = uint64_t{1} << 20;

// Eight counter blocks per round trip, so the AES work pipelines.
NTSD_AESNI void keystream(const uint8_t (*rk)[16], uint64_t counter, uint8_t* out, size_t blocks) {
  const __m128i* k = reinterpret_cast<const __m128i*>(rk);
  for (size_t done = 0; done < blocks; done += 8) {
    __m128i x[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      x[j] = _mm_xor_si128(_mm_set_epi64x(0, static_cast<int64_t>(counter + done + j)), k[0]);
    }
#pragma GCC unroll 9
    for (int r = 1; r < 10; ++r) {
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) x[j] = _mm_aesenc_si128(x[j], k[r]);
    }
    const size_t n = blocks - done < 8 ? blocks - done : 8;
    for (size_t j = 0; j < n; ++j) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16 * (done + j)),
                       _mm_aesenclast_si128(x[j], k[10]));
    }
  }
}

}  // namespace

NonceSource::NonceSource() : native_(cpu_features().aesni) {}

NonceSource::NonceSource(std::span<const uint8_t, 16> fixed_key)
    : native_(cpu_features().aesni), fixed_(true) {
  GcmSivKey expanded;  // a plain AES-128 schedule
  if (!native_ || !gcm_siv_expand_key(fixed_key, expanded)) {
    native_ = false;  // fill() fails (fixed, so no RAND_bytes either)
    return;
  }
  std::memcpy(rk_, expanded.rk, sizeof rk_);
  explicit_bzero(&expanded, sizeof expanded);
  blocks_left_ = kBlocksPerKey;
}

NonceSource::~NonceSource() { explicit_bzero(rk_, sizeof rk_); }

bool NonceSource::rekey() {
  // A fixed key (tests) runs on under the same key, its counter continuing:
  // two sources with one key stay in step however long they run (a fuzz
  // target compares responders for millions of batches).
  if (fixed_) {
    blocks_left_ = kBlocksPerKey;
    return true;
  }
  uint8_t key[16];
  if (RAND_bytes(key, sizeof key) != 1) return false;
  GcmSivKey expanded;  // a plain AES-128 schedule
  const bool ok = gcm_siv_expand_key(key, expanded);
  explicit_bzero(key, sizeof key);
  if (!ok) return false;
  std::memcpy(rk_, expanded.rk, sizeof rk_);
  explicit_bzero(&expanded, sizeof expanded);
  counter_ = 0;
  blocks_left_ = kBlocksPerKey;
  return true;
}

// Whole blocks go straight into `out`; only a final partial block passes
// through a buffer. The keystream is the nonces themselves, which go out in
// the clear, so nothing needs wiping.
bool NonceSource::fill(MutableBytes out) {
  if (!native_) return !fixed_ && RAND_bytes(out.data(), static_cast<int>(out.size())) == 1;
  size_t off = 0;
  while (off < out.size()) {
    if (blocks_left_ == 0 && !rekey()) return false;
    const size_t left = out.size() - off;
    const size_t whole = left / 16 < blocks_left_ ? left / 16 : blocks_left_;
    if (whole > 0) {
      keystream(rk_, counter_, out.data() + off, whole);
      counter_ += whole;
      blocks_left_ -= whole;
      off += 16 * whole;
      continue;
    }
    uint8_t buf[16];
    keystream(rk_, counter_, buf, 1);
    ++counter_;
    --blocks_left_;
    std::memcpy(out.data() + off, buf, left);
    off += left;
  }
  return true;
}

}  // namespace ntsd::crypto
