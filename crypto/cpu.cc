#include "crypto/cpu.h"

#include <cpuid.h>

#include <cstdint>

namespace ntsd::crypto {
namespace {

uint64_t xgetbv0() {
  uint32_t eax = 0;
  uint32_t edx = 0;
  // xgetbv by opcode so no -mxsave is needed; only called when OSXSAVE is set.
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &a, &b, &c, &d) == 0) return f;
  const bool sse41 = (c & bit_SSE4_1) != 0;
  const bool pclmul = (c & bit_PCLMUL) != 0;
  const bool aes = (c & bit_AES) != 0;
  const bool osxsave = (c & bit_OSXSAVE) != 0;
  f.aesni = aes && pclmul && sse41;
  const uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  const bool ymm_os = (xcr0 & 0x6) == 0x6;
  const bool zmm_os = (xcr0 & 0xe6) == 0xe6;
  unsigned a7 = 0, b7 = 0, c7 = 0, d7 = 0;
  if (__get_cpuid_count(7, 0, &a7, &b7, &c7, &d7) == 0) return f;
  const bool avx2 = (b7 & bit_AVX2) != 0;
  const bool vaes = (c7 & (1u << 9)) != 0;
  const bool vpclmul = (c7 & (1u << 10)) != 0;
  f.vaes256 = f.aesni && ymm_os && avx2 && vaes && vpclmul;
  const bool avx512 = (b7 & (1u << 16)) && (b7 & (1u << 31)) && (b7 & (1u << 30));
  f.avx512 = f.vaes256 && zmm_os && avx512;
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

}  // namespace ntsd::crypto
