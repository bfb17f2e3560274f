// The EVP reference implementation of NtsCrypto, and the choice between it
// and the fast path (nts_crypto_fast.cc).
#include "crypto/nts_crypto.h"

#include <openssl/crypto.h>

#include "crypto/cookie_layout.h"
#include "crypto/cpu.h"
#include "crypto/gcm_siv.h"
#include "crypto/siv_evp.h"

namespace ntsd::crypto {
namespace {

namespace layout = cookie_layout;

// One item at a time, each through OpenSSL's EVP AES-SIV with a fresh
// context (siv_evp.cc): the reference the fast path is checked against, and
// what runs on a CPU without AES-NI. OpenSSL 3.0 has no GCM-SIV, so AEAD 30
// uses ntsd's single-buffer GCM-SIV where the CPU has AES-NI; without it no
// AEAD 30 item verifies or seals (NTS-KE never offers AEAD 30 there:
// make_aead has none, see ke/negotiate.cc).
class EvpNtsCrypto final : public NtsCrypto {
 public:
  EvpNtsCrypto() : gcm_siv_(cpu_features().aesni) {}
  NtsCryptoKind kind() const override { return NtsCryptoKind::kEvp; }
  std::string_view name() const override { return "evp (OpenSSL EVP, one operation at a time)"; }

  void open_cookies(std::span<const Bytes> cookies, const KeySnapshot& keys,
                    std::span<SessionKeys> out, std::span<CookieStatus> status) const override {
    for (size_t i = 0; i < cookies.size(); ++i) {
      const Bytes cookie = cookies[i];
      const MasterKey* key = layout::lookup(keys, cookie, status[i]);
      if (key == nullptr) continue;
      uint8_t pt[layout::kMaxPlaintext];
      const Bytes ad[] = {cookie.first(kCookieKeyIdLength)};
      const Bytes nonce = cookie.subspan(kCookieKeyIdLength, kCookieNonceLength);
      const Bytes sealed = cookie.subspan(layout::kHeader);
      const MutableBytes plain(pt, sealed.size() - kAeadTagLength);
      if (!evp_siv_open(AeadId::kAesSivCmac256, Bytes(key->raw, 32), ad, nonce, sealed, plain)) {
        status[i] = CookieStatus::kTampered;
        continue;
      }
      status[i] = layout::parse_plaintext(plain, out[i]);
      out[i].key_age = layout::key_age(keys, *key);
      OPENSSL_cleanse(pt, sizeof pt);
    }
  }

  void verify_authenticators(std::span<const AuthToVerify> requests,
                             std::span<bool> ok) const override {
    for (size_t i = 0; i < requests.size(); ++i) {
      const AuthToVerify& r = requests[i];
      const SessionKeys& k = *r.keys;
      if (r.sealed.size() < kAeadTagLength) {
        ok[i] = false;
        continue;
      }
      const MutableBytes pt(r.plaintext_out, r.sealed.size() - kAeadTagLength);
      if (k.aead == AeadId::kAes128GcmSiv) {
        GcmSivKey key;
        ok[i] = gcm_siv_ && gcm_siv_expand_key(k.c2s_key(), key) &&
                gcm_siv_open(key, r.ad, r.nonce, r.sealed, pt);
        OPENSSL_cleanse(&key, sizeof key);  // a session key schedule on the stack
        continue;
      }
      const Bytes ad[] = {r.ad};
      ok[i] = evp_siv_open(k.aead, k.c2s_key(), ad, r.nonce, r.sealed, pt);
    }
  }

  void seal_cookies(std::span<const SessionKeys* const> sessions, const MasterKey& key,
                    Bytes nonces, std::span<uint8_t* const> out,
                    std::span<size_t> lengths) const override {
    for (size_t i = 0; i < sessions.size(); ++i) {
      lengths[i] = 0;
      const SessionKeys& s = *sessions[i];
      // Fail closed: a key whose derivation failed seals nothing.
      if (!key.valid || !layout::sealable(s) || out[i] == nullptr ||
          nonces.size() < (i + 1) * kCookieNonceLength) {
        continue;
      }
      uint8_t* c = out[i];
      uint8_t pt[layout::kMaxPlaintext];
      const size_t pt_len = layout::build_plaintext(s, pt);
      layout::write_header(c, key.id, nonces.data() + i * kCookieNonceLength);
      const Bytes ad[] = {Bytes(c, kCookieKeyIdLength)};
      const bool ok = evp_siv_seal(AeadId::kAesSivCmac256, Bytes(key.raw, 32), ad,
                                   Bytes(c + kCookieKeyIdLength, kCookieNonceLength),
                                   Bytes(pt, pt_len), MutableBytes(c + layout::kHeader, pt_len + kAeadTagLength));
      OPENSSL_cleanse(pt, sizeof pt);
      lengths[i] = ok ? cookie_length(s.aead) : 0;
    }
  }

  void seal_replies(std::span<const ReplyToSeal> replies, std::span<bool> ok) const override {
    for (size_t i = 0; i < replies.size(); ++i) {
      const ReplyToSeal& r = replies[i];
      const SessionKeys& k = *r.keys;
      const MutableBytes out(r.out, r.plaintext.size() + kAeadTagLength);
      if (k.aead == AeadId::kAes128GcmSiv) {
        GcmSivKey key;
        ok[i] = gcm_siv_ && gcm_siv_expand_key(k.s2c_key(), key) &&
                gcm_siv_seal(key, r.ad, r.nonce, r.plaintext, out);
        OPENSSL_cleanse(&key, sizeof key);
        continue;
      }
      const Bytes ad[] = {r.ad};
      ok[i] = evp_siv_seal(k.aead, k.s2c_key(), ad, r.nonce, r.plaintext, out);
    }
  }

 private:
  bool gcm_siv_;  // ntsd's GCM-SIV can run here (AES-NI + PCLMULQDQ)
};

}  // namespace

const NtsCrypto& evp_nts_crypto() {
  static const EvpNtsCrypto evp;
  return evp;
}

const NtsCrypto& auto_nts_crypto() {
  static const NtsCrypto& chosen = [] () -> const NtsCrypto& {
    const NtsCrypto* fast = fast_nts_crypto();
    return fast != nullptr ? *fast : evp_nts_crypto();
  }();
  return chosen;
}

const NtsCrypto* choose_nts_crypto(NtsCryptoChoice choice, std::string* error) {
  switch (choice) {
    case NtsCryptoChoice::kEvp:
      return &evp_nts_crypto();
    case NtsCryptoChoice::kFast:
      if (const NtsCrypto* fast = fast_nts_crypto()) return fast;
      if (error != nullptr) {
        *error = "--crypto fast needs AES-NI with PCLMULQDQ and SSE4.1, which this CPU does not "
                 "report; use --crypto auto or evp";
      }
      return nullptr;
    case NtsCryptoChoice::kAuto:
      break;
  }
  return &auto_nts_crypto();
}

std::optional<NtsCryptoChoice> parse_nts_crypto_choice(std::string_view text) {
  if (text == "auto") return NtsCryptoChoice::kAuto;
  if (text == "evp") return NtsCryptoChoice::kEvp;
  if (text == "fast") return NtsCryptoChoice::kFast;
  return std::nullopt;
}

}  // namespace ntsd::crypto
