// AEAD interface for NTS (RFC 8915): AES-SIV-CMAC-256/384/512 (RFC 5297) and
// AES-128-GCM-SIV (RFC 8452), over spans, no exceptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "crypto/bytes.h"

namespace ntsd::crypto {

// NTS AEAD algorithm ids (IANA "AEAD Algorithms" registry).
enum class AeadId : uint16_t {
  kAesSivCmac256 = 15,
  kAesSivCmac384 = 16,
  kAesSivCmac512 = 17,
  kAes128GcmSiv = 30,
};

// Which implementation backs an Aead object.
enum class AeadBackend {
  kBest,     // fastest available on this CPU (AES-NI when present, else OpenSSL)
  kOpenSsl,  // the OpenSSL 3 EVP reference (SIV only)
  kNative,   // ntsd's own AES-NI code (SIV-CMAC-256 and GCM-SIV); fails without AES-NI
};

// The AeadId for a wire value, or nullopt when ntsd does not implement it.
std::optional<AeadId> aead_from_wire(uint16_t wire);
// Key length in bytes: 32, 48, 64 for SIV-CMAC-256/384/512, 16 for GCM-SIV.
size_t aead_key_length(AeadId id);
// Nonce length ntsd generates: 16 for SIV, 12 (the only one allowed) for GCM-SIV.
size_t aead_nonce_length(AeadId id);

// One keyed AEAD. Sealed layout is each RFC's own: SIV = tag ‖ ciphertext,
// GCM-SIV = ciphertext ‖ tag. `ad` is a list of associated-data components
// (the S2V vector for SIV; GCM-SIV accepts at most one). A non-empty nonce is
// the last S2V component (RFC 5297 §3 nonce-based use, as NTS does); an empty
// nonce means deterministic SIV with no nonce component. Methods are const and
// safe to call from several threads at once.
class Aead {
 public:
  virtual ~Aead() = default;
  AeadId id() const { return id_; }
  // Writes aead_sealed_length(plaintext.size()) bytes to out; false if out is too small or inputs
  // invalid.
  virtual bool seal(std::span<const Bytes> ad, Bytes nonce, Bytes plaintext,
                    MutableBytes out) const = 0;
  // Authenticates and decrypts sealed into plaintext_out (sealed.size() - 16 bytes); false on any
  // failure.
  virtual bool open(std::span<const Bytes> ad, Bytes nonce, Bytes sealed,
                    MutableBytes plaintext_out) const = 0;

 protected:
  explicit Aead(AeadId id) : id_(id) {}

 private:
  AeadId id_;
};

// A keyed AEAD, or nullptr if the key length is wrong or the backend lacks the algorithm.
std::unique_ptr<Aead> make_aead(AeadId id, Bytes key, AeadBackend backend = AeadBackend::kBest);

}  // namespace ntsd::crypto
