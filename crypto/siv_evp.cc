#include "crypto/siv_evp.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <cstring>

namespace ntsd::crypto {
namespace {

const char* cipher_name(AeadId id) {
  switch (id) {
    case AeadId::kAesSivCmac256:
      return "AES-128-SIV";
    case AeadId::kAesSivCmac384:
      return "AES-192-SIV";
    case AeadId::kAesSivCmac512:
      return "AES-256-SIV";
    default:
      return nullptr;
  }
}

const char* cbc_name(AeadId id) {
  switch (id) {
    case AeadId::kAesSivCmac256:
      return "AES-128-CBC";
    case AeadId::kAesSivCmac384:
      return "AES-192-CBC";
    case AeadId::kAesSivCmac512:
      return "AES-256-CBC";
    default:
      return nullptr;
  }
}

// Fetching is slow (a provider lookup under a lock); do it once per algorithm.
// The fetched objects live for the process, which is what OpenSSL expects of
// explicitly fetched, never-freed algorithm handles.
EVP_CIPHER* fetch_cipher(AeadId id) {
  static EVP_CIPHER* const ciphers[3] = {
      EVP_CIPHER_fetch(nullptr, "AES-128-SIV", nullptr),
      EVP_CIPHER_fetch(nullptr, "AES-192-SIV", nullptr),
      EVP_CIPHER_fetch(nullptr, "AES-256-SIV", nullptr),
  };
  const int index = static_cast<int>(id) - static_cast<int>(AeadId::kAesSivCmac256);
  return index >= 0 && index < 3 ? ciphers[index] : nullptr;
}

EVP_MAC* fetch_cmac() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "CMAC", nullptr);
  return mac;
}

struct CipherCtx {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
};

bool valid(AeadId id, Bytes key, std::span<const Bytes> ad) {
  return cipher_name(id) != nullptr && key.size() == aead_key_length(id) &&
         ad.size() <= kMaxAdComponents;
}

using Block = std::array<uint8_t, 16>;

void dbl(Block& b) {
  const uint8_t carry = b[0] >> 7;
  for (size_t i = 0; i < 15; ++i) b[i] = static_cast<uint8_t>((b[i] << 1) | (b[i + 1] >> 7));
  b[15] = static_cast<uint8_t>((b[15] << 1) ^ (carry ? 0x87 : 0));
}

bool cmac(EVP_MAC_CTX* mac, Bytes data, Block& out) {
  size_t out_len = 0;
  return EVP_MAC_init(mac, nullptr, 0, nullptr) == 1 &&
         EVP_MAC_update(mac, data.data(), data.size()) == 1 &&
         EVP_MAC_final(mac, out.data(), &out_len, out.size()) == 1 && out_len == 16;
}

// S2V for an empty final string, with OpenSSL's CMAC. OpenSSL 3.0's SIV cipher
// computes the tag only inside an encrypt/decrypt update, and skips updates of
// length 0, so EVP_EncryptFinal fails for an empty plaintext — which is every
// NTS client request (a tag-only authenticator). RFC 5297 §2.4 for "" gives
// V = CMAC(K1, dbl(D) xor pad("")), and with no plaintext there is nothing for
// CTR to do, so V is the whole output.
bool s2v_empty_plaintext(AeadId id, Bytes key, std::span<const Bytes> ad, Bytes nonce, Block& v) {
  EVP_MAC_CTX* mac = EVP_MAC_CTX_new(fetch_cmac());
  if (mac == nullptr) return false;
  char cipher[16];
  std::strncpy(cipher, cbc_name(id), sizeof cipher);
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0),
      OSSL_PARAM_construct_end(),
  };
  bool ok = EVP_MAC_init(mac, key.data(), key.size() / 2, params) == 1;
  Block d{};
  const Block zero{};
  ok = ok && cmac(mac, zero, d);
  auto absorb = [&](Bytes s) {
    Block c{};
    ok = ok && cmac(mac, s, c);
    dbl(d);
    for (size_t i = 0; i < 16; ++i) d[i] ^= c[i];
  };
  for (Bytes s : ad) absorb(s);
  if (!nonce.empty()) absorb(nonce);
  dbl(d);
  d[0] ^= 0x80;  // pad("") = 0x80 00 … 00
  ok = ok && cmac(mac, d, v);
  EVP_MAC_CTX_free(mac);
  return ok;
}

// One key setup per operation: OpenSSL 3.0's SIV context cannot be reused for
// a second message (re-initialising without a key does not reset S2V), so each
// call builds and frees its own context.
bool init(CipherCtx& c, AeadId id, Bytes key, bool encrypt) {
  EVP_CIPHER* cipher = fetch_cipher(id);
  return c.ctx != nullptr && cipher != nullptr &&
         EVP_CipherInit_ex2(c.ctx, cipher, key.data(), nullptr, encrypt ? 1 : 0, nullptr) == 1;
}

// Each update with a null output is one S2V component, even when empty — but
// EVP refuses a null input pointer, which an empty span may carry.
bool feed_component(CipherCtx& c, Bytes s) {
  static const uint8_t kEmpty = 0;
  int len = 0;
  const uint8_t* p = s.empty() ? &kEmpty : s.data();
  return EVP_CipherUpdate(c.ctx, nullptr, &len, p, static_cast<int>(s.size())) == 1;
}

bool feed_ad(CipherCtx& c, std::span<const Bytes> ad, Bytes nonce) {
  for (Bytes s : ad) {
    if (!feed_component(c, s)) return false;
  }
  return nonce.empty() || feed_component(c, nonce);
}

}  // namespace

bool evp_siv_seal(AeadId id, Bytes key, std::span<const Bytes> ad, Bytes nonce, Bytes plaintext,
                  MutableBytes out) {
  if (!valid(id, key, ad) || out.size() < aead_sealed_length(plaintext.size())) return false;
  if (plaintext.empty()) {
    Block v{};
    if (!s2v_empty_plaintext(id, key, ad, nonce, v)) return false;
    std::memcpy(out.data(), v.data(), 16);
    return true;
  }
  CipherCtx c;
  int len = 0;
  int final_len = 0;
  return init(c, id, key, true) && feed_ad(c, ad, nonce) &&
         EVP_CipherUpdate(c.ctx, out.data() + 16, &len, plaintext.data(),
                          static_cast<int>(plaintext.size())) == 1 &&
         EVP_CipherFinal_ex(c.ctx, out.data() + 16 + len, &final_len) == 1 &&
         EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_AEAD_GET_TAG, 16, out.data()) == 1;
}

bool evp_siv_open(AeadId id, Bytes key, std::span<const Bytes> ad, Bytes nonce, Bytes sealed,
                  MutableBytes plaintext_out) {
  if (!valid(id, key, ad) || sealed.size() < kAeadTagLength ||
      plaintext_out.size() < sealed.size() - kAeadTagLength) {
    return false;
  }
  const size_t pt_len = sealed.size() - kAeadTagLength;
  if (pt_len == 0) {
    Block v{};
    return s2v_empty_plaintext(id, key, ad, nonce, v) &&
           CRYPTO_memcmp(v.data(), sealed.data(), 16) == 0;
  }
  CipherCtx c;
  int len = 0;
  int final_len = 0;
  // The tag must be set before any data: the SIV decrypt checks it in the update.
  const bool ok = init(c, id, key, false) &&
                  EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_AEAD_SET_TAG, 16,
                                      const_cast<uint8_t*>(sealed.data())) == 1 &&
                  feed_ad(c, ad, nonce) &&
                  EVP_CipherUpdate(c.ctx, plaintext_out.data(), &len, sealed.data() + 16,
                                   static_cast<int>(pt_len)) == 1 &&
                  EVP_CipherFinal_ex(c.ctx, plaintext_out.data() + len, &final_len) == 1;
  // Never hand back unauthenticated plaintext.
  if (!ok) OPENSSL_cleanse(plaintext_out.data(), pt_len);
  return ok;
}

}  // namespace ntsd::crypto
