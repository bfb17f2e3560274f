// The expanded AES-SIV-CMAC-256 key of the AES-NI fast path (layout only).
// Private to crypto/: MasterKey carries one, the kernels (siv_ni.h) use it.
#pragma once

#include <cstdint>

namespace ntsd::crypto {

// An expanded 32-byte SIV key; build it once wherever a key repeats (master keys).
struct alignas(64) SivKey {
  uint8_t mac_rk[11][16];  // AES-128 schedule of K1 (S2V / CMAC)
  uint8_t ctr_rk[11][16];  // AES-128 schedule of K2 (CTR); absent in MAC-only session keys
  uint8_t cmac_k1[16];     // CMAC subkey for a complete final block
  uint8_t cmac_k2[16];     // CMAC subkey for a padded final block
  uint8_t d0[16];          // CMAC(K1, 0^128): where every S2V starts
  uint8_t id_d[16];        // dbl(dbl(D0) xor CMAC(K1, id)): S2V after a 4-byte id (kSivKeyIdPrefix)
  uint8_t flags;           // kSivKeyHasCtr | kSivKeyDoubled | kSivKeyIdPrefix
  // Both schedules doubled into 32 bytes, so VAES lanes of one key need no
  // shuffling; filled for master keys only (siv_expand_key).
  alignas(32) uint8_t mac_rk2[11][32];
  uint8_t ctr_rk2[11][32];
};
inline constexpr uint8_t kSivKeyHasCtr = 1;
inline constexpr uint8_t kSivKeyDoubled = 2;
inline constexpr uint8_t kSivKeyIdPrefix = 4;  // id_d holds the cookie key id's S2V prefix

}  // namespace ntsd::crypto
