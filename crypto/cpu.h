// Run-time CPU feature detection (CPUID + XGETBV): what fast_nts_crypto()
// and make_aead() may use, and what `ntsd --version` reports.
#pragma once

namespace ntsd::crypto {

struct CpuFeatures {
  bool aesni = false;    // AES-NI + PCLMULQDQ + SSE4.1: the single-buffer and batched baseline
  bool vaes256 = false;  // VAES + VPCLMULQDQ + AVX2 with OS-enabled YMM state
  bool avx512 = false;   // AVX-512F/VL/BW with OS-enabled ZMM state (reported only)
};

// What this CPU offers, detected once.
const CpuFeatures& cpu_features();

}  // namespace ntsd::crypto
