#include "crypto/key_ring.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <cassert>
#include <cstring>

#include "crypto/cpu.h"

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
  return ok;
}

KeyRing::KeyRing(Bytes seed, int64_t rotation_seconds, int64_t retention_seconds)
    : seed_(seed.begin(), seed.end()),
      rotation_(rotation_seconds > 0 ? rotation_seconds : kDefaultRotationSeconds),
      retention_epochs_((std::max<int64_t>(retention_seconds, 0) + rotation_ - 1) / rotation_) {
  assert(seed.size() >= kMinSeedLength);
  slots_ = 2;
  while (slots_ < static_cast<size_t>(retention_epochs_) + 2) slots_ *= 2;
}

KeyRing::~KeyRing() { OPENSSL_cleanse(seed_.data(), seed_.size()); }

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
    k.valid = derive_master_key(seed_, e, k.raw);
    // Without AES-NI the expanded form is unused (cookies go through OpenSSL).
    if (k.valid && cpu_features().aesni) k.valid = siv_expand_key(Bytes(k.raw, 32), k.siv);
  }
  return snap;
}

}  // namespace ntsd::crypto
