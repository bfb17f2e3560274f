#include "crypto/key_ring.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <algorithm>
#include <cassert>
#include <cstring>

#include "crypto/nts_crypto.h"
#include "crypto/siv_ni.h"

namespace ntsd::crypto {

bool derive_master_key(Bytes seed, int64_t epoch, uint8_t out[32]) {
  static EVP_KDF* const kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kdf == nullptr) return false;
  // info = "ntsd cookie key" ‖ epoch as u64 big-endian; no salt (the seed is already uniform).
  static constexpr char kLabel[] = "ntsd cookie key";
  uint8_t info[sizeof kLabel - 1 + 8];
  std::memcpy(info, kLabel, sizeof kLabel - 1);
  const uint64_t e = static_cast<uint64_t>(epoch);
  for (int i = 0; i < 8; ++i) info[sizeof kLabel - 1 + i] = static_cast<uint8_t>(e >> (56 - 8 * i));
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(seed.data()),
                                        seed.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof info),
      OSSL_PARAM_construct_end(),
  };
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  const bool ok = ctx != nullptr && EVP_KDF_derive(ctx, out, 32, params) == 1;
  EVP_KDF_CTX_free(ctx);
  if (!ok) OPENSSL_cleanse(out, 32);  // never a half-derived key
  return ok;
}

namespace {

int64_t rotation_or_default(int64_t rotation_seconds) {
  return rotation_seconds > 0 ? rotation_seconds : kDefaultRotationSeconds;
}

uint64_t retained_epochs(int64_t rotation_seconds, int64_t retention_seconds) {
  const int64_t rotation = rotation_or_default(rotation_seconds);
  const uint64_t retention = static_cast<uint64_t>(std::max<int64_t>(retention_seconds, 0));
  return (retention + static_cast<uint64_t>(rotation) - 1) / static_cast<uint64_t>(rotation);
}

}  // namespace

uint64_t key_ring_slots(int64_t rotation_seconds, int64_t retention_seconds) {
  const uint64_t need = retained_epochs(rotation_seconds, retention_seconds) + 2;
  uint64_t slots = 2;
  while (slots < need && slots < (uint64_t{1} << 62)) slots *= 2;
  return slots;
}

uint64_t key_snapshot_bytes(int64_t rotation_seconds, int64_t retention_seconds) {
  return key_ring_slots(rotation_seconds, retention_seconds) * sizeof(MasterKey) +
         sizeof(KeySnapshot);
}

// Every slot is a derived key held in memory and derived at start-up (one
// HKDF and one AES key expansion each), and a rotation builds a second
// snapshot beside the first: `nts rotate 60` with `nts keepkeys 365` would be
// 525,600 keys, 2^20 slots, 1.2 GiB per snapshot. 16,384 slots (~19 MiB)
// keeps any sane policy: daily for 365 days, hourly for 682 days.
std::string key_ring_size_error(int64_t rotation_seconds, int64_t retention_seconds) {
  const uint64_t slots = key_ring_slots(rotation_seconds, retention_seconds);
  if (slots <= kMaxKeyRingSlots) return {};
  const int64_t rotation = rotation_or_default(rotation_seconds);
  const uint64_t keys = retained_epochs(rotation_seconds, retention_seconds);
  const uint64_t max_keys = kMaxKeyRingSlots - 2;
  const uint64_t min_rotation =
      (static_cast<uint64_t>(std::max<int64_t>(retention_seconds, 0)) + max_keys - 1) / max_keys;
  const uint64_t max_days = max_keys * static_cast<uint64_t>(rotation) / 86400;
  return "nts rotate " + std::to_string(rotation) + " with a key retention of " +
         std::to_string(retention_seconds / 86400) + " days keeps " + std::to_string(keys) +
         " cookie keys (" + std::to_string(slots) + " ring slots, " +
         std::to_string(key_snapshot_bytes(rotation_seconds, retention_seconds) >> 20) +
         " MiB per key snapshot); at most " + std::to_string(max_keys) +
         " are allowed: rotate less often (nts rotate " + std::to_string(min_rotation) +
         " or more) or keep keys for fewer days (nts keepkeys " + std::to_string(max_days) +
         " or less)";
}

int64_t key_ring_retained_epochs(int64_t rotation_seconds, int64_t retention_seconds) {
  return static_cast<int64_t>(
      std::min<uint64_t>(retained_epochs(rotation_seconds, retention_seconds), kMaxKeyRingSlots - 2));
}

int64_t first_epoch_from(int64_t unix_seconds, int64_t rotation_seconds) {
  const int64_t rotation = rotation_or_default(rotation_seconds);
  // Ceiling division (also before 1970): an epoch boundary is its own switch epoch.
  const int64_t q = unix_seconds / rotation;
  return (unix_seconds % rotation > 0) ? q + 1 : q;
}

KeyRing::KeyRing(Bytes seed, int64_t rotation_seconds, int64_t retention_seconds)
    : seed_(seed.begin(), seed.end()),
      rotation_(rotation_seconds > 0 ? rotation_seconds : kDefaultRotationSeconds),
      retention_epochs_(key_ring_retained_epochs(rotation_seconds, retention_seconds)) {
  assert(seed.size() >= kMinSeedLength);
  slots_ = 2;
  while (slots_ < static_cast<size_t>(retention_epochs_) + 2) slots_ *= 2;
}

KeyRing::KeyRing(Bytes seed, Bytes new_seed, int64_t switch_epoch, int64_t rotation_seconds,
                 int64_t retention_seconds)
    : KeyRing(seed, rotation_seconds, retention_seconds) {
  assert(new_seed.size() >= kMinSeedLength);
  new_seed_.assign(new_seed.begin(), new_seed.end());
  switch_epoch_ = switch_epoch;
}

KeyRing::~KeyRing() {
  OPENSSL_cleanse(seed_.data(), seed_.size());
  OPENSSL_cleanse(new_seed_.data(), new_seed_.size());
}

int64_t KeyRing::epoch_at(int64_t unix_seconds) const {
  const int64_t q = unix_seconds / rotation_;
  return (unix_seconds % rotation_ < 0) ? q - 1 : q;
}

std::unique_ptr<const KeySnapshot> KeyRing::snapshot_at(int64_t unix_seconds,
                                                        const KeySnapshot* previous) const {
  const int64_t now = epoch_at(unix_seconds);
  auto snap = std::make_unique<KeySnapshot>(now, retention_epochs_, slots_);
  for (int64_t e = now - retention_epochs_; e <= now + 1; ++e) {
    MasterKey& k = snap->mutable_slot(e);
    const MasterKey* old = previous != nullptr ? previous->at_epoch(e) : nullptr;
    if (old != nullptr) {
      k = *old;
      continue;
    }
    k.epoch = e;
    k.id = static_cast<uint32_t>(e);
    // The epoch picks the seed, so every member with the same two seeds and
    // switch epoch derives the same key for it, whichever side it falls on.
    k.valid = derive_master_key(uses_new_seed(e) ? Bytes(new_seed_) : Bytes(seed_), e, k.raw);
    // The fast NtsCrypto's schedules; without it (no AES-NI) they would go
    // unused, and the AES-NI expansion could not run.
    if (k.valid && fast_nts_crypto() != nullptr) {
      k.valid = siv_expand_key(Bytes(k.raw, 32), k.siv);
      if (k.valid) siv_cache_id_prefix(k.siv, k.id);
    }
    // A failed slot stays invalid and empty: find() never returns it and the
    // seal calls refuse it, so a derivation failure fails closed (NAK / drop).
    if (!k.valid) OPENSSL_cleanse(&k, sizeof k);
  }
  return snap;
}

}  // namespace ntsd::crypto
