#include <openssl/crypto.h>
#include <sys/stat.h>

#include <ctime>

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
  if (info.build_date.find("redacted") != std::string::npos) {
    // Bazel compiles with __DATE__ and __TIME__ defined as "redacted" (so
    // that builds are reproducible); the link time of this executable is the
    // build time an operator asks about.
    struct stat exe;
    if (::stat("/proc/self/exe", &exe) == 0) {
      tm utc{};
      gmtime_r(&exe.st_mtim.tv_sec, &utc);
      char when[40];
      std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &utc);
      info.build_date = when;
    }
  }
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
