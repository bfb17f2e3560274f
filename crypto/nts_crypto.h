#pragma once
// The server's per-request NTS crypto as one batch interface: open the
// requests' cookies, verify their authenticators, seal fresh cookies, seal
// the replies. Two implementations: the OpenSSL EVP reference and the
// AES-NI/VAES fast path (interleaved across the batch). The daemon picks one
// at start (choose_nts_crypto) and injects it into server::BatchResponder.
// Sans-I/O: caller-provided spans, no allocation, no lock, no exception, no
// log; keys come in as arguments (a KeySnapshot or MasterKey, SessionKeys).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "crypto/aead.h"
#include "crypto/cookie.h"
#include "crypto/key_snapshot.h"

namespace ntsd::crypto {

// A request's NTS Authenticator and Encrypted Extension Fields. Items point
// at their session keys (the opened cookie's), so a batch copies none.
struct AuthToVerify {
  Bytes ad;                 // the packet up to the authenticator field
  Bytes nonce;              // the authenticator's nonce
  Bytes sealed;             // its ciphertext (tag and encrypted fields)
  uint8_t* plaintext_out;   // sealed.size() - 16 bytes for the decrypted fields (may be null if 0)
  const SessionKeys* keys;  // verified under keys->c2s
};

// A reply to seal: the encrypted part is typically the fresh cookies' extension fields.
struct ReplyToSeal {
  Bytes ad;                 // the reply packet up to the authenticator field
  Bytes nonce;              // a fresh nonce: 16 bytes for SIV, 12 for GCM-SIV
  Bytes plaintext;          // the extension fields to encrypt
  uint8_t* out;             // plaintext.size() + 16 bytes
  const SessionKeys* keys;  // sealed under keys->s2c
};

// Which implementation does the work.
enum class NtsCryptoKind : uint8_t {
  kEvp,   // OpenSSL 3 EVP, one context per operation: the reference, and what runs without AES-NI
  kFast,  // ntsd's AES-NI/VAES code: every AEAD 15 and 30 item of a batch interleaved
};

// The fast implementation's lane width; both give the same bytes.
enum class FastLanes : uint8_t {
  kWidest,  // YMM when the CPU has VAES, else XMM
  kXmm,     // AES-NI on 128-bit registers, 8 lanes (every AES-NI CPU)
  kYmm,     // VAES on 256-bit registers, two lanes per instruction (needs VAES + AVX2)
};

// What an operator asks for (`ntsd --crypto`).
enum class NtsCryptoChoice : uint8_t {
  kAuto,  // fast when the CPU has AES-NI, else EVP
  kEvp,   // the reference, whatever the CPU (for comparison, or to rule the fast path out)
  kFast,  // the fast path; a start-up error without AES-NI
};

// Every call handles items 0..n-1 of equally long spans and writes one result per item; calls
// are const and safe from several threads at once (per-call scratch is on the stack).
class NtsCrypto {
 public:
  virtual ~NtsCrypto() = default;
  virtual NtsCryptoKind kind() const = 0;
  // For logs and --version, e.g. "fast (VAES, YMM lanes)" or "evp (OpenSSL 3.0.19)".
  virtual std::string_view name() const = 0;

  // Opens cookie i against the snapshot's keys: status[i], and on kOk out[i] (with key_age).
  virtual void open_cookies(std::span<const Bytes> cookies, const KeySnapshot& keys,
                            std::span<SessionKeys> out, std::span<CookieStatus> status) const = 0;
  // ok[i] = request i's authenticator verifies under its keys->c2s (its plaintext written if so).
  virtual void verify_authenticators(std::span<const AuthToVerify> requests,
                                     std::span<bool> ok) const = 0;
  // Seals cookie i for *sessions[i] under `key` with nonce i (16 bytes each) into out[i]
  // (cookie_length() bytes); lengths[i] = bytes written, 0 on failure, all 0 (nothing written)
  // when the key is not valid.
  virtual void seal_cookies(std::span<const SessionKeys* const> sessions, const MasterKey& key,
                            Bytes nonces, std::span<uint8_t* const> out,
                            std::span<size_t> lengths) const = 0;
  // Seals reply i under its keys->s2c; ok[i] = sealed.
  virtual void seal_replies(std::span<const ReplyToSeal> replies, std::span<bool> ok) const = 0;
};

// The EVP reference (always there).
const NtsCrypto& evp_nts_crypto();
// The fast path with the given lanes, or null when this CPU lacks them (AES-NI; VAES for kYmm).
const NtsCrypto* fast_nts_crypto(FastLanes lanes = FastLanes::kWidest);
// The implementation for an operator's choice; null (and `error` for the operator) when the
// choice cannot be had here.
const NtsCrypto* choose_nts_crypto(NtsCryptoChoice choice, std::string* error);
// What kAuto gives on this CPU (single-cookie calls in cookie.h and server::respond use it).
const NtsCrypto& auto_nts_crypto();
// "auto", "evp" or "fast" → the choice; nullopt for anything else.
std::optional<NtsCryptoChoice> parse_nts_crypto_choice(std::string_view text);

}  // namespace ntsd::crypto
