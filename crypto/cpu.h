// Run-time CPU feature detection for the crypto fast paths (CPUID + XGETBV).
#pragma once

namespace ntsd::crypto {

struct CpuFeatures {
  bool aesni = false;    // AES-NI + PCLMULQDQ + SSE4.1: the single-buffer and batched baseline
  bool vaes256 = false;  // VAES + VPCLMULQDQ + AVX2 with OS-enabled YMM state
  bool avx512 = false;   // AVX-512F/VL/BW with OS-enabled ZMM state (reported only)
};

// What this CPU offers, detected once.
const CpuFeatures& cpu_features();
// Turns fast paths off for tests and benchmarks (true = behave as if absent).
void cpu_features_override(bool disable_aesni, bool disable_vaes);

}  // namespace ntsd::crypto
