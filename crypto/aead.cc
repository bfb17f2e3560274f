#include "crypto/aead.h"

#include <openssl/crypto.h>

#include <array>
#include <cstring>

#include "crypto/cpu.h"
#include "crypto/gcm_siv.h"
#include "crypto/siv_evp.h"
#include "crypto/siv_ni.h"

namespace ntsd::crypto {

std::optional<AeadId> aead_from_wire(uint16_t wire) {
  switch (wire) {
    case 15:
      return AeadId::kAesSivCmac256;
    case 16:
      return AeadId::kAesSivCmac384;
    case 17:
      return AeadId::kAesSivCmac512;
    case 30:
      return AeadId::kAes128GcmSiv;
    default:
      return std::nullopt;
  }
}

size_t aead_key_length(AeadId id) {
  switch (id) {
    case AeadId::kAesSivCmac256:
      return 32;
    case AeadId::kAesSivCmac384:
      return 48;
    case AeadId::kAesSivCmac512:
      return 64;
    case AeadId::kAes128GcmSiv:
      return 16;
  }
  return 0;
}

size_t aead_nonce_length(AeadId id) { return id == AeadId::kAes128GcmSiv ? 12 : 16; }

namespace {

class EvpSiv final : public Aead {
 public:
  EvpSiv(AeadId id, Bytes key) : Aead(id), key_len_(key.size()) {
    std::memcpy(key_.data(), key.data(), key.size());
  }
  ~EvpSiv() override { OPENSSL_cleanse(key_.data(), key_.size()); }
  bool seal(std::span<const Bytes> ad, Bytes nonce, Bytes plaintext,
            MutableBytes out) const override {
    return evp_siv_seal(id(), Bytes(key_.data(), key_len_), ad, nonce, plaintext, out);
  }
  bool open(std::span<const Bytes> ad, Bytes nonce, Bytes sealed,
            MutableBytes plaintext_out) const override {
    return evp_siv_open(id(), Bytes(key_.data(), key_len_), ad, nonce, sealed, plaintext_out);
  }

 private:
  std::array<uint8_t, 64> key_{};
  size_t key_len_;
};

class NativeSiv final : public Aead {
 public:
  NativeSiv() : Aead(AeadId::kAesSivCmac256) {}
  ~NativeSiv() override { OPENSSL_cleanse(&key_, sizeof key_); }
  bool init(Bytes key) { return siv_expand_key(key, key_); }
  bool seal(std::span<const Bytes> ad, Bytes nonce, Bytes plaintext,
            MutableBytes out) const override {
    return siv_seal(key_, ad, nonce, plaintext, out);
  }
  bool open(std::span<const Bytes> ad, Bytes nonce, Bytes sealed,
            MutableBytes plaintext_out) const override {
    return siv_open(key_, ad, nonce, sealed, plaintext_out);
  }

 private:
  SivKey key_;
};

class NativeGcmSiv final : public Aead {
 public:
  NativeGcmSiv() : Aead(AeadId::kAes128GcmSiv) {}
  ~NativeGcmSiv() override { OPENSSL_cleanse(&key_, sizeof key_); }
  bool init(Bytes key) { return gcm_siv_expand_key(key, key_); }
  bool seal(std::span<const Bytes> ad, Bytes nonce, Bytes plaintext,
            MutableBytes out) const override {
    if (ad.size() > 1) return false;  // GCM-SIV has one associated-data string
    return gcm_siv_seal(key_, ad.empty() ? Bytes() : ad[0], nonce, plaintext, out);
  }
  bool open(std::span<const Bytes> ad, Bytes nonce, Bytes sealed,
            MutableBytes plaintext_out) const override {
    if (ad.size() > 1) return false;
    return gcm_siv_open(key_, ad.empty() ? Bytes() : ad[0], nonce, sealed, plaintext_out);
  }

 private:
  GcmSivKey key_;
};

}  // namespace

std::unique_ptr<Aead> make_aead(AeadId id, Bytes key, AeadBackend backend) {
  if (key.size() != aead_key_length(id)) return nullptr;
  const bool native = cpu_features().aesni && backend != AeadBackend::kOpenSsl;
  if (backend == AeadBackend::kNative && !cpu_features().aesni) return nullptr;
  if (id == AeadId::kAes128GcmSiv) {
    // OpenSSL 3.0 has no GCM-SIV; ntsd's own needs AES-NI + PCLMULQDQ.
    if (!native) return nullptr;
    auto aead = std::make_unique<NativeGcmSiv>();
    return aead->init(key) ? std::move(aead) : nullptr;
  }
  if (id == AeadId::kAesSivCmac256 && native) {
    auto aead = std::make_unique<NativeSiv>();
    return aead->init(key) ? std::move(aead) : nullptr;
  }
  if (backend == AeadBackend::kNative) return nullptr;  // no native SIV-384/512
  return std::make_unique<EvpSiv>(id, key);
}

}  // namespace ntsd::crypto
