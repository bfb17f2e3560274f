// Private to crypto/ (the fast NtsCrypto, YMM lanes): VAES kernels for the
// packet side of NTS, AES-SIV-CMAC-256 with S2V over (one associated-data
// string, a 16-byte nonce, the text) — a request's authenticator (open) and a
// reply's (seal). Up to 16 messages per call, each under its own 32-byte
// session key, expanded inside; two messages share each YMM register, so
// their round keys are expanded side by side and never recombined.
#pragma once

#include <cstddef>
#include <cstdint>


namespace ntsd::crypto::packet_fast {

inline constexpr size_t kMaxJobs = 16;
inline constexpr size_t kNonce = 16;

// Trivial (pointers and lengths, no initialisers): a batch's job array is
// filled, never zeroed first.
struct Job {
  const uint8_t* key;    // 32 bytes: K1 (S2V) ‖ K2 (CTR)
  const uint8_t* ad;     // the packet up to the authenticator
  size_t ad_len;
  const uint8_t* nonce;  // kNonce bytes
  const uint8_t* in;     // seal: plaintext; open: V ‖ C (at least 16 bytes)
  size_t in_len;
  uint8_t* out;          // seal: in_len + 16 bytes; open: in_len - 16 (or null if 0)
  bool ok;               // set by the call: sealed, or opened and authentic (else out is zeroed)
};

// Seals n <= kMaxJobs jobs: out = V ‖ C.
void seal(Job* jobs, size_t n);
// Opens n <= kMaxJobs jobs: ok, and the plaintext in out.
void open(Job* jobs, size_t n);

}  // namespace ntsd::crypto::packet_fast
