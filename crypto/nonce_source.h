// Fresh nonces for the hot path (cookie nonces, reply nonces) without a call
// into OpenSSL's RNG per packet: an AES-128-CTR keystream under a key drawn
// from RAND_bytes, rekeyed every 2^20 blocks. One per worker thread (not
// thread-safe). SIV needs nonces to be distinct, and this gives distinct,
// unpredictable ones.
#pragma once

#include <cstdint>
#include <span>

#include "crypto/aead.h"

namespace ntsd::crypto {

class NonceSource {
 public:
  NonceSource();
  // The keystream of a fixed key instead: the same nonces on every run, so two responders give
  // the same reply bytes (differential tests only). Needs AES-NI (fill() fails without); never
  // rekeys (the counter runs on under the one key).
  explicit NonceSource(std::span<const uint8_t, 16> fixed_key);
  ~NonceSource();
  NonceSource(const NonceSource&) = delete;
  NonceSource& operator=(const NonceSource&) = delete;
  // Fills out with fresh bytes; false only if OpenSSL's RNG fails at a rekey.
  bool fill(MutableBytes out);

 private:
  bool rekey();
  alignas(16) uint8_t rk_[11][16];
  uint64_t counter_ = 0;
  uint64_t blocks_left_ = 0;
  bool native_;
  bool fixed_ = false;
};

}  // namespace ntsd::crypto
