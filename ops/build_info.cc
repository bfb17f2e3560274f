#include <openssl/crypto.h>

#include "crypto/cpu.h"
#include "ops/status.h"

namespace ntsd::ops {

#ifndef NTSD_VERSION
#define NTSD_VERSION "0.1.0"
#endif

BuildInfo build_info() {
  BuildInfo info;
  info.version = NTSD_VERSION;
  info.build_date = __DATE__ " " __TIME__;
#if defined(__clang__)
  info.compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
  info.compiler = "g++ " __VERSION__;
#else
  info.compiler = "unknown";
#endif
  info.openssl = OpenSSL_version(OPENSSL_VERSION);
  const crypto::CpuFeatures& cpu = crypto::cpu_features();
  info.aes_path = cpu.vaes256 ? "VAES (YMM) + AES-NI" : cpu.aesni ? "AES-NI" : "OpenSSL EVP";
  return info;
}

}  // namespace ntsd::ops
